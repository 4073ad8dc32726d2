"""The scan controller's follow-up half: starting follow-ups, running one again by hand, taking their results.

A mixin of :class:`~despatch_desk.gui.scan_controller.ScanController` (it uses the controller's tickets,
runner, registry and signals); kept apart so the controller stays one screenful of policy.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import explain
from .jobs import Job
from .theme import Tone
from .tickets import FollowUp, FollowUpResult, Phase, Ticket

log = logging.getLogger("despatch_desk.gui.scan")


class FollowUpRuns:
    def _start_follow_ups(self, ticket: Ticket, chosen: list[FollowUp] | None = None) -> list[str]:
        """Start ``chosen`` (default: every follow-up that applies and is wanted); the names refused."""
        outcome = ticket.outcome
        ticket.follow_ups_started = True
        if outcome is None:
            return []
        refused: list[str] = []
        touched = False
        for follow_up in chosen if chosen is not None else self.follow_ups.matching(outcome, self.desk):
            name, touched = follow_up.name, True
            job = Job(fn=lambda token, f=follow_up, o=outcome: f.run(self.desk, o, token), lane=follow_up.lane,
                      keys=(f"{name}:{ticket.reference}",), group=ticket.batch, name=f"{name} {ticket.reference}",
                      on_result=lambda value, tid=ticket.id, n=name: self._follow_up_done(tid, n, value),
                      on_error=lambda exc, tid=ticket.id, n=name: self._follow_up_done(tid, n, None, explain(exc)),
                      on_dropped=lambda tid=ticket.id, n=name: self._follow_up_done(
                          tid, n, None, "cancelled", Phase.DROPPED), receiver=self)
            if self.runner.submit(job) is None:
                refused.append(name)
                if name not in ticket.follow_ups:  # a run of it already in flight keeps its own words
                    ticket.follow_ups[name] = FollowUpResult(name, Phase.DROPPED, error="the desk is closing")
            else:
                ticket.follow_ups[name] = FollowUpResult(name, Phase.WAITING, words=follow_up.pending)
        if touched:
            self.ticket_changed.emit(ticket.id)
        return refused

    def _start_batch_follow_ups(self, batch: str) -> None:
        """A batch's follow-ups run one row at a time, in row order (labels come out in scan order)."""
        for row in self.batch_tickets(batch):
            if not row.settled:
                return
            if not row.follow_ups_started:
                self._start_follow_ups(row)
            if any(r.phase in (Phase.WAITING, Phase.RUNNING) for r in row.follow_ups.values()):
                return

    def run_follow_up(self, ticket_id: int, name: str) -> str | None:
        """Run one follow-up again by hand (Reprint): None when started, else plain words why not."""
        ticket = self.ticket(ticket_id)
        follow_up = self.follow_ups.get(name)
        if ticket is None or ticket.outcome is None or follow_up is None:
            return "Nothing to run it for."
        if self.runner.busy((f"{name}:{ticket.reference}",)):
            return f"Already working on {ticket.reference}."
        if self._start_follow_ups(ticket, [follow_up]):
            return "The desk is closing."
        return None

    def _follow_up_done(self, ticket_id: int, name: str, value: Any, error: str | None = None,
                        phase: Phase | None = None) -> None:
        ticket = self.ticket(ticket_id)
        if ticket is None:
            return
        follow_up = self.follow_ups.get(name)
        words, problem = "", None
        if follow_up is not None and follow_up.report is not None and error is None:
            try:
                words, problem = follow_up.report(value)
            except Exception as exc:  # a broken report must not hide the result
                log.exception("follow-up %s: report failed", name)
                error = explain(exc)
        ticket.follow_ups[name] = FollowUpResult(name, phase or (Phase.CRASHED if error else Phase.DONE), value, error,
                                                 words, problem, follow_up.problem_look if follow_up else None)
        if problem:  # a new problem (the parcel has no label): a person must see it, even after an earlier Esc
            ticket.acknowledged = False
            if not ticket.quiet:
                self.tone_requested.emit(Tone.FAILURE)
        self.ticket_changed.emit(ticket_id)
        self.follow_up_finished.emit(ticket_id, name)
        if problem:
            self.problems_changed.emit()
        if ticket.batch:
            self._start_batch_follow_ups(ticket.batch)
