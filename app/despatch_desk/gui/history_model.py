"""The history window's parts: its table model (pages of 200 rows read on demand), the words for a row,
the outcome cell's painting and the keyboard-friendly table. Every cell is plain text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QKeySequence, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
)

from ..core import OutcomeKind
from ..desk import Desk
from ..history import PENDING, History, HistoryError, HistoryRow
from ..present import duration_text, full_local_time, plain_tooltip
from ..present import service_text as _service_text
from .theme import look_for

log = logging.getLogger("despatch_desk.gui.history")

PAGE_SIZE = 200
REFRESH_KEEP_MAX = 2000   # refresh() re-reads at most this many already-loaded rows
SEARCH_DEBOUNCE_MS = 150

PENDING_COLOURS = ("#CFD8DC", "#1C2833")

COLUMNS = ("Time", "Workstation", "Reference", "Group", "Outcome", "Carrier / service", "Tracking", "Message",
           "Correlation id", "Duration")
COL_TIME, COL_WORKSTATION, COL_REFERENCE, COL_GROUP, COL_OUTCOME, COL_SERVICE, COL_TRACKING, COL_MESSAGE, \
    COL_CORRELATION, COL_DURATION = range(len(COLUMNS))

ROW_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    text: str = ""
    outcomes: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def kwargs(self) -> dict:
        return {"outcomes": list(self.outcomes) or None, "since": self.since, "until": self.until}


# ---------------------------------------------------------------------------------------------- words
def outcome_text(row: HistoryRow, symbol: bool = False) -> str:
    """"Allocated (re-checked)"; with ``symbol`` the state's sign first ("✓ Allocated"), so colour is not alone."""
    if row.outcome == PENDING:
        return f"{'… ' if symbol else ''}Pending (in flight)"
    kind = row.kind
    text = kind.label if kind is not None else row.outcome
    if row.resolved_at is not None:
        text = f"{text} (re-checked)"
    elif row.recovered and kind is OutcomeKind.ALLOCATED:
        text = f"{text} (confirmed)"
    if row.undone_by_id is not None:  # the allocation was undone later (its undo is row undone_by_id)
        text = f"{text}, undone"
    if symbol and kind is not None:
        text = f"{look_for(kind).symbol} {text}"
    return text


def _price_line(row: HistoryRow) -> str:
    from ..details import date_text, money_text

    try:
        expected = datetime.fromisoformat(row.expected_delivery) if row.expected_delivery else None
    except ValueError:  # edited by hand: shown as unknown
        expected = None
    return (f"Price: {money_text(row.price_net, row.price_currency)} net, "
            f"{money_text(row.price_gross, row.price_currency)} gross    "
            f"Expected delivery: {date_text(expected, with_time=True)}")


def service_text(row: HistoryRow) -> str:
    return _service_text(row.carrier_name or row.carrier_reference, row.service_name or row.service_reference)


local_time = full_local_time


def row_details(row: HistoryRow) -> str:
    """Everything about one attempt, for the detail pane (plain text, copyable)."""
    lines = [
        f"Reference: {row.reference or '(not a consignment reference)'}    Scanned as: {row.raw_scan!r}",
        f"Outcome: {outcome_text(row)}    Group: {row.group_code or '-'}    Workstation: {row.workstation or '-'}",
        f"Started: {local_time(row.started_at)}    Finished: {local_time(row.finished_at) or '-'}"
        f"    Duration: {duration_text(row.duration_ms) or '-'}",
    ]
    if row.message:
        lines.append(f"Message: {row.message}")
    if service_text(row) or row.tracking:
        lines.append(f"Service: {service_text(row) or '-'}    Tracking: {' '.join(row.tracking) or '-'}")
    if row.price_net is not None or row.price_gross is not None or row.expected_delivery:
        lines.append(_price_line(row))
    if row.undoes_id is not None or row.undone_by_id is not None:
        lines.append(f"Undoes the allocation in row {row.undoes_id}." if row.undoes_id is not None
                     else f"Undone by row {row.undone_by_id}: its label is void.")
    server = []
    if row.server_message:
        server.append(f"Server said: {row.server_message}")
    if row.server_code:
        server.append(f"code {row.server_code}")
    if row.http_status:
        server.append(f"HTTP {row.http_status}")
    if server:
        lines.append("    ".join(server))
    if row.correlation_id:
        lines.append(f"Correlation id: {row.correlation_id}")
    if row.resolved_at:
        lines.append(f"Re-checked {local_time(row.resolved_at)}: {row.resolution or ''}")
    if row.environment:
        lines.append(f"API: {row.environment}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- model
class HistoryTableModel(QAbstractTableModel):
    """Rows of ``desk.history.search``, newest first, loaded a page at a time."""

    error = Signal(str)          # a history read failed (plain words)
    total_changed = Signal(int)  # number of rows matching the filter

    def __init__(self, desk: Desk, parent=None, page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self.desk = desk
        self.page_size = page_size
        self.filter = HistoryFilter()
        self._rows: list[HistoryRow] = []
        self._index: dict[int, int] = {}
        self._total = 0
        self.last_error: str | None = None
        self._brushes: dict[str, tuple[QBrush, QBrush]] = {}

    # -- loading
    def _history(self) -> History:
        return self.desk.history

    @property
    def total(self) -> int:
        return self._total

    def set_filter(self, new_filter: HistoryFilter) -> None:
        self.filter = new_filter
        self.reload()

    def reload(self, keep: int = 0) -> None:
        """Re-read the first page (or ``keep`` rows, rounded up to pages) for the current filter."""
        wanted = max(self.page_size, -(-keep // self.page_size) * self.page_size)
        self.beginResetModel()
        try:
            history = self._history()
            self._total = history.count(self.filter.text, **self.filter.kwargs())
            self._rows = history.search(self.filter.text, limit=wanted, offset=0, **self.filter.kwargs())
            self.last_error = None
        except HistoryError as exc:
            self._rows, self._total = [], 0
            self.last_error = str(exc)
        self._index = {row.id: i for i, row in enumerate(self._rows)}
        self.endResetModel()
        self.total_changed.emit(self._total)
        if self.last_error:
            self.error.emit(self.last_error)

    def canFetchMore(self, parent=QModelIndex()) -> bool:  # noqa: N802 (Qt API)
        return not parent.isValid() and self.last_error is None and len(self._rows) < self._total

    def fetchMore(self, parent=QModelIndex()) -> None:  # noqa: N802
        if parent.isValid():
            return
        try:
            page = self._history().search(self.filter.text, limit=self.page_size, offset=len(self._rows),
                                          **self.filter.kwargs())
        except HistoryError as exc:
            self.last_error = str(exc)
            self.error.emit(self.last_error)
            return
        # Newer scans arrive at the top while the window is open: skip rows already shown.
        last_id = self._rows[-1].id if self._rows else None
        page = [r for r in page if last_id is None or r.id < last_id]
        if not page:
            self._total = len(self._rows)  # nothing more to read for now (refresh() recounts)
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
        for offset, row in enumerate(page):
            self._index[row.id] = first + offset
        self._rows.extend(page)
        self.endInsertRows()

    # -- access
    def row_at(self, row: int) -> HistoryRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def position_of(self, row_id: int) -> int | None:
        return self._index.get(row_id)

    def loaded(self) -> int:
        return len(self._rows)

    # -- Qt model API
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self.text(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (COL_MESSAGE, COL_OUTCOME, COL_CORRELATION):
                return plain_tooltip(row_details(row))
            return None
        if role == ROW_ROLE:
            return row
        if column == COL_OUTCOME and role in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole):
            background, foreground = self._colours(row.outcome)
            return background if role == Qt.ItemDataRole.BackgroundRole else foreground
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_DURATION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _colours(self, outcome: str) -> tuple[QBrush, QBrush]:
        brushes = self._brushes.get(outcome)
        if brushes is None:
            if outcome == PENDING:
                bg, fg = PENDING_COLOURS
            else:
                look = look_for(outcome)
                bg, fg = look.background, look.foreground
            brushes = (QBrush(QColor(bg)), QBrush(QColor(fg)))
            self._brushes[outcome] = brushes
        return brushes

    @staticmethod
    def text(row: HistoryRow, column: int) -> str:
        if column == COL_TIME:
            return local_time(row.started_at)
        if column == COL_WORKSTATION:
            return row.workstation
        if column == COL_REFERENCE:
            return row.reference or row.raw_scan
        if column == COL_GROUP:
            return row.group_code
        if column == COL_OUTCOME:
            return outcome_text(row, symbol=True)
        if column == COL_SERVICE:
            return service_text(row)
        if column == COL_TRACKING:
            return " ".join(row.tracking)
        if column == COL_MESSAGE:
            return row.message
        if column == COL_CORRELATION:
            return row.correlation_id or ""
        if column == COL_DURATION:
            return duration_text(row.duration_ms)
        return ""

    def rows_as_tsv(self, rows: Sequence[int]) -> str:
        lines = []
        for r in sorted(set(rows)):
            row = self.row_at(r)
            if row is not None:
                cells = (self.text(row, c).replace("\t", " ").replace("\n", " ") for c in range(len(COLUMNS)))
                lines.append("\t".join(cells))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- table
class OutcomeDelegate(QStyledItemDelegate):
    """Keeps the outcome colour on a selected row (a frame shows the selection instead)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if not selected:
            super().paint(painter, option, index)
            return
        plain = QStyleOptionViewItem(option)
        plain.state &= ~QStyle.StateFlag.State_Selected
        super().paint(painter, plain, index)
        painter.save()
        pen = QPen(option.palette.color(QPalette.ColorRole.Highlight))
        pen.setWidth(3)
        painter.setPen(pen)
        painter.drawRect(option.rect.adjusted(1, 1, -2, -2))
        painter.restore()


class HistoryTable(QTableView):
    """Enter on a row asks for a re-check; Ctrl+C copies the selected rows as tab-separated text."""

    enter_pressed = Signal(int)   # row
    copy_requested = Signal()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_requested.emit()
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.enter_pressed.emit(self.currentIndex().row())
            event.accept()
            return
        super().keyPressEvent(event)
