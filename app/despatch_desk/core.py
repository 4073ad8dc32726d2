"""The allocation workflow: raw scanner text + service group code → one :class:`Outcome`.

Rules that keep a desk safe (see shared/sortedpro-api.md, "Unknowns", and desk-guide.md, "Rules of trust"):

* an invalid scan never reaches the network;
* every scan runs under one cancel token with one deadline (``scan_deadline_s``) shared by the PUT,
  the looks and the polls; the client enforces it down to the socket; at the deadline a sent scan is
  ``in_doubt``, an unsent one ``unreachable``; cancelling ends every wait within a fraction of a second;
* a request that never left (connect failure) may be retried, bounded, with backoff;
* anything that may have reached the server (read timeout, dropped connection, 5xx, 429, garbage, an
  answer about another consignment or with no recognisable result) is followed by a *look*
  (``GET /consignments/{ref}``), never by a blind second PUT: Allocated → report what the server holds
  (``recovered``); Unallocated while the first PUT may still take effect (:data:`COMMIT_WINDOW_S`) →
  keep looking, and end ``in_doubt`` if it does not settle; Unallocated after that → one retry;
* a 202 is polled until Allocated or AllocationFailed: a lagging Unallocated is not an answer;
* "already allocated" to this very group after this desk's own uncertain attempt means allocated;
* a refusal is explained by looking the consignment up, in the operator's words.

No Qt here: the GUI runs :meth:`AllocationWorkflow.allocate` on worker threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from . import api
from .cancel import CancelToken
from .errors import EXIT_UNREACHABLE, DeskError
from .outcome import (  # noqa: F401  (Outcome, OutcomeKind, check_group_code: imported from here by callers)
    _ALLOCATED_STATES, _ALLOCATING_STATES, _CANCELLED_STATES, _FINAL_FAILED_STATES, _RETRYABLE_STATES, Outcome,
    OutcomeKind, _server_fields, check_group_code,
)
from .references import InvalidReference, parse_reference
from .refusals import RefusalWords

#: How long after a PUT was *sent* it is presumed able to still take effect at SortedPRO.
#: The desk stops listening after the read timeout (30 s by default), but SortedPRO goes on
#: quoting carriers and committing after that: its own request lifetime is not documented, and the
#: gateways in front of hosted APIs commonly let a backend request run for up to about two minutes
#: more. So: 30 s read timeout + 90 s of server-side processing = 120 s. Until then an
#: "Unallocated" look is not proof that the first PUT failed: no second PUT, no final "not allocated".
COMMIT_WINDOW_S = 120.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    connect_attempts: int = 3          # sends that failed to connect, before "unreachable"
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 4.0
    rate_limit_attempts: int = 3       # 429s honoured before giving up
    rate_limit_max_wait_s: float = 20.0  # longest single Retry-After we sit out
    rate_limit_default_wait_s: float = 2.0
    rate_limit_min_wait_s: float = 1.0   # Retry-After 0, negative or past: still a real back-off
    poll_interval_s: float = 0.5       # after a 202 / while Allocating
    poll_timeout_s: float = 30.0
    scan_deadline_s: float = 60.0      # one deadline per scan: the PUT, the looks and the polls
    commit_window_s: float = COMMIT_WINDOW_S


class Cancelled(DeskError):
    """The workflow was asked to stop while waiting (the desk is closing)."""

    def __init__(self, message: str = "The desk was asked to stop.") -> None:
        super().__init__(message, exit_code=EXIT_UNREACHABLE)


class AllocationWorkflow(RefusalWords):
    """One per desk; safe to call from several threads at once (the client is thread-safe)."""

    def __init__(
        self,
        client: api.SortedProClient,
        policy: RetryPolicy | None = None,
        *,
        closing: CancelToken | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self.closing = closing or CancelToken()
        self._clock = clock
        self._carrier_names: dict[str, tuple[str | None, str | None]] | None = None
        self._carrier_lock = threading.Lock()

    @property
    def stop_event(self) -> _StopEventView:
        """Compatibility: ``stop_event.set()`` / ``is_set()`` act on the closing token."""
        return _StopEventView(self.closing)

    def scan_token(self, cancel: CancelToken | None = None) -> CancelToken:
        """The token one scan runs under: the caller's (cut to the scan deadline) or a child of closing."""
        return (cancel or self.closing).child(timeout=self.policy.scan_deadline_s)

    # ------------------------------------------------------------------ public
    def allocate(self, raw_scan: str, group: str, *, cancel: CancelToken | None = None,
                 prior_attempt: bool = False, prior_sent_at: datetime | None = None) -> Outcome:
        """One scan, within one deadline. ``prior_attempt``: an earlier attempt on this reference may
        have been sent (look first; ``prior_sent_at`` says when, for the commit window)."""
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        run = _Run(raw_scan=raw_scan, group=group, token=self.scan_token(cancel),
                   prior_attempt=prior_attempt or prior_sent_at is not None)
        if prior_sent_at is not None:
            run.first_sent_at = self._monotonic_of(prior_sent_at)
        try:
            outcome = self._allocate(run)
        except Cancelled:
            outcome = self._cancelled(run)
        return replace(outcome, raw_scan=raw_scan, started_at=started_at,
                       duration_ms=(time.perf_counter() - t0) * 1000, attempts=run.puts)

    def recheck(self, reference: str, group: str, *, cancel: CancelToken | None = None,
                sent_at: datetime | None = None) -> Outcome:
        """Resolve an in-doubt scan by looking at what the server holds. Never sends a PUT.

        ``sent_at``: when the uncertain PUT went out; while it may still take effect (the commit
        window), "Unallocated" stays in doubt."""
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        run = _Run(raw_scan=reference, group=group, reference=reference, sent=True,
                   token=self.scan_token(cancel), prior_attempt=True)
        if sent_at is not None:
            run.first_sent_at = self._monotonic_of(sent_at)
        try:
            outcome = self._recheck(run)
        except Cancelled:
            outcome = self._in_doubt(run, "The check was stopped before SortedPRO answered.")
        return replace(outcome, started_at=started_at, duration_ms=(time.perf_counter() - t0) * 1000)

    def _recheck(self, run: _Run) -> Outcome:
        consignment = self._look(run)
        if consignment is None:
            return self._in_doubt(run, "Still cannot reach SortedPRO to check this consignment.")
        if consignment.state_key in _ALLOCATED_STATES:
            return self._from_consignment(run, consignment, OutcomeKind.ALLOCATED, recovered=True)
        if consignment.state_key in _ALLOCATING_STATES:
            return self._in_doubt(run, "SortedPRO is still allocating this consignment. Check again shortly.")
        if consignment.state_key in _RETRYABLE_STATES and self._may_still_commit(run):
            return self._in_doubt(run, "SortedPRO may still be working on it (the request was sent "
                                       f"{self._since_sent(run):.0f} s ago).")
        return self._explain(run, consignment, None)

    def _monotonic_of(self, when: datetime) -> float:
        """A wall-clock moment on this desk's monotonic clock (for the commit window)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return self._clock() - max(0.0, (datetime.now(UTC) - when).total_seconds())

    def _may_still_commit(self, run: _Run) -> bool:
        return run.first_sent_at is not None and self._since_sent(run) < self.policy.commit_window_s

    def _since_sent(self, run: _Run) -> float:
        return self._clock() - run.first_sent_at if run.first_sent_at is not None else float("inf")

    # ------------------------------------------------------------------ the flow
    def _allocate(self, run: _Run) -> Outcome:
        try:
            run.reference = parse_reference(run.raw_scan).reference
        except InvalidReference as exc:
            return Outcome(OutcomeKind.INVALID_REFERENCE, None, run.group, exc.message)
        group_problem = check_group_code(run.group)
        if group_problem:
            return Outcome(OutcomeKind.INVALID_REFERENCE, run.reference, run.group, group_problem)
        if run.prior_attempt:  # an earlier attempt may have been sent: look before any PUT
            run.uncertain = True
            verdict = self._settle(run, None)
            if verdict is not None:
                return verdict

        retried_after_look = False
        connect_failures = 0
        rate_limits = 0
        while True:
            self._check_stop(run)
            put_started = self._clock()
            try:
                run.puts += 1
                summary = self.client.allocate_with_service_group(run.reference, run.group, cancel=run.token)
                doubt = summary.doubt_about(run.reference)
                if doubt:
                    raise api.UnexpectedAnswer(f"SortedPRO's answer to the allocation cannot be believed: {doubt}.",
                                               status=summary.http_status)
            except api.NotSent as exc:
                run.puts -= 1  # it never left this machine
                if exc.cancelled or run.token.cancelled:
                    raise Cancelled from None
                connect_failures += 1
                if connect_failures >= self.policy.connect_attempts or run.token.expired:
                    if run.sent:  # an earlier PUT of this scan did leave
                        return self._in_doubt(run, f"{exc.message} SortedPRO could not be asked what happened.")
                    return self._unreachable(run, exc)
                self._wait(run, self._backoff(connect_failures))
                continue
            except api.RateLimited as exc:
                # Normally "not processed", but it came after the request was sent: look before anything else.
                run.sent = run.uncertain = True
                run.last_error = exc
                rate_limits += 1
                consignment = self._look(run)
                if consignment is None:
                    return self._in_doubt(run, "SortedPRO is limiting requests and could not be asked whether the "
                                               "allocation went through.")
                if consignment.state_key not in _RETRYABLE_STATES:
                    return self._from_look(run, consignment, exc)
                wait = exc.retry_after if exc.retry_after is not None else self.policy.rate_limit_default_wait_s
                wait = max(wait, self.policy.rate_limit_min_wait_s)  # "Retry-After: 0" is no licence to hammer
                left = run.token.remaining()
                if (rate_limits > self.policy.rate_limit_attempts or wait > self.policy.rate_limit_max_wait_s
                        or (left is not None and left <= wait)):
                    return self._outcome_from_error(
                        run, OutcomeKind.NOT_ALLOCATED, exc,
                        f"SortedPRO is limiting requests right now; it holds {run.reference} "
                        f"{consignment.state or 'unallocated'} (checked), so nothing was allocated. "
                        "Scan it again in a minute.")
                self._wait(run, wait)
                continue
            except api.Unauthorized as exc:
                return self._outcome_from_error(run, OutcomeKind.UNAUTHORIZED, exc,
                                                "SortedPRO refused the API key. Check the key in Settings.")
            except api.Refused as exc:
                return self._explain_refusal(run, exc)
            except (api.InDoubt, api.ServerError, api.UnexpectedAnswer) as exc:
                run.sent = run.uncertain = True
                run.last_error = exc
                if exc.cancelled or run.token.cancelled:
                    raise Cancelled from None
                if _may_still_run(exc):
                    run.first_sent_at = put_started
                verdict = self._settle(run, exc)
                if verdict is not None:
                    return verdict
                if not retried_after_look:  # held unallocated and no PUT of ours can still land: one more
                    retried_after_look = True
                    continue
                return self._outcome_from_error(
                    run, OutcomeKind.NOT_ALLOCATED, exc if isinstance(exc, api.ApiResponseError) else None,
                    f"SortedPRO failed twice ({exc.message}); {run.reference} is still {run.last_state or 'unallocated'}. "
                    "Scan it again in a minute.")
            except api.ConfigurationError as exc:
                return Outcome(OutcomeKind.UNREACHABLE, run.reference, run.group, exc.message)

            if summary.accepted:
                run.sent = run.uncertain = True
                run.first_sent_at = put_started  # accepted: by definition still running
                return self._after_accepted(run)
            if summary.succeeded:
                return self._from_summary(run, summary)
            # A 200 whose summary says it did not work (StatusCode != 200): a refusal in disguise.
            return self._explain_refusal(run, None, summary)

    def _settle(self, run: _Run, exc: api.ApiError | None) -> Outcome | None:
        """Look until what the server holds decides the scan. None: it holds the consignment
        unallocated and no PUT of ours can still take effect, so a PUT is safe."""
        while True:
            if run.token.expired:
                return self._in_doubt(run, self._unsettled_words(run))
            consignment = self._look(run)
            if consignment is None:
                if exc is None:
                    return self._in_doubt(run, "SortedPRO could not be asked about the earlier attempt; nothing "
                                               "new was sent.")
                return self._in_doubt(run, _in_doubt_message(exc))
            if consignment.state_key not in _RETRYABLE_STATES:
                return self._from_look(run, consignment, exc)
            run.last_state = consignment.state
            if not self._may_still_commit(run):
                return None
            left = run.token.remaining()
            if left is not None and left <= self.policy.poll_interval_s:
                return self._in_doubt(run, self._unsettled_words(run))
            self._wait(run, self.policy.poll_interval_s)

    def _from_look(self, run: _Run, consignment: api.Consignment, exc: api.ApiError | None) -> Outcome:
        """A look that found the consignment allocated, allocating, or in a state that explains itself."""
        state = consignment.state_key
        if state in _ALLOCATED_STATES:
            return self._allocated_found(run, consignment)
        if state in _ALLOCATING_STATES:
            return self._after_accepted(run)
        return self._explain(run, consignment, exc)

    def _allocated_found(self, run: _Run, consignment: api.Consignment) -> Outcome:
        alloc = consignment.allocation
        if alloc and alloc.group_reference and alloc.group_reference.lower() != run.group.lower():
            return self._explain(run, consignment, None)  # allocated, but not by this scan's group
        return self._from_consignment(run, consignment, OutcomeKind.ALLOCATED, recovered=True)

    def _unsettled_words(self, run: _Run) -> str:
        since = self._since_sent(run)
        when = f" (sent {since:.0f} s ago)" if since != float("inf") else ""
        state = f"; so far it holds it {run.last_state}" if run.last_state else ""
        return f"SortedPRO may still be working on the allocation request{when}{state}."

    def _after_accepted(self, run: _Run) -> Outcome:
        """202 (or Allocating): poll the status until Allocated or AllocationFailed, bounded, then look.

        Unallocated right after a 202 is a lagging status, not an answer: keep polling."""
        deadline = self._clock() + self.policy.poll_timeout_s
        while True:
            try:
                state = self.client.get_status(run.reference, cancel=run.token).state_key
            except api.ApiError as exc:
                if exc.cancelled or run.token.cancelled:
                    raise Cancelled from None
                state = ""  # a failed poll is not an answer; keep polling until the deadline
            if state in _ALLOCATED_STATES or state in _FINAL_FAILED_STATES or state in _CANCELLED_STATES:
                consignment = self._look(run)
                if consignment is None:
                    break
                if consignment.state_key in _ALLOCATED_STATES:
                    return self._allocated_found(run, consignment)
                lagging = state in _ALLOCATED_STATES and consignment.state_key in _RETRYABLE_STATES | _ALLOCATING_STATES
                if not lagging:  # the status said allocated, the detail not yet: keep polling
                    return self._explain(run, consignment, None)
            left = run.token.remaining()
            if self._clock() + self.policy.poll_interval_s > deadline or (
                    left is not None and left <= self.policy.poll_interval_s):
                break
            self._wait(run, self.policy.poll_interval_s)
        return self._in_doubt(run, "SortedPRO accepted the allocation but had not finished within "
                                   f"{min(self.policy.poll_timeout_s, self.policy.scan_deadline_s):.0f} s.")

    # ------------------------------------------------------------------ outcome builders
    def _from_summary(self, run: _Run, summary: api.AllocationSummary) -> Outcome:
        outcome = Outcome(
            OutcomeKind.ALLOCATED, run.reference, run.group, "",
            carrier_name=summary.carrier_name,
            carrier_reference=summary.carrier_reference,
            service_name=summary.carrier_service_name,
            service_reference=summary.carrier_service_reference,
            tracking_references=summary.tracking_references,
            server_message=summary.description,
            http_status=summary.http_status,
            label_url=summary.links.get("label"),
        )
        return replace(outcome, message=f"{run.reference} allocated to {outcome.service_text}.")

    def _from_consignment(self, run: _Run, consignment: api.Consignment, kind: OutcomeKind,
                          recovered: bool = False) -> Outcome:
        alloc = consignment.allocation
        carrier_name = alloc.carrier_name if alloc else None
        carrier_ref = alloc.carrier_reference if alloc else None
        if alloc and alloc.service_reference and not carrier_name:
            carrier_name, carrier_ref2 = self._carrier_for(alloc.service_reference, run.token)
            carrier_ref = carrier_ref or carrier_ref2
        outcome = Outcome(
            kind, run.reference, run.group, "",
            carrier_name=carrier_name,
            carrier_reference=carrier_ref,
            service_name=alloc.service_name if alloc else None,
            service_reference=alloc.service_reference if alloc else None,
            tracking_references=consignment.tracking_references,
            recovered=recovered,
        )
        if kind is OutcomeKind.ALLOCATED:
            note = " (confirmed with SortedPRO after the first answer was lost)" if recovered else ""
            outcome = replace(outcome, message=f"{run.reference} allocated to {outcome.service_text or 'a carrier service'}{note}.")
        return outcome

    def _carrier_for(self, service_reference: str, token: CancelToken) -> tuple[str | None, str | None]:
        """Carrier name for a service: the consignment detail does not always carry it."""
        with self._carrier_lock:
            if self._carrier_names is None:
                try:
                    services = self.client.list_carrier_services(cancel=token)
                    self._carrier_names = {s.reference: (s.carrier_name, s.carrier_reference) for s in services}
                except api.ApiError:
                    return None, None  # best effort: try again next time
            return self._carrier_names.get(service_reference, (None, None))

    def _unreachable(self, run: _Run, exc: api.ApiError) -> Outcome:
        return Outcome(OutcomeKind.UNREACHABLE, run.reference, run.group,
                       f"Could not reach SortedPRO: nothing was sent, {run.reference} is not allocated. "
                       f"Check the network and scan it again. ({exc.message})")

    def _in_doubt(self, run: _Run, why: str, consignment: api.Consignment | None = None) -> Outcome:
        error = run.last_error
        server = _server_fields(error if isinstance(error, api.ApiResponseError) else None, None)
        return Outcome(OutcomeKind.IN_DOUBT, run.reference, run.group,
                       f"{why} {run.reference} may or may not be allocated: it is kept in the in-doubt list to be "
                       "checked. Do not ship it until it is resolved.", **server)

    def _outcome_from_error(self, run: _Run, kind: OutcomeKind, exc: api.ApiResponseError | None,
                            message: str) -> Outcome:
        return Outcome(kind, run.reference, run.group, message, **_server_fields(exc, None))

    def _cancelled(self, run: _Run) -> Outcome:
        if run.sent:
            return self._in_doubt(run, "The desk closed before SortedPRO's answer could be confirmed.")
        return Outcome(OutcomeKind.UNREACHABLE, run.reference, run.group,
                       "The desk closed before this scan was sent: nothing was allocated. Scan it again.")

    # ------------------------------------------------------------------ helpers
    def _look(self, run: _Run) -> api.Consignment | None:
        """GET the consignment, retrying failures briefly within the scan's deadline. None = could not look."""
        for attempt in range(1, self.policy.connect_attempts + 1):
            if run.token.expired:
                return None
            try:
                return self.client.get_consignment(run.reference, cancel=run.token)
            except api.ApiError as exc:
                if exc.cancelled or run.token.cancelled:
                    raise Cancelled from None
                if attempt == self.policy.connect_attempts or not isinstance(
                        exc, (api.NotSent, api.InDoubt, api.ServerError, api.UnexpectedAnswer, api.RateLimited)):
                    return None
                if isinstance(exc, api.RateLimited):
                    wait = max(self.policy.rate_limit_min_wait_s,
                               min(exc.retry_after or self.policy.rate_limit_default_wait_s,
                                   self.policy.rate_limit_max_wait_s))
                else:
                    wait = self._backoff(attempt)
                self._wait(run, wait)
        return None

    def _backoff(self, attempt: int) -> float:
        return min(self.policy.backoff_initial_s * (2 ** (attempt - 1)), self.policy.backoff_max_s)

    def _wait(self, run: _Run, seconds: float) -> None:
        if run.token.wait(max(0.0, seconds)):
            raise Cancelled

    def _check_stop(self, run: _Run) -> None:
        if run.token.cancelled:
            raise Cancelled


@dataclass(slots=True)
class _Run:
    raw_scan: str
    group: str
    reference: str = ""
    sent: bool = False
    puts: int = 0
    last_error: api.ApiError | None = None
    refusal_error: api.ApiResponseError | None = None
    refusal_summary: api.AllocationSummary | None = None
    token: CancelToken = field(default_factory=CancelToken)
    prior_attempt: bool = False
    uncertain: bool = False             # a PUT of this scan (or an earlier attempt) may have landed
    last_state: str | None = None
    first_sent_at: float | None = None  # monotonic time the first maybe-committed PUT went out


class _StopEventView:
    """``threading.Event``-like face of a cancel token, for callers written against ``stop_event``."""

    def __init__(self, token: CancelToken) -> None:
        self._token = token

    def set(self) -> None:
        self._token.cancel("stopped")

    def is_set(self) -> bool:
        return self._token.cancelled

    def wait(self, timeout: float | None = None) -> bool:
        return self._token.wait(timeout if timeout is not None else 1e9)




def _may_still_run(exc: api.ApiError) -> bool:
    """Whether the PUT that ended in ``exc`` may still be running at SortedPRO. A 500 in SortedPRO's
    own words means its handler ended; a lost answer, a gateway's 502/503/504 or garbage do not."""
    if isinstance(exc, api.ServerError) and exc.code and exc.status not in (502, 503, 504):
        return False
    return True


def _in_doubt_message(exc: api.ApiError) -> str:
    return f"{exc.message} SortedPRO could not be asked what happened."
