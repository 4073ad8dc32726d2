"""The in-doubt queue in the window: its list, its buttons, and the background drain.

* The count is the in-doubt bar above the results (always visible while non-zero); its "Queue…"
  button and Scan > "In-doubt queue…" (Ctrl+Shift+Q) open :class:`QueueDialog`: reference, group,
  age and the last thing known, with Re-check all, Re-check selected and Allocate again.
* Re-checking is the controller's (one policy, :mod:`despatch_desk.in_doubt`: looks only), so the
  recent list and the panel learn the results too. "Allocate again" is :func:`queue.allocate_again`:
  it looks first and sends exactly one PUT only if the look shows the consignment not allocated
  once the first attempt can no longer take effect.
* :class:`QueueDrain` re-checks the queue in the background while it is not empty: every
  ``interval_ms`` (a few minutes) and as soon as SortedPRO answers again after a scan found it
  unreachable. It only looks. What it resolved becomes a notice (it stays until Esc).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from .. import queue
from ..core import OutcomeKind
from ..errors import explain
from ..present import plain_tooltip, plural

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger("despatch_desk.gui.queue")

DRAIN_INTERVAL_MS = 3 * 60 * 1000
_ANSWERED = (OutcomeKind.ALLOCATED, OutcomeKind.ALREADY_ALLOCATED, OutcomeKind.NOT_ALLOCATED)
_UNANSWERED = (OutcomeKind.UNREACHABLE, OutcomeKind.IN_DOUBT)
COLUMNS = ("Reference", "Group", "Age", "Last known")


class QueueDrain(QObject):
    """Background re-checks of the in-doubt queue (looks only). ``drained(words)`` after each one."""

    drained = Signal(str)

    def __init__(self, window: MainWindow, interval_ms: int = DRAIN_INTERVAL_MS) -> None:
        super().__init__(window)
        self.window = window
        self.controller = window.controller
        self.offline = False         # the last answer-less scan said SortedPRO was unreachable
        self.draining = False
        self.runs = 0
        self.timer = QTimer(self)
        self.timer.setInterval(int(interval_ms))
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self.controller.ticket_finished.connect(self._ticket_finished)
        self.controller.recheck_finished.connect(self._recheck_finished)

    def set_interval(self, interval_ms: int) -> None:
        self.timer.setInterval(int(interval_ms))
        self.timer.start()

    @Slot()
    def tick(self) -> bool:
        """Re-check now if the queue is not empty and no re-check is running; True when started."""
        if self.draining or self.controller.rechecking or not getattr(self.controller, "in_doubt_count", 0):
            return False
        if not self.controller.recheck():
            return False
        self.draining = True
        self.runs += 1
        return True

    def _ticket_finished(self, ticket_id: int) -> None:
        ticket = self.controller.ticket(ticket_id)
        kind = ticket.outcome.kind if ticket is not None and ticket.outcome is not None else None
        if kind in _UNANSWERED:
            self.offline = True
        elif kind in _ANSWERED and self.offline:  # SortedPRO answers again: look at the queue now
            self.offline = False
            self.tick()

    def _recheck_finished(self) -> None:
        if not self.draining:
            return
        self.draining = False
        summary = self.controller.last_recheck
        words = queue.drain_words(summary) if summary is not None else None
        if words:
            self.controller.add_notice(words)
        self.drained.emit(words or "")


class QueueDialog(QDialog):
    """The queue's list and buttons. Reads and network work run on the window's runner."""

    loaded = Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.controller = window.controller
        self.entries: list[queue.QueueEntry] = []
        self.setObjectName("queueDialog")
        self.setWindowTitle("In-doubt queue")
        self.resize(820, 380)
        layout = QVBoxLayout(self)
        self.count_label = QLabel(self)
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.count_label.setStyleSheet("color: #311B92; font-weight: bold;")
        layout.addWidget(self.count_label)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.recheck_all_button = QPushButton("Re-check &all", self)
        self.recheck_selected_button = QPushButton("Re-check &selected", self)
        self.allocate_again_button = QPushButton("Allocate &again (looks first)", self)
        self.allocate_again_button.setToolTip("Looks at SortedPRO first; sends one allocation only if it is not "
                                              "allocated and the first attempt can no longer take effect.")
        close = QPushButton("&Close", self)
        for b in (self.recheck_all_button, self.recheck_selected_button, self.allocate_again_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.recheck_all_button.clicked.connect(lambda: self.recheck(None))
        self.recheck_selected_button.clicked.connect(lambda: self.recheck(self.selected_ids()))
        self.allocate_again_button.clicked.connect(self.allocate_again)
        close.clicked.connect(self.close)
        self.table.itemSelectionChanged.connect(self._enable)
        self.controller.recheck_finished.connect(self.reload)
        self.controller.in_doubt_changed.connect(lambda _n: self.reload())
        self._enable()

    # ------------------------------------------------------------------ loading
    def reload(self) -> None:
        desk = self.window.desk
        self.window.runner.run(lambda _t: queue.entries(desk), self._show,
                               lambda exc: self.status.setText(f"The queue could not be read: {explain(exc)}"),
                               receiver=self, name="queue-list")

    def _show(self, entries: list[queue.QueueEntry]) -> None:
        self.entries = list(entries)
        self.table.setRowCount(len(self.entries))
        for r, e in enumerate(self.entries):
            ref = (e.reference or "?") + ("  (undo)" if e.action == "deallocate" else "")
            for c, text in enumerate((ref, e.group, queue.age_text(e.age_s()), e.last_known)):
                item = QTableWidgetItem(text)  # plain text: server words may hold markup
                item.setToolTip(plain_tooltip(text))
                self.table.setItem(r, c, item)
        for c in range(3):  # the last column stretches and wraps: long server words stay readable
            self.table.resizeColumnToContents(c)
        self.table.resizeRowsToContents()
        n = len(self.entries)
        self.count_label.setText(f"? {plural(n, 'scan')} in doubt: do not ship until resolved." if n
                                 else "Nothing is in doubt.")
        self._enable()
        self.loaded.emit()

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.entries[r].row_id for r in rows if r < len(self.entries)]

    def _enable(self) -> None:
        chosen = self.selected_ids()
        self.recheck_all_button.setEnabled(bool(self.entries))
        self.recheck_selected_button.setEnabled(bool(chosen))
        self.allocate_again_button.setEnabled(len(chosen) == 1 and any(
            e.row_id == chosen[0] and e.action == "allocate" for e in self.entries))

    # ------------------------------------------------------------------ actions
    def recheck(self, ids: list[int] | None) -> bool:
        started = self.controller.recheck(ids)
        self.status.setText("Re-checking (looking only)…" if started else "A re-check is already running.")
        return started

    def allocate_again(self) -> bool:
        chosen = self.selected_ids()
        if len(chosen) != 1:
            return False
        row_id = chosen[0]
        desk = self.window.desk
        job = self.window.runner.run(lambda token: queue.allocate_again(desk, row_id, cancel=token), self._again_done,
                                     lambda exc: self.status.setText(f"Not done: {explain(exc)}"), receiver=self,
                                     keys=(f"again:{row_id}",), name="allocate-again")
        if job is None:
            self.status.setText("Already working on that row.")
            return False
        self.allocate_again_button.setEnabled(False)
        self.status.setText("Looking at SortedPRO first…")
        return True

    def _again_done(self, result: queue.RetryResult) -> None:
        self.last_result = result
        final = result.final
        if final is None:
            self.status.setText(f"Not checked: {result.error}")
        elif result.allocated is not None:
            self.status.setText(f"Allocated again: {final.message}")
        else:
            self.status.setText(f"Not sent again: {final.message}")
        self.controller.refresh_in_doubt()
        self.reload()


class WindowQueue(QObject):
    """The queue on a :class:`~.main_window.MainWindow`: the bar's Queue… button, the menu item, the drain."""

    def __init__(self, window: MainWindow, interval_ms: int = DRAIN_INTERVAL_MS) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: QueueDialog | None = None
        self.drain = QueueDrain(window, interval_ms)
        self.button = QPushButton("&Queue…", window.in_doubt_bar)
        self.button.setToolTip("List the in-doubt scans (Ctrl+Shift+Q)")
        window.in_doubt_bar.layout().addWidget(self.button)
        self.button.clicked.connect(self.open)
        self.action = QAction("In-doubt &queue…", window)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+Q"))
        self.action.triggered.connect(lambda _checked=False: self.open())
        window.addAction(self.action)
        for menu_action in window.menuBar().actions():
            if menu_action.text().replace("&", "") == "Scan" and menu_action.menu() is not None:
                menu_action.menu().insertAction(window.recheck_action, self.action)

    def open(self) -> QueueDialog:
        if self.dialog is None:
            self.dialog = QueueDialog(self.window)
        self.dialog.reload()
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog


def attach(window: MainWindow, interval_ms: int = DRAIN_INTERVAL_MS) -> WindowQueue:
    return WindowQueue(window, interval_ms)


__all__ = ["DRAIN_INTERVAL_MS", "QueueDialog", "QueueDrain", "WindowQueue", "attach"]
