"""The Batch window's table: one row per line of the input, before and while the batch runs.

GUI-thread data only. A row knows its input line and, once sent, the ticket id of its scan; the
words shown come from the :class:`~.tickets.Ticket` (the controller holds it), so a re-check that
resolves an in-doubt row updates this table too.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from ..batch import BatchLine
from ..present import plain_tooltip
from . import theme
from .theme import Shown
from .tickets import Phase, Ticket

COLUMNS = ("#", "Reference", "State", "Carrier and service", "Price", "Message")
STATE_COLUMN = 2

# Rows that "Retry failed" sends again: nothing reached the consignment, or SortedPRO said no.
# In doubt is not among them: it is re-checked (looked up), never sent blind.
RETRYABLE = frozenset({Shown.NOT_ALLOCATED, Shown.UNREACHABLE, Shown.CANCELLED, Shown.CRASHED, Shown.NOT_RECORDED,
                       Shown.NOT_READY, Shown.CLOSING})


class RowKind(enum.StrEnum):
    SEND = "send"              # a valid reference: sent when the batch runs
    ALREADY = "already"        # this desk's history has it allocated: skipped unless asked
    DUPLICATE = "duplicate"    # repeats an earlier line: sent once, with that line
    INVALID = "invalid"        # not a reference: never sent


@dataclass(slots=True)
class BatchRow:
    line: BatchLine
    kind: RowKind
    ticket_id: int | None = None
    note: str = ""             # the preview's words (already allocated when, duplicate of line …)
    # The last words and state seen on its ticket: the controller forgets old settled tickets
    # (it keeps 500), a batch of thousands still shows and exports every row.
    shown: tuple[str, ...] | None = None
    state: Shown | None = None
    tracking: str = ""


_PREVIEW_WORDS = {RowKind.SEND: "to send", RowKind.ALREADY: "allocated before", RowKind.DUPLICATE: "duplicate",
                  RowKind.INVALID: "invalid"}


class BatchModel(QAbstractTableModel):
    def __init__(self, ticket: Callable[[int | None], Ticket | None], parent: Any = None) -> None:
        super().__init__(parent)
        self._ticket = ticket
        self.rows: list[BatchRow] = []
        self._by_ticket: dict[int, int] = {}

    # ------------------------------------------------------------------ filling
    def set_rows(self, rows: Sequence[BatchRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self._by_ticket = {r.ticket_id: i for i, r in enumerate(self.rows) if r.ticket_id is not None}
        self.endResetModel()

    def attach(self, row_index: int, ticket_id: int) -> None:
        old = self.rows[row_index].ticket_id
        if old is not None:
            self._by_ticket.pop(old, None)
        self.rows[row_index].ticket_id = ticket_id
        self._by_ticket[ticket_id] = row_index
        self._changed_row(row_index)

    def ticket_changed(self, ticket_id: int) -> bool:
        index = self._by_ticket.get(ticket_id)
        if index is None:
            return False
        row = self.rows[index]
        ticket = self._ticket(ticket_id)
        if ticket is not None:
            row.shown, row.state = self._ticket_cells(row, ticket), ticket.state
            outcome = ticket.outcome
            row.tracking = ", ".join(outcome.tracking_references) if outcome is not None else ""
        self._changed_row(index)
        return True

    def _changed_row(self, index: int) -> None:
        self.dataChanged.emit(self.index(index, 0), self.index(index, len(COLUMNS) - 1))

    # ------------------------------------------------------------------ reading
    def ticket_of(self, row: BatchRow) -> Ticket | None:
        return self._ticket(row.ticket_id)

    def state_of(self, row: BatchRow) -> Shown | None:
        ticket = self.ticket_of(row)
        return ticket.state if ticket is not None else row.state if row.ticket_id is not None else None

    def cells(self, row: BatchRow) -> tuple[str, ...]:
        """The row as words: the table and the CSV export read the same."""
        ticket = self.ticket_of(row)
        if ticket is not None:
            return self._ticket_cells(row, ticket)
        if row.ticket_id is not None and row.shown is not None:
            return row.shown
        return (str(row.line.line), row.line.reference or row.line.raw, _PREVIEW_WORDS[row.kind], "", "",
                row.note or row.line.problem or "")

    def _ticket_cells(self, row: BatchRow, ticket: Ticket) -> tuple[str, ...]:
        reference = row.line.reference or row.line.raw
        outcome = ticket.outcome
        state = "not sent" if ticket.phase is Phase.DROPPED else (ticket.look.short or ticket.state.value)
        service = outcome.service_text if outcome is not None and outcome.ok else ""
        price = _price(ticket)
        message = (outcome.message if outcome is not None else ticket.message) or ""
        if outcome is not None and outcome.ok and outcome.tracking_references:
            message = f"{message}  tracking {', '.join(outcome.tracking_references)}".strip()
        return (str(row.line.line), ticket.reference or reference, state, service, price, message)

    # ------------------------------------------------------------------ Qt
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cells(row)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == len(COLUMNS) - 1:
            return plain_tooltip(self.cells(row)[-1])  # server words are never rendered as rich text
        if index.column() == STATE_COLUMN and role in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole):
            look = self._look(row)
            if look is None:
                return None
            return QColor(look.background if role == Qt.ItemDataRole.BackgroundRole else look.foreground)
        return None

    def _look(self, row: BatchRow) -> theme.Look | None:
        ticket = self.ticket_of(row)
        if ticket is not None:
            return ticket.look
        if row.ticket_id is not None and row.state is not None:
            return theme.look_for(row.state)
        if row.kind is RowKind.INVALID:
            return theme.INVALID
        return None


def _price(ticket: Ticket) -> str:
    """The price once the details follow-up (or the outcome itself) has it; "" until then."""
    from ..details import Details, price_text

    found = [getattr(r, "value", None) for r in ticket.follow_ups.values()]
    found.append(getattr(ticket.outcome, "details", None))
    for value in found:
        if isinstance(value, Details):
            try:
                return price_text(value)
            except Exception:  # a half-read details object: no price rather than a broken row
                return ""
    return ""
