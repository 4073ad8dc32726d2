"""The scan controller: every scan's life, from the field to its last follow-up, in the GUI thread.

``ScanController.submit_scan(text)`` is the one door scans come through (a command-barcode prefix
will be one branch here). It normalises and checks the scan in microseconds, keeps one
:class:`Ticket` per scan and hands allocation to the desk's :class:`~.jobs.JobRunner`. What the
window, the recent list, the problem stack (and later a batch view) show is driven by its typed
signals, which carry ticket ids only; read the ticket with :meth:`ScanController.ticket`.

Policies kept here, once:

* latest scan: the panel shows the newest scan; an older result arriving later never replaces it;
* problems stay: an unacknowledged problem stays in :attr:`problems` until Esc (``acknowledge``),
  whatever comes after it;
* every resolution (a re-check that finds an in-doubt scan allocated) updates the ticket, and the
  ``ticket_changed`` signal updates every place that shows it;
* batches are quiet: no sound and no panel per row, one ``batch_finished`` at the end;
* follow-ups (labels, price, delivery date later) hang off an allocated outcome and run on the
  follow-up lane: see :class:`FollowUpRegistry`; a batch's run one row at a time, in row order; a
  follow-up result with problem words (LABEL NOT PRINTED) stays in :meth:`problems` until Esc.
  Production registers the label follow-up (``gui/label_follow_up.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from PySide6.QtCore import QObject, Qt, Signal

from .. import in_doubt
from ..cancel import CancelToken
from ..core import Outcome, OutcomeKind, check_group_code
from ..desk import Desk
from ..errors import explain
from ..references import InvalidReference, parse_reference
from . import command_dispatch
from .follow_up_runs import FollowUpRuns
from .jobs import Job, JobRunner, Lane
from .startup import InDoubtCount
from .theme import Shown, Tone
from .tickets import (
    FOLLOW_UPS,
    BatchSummary,
    FollowUp,
    FollowUpRegistry,
    FollowUpResult,
    Phase,
    Readiness,
    ScanDecision,
    Ticket,
)

__all__ = ["FOLLOW_UPS", "BatchSummary", "FollowUp", "FollowUpRegistry", "FollowUpResult", "Phase", "Readiness",
           "ScanController", "ScanDecision", "Ticket"]

log = logging.getLogger("despatch_desk.gui.scan")

RECHECK_KEY = "recheck-in-doubt"   # one window-wide re-check at a time (rows are also claimed one by one)


# --------------------------------------------------------------------------- the controller


class ScanController(FollowUpRuns, QObject):
    ticket_added = Signal(int)          # a new scan (ticket id)
    ticket_changed = Signal(int)        # its phase, outcome, follow-ups or acknowledgement changed
    ticket_finished = Signal(int)       # its allocation is decided (or dropped)
    latest_changed = Signal(int)        # the ticket the panel shows now
    problems_changed = Signal()         # the unacknowledged problems changed (problems(), notices)
    follow_up_finished = Signal(int, str)   # ticket id, follow-up name
    batch_finished = Signal(str)        # batch id (batch_summary() has the counts)
    in_doubt_changed = Signal(int)      # count of in-doubt rows in the history
    recheck_finished = Signal()         # last_recheck holds the summary
    readiness_changed = Signal()
    settings_changed = Signal()         # SettingsStore.update() ran (any window, any thread); desk.settings is new
    _store_updated = Signal()           # from the store's listener, in whatever thread saved: no data crosses
    tone_requested = Signal(str)        # a Tone to play

    def __init__(self, desk: Desk, runner: JobRunner, group: Callable[[], str], *,
                 follow_ups: FollowUpRegistry | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.runner = runner
        self.group = group
        self.follow_ups = follow_ups if follow_ups is not None else FOLLOW_UPS
        self._ids = itertools.count(1)
        self._batch_ids = itertools.count(1)
        self._tickets: dict[int, Ticket] = {}
        self._by_job: dict[int, int] = {}
        self._order: list[int] = []
        self.latest_id: int | None = None
        self.notices: list[str] = []              # desk-level problems (the history could not be written)
        self.key_problem: str | None = None       # from the start-up check: no usable key stored
        self.key_refused: str | None = None       # from an outcome: SortedPRO refused the key (until it works)
        self.no_group_words: str | None = None    # the window's next step when no group can be chosen
        self.checking_words: str | None = None    # set while the key and groups are being checked
        self.in_doubt_count = 0
        self.in_doubt_checked = False             # counted at least once
        self.last_recheck: in_doubt.RecheckSummary | None = None
        self.rechecking = False
        self.max_kept = 500                       # settled, acknowledged tickets beyond this are forgotten
        # Unacknowledged problems held in memory; older ones are folded into one notice that points at the
        # History (which has every one of them), so a shift that never presses Esc stays bounded and nothing is hidden.
        self.max_problems_held = 200
        self.folded_problems = 0
        self._folded_notice: str | None = None
        runner.job_started.connect(self.job_started)
        self._store_updated.connect(self._follow_store, Qt.ConnectionType.QueuedConnection)
        store = getattr(desk, "settings_store", None)
        self._unsubscribe = store.subscribe(lambda _old, _new: self._store_updated.emit()) if store else lambda: None

    # ------------------------------------------------------------------ reading
    def ticket(self, ticket_id: int | None) -> Ticket | None:
        return self._tickets.get(ticket_id) if ticket_id is not None else None

    def tickets(self) -> list[Ticket]:
        return [self._tickets[i] for i in self._order if i in self._tickets]

    @property
    def latest(self) -> Ticket | None:
        return self.ticket(self.latest_id)

    def problems(self) -> list[Ticket]:
        """Unacknowledged problems, oldest first (quiet batch rows are summed up by their batch)."""
        return [t for t in self.tickets() if t.needs_acknowledgement and not t.acknowledged
                and (not t.quiet or t.follow_up_problem is not None)]  # a batch row's missing label too

    def in_flight(self) -> int:
        return sum(1 for t in self._tickets.values() if t.job_id is not None and not t.settled)

    def readiness(self) -> Readiness:
        """Whether the desk can allocate now. No group: scans are not sent (nothing to send them with).
        A missing or refused key: scans still go to the desk, which records the refusal in the history."""
        environment = getattr(self.desk, "environment_problem", None)
        if environment:  # a damaged settings file: the desk will not guess production or sandbox
            return Readiness(False, environment, blocks_scans=True)
        if not self.group():  # the window's dropdown: the account's groups, else the ones in Settings
            return Readiness(False, self.no_group_words or "No service groups yet: add them in Settings (Ctrl+,).",
                             blocks_scans=True)
        problem = check_group_code(self.group())
        if problem:
            return Readiness(False, problem, blocks_scans=True)
        if self.key_problem or self.key_refused:
            return Readiness(False, self.key_problem or self.key_refused or "")
        if self.checking_words:  # the key is not known to work yet (the start-up listing is on its way)
            return Readiness(False, self.checking_words)
        return Readiness(True)

    def set_key_problem(self, problem: str | None, *, refused: bool = False) -> None:
        """The start-up check's verdict, or (``refused``) SortedPRO's; a new key in Settings clears both."""
        if refused:
            changed, self.key_refused = problem != self.key_refused, problem
        else:
            changed, self.key_problem = problem != self.key_problem, problem
        if changed:
            self.readiness_changed.emit()

    # ------------------------------------------------------------------ scanning
    def submit_scan(self, text: str, *, batch: str | None = None) -> Ticket:
        """Decide what to do with one scan and start it. GUI thread, microseconds."""
        if batch is None and command_dispatch.is_command(text):  # DD:…: never a reference, never sent or recorded
            return command_dispatch.dispatch(self, text)  # type: ignore[return-value]
        group = self.group()
        ticket = Ticket(next(self._ids), text, group, ScanDecision.QUEUED, batch=batch, quiet=batch is not None)
        if not self.runner.accepting:
            return self._settle_now(ticket, ScanDecision.CLOSED,
                                    "The desk is closing: this scan was not taken. Scan it again after restarting.")
        try:
            ticket.reference = parse_reference(text).reference
        except InvalidReference as exc:
            outcome = Outcome(OutcomeKind.INVALID_REFERENCE, None, group, exc.message, raw_scan=text)
            self.runner.submit(Job(fn=lambda _t, o=outcome: self.desk.record(o), lane=Lane.MISC, name="record"))
            ticket.outcome = outcome
            return self._settle_now(ticket, ScanDecision.INVALID)
        readiness = self.readiness()
        if readiness.blocks_scans:
            # A good reference on a desk that cannot allocate: the desk's state, not the scan's fault.
            return self._settle_now(ticket, ScanDecision.NOT_READY, f"{readiness.reason} {ticket.reference} was not "
                                    "sent and is not allocated: scan it again once the desk is ready.")
        job = Job(fn=lambda token, raw=text, g=group, b=batch: _allocate(self.desk, raw, g, token, b), lane=Lane.SCAN,
                  keys=(ticket.reference,), group=batch, name=f"allocate {ticket.reference}",
                  on_result=lambda outcome, tid=ticket.id: self._allocated(tid, outcome),
                  on_error=lambda exc, tid=ticket.id: self._crashed(tid, exc),
                  on_dropped=lambda tid=ticket.id: self._dropped(tid), receiver=self)
        job_id = self.runner.submit(job)
        if job_id is None:
            existing = self.runner.find(ticket.reference)
            original = self._by_job.get(existing) if existing is not None else None
            if original is None:
                return self._settle_now(ticket, ScanDecision.CLOSED, "The desk is closing: this scan was not taken.")
            ticket.decision = ScanDecision.DUPLICATE
            ticket.duplicate_of = original
            ticket.job_id = None
            ticket.phase = Phase.DONE
            ticket.message = "Already being allocated: scanned again while in flight. Its result shows here."
            self._add(ticket)
            return ticket
        ticket.job_id = job_id
        self._by_job[job_id] = ticket.id
        self._add(ticket)
        return ticket

    def submit_batch(self, texts: Iterable[str]) -> str:
        """Many scans at once, quietly: no sound, no panel; ``batch_finished`` once every row is decided."""
        # Unique across sessions and desks: the history keeps every row with its batch.
        batch = f"window-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}-{next(self._batch_ids)}"
        for text in texts:
            self.submit_scan(text, batch=batch)
        self._check_batch(batch)
        return batch

    def batch_tickets(self, batch: str) -> list[Ticket]:
        return [t for t in self.tickets() if t.batch == batch]

    def batch_summary(self, batch: str) -> BatchSummary:
        rows = self.batch_tickets(batch)
        counts: dict[str, int] = {}
        for t in rows:
            counts[t.state.value] = counts.get(t.state.value, 0) + 1
        return BatchSummary(batch, len(rows), counts, sum(1 for t in rows if t.is_problem))

    def cancel(self, ticket_id: int, reason: str = "Cancelled by the operator.") -> bool:
        ticket = self.ticket(ticket_id)
        if ticket is None or ticket.job_id is None or ticket.settled:
            return False
        return self.runner.cancel(ticket.job_id, reason)

    def cancel_batch(self, batch: str, reason: str = "Batch cancelled by the operator.") -> int:
        return self.runner.cancel_group(batch, reason)

    # ------------------------------------------------------------------ acknowledging
    def acknowledge(self, ticket_id: int | None = None) -> Ticket | str | None:
        """Esc: acknowledge ``ticket_id``, else the newest notice, else the newest problem (one per call).

        Returns what was acknowledged (a ticket, a notice's text), or None if nothing was waiting."""
        fresh = [n for n in self.notices if n != self._folded_notice]
        if ticket_id is None and fresh:
            notice = fresh[-1]
            self.notices.remove(notice)
            self.problems_changed.emit()
            return notice
        problems = self.problems()
        if ticket_id is not None:
            problems = [t for t in problems if t.id == ticket_id]
        if not problems:
            if ticket_id is None and self._folded_notice is not None:  # the oldest problems, last
                notice, self._folded_notice, self.folded_problems = self._folded_notice, None, 0
                self.notices.remove(notice)
                self.problems_changed.emit()
                return notice
            return None
        ticket = problems[-1]
        ticket.acknowledged = True
        self.ticket_changed.emit(ticket.id)
        self.problems_changed.emit()
        self._trim()
        return ticket

    def add_notice(self, text: str) -> None:
        """A desk-level problem (not one scan's): it stays until Esc; the same words again are not a second one."""
        self.notices = [*(n for n in self.notices if n != text), text]
        self.problems_changed.emit()

    # ------------------------------------------------------------------ results (GUI thread)
    def _add(self, ticket: Ticket) -> None:
        self._tickets[ticket.id] = ticket
        self._order.append(ticket.id)
        self.ticket_added.emit(ticket.id)
        if not ticket.quiet:
            self.latest_id = ticket.id
            self.latest_changed.emit(ticket.id)
            if ticket.settled:
                self._sound(ticket)
        if ticket.settled and ticket.is_problem and not ticket.quiet:
            self.problems_changed.emit()
        self._trim()

    def _settle_now(self, ticket: Ticket, decision: ScanDecision, message: str = "") -> Ticket:
        ticket.decision = decision
        ticket.phase = Phase.DONE
        ticket.message = message
        self._add(ticket)
        return ticket

    def job_started(self, job_id: int) -> None:
        ticket = self.ticket(self._by_job.get(job_id))
        if ticket is not None and ticket.phase is Phase.WAITING:
            ticket.phase = Phase.RUNNING
            self.ticket_changed.emit(ticket.id)

    def _allocated(self, ticket_id: int, outcome: Outcome) -> None:
        ticket = self.ticket(ticket_id)
        if ticket is None:
            return
        ticket.outcome = outcome
        ticket.phase = Phase.DONE
        if outcome.reference:
            ticket.reference = outcome.reference
        self._finished(ticket)
        if outcome.kind is OutcomeKind.IN_DOUBT:
            self.refresh_in_doubt()
        problem = getattr(self.desk, "last_history_error", None)
        if problem:
            self.desk.last_history_error = None
            self.add_notice(f"History problem: {problem}")
        if outcome.kind is OutcomeKind.UNAUTHORIZED:
            self.set_key_problem(outcome.message, refused=True)
        elif outcome.ok and self.key_refused:
            self.set_key_problem(None, refused=True)
        if ticket.batch:
            self._start_batch_follow_ups(ticket.batch)
        else:
            self._start_follow_ups(ticket)

    def _crashed(self, ticket_id: int, exc: BaseException) -> None:
        ticket = self.ticket(ticket_id)
        if ticket is None:
            return
        log.error("allocation job of %s failed", ticket.reference, exc_info=exc)
        ticket.phase = Phase.CRASHED
        ticket.message = f"{explain(exc)} Check {ticket.reference} in History before shipping it."
        self._finished(ticket)

    def _dropped(self, ticket_id: int) -> None:
        ticket = self.ticket(ticket_id)
        if ticket is None:
            return
        ticket.phase = Phase.DROPPED
        ticket.message = f"Cancelled before it was sent: nothing was sent or recorded, {ticket.reference} is not " \
                         "allocated."
        self._finished(ticket)

    def _finished(self, ticket: Ticket) -> None:
        self.ticket_changed.emit(ticket.id)
        self.ticket_finished.emit(ticket.id)
        if ticket.quiet:
            if ticket.batch:
                self._check_batch(ticket.batch)
            return
        latest = self.latest
        if latest is ticket or (latest is not None and latest.duplicate_of == ticket.id):
            # The panel was waiting for this scan (or for the original of a re-scan of it).
            self.latest_id = ticket.id
            self.latest_changed.emit(ticket.id)
        self._sound(ticket)
        if ticket.is_problem:
            self.problems_changed.emit()

    def _check_batch(self, batch: str) -> None:
        rows = self.batch_tickets(batch)
        if rows and all(t.settled for t in rows):
            summary = self.batch_summary(batch)
            self.batch_finished.emit(batch)
            self.tone_requested.emit(Tone.FAILURE if summary.problems else Tone.SUCCESS)
            if summary.problems:
                self.add_notice(f"{summary.words()} {summary.problems} need attention: see the list.")

    def _sound(self, ticket: Ticket) -> None:
        if ticket.quiet or ticket.decision is ScanDecision.DUPLICATE:
            return
        tone = ticket.look.sound
        if tone is not None:
            self.tone_requested.emit(tone)

    def _fold_old_problems(self) -> None:
        if len(self._order) <= self.max_kept + self.max_problems_held:  # cheap: most scans stop here
            return
        held = [t.id for t in self.problems() if t.settled and t.id != self.latest_id]  # oldest first
        fold = held[:max(0, len(held) - self.max_problems_held)]
        if not fold:
            return
        for tid in fold:
            t = self._tickets.pop(tid)
            if t.job_id is not None:
                self._by_job.pop(t.job_id, None)
        gone = set(fold)
        self._order = [tid for tid in self._order if tid not in gone]
        self.folded_problems += len(fold)
        words = (f"{self.folded_problems} older problem(s) were not acknowledged: they are in the History "
                 "(Ctrl+H). Check them before shipping those parcels; Esc here acknowledges them all.")
        self.notices = [n for n in self.notices if n != self._folded_notice]
        self.notices.insert(0, words)  # under the newer problems: Esc takes the newest first
        self._folded_notice = words
        self.problems_changed.emit()

    def _trim(self) -> None:
        """Forget old settled, unproblematic tickets (the history on disk keeps everything)."""
        self._fold_old_problems()
        excess = len(self._order) - self.max_kept
        if excess <= 0:
            return
        keep: list[int] = []
        for tid in self._order:
            t = self._tickets[tid]
            if excess > 0 and t.settled and tid != self.latest_id and (not t.needs_acknowledgement or t.acknowledged) \
                    and not (t.batch and not all(x.settled for x in self.batch_tickets(t.batch))):
                del self._tickets[tid]
                if t.job_id is not None:
                    self._by_job.pop(t.job_id, None)
                excess -= 1
            else:
                keep.append(tid)
        self._order = keep

    # ------------------------------------------------------------------ settings
    def _follow_store(self) -> None:
        """The desk's settings object is shared by everything: it takes the store's new values in place."""
        current = self.desk.settings_store.current
        if current is not self.desk.settings:
            for f in dataclasses.fields(current):
                setattr(self.desk.settings, f.name, getattr(current, f.name))
        self.settings_changed.emit()

    def close(self) -> None:
        self._unsubscribe()

    def save_settings(self) -> None:
        """Write ``desk.settings`` on a worker (the file is fsynced); a failure stays on screen as a notice."""
        snapshot = copy.deepcopy(self.desk.settings)
        store = self.desk.settings_store
        self.runner.run(lambda _t: store.save(snapshot), None,
                        lambda exc: self.add_notice(f"Settings not saved: {explain(exc)}"), receiver=self,
                        name="save-settings")

    # ------------------------------------------------------------------ in doubt
    def refresh_in_doubt(self) -> None:
        task = InDoubtCount(self.desk, self.runner, self)
        task.finished.connect(lambda: self._in_doubt_counted(task))
        task.start()

    def _in_doubt_counted(self, task: InDoubtCount) -> None:
        task.deleteLater()
        self.in_doubt_checked = True
        if task.problem:
            self.add_notice(task.problem)
            return
        self.in_doubt_count = task.count
        self.in_doubt_changed.emit(self.in_doubt_count)

    def recheck(self, rows: Iterable[int] | None = None) -> bool:
        """Re-check in-doubt rows (None = all) with the one policy of :mod:`despatch_desk.in_doubt`."""
        ids = list(rows) if rows is not None else None
        job = self.runner.run(lambda token: in_doubt.recheck_all(self.desk, ids, cancel=token),
                              self.apply_recheck, lambda exc: self.apply_recheck(
                                  in_doubt.RecheckSummary(problem=f"Re-check failed: {explain(exc)}")),
                              receiver=self, keys=(RECHECK_KEY,), name="recheck")
        if job is None:
            return False
        self.rechecking = True
        return True

    def apply_recheck(self, summary: in_doubt.RecheckSummary) -> None:
        """A re-check's results (from here or from the history view) reach every ticket they are about."""
        self.rechecking = self.runner.find(RECHECK_KEY) is not None
        self.last_recheck = summary
        changed_problems = False
        resolved: set[str] = set()   # one consignment, one label, however many in-doubt scans of it
        for result in summary.results:
            outcome = result.outcome
            if outcome is None or outcome.kind is OutcomeKind.IN_DOUBT or not result.reference:
                continue
            if outcome.kind in (OutcomeKind.DEALLOCATED, OutcomeKind.NOT_DEALLOCATED):
                continue  # an undo's re-check is not the verdict on a scan's allocation (gui/undo.py shows undos)
            for ticket in self.tickets():
                if ticket.reference == result.reference and ticket.state is Shown.IN_DOUBT:
                    was_problem = ticket.is_problem and not ticket.acknowledged
                    ticket.outcome = replace(outcome, raw_scan=ticket.raw)
                    ticket.rechecked = True
                    if ticket.is_problem:  # resolved into a new problem (not allocated): a person must see it
                        ticket.acknowledged = False
                    changed_problems = changed_problems or was_problem or ticket.is_problem
                    self.ticket_changed.emit(ticket.id)
                    if ticket.outcome.ok and ticket.reference not in resolved:  # allocated after all: its label now
                        resolved.add(ticket.reference)
                        self._start_follow_ups(ticket, [f for f in self.follow_ups.matching(ticket.outcome, self.desk)
                                                        if f.name not in ticket.follow_ups])
        if changed_problems:
            self.problems_changed.emit()
        self.recheck_finished.emit()
        self.refresh_in_doubt()


def _allocate(desk: Desk, raw: str, group: str, token: CancelToken, batch: str | None) -> Outcome:  # worker thread
    return desk.allocate(raw, group, cancel=token, batch_id=batch)

