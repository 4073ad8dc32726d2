"""Labels in the window: auto-print after an allocation, LABEL NOT PRINTED, Reprint.

The printing itself is :class:`~despatch_desk.label_service.LabelService` (fetch → retry → print →
record); this module only hangs it on the scan controller:

* :data:`LABEL_FOLLOW_UP` is registered in :data:`~.tickets.FOLLOW_UPS` when this module is
  imported (the main window imports it). It applies to a fresh allocation (a recovered one
  included), is wanted when ``settings.auto_print`` is on and a printer is set, and runs on the
  follow-up lane, so the result panel and the next scan never wait for a label (a batch's labels
  come out one at a time in row order: the controller sees to that).
* A label that was not printed is a problem of its own look (:data:`LABEL_NOT_PRINTED`): it joins
  the problem stack and stays until Esc, while the allocation stays shown as allocated.
* :class:`WindowLabels` gives the window Reprint (Ctrl+P, Scan menu, the recent list's context
  menu): the selected scan when the recent list has the focus, else the one on the result panel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, Qt, Slot
from PySide6.QtWidgets import QMenu

from ..cancel import CancelToken
from ..core import Outcome, OutcomeKind
from ..errors import explain
from ..label_service import PRINTER, LabelResult, LabelService, printer_problem
from .theme import Look, Shown, Tone
from .tickets import FOLLOW_UPS, FollowUp, Ticket

if TYPE_CHECKING:
    from ..desk import Desk
    from .main_window import MainWindow

log = logging.getLogger("despatch_desk.gui.labels")

NAME = "label"
PRINTING = "Printing label…"
REPRINT_OFFER = "Ctrl+P reprints its label."
NO_PRINTER = "No label printer is set up: choose one in Settings (Ctrl+,), on the Printer page."
_PREFIX = "label not printed:"
# Yellow on near-black (contrast 15:1): like a warning sticker, unlike every result colour.
LABEL_NOT_PRINTED = Look(Shown.ALLOCATED, "✕", "LABEL NOT PRINTED", "label not printed", "#212121", "#FFD600",
                         sound=Tone.FAILURE)
_REPRINTABLE = (Shown.ALLOCATED, Shown.ALREADY_ALLOCATED)


def auto_print_wanted(desk: Desk) -> bool:
    settings = desk.settings
    return bool(settings.auto_print and (settings.printer_uri or "").strip())


def _applies(outcome: Outcome) -> bool:
    return outcome.kind is OutcomeKind.ALLOCATED  # an already-allocated scan offers Reprint instead


def print_label_for(desk: Desk, outcome: Outcome, token: CancelToken) -> LabelResult:  # worker thread
    """The label of ``outcome``: a fresh allocation waits for a lagging label at once; an
    already-allocated one (a reprint) is looked up first. Never raises: a bug is a label not printed."""
    subject: Outcome | str = outcome if outcome.ok else (outcome.reference or "")
    try:
        return LabelService(desk).print_for(subject, cancel=token)
    except Exception as exc:  # noqa: BLE001 - the parcel still has no label: say so, as a problem
        log.exception("label for %s failed", outcome.reference)
        return LabelResult(outcome.reference or "", False, desk.settings.label_format, "",
                           error=f"Label not printed: {explain(exc)}", reason=PRINTER)


def report(result: object) -> tuple[str, str | None]:
    """(the panel's line, the problem's words or None) for a :class:`LabelResult`."""
    if not isinstance(result, LabelResult):
        return str(result), None
    if result.printed:
        return result.words, None  # "The label (ZPL) for EC-… sent to cups://zebra.": sent, not "printed"
    reason = (result.error or "the printer did not take it.").strip()
    if reason.lower().startswith(_PREFIX):
        reason = reason[len(_PREFIX):].strip()
    reason = reason[:1].upper() + reason[1:]
    return f"✕ LABEL NOT PRINTED: {reason}", f"{reason} The allocation stands: reprint with Ctrl+P."


LABEL_FOLLOW_UP = FollowUp(NAME, _applies, print_label_for, wanted=auto_print_wanted, pending=PRINTING,
                           report=report, problem_look=LABEL_NOT_PRINTED)
FOLLOW_UPS.register(LABEL_FOLLOW_UP)


class WindowLabels(QObject):
    """Reprint and the Reprint offer on a :class:`~.main_window.MainWindow` (made after its signals are connected)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.controller = window.controller
        self.last_refusal = ""   # why the last Reprint did nothing (also on the status bar)
        view = window.recent_view
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._context_menu_requested)
        # After the window's own slots: the panel shows the ticket first, then the offer is added.
        self.controller.latest_changed.connect(self._offer_reprint)
        self.controller.ticket_changed.connect(self._offer_reprint)

    # ------------------------------------------------------------------ Reprint
    def target(self) -> Ticket | None:
        """The selected scan when the recent list has the focus, else the one on the result panel."""
        w = self.window
        index = w.recent_view.currentIndex()
        if w.recent_view.hasFocus() and index.isValid():
            return w.recent_model.rows()[index.row()]
        return self.controller.ticket(w.result_panel.ticket_id) or self.controller.latest

    @Slot()
    def reprint(self, ticket: Ticket | None = None) -> bool:
        """Print the label of ``ticket`` (default :meth:`target`) again, on the follow-up lane."""
        ticket = ticket or self.target()
        problem = self._refusal(ticket)
        if problem is None and ticket is not None:
            problem = self.controller.run_follow_up(ticket.id, NAME)
        if problem:
            self.last_refusal = problem
            self.window.statusBar().showMessage(problem, 8000)
            return False
        self.last_refusal = ""
        return True

    def _refusal(self, ticket: Ticket | None) -> str | None:
        if ticket is None or not ticket.reference:
            return "Nothing to reprint: scan a consignment first."
        if ticket.state not in _REPRINTABLE:
            return f"Nothing to reprint: {ticket.reference} is not allocated."
        return NO_PRINTER if printer_problem(self.window.desk.settings.printer_uri) else None

    def context_menu(self, ticket: Ticket | None) -> QMenu:
        menu = QMenu(self.window.recent_view)
        action = menu.addAction("&Reprint label (Ctrl+P)")
        action.setEnabled(ticket is not None and ticket.state in _REPRINTABLE)
        action.triggered.connect(lambda _checked=False, t=ticket: self.reprint(t))
        return menu

    @Slot(QPoint)
    def _context_menu_requested(self, pos: QPoint) -> None:
        view = self.window.recent_view
        index = view.indexAt(pos)
        ticket = self.window.recent_model.rows()[index.row()] if index.isValid() else None
        menu = self.context_menu(ticket)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(view.viewport().mapToGlobal(pos))  # not exec(): the scans and results go on meanwhile

    # ------------------------------------------------------------------ the offer on the panel
    @Slot(int)
    def _offer_reprint(self, ticket_id: int) -> None:
        panel = self.window.result_panel
        if panel.ticket_id != ticket_id:
            return
        ticket = self.controller.ticket(ticket_id)
        if ticket is None or ticket.state is not Shown.ALREADY_ALLOCATED or NAME in ticket.follow_ups:
            return
        if printer_problem(self.window.desk.settings.printer_uri) is None:
            panel.add_extra_line(REPRINT_OFFER)
