"""The live list of recent scans, newest on top: a QAbstractTableModel and its view.

Rows are the controller's tickets (the last ``MAX_ROWS``); the audit history on disk has everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ...present import local_time, plain_tooltip, service_text, shown_reference

if TYPE_CHECKING:
    from ..tickets import Ticket

MAX_ROWS = 200
COLUMNS = ("Time", "Reference", "Group", "State", "Carrier / service", "Tracking", "Message")
STATE_COLUMN = 3
_Index = QModelIndex | QPersistentModelIndex


class RecentScansModel(QAbstractTableModel):
    """Tickets, newest first. Every cell is plain text (a view never renders it as HTML)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Ticket] = []
        self._positions: dict[int, Ticket] = {}

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._text(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(_message(row))
        if col == STATE_COLUMN:
            look = row.look
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(QColor(look.background))
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor(look.foreground))
            if role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(True)
                return font
        return None

    def _text(self, row: Ticket, col: int) -> str:
        outcome = row.outcome
        if col == 0:
            return local_time(row.scanned_at, seconds=True)  # with the date once it is not today
        if col == 1:
            return shown_reference(row.reference, row.raw)
        if col == 2:
            return row.group
        if col == 3:
            look = row.look
            text = f"{look.symbol} {look.short}".strip() if look.symbol not in ("…", "") else look.short
            text = f"{text} (re-checked)" if row.rechecked else text
            return f"{text} — undone" if row.undone else text
        if col == 4:
            return service_text(outcome.carrier_name or outcome.carrier_reference,
                                outcome.service_name or outcome.service_reference) if outcome else ""
        if col == 5:
            return " ".join(outcome.tracking_references) if outcome else ""
        if col == 6:
            return _message(row)
        return ""

    # ------------------------------------------------------------------ changes
    def add(self, row: Ticket) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, row)
        self._positions[row.id] = row
        self.endInsertRows()
        if len(self._rows) > MAX_ROWS:
            first = MAX_ROWS
            self.beginRemoveRows(QModelIndex(), first, len(self._rows) - 1)
            for gone in self._rows[first:]:
                self._positions.pop(gone.id, None)
            del self._rows[first:]
            self.endRemoveRows()

    def changed(self, ticket_id: int) -> None:
        """The ticket changed (phase, outcome, re-check): repaint its row."""
        row = self._positions.get(ticket_id)
        if row is None:
            return
        r = self._rows.index(row)
        self.dataChanged.emit(self.index(r, 0), self.index(r, len(COLUMNS) - 1))

    def row_for_ticket(self, ticket_id: int) -> Ticket | None:
        return self._positions.get(ticket_id)

    def rows(self) -> list[Ticket]:
        return list(self._rows)

    def count_in_state(self, *states: str) -> int:
        return sum(1 for r in self._rows if r.state in states)


def _message(row: Ticket) -> str:
    message = (row.outcome.message if row.outcome is not None else row.message) or ""
    # A follow-up's line first (the label: "Printing label…", "… sent to …", "✕ LABEL NOT PRINTED: …").
    lines = [r.words for r in row.follow_ups.values() if r.words]
    return " · ".join([*lines, message] if message else lines) if lines else message


class RecentScansView(QTableView):
    """Read-only list. Reached with Ctrl+L; any printable key (a scanner!) goes back to the scan field."""

    def __init__(self, model: RecentScansModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setObjectName("recentScans")
        self.setAccessibleName("Recent scans")
        self.setAccessibleDescription("The latest scans, newest first, with their state and carrier service.")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTabKeyNavigation(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # clicks never take the focus from the scan field
        self.verticalHeader().setVisible(False)
        # Fixed widths from the font, not ResizeToContents: measuring every row on every change costs
        # ~10 ms per update with 200 rows, and updates come with every scan.
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        self.fit_columns()
        self.forward_to = None  # the scan field

    def fit_columns(self) -> None:
        """Column widths from the font (call again after a font or scale change)."""
        metrics = self.fontMetrics()
        bold = QFont(self.font())
        bold.setBold(True)
        from PySide6.QtGui import QFontMetrics

        bold_metrics = QFontMetrics(bold)
        pad = metrics.horizontalAdvance("  ") + 12
        samples = ("00:00:00", "EC-000-DSK-000", "valuableGoods", None, "Albion Post Special Delivery", "AT000000000GB")
        header = self.horizontalHeader()
        for col, sample in enumerate(samples):
            if sample is None:
                width = bold_metrics.horizontalAdvance("already being allocated") + pad
            else:
                width = max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(COLUMNS[col])) + pad
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, width)
        self.verticalHeader().setDefaultSectionSize(metrics.height() + 8)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        target = self.forward_to
        text = event.text()
        key = event.key()
        if target is not None and (key in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab)
                                   or (text and text.isprintable() and not event.modifiers()
                                       & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier))):
            target.setFocus(Qt.FocusReason.ShortcutFocusReason)
            if key != Qt.Key.Key_Escape:
                from PySide6.QtWidgets import QApplication

                QApplication.sendEvent(target, QKeyEvent(event.type(), key, event.modifiers(), text))
            return
        super().keyPressEvent(event)
