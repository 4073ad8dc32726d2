"""Undo last allocation in the window: a confirmation that names what is undone, then ``Desk.undo`` on a worker.

* Ctrl+Z, Scan > "Undo last allocation…", the recent list's context menu (for the selected row) and
  the ``DD:UNDO`` command barcode all come here. The target is the selected recent row when the
  list has the focus, else the newest allocation of this session that was not undone.
* The confirmation names the consignment and the service and says its printed label is void and must
  be destroyed (SortedPRO purges labels on deallocation). Cancel (the default, and Esc) sends nothing.
* The first run never undoes a Manifested consignment: SortedPRO's answer is looked at first and a
  Manifested one is refused without a PUT; the window then asks again, louder (the carrier has already
  been told), and only that second yes sends it with consent.
* The result: "UNDONE" on the panel (blue, not green: nothing is ready to ship), and anything but
  success as a notice that stays until Esc.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from ..commands import CommandKind
from ..core import Outcome, OutcomeKind
from ..errors import explain
from . import command_dispatch, theme
from .tickets import Ticket

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger("despatch_desk.gui.undo")

UNDONE = replace(theme.GROUP_CHANGED, word="UNDONE", short="undone")
_UNDOABLE = (theme.Shown.ALLOCATED, theme.Shown.ALREADY_ALLOCATED)
_MANIFESTED_HINT = "carrier has already been told"


def confirmation_text(ticket: Ticket, *, manifested: bool = False) -> tuple[str, str]:
    """(title line, details) of the confirmation, plain text."""
    service = ticket.outcome.service_text if ticket.outcome is not None else ""
    service = service or "its carrier service"
    if manifested:
        return (f"{ticket.reference} is MANIFESTED: the carrier has already been told about it.",
                f"Undo it anyway? SortedPRO will deallocate it from {service}, and the carrier may still expect "
                "the parcel. Its printed label is void: destroy it.")
    return (f"Undo the allocation of {ticket.reference} to {service}?",
            "SortedPRO deletes its labels when an allocation is undone: the printed label is void and must be "
            "destroyed. The consignment can then be allocated again.")


class WindowUndo(QObject):
    """Undo on a :class:`~.main_window.MainWindow` (made after its menus and its labels)."""

    finished = Signal(int)   # ticket id: its undo is decided (outcome in last_outcome)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.controller = window.controller
        self.dialog: QMessageBox | None = None
        self.context_menu: QMenu | None = None   # the recent list's last context menu (tests look at it)
        self.last_outcome: Outcome | None = None
        self.last_refusal = ""
        self.undone: set[int] = set()        # ticket ids whose allocation was undone
        self._running: set[int] = set()
        self.action = QAction("&Undo last allocation…", window)
        self.action.setShortcut(QKeySequence("Ctrl+Z"))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.triggered.connect(lambda _checked=False: self.ask())
        window.addAction(self.action)
        for menu_action in window.menuBar().actions():  # beside Reprint in the Scan menu
            if menu_action.text().replace("&", "") == "Scan" and menu_action.menu() is not None:
                menu_action.menu().insertAction(window.reprint_action, self.action)
        # The scan field would take Ctrl+Z as its own text undo; the window's undo wins there.
        window.scan_field.installEventFilter(self)
        # One context menu for the recent list: the labels' (Reprint) pops first, Undo joins it.
        window.recent_view.customContextMenuRequested.connect(self._context_menu_requested)
        command_dispatch.register(CommandKind.UNDO, lambda _w, _c: self._command())

    # ------------------------------------------------------------------ target and asking
    def target(self) -> Ticket | None:
        w = self.window
        index = w.recent_view.currentIndex()
        if w.recent_view.hasFocus() and index.isValid():
            return w.recent_model.rows()[index.row()]
        for ticket in reversed(self.controller.tickets()):
            if ticket.state in _UNDOABLE and ticket.id not in self.undone:
                return ticket
        return None

    def refusal(self, ticket: Ticket | None) -> str | None:
        if ticket is None or not ticket.reference:
            return "Nothing to undo: no consignment was allocated on this desk since it opened."
        if ticket.state not in _UNDOABLE:
            return f"Nothing to undo: {ticket.reference} is not allocated."
        if ticket.id in self.undone:
            return f"{ticket.reference} was already undone."
        if ticket.id in self._running:
            return f"Already undoing {ticket.reference}."
        return None

    @Slot()
    def ask(self, ticket: Ticket | None = None, *, manifested: bool = False) -> bool:
        """Show the confirmation (not modal to the event loop: scans and results go on). False: refused."""
        ticket = ticket or self.target()
        problem = self.refusal(ticket)
        if problem:
            self.last_refusal = problem
            self.window.statusBar().showMessage(problem, 8000)
            return False
        assert ticket is not None
        title, details = confirmation_text(ticket, manifested=manifested)
        box = QMessageBox(QMessageBox.Icon.Critical if manifested else QMessageBox.Icon.Warning,
                          "Undo allocation", title, QMessageBox.StandardButton.NoButton, self.window)
        box.setObjectName("undoConfirmation")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText(details)
        label = box.findChild(QObject, "qt_msgbox_informativelabel")
        if label is not None:
            label.setTextFormat(Qt.TextFormat.PlainText)
        yes = box.addButton("Undo it anyway" if manifested else "Undo allocation",
                            QMessageBox.ButtonRole.DestructiveRole)
        no = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(no)  # Enter (a scanner's terminator) must never undo
        box.setEscapeButton(no)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _r, b=box, y=yes, t=ticket, m=manifested: self._answered(b, y, t, m))
        self.dialog = box
        box.open()
        return True

    def _answered(self, box: QMessageBox, yes: object, ticket: Ticket, manifested: bool) -> None:
        confirmed = box.clickedButton() is yes
        box.deleteLater()
        if self.dialog is box:
            self.dialog = None
        if not confirmed:
            self.window.statusBar().showMessage(f"Undo cancelled: nothing was sent for {ticket.reference}.", 8000)
            return
        self._start(ticket, include_manifested=manifested)

    # ------------------------------------------------------------------ doing it
    def _start(self, ticket: Ticket, *, include_manifested: bool) -> None:
        reference = ticket.reference or ""
        desk = self.window.desk
        self._running.add(ticket.id)
        job = self.window.runner.run(
            lambda token: desk.undo(reference, include_manifested=include_manifested, cancel=token),
            lambda outcome, tid=ticket.id: self._done(tid, outcome),
            lambda exc, tid=ticket.id: self._failed(tid, exc), receiver=self, keys=(f"undo:{reference}",),
            name="undo")
        if job is None:
            self._running.discard(ticket.id)
            self.controller.add_notice(f"The undo of {reference} was not started: the desk is closing.")
            return
        self.window.result_panel.show_message(theme.ALLOCATING, "UNDOING", reference, "Asking SortedPRO…")

    def _done(self, ticket_id: int, outcome: Outcome) -> None:
        self._running.discard(ticket_id)
        self.last_outcome = outcome
        ticket = self.controller.ticket(ticket_id)
        if outcome.kind is OutcomeKind.DEALLOCATED:
            self.undone.add(ticket_id)
            if ticket is not None:
                ticket.undone = True
                self.window.recent_model.changed(ticket_id)
            self.window.result_panel.show_message(UNDONE, "UNDONE", outcome.reference or "", outcome.message)
        elif (outcome.kind is OutcomeKind.NOT_DEALLOCATED and _MANIFESTED_HINT in outcome.message
              and ticket is not None):
            self.window.result_panel.show_message(theme.ALREADY, "MANIFESTED", outcome.reference or "",
                                                  "Not undone yet: confirm again to undo a manifested consignment.")
            self.ask(ticket, manifested=True)
        else:
            look = theme.look_for(outcome.kind) if outcome.kind is not OutcomeKind.NOT_DEALLOCATED else theme.NOT_ALLOCATED
            self.window.result_panel.show_message(look, "NOT UNDONE" if look is theme.NOT_ALLOCATED else look.word,
                                                  outcome.reference or "", outcome.message)
            self.controller.add_notice(f"Undo: {outcome.message}")
            if outcome.kind is OutcomeKind.IN_DOUBT:
                self.controller.refresh_in_doubt()
        self.finished.emit(ticket_id)

    def _failed(self, ticket_id: int, exc: BaseException) -> None:
        self._running.discard(ticket_id)
        log.error("undo failed: %s", exc)
        self.controller.add_notice(f"Undo: {explain(exc)} Check the consignment in the history before shipping.")
        self.finished.emit(ticket_id)

    # ------------------------------------------------------------------ entry points
    def _command(self) -> str | None:
        if self.ask():
            return "Undo: confirm on screen (Esc or Enter cancels)."
        raise command_dispatch.CommandRefused(f"{self.last_refusal} Nothing was done.")

    @Slot(QPoint)
    def _context_menu_requested(self, pos: QPoint) -> None:
        view = self.window.recent_view
        index = view.indexAt(pos)
        ticket = self.window.recent_model.rows()[index.row()] if index.isValid() else None
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu) or menu.parent() is not view:  # no one else's menu: our own
            menu = QMenu(view)
            menu.aboutToHide.connect(menu.deleteLater)
            menu.popup(view.viewport().mapToGlobal(pos))
        else:
            menu.addSeparator()
        self.add_to_menu(menu, ticket)
        self.context_menu = menu

    def add_to_menu(self, menu: QMenu, ticket: Ticket | None) -> QMenu:
        action = menu.addAction("&Undo allocation… (Ctrl+Z)")
        action.setEnabled(self.refusal(ticket) is None)
        action.triggered.connect(lambda _checked=False, t=ticket: self.ask(t))
        return menu

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if event.matches(QKeySequence.StandardKey.Undo):
                event.ignore()  # not the field's: let the window's shortcut have it
                return True
        return super().eventFilter(watched, event)
