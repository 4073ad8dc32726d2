"""Undo an allocation: ``PUT /consignments/{ref}/deallocate``, as carefully as an allocation.

Rules (see core.py for the allocation's; the same reasons hold):

* look first (``GET /consignments/{ref}``): only Allocated, Manifested and ManifestFailed can be
  undone; Manifested (the carrier has already been told) only with the operator's explicit consent;
* the deallocate is a write whose answer can be lost: after a lost answer, a 5xx or garbage, look
  before anything else. Unallocated means it worked. Still allocated means one retry, and only once
  the first PUT can no longer take effect (:data:`core.COMMIT_WINDOW_S`); until then the undo stays
  in doubt. Never a second PUT inside the window, never a final "not undone" inside it;
* SortedPRO purges the labels on deallocation: a printed label is void (the window says so).

No Qt here. :class:`UndoWorkflow` talks to SortedPRO; ``Desk.undo`` records before it sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from . import api
from .cancel import CancelToken
from .core import RetryPolicy, _may_still_run
from .outcome import Outcome, OutcomeKind, _server_fields
from .references import InvalidReference, parse_reference

ACTION = "deallocate"  # the history's ``action`` for an undo row
#: States SortedPRO deallocates from (docs: Allocated, Manifested, Manifest Failed).
UNDOABLE_STATES = frozenset({"allocated", "manifested", "manifestfailed"})
MANIFESTED_STATES = frozenset({"manifested", "manifestfailed"})
_UNALLOCATED_STATES = frozenset({"unallocated", "allocationfailed"})


class _Stop(Exception):
    """The undo's token was cancelled or ran out while waiting."""


@dataclass(slots=True)
class _UndoRun:
    reference: str
    group: str
    token: CancelToken
    include_manifested: bool
    puts: int = 0
    sent: bool = False
    first_sent_at: float | None = None   # monotonic time of the first PUT that may still take effect
    last_error: api.ApiError | None = None
    state: str | None = None


class UndoWorkflow:
    """Deallocates one consignment; thread-safe like the client it uses."""

    def __init__(self, client: api.SortedProClient, policy: RetryPolicy | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self._clock = clock

    def undo(self, reference: str, *, include_manifested: bool = False, cancel: CancelToken | None = None,
             group: str = "") -> Outcome:
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        token = (cancel or CancelToken()).child(timeout=self.policy.scan_deadline_s)
        run = _UndoRun(reference, group, token, include_manifested)
        try:
            outcome = self._undo(run)
        except _Stop:
            outcome = (self._in_doubt(run, "The desk stopped before SortedPRO's answer to the undo could be checked.")
                       if run.sent else self._unreachable(run, "The desk stopped before the undo was sent."))
        return replace(outcome, raw_scan=reference, started_at=started_at, attempts=run.puts,
                       duration_ms=(time.perf_counter() - t0) * 1000)

    def recheck(self, reference: str, *, sent_at: datetime | None, cancel: CancelToken | None = None,
                group: str = "") -> Outcome:
        """Resolve an undo that is in doubt, by looking only (never a PUT)."""
        token = (cancel or CancelToken()).child(timeout=self.policy.scan_deadline_s)
        run = _UndoRun(reference, group, token, include_manifested=True, sent=True)
        if sent_at is not None:
            when = sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=UTC)
            run.first_sent_at = self._clock() - max(0.0, (datetime.now(UTC) - when).total_seconds())
        try:
            consignment = self._look(run)
        except _Stop:
            consignment = None
        if consignment is None:
            return self._in_doubt(run, "Still cannot reach SortedPRO to check the undo.")
        state = consignment.state_key
        if state in _UNALLOCATED_STATES:
            return self._done(run, recovered=True)
        if state in UNDOABLE_STATES and self._may_still_commit(run):
            return self._in_doubt(run, f"SortedPRO may still be working on the undo (sent "
                                       f"{self._since_sent(run):.0f} s ago); it still holds it {consignment.state}.")
        return Outcome(OutcomeKind.NOT_DEALLOCATED, reference, group,
                       f"The undo did not take effect: SortedPRO holds {reference} {consignment.state or 'allocated'}. "
                       "Its label is still valid; undo it again if it is still wanted.")

    # ------------------------------------------------------------------ the flow
    def _undo(self, run: _UndoRun) -> Outcome:
        try:
            consignment = self.client.get_consignment(run.reference, cancel=run.token)
        except api.NotFound:
            return self._refused(run, f"There is no consignment {run.reference} in this SortedPRO account.")
        except api.Unauthorized as exc:
            return self._key_refused(run, exc)
        except api.ApiError as exc:
            if exc.cancelled or run.token.cancelled:
                raise _Stop from None
            return self._unreachable(run, f"Could not look {run.reference} up ({exc.message}).")
        refusal = self._refusal(run, consignment)
        if refusal is not None:
            return refusal

        connect_failures = 0
        retried = False
        while True:
            if run.token.cancelled:
                raise _Stop
            put_started = self._clock()
            run.puts += 1
            try:
                self.client.deallocate(run.reference, cancel=run.token)
                return self._done(run)
            except api.NotSent as exc:
                run.puts -= 1  # it never left this machine
                if exc.cancelled or run.token.cancelled:
                    raise _Stop from None
                connect_failures += 1
                if connect_failures >= self.policy.connect_attempts or run.token.expired:
                    if run.sent:
                        return self._in_doubt(run, f"{exc.message} SortedPRO could not be asked what happened.")
                    return self._unreachable(run, exc.message)
                self._wait(run, min(self.policy.backoff_initial_s * 2 ** (connect_failures - 1),
                                    self.policy.backoff_max_s))
                continue
            except api.Unauthorized as exc:
                return self._key_refused(run, exc)
            except api.Refused as exc:
                return self._after_refusal(run, exc)
            except (api.InDoubt, api.ServerError, api.UnexpectedAnswer, api.RateLimited) as exc:
                if exc.cancelled or run.token.cancelled:
                    raise _Stop from None
                run.sent = True
                run.last_error = exc
                if run.first_sent_at is None and not isinstance(exc, api.RateLimited) and _may_still_run(exc):
                    run.first_sent_at = put_started
                verdict = self._settle(run)
                if verdict is not None:
                    return verdict
                if not retried:  # still allocated, and no PUT of ours can still land: one more
                    retried = True
                    run.first_sent_at = None
                    continue
                return Outcome(OutcomeKind.NOT_DEALLOCATED, run.reference, run.group,
                               f"SortedPRO failed twice ({exc.message}); {run.reference} is still "
                               f"{run.state or 'allocated'}. Its label is still valid. Try the undo again later.",
                               **self._server(run))

    def _refusal(self, run: _UndoRun, consignment: api.Consignment) -> Outcome | None:
        state = consignment.state_key
        shown = consignment.state or "in an unknown state"
        if state in _UNALLOCATED_STATES:
            return self._refused(run, f"{run.reference} is not allocated ({shown}): there is nothing to undo.")
        if state not in UNDOABLE_STATES:
            return self._refused(run, f"{run.reference} is {shown}: SortedPRO cannot undo its allocation now.")
        if state in MANIFESTED_STATES and not run.include_manifested:
            return self._refused(run, f"{run.reference} is {shown}: the carrier has already been told about it. "
                                      "Undo it only on purpose (--include-manifested, or confirm in the window).")
        return None

    def _settle(self, run: _UndoRun) -> Outcome | None:
        """Look until the server's state decides the undo; None: still allocated and a retry is safe."""
        while True:
            consignment = self._look(run)
            if consignment is None:
                return self._in_doubt(run, f"{run.last_error.message if run.last_error else 'The answer was lost.'} "
                                           "SortedPRO could not be asked what happened.")
            state = consignment.state_key
            run.state = consignment.state
            if state in _UNALLOCATED_STATES:
                return self._done(run, recovered=True)
            if state not in UNDOABLE_STATES:
                return self._refused(run, f"{run.reference} is now {consignment.state or 'in an unknown state'}; "
                                          "it was not undone.")
            if not self._may_still_commit(run):
                return None
            left = run.token.remaining()
            if left is not None and left <= self.policy.poll_interval_s:
                return self._in_doubt(run, f"SortedPRO may still be working on the undo (sent "
                                           f"{self._since_sent(run):.0f} s ago); so far it holds it {consignment.state}.")
            self._wait(run, self.policy.poll_interval_s)

    def _after_refusal(self, run: _UndoRun, exc: api.Refused) -> Outcome:
        words = exc.server_message or exc.message
        if run.sent:  # an earlier PUT of ours may have done it: the refusal may be "already unallocated"
            consignment = self._look(run)
            if consignment is not None and consignment.state_key in _UNALLOCATED_STATES:
                return self._done(run, recovered=True)
        return Outcome(OutcomeKind.NOT_DEALLOCATED, run.reference, run.group,
                       f"SortedPRO refused to undo {run.reference}: {words}", **_server_fields(exc, None))

    # ------------------------------------------------------------------ outcomes
    def _done(self, run: _UndoRun, recovered: bool = False) -> Outcome:
        note = " (confirmed with SortedPRO after the first answer was lost)" if recovered else ""
        return Outcome(OutcomeKind.DEALLOCATED, run.reference, run.group,
                       f"{run.reference} is unallocated again{note}. Its printed label is void: destroy it.",
                       recovered=recovered)

    def _refused(self, run: _UndoRun, message: str) -> Outcome:
        return Outcome(OutcomeKind.NOT_DEALLOCATED, run.reference, run.group, message + " Nothing was changed.")

    def _key_refused(self, run: _UndoRun, exc: api.ApiResponseError) -> Outcome:
        return Outcome(OutcomeKind.UNAUTHORIZED, run.reference, run.group,
                       "SortedPRO refused the API key. Check the key in Settings.", **_server_fields(exc, None))

    def _unreachable(self, run: _UndoRun, why: str) -> Outcome:
        return Outcome(OutcomeKind.UNREACHABLE, run.reference, run.group,
                       f"{why} Nothing was sent: {run.reference} is still allocated. Try the undo again later.")

    def _in_doubt(self, run: _UndoRun, why: str) -> Outcome:
        return Outcome(OutcomeKind.IN_DOUBT, run.reference, run.group,
                       f"{why} The undo of {run.reference} may or may not have happened: it is kept in the "
                       "in-doubt list to be checked. Treat its label as void.", **self._server(run))

    def _server(self, run: _UndoRun) -> dict:
        error = run.last_error
        return _server_fields(error if isinstance(error, api.ApiResponseError) else None, None)

    # ------------------------------------------------------------------ helpers
    def _look(self, run: _UndoRun) -> api.Consignment | None:
        for attempt in range(1, self.policy.connect_attempts + 1):
            if run.token.expired:
                return None
            try:
                return self.client.get_consignment(run.reference, cancel=run.token)
            except api.ApiError as exc:
                if exc.cancelled or run.token.cancelled:
                    raise _Stop from None
                if attempt == self.policy.connect_attempts or isinstance(exc, (api.Refused, api.Unauthorized)):
                    return None
                self._wait(run, min(self.policy.backoff_initial_s * 2 ** (attempt - 1), self.policy.backoff_max_s))
        return None

    def _may_still_commit(self, run: _UndoRun) -> bool:
        return run.first_sent_at is not None and self._since_sent(run) < self.policy.commit_window_s

    def _since_sent(self, run: _UndoRun) -> float:
        return self._clock() - run.first_sent_at if run.first_sent_at is not None else float("inf")

    def _wait(self, run: _UndoRun, seconds: float) -> None:
        if run.token.wait(max(0.0, seconds)):
            raise _Stop


def checked_reference(raw: str, group: str = "") -> tuple[str | None, Outcome | None]:
    """The reference of ``raw``, or an ``invalid_reference`` outcome in plain words (nothing sent)."""
    try:
        return parse_reference(raw).reference, None
    except InvalidReference as exc:
        return None, Outcome(OutcomeKind.INVALID_REFERENCE, None, group, exc.message, raw_scan=raw)


# --------------------------------------------------------------------------- the desk's undo path
def undo_recorded(desk, raw: str, *, include_manifested: bool = False, cancel: CancelToken | None = None) -> Outcome:
    """``Desk.undo``: parse, take the reference lock, write the pending ``deallocate`` row (linked to the
    allocation it undoes), send, write the outcome, and mark the allocation undone. Never raises for
    anything an operator can cause; if the row cannot be written nothing is sent."""
    from .desk import DeskNotReady
    from .history import HistoryError
    from .reflock import ReferenceLock

    reference, invalid = checked_reference(raw)
    if invalid is not None:  # refused on the spot: nothing sent, no row (it undid nothing)
        return invalid
    assert reference is not None
    problem = getattr(desk, "environment_problem", None)
    if problem:  # a damaged settings file: never guess production or sandbox (as Desk.allocate)
        return Outcome(OutcomeKind.NOT_RECORDED, reference, "", f"{problem} Nothing was sent.", raw_scan=raw)
    token = (cancel or desk.closing).child(timeout=desk._policy().scan_deadline_s)
    try:
        with ReferenceLock(desk.paths.data_dir / "locks", reference, token) as lock:
            if not lock.acquired:
                return Outcome(OutcomeKind.UNREACHABLE, reference, "",
                               f"Another despatch desk on this computer is working on {reference}: nothing was "
                               "sent. Try the undo again in a moment.", raw_scan=raw)
            try:
                allocation = desk.history.latest_allocated(reference)
                group = allocation.group_code if allocation else ""
                row_id = desk.history.begin(raw, reference, group, workstation=desk.settings.workstation,
                                            environment=desk.origin, action=ACTION,
                                            undoes_id=allocation.id if allocation else None)
            except HistoryError as exc:
                return Outcome(OutcomeKind.NOT_RECORDED, reference, "",
                               f"The scan history cannot be written ({exc}): nothing was sent.", raw_scan=raw)
            try:
                flow = UndoWorkflow(desk.client(), desk._policy())
                outcome = flow.undo(reference, include_manifested=include_manifested, cancel=token, group=group)
            except DeskNotReady as exc:
                outcome = Outcome(exc.kind, reference, group, exc.message, raw_scan=raw)
            outcome = replace(outcome, raw_scan=raw)
            desk._finish(row_id, outcome)
            if outcome.kind is OutcomeKind.DEALLOCATED and allocation is not None:
                _mark_undone(desk, allocation.id, row_id)
            return outcome
    except OSError as exc:
        return Outcome(OutcomeKind.NOT_RECORDED, reference, "",
                       f"The desk's data folder cannot be written ({exc.strerror or exc}): nothing was sent.",
                       raw_scan=raw)


def recheck_undo(desk, row, *, cancel: CancelToken | None = None) -> Outcome:
    """``Desk.recheck`` for an undo row in doubt: look only; resolve the row when the look decides it."""
    flow = UndoWorkflow(desk.client(), desk._policy())
    outcome = flow.recheck(row.reference, sent_at=row.started_at, cancel=cancel or desk.closing,
                           group=row.group_code)
    if outcome.kind is not OutcomeKind.IN_DOUBT:
        desk.history.resolve(row.id, outcome)
        if outcome.kind is OutcomeKind.DEALLOCATED and row.undoes_id is not None:
            _mark_undone(desk, row.undoes_id, row.id)
    return outcome


def _mark_undone(desk, allocation_id: int, undo_id: int) -> None:
    from .history import HistoryError

    try:
        desk.history.mark_undone(allocation_id, undo_id)
    except HistoryError as exc:  # the undo itself happened: say so, keep going
        desk.last_history_error = str(exc)
