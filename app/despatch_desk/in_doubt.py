"""The one re-check policy for in-doubt scans, shared by the CLI, the window and the history view.

Qt-free. Each row is looked up on its own (``Desk.recheck`` never sends a PUT); an error on one
row is recorded against that row and the rest go on; the summary counts rows per resulting kind.
Cancelling the token stops before the next row (a row already being looked at ends honestly).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .cancel import CancelToken
from .core import Outcome, OutcomeKind
from .present import error_words, plural

log = logging.getLogger("despatch_desk.in_doubt")

ERROR = "error"  # the count key for rows that could not be checked
BUSY = "busy"    # the row is being re-checked by another call right now (never twice at once)
SETTLED = "settled"  # the row was resolved meanwhile (by another re-check): nothing to look at

_claim_lock = threading.Lock()
_claimed: set[tuple[int, int]] = set()   # (id(desk), row id) being re-checked now, across threads


@dataclass(frozen=True, slots=True)
class RecheckResult:
    row_id: int
    reference: str | None
    outcome: Outcome | None = None
    error: str | None = None          # plain words when the row could not be checked
    busy: bool = False                # skipped: another re-check has this row right now
    settled: bool = False             # skipped: no longer in doubt

    @property
    def kind(self) -> str:
        if self.busy:
            return BUSY
        if self.settled:
            return SETTLED
        return self.outcome.kind.value if self.outcome is not None else ERROR


@dataclass(frozen=True, slots=True)
class RecheckSummary:
    results: tuple[RecheckResult, ...] = ()
    stopped: bool = False             # cancelled before every row was looked at
    problem: str | None = None        # the in-doubt list itself could not be read
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def still_in_doubt(self) -> int:
        return self.counts.get(OutcomeKind.IN_DOUBT.value, 0) + self.counts.get(ERROR, 0)

    def words(self) -> str:
        """One plain sentence: "Re-checked 3 in-doubt scans: 2 allocated, 1 still in doubt."."""
        if self.problem:
            return self.problem
        if not self.results:
            return "Nothing is in doubt."
        if len(self.results) == 1:
            only = self.results[0]
            if only.busy:
                return f"{only.reference or 'That scan'} is already being re-checked."
            if only.settled:
                return f"{only.reference or 'That scan'} is no longer in doubt."
            return only.outcome.message if only.outcome is not None else f"Not checked: {only.error}"
        parts = []
        for kind in OutcomeKind:  # allocated first, still in doubt last
            n = self.counts.get(kind.value, 0)
            if n:
                parts.append(f"{n} {'still in doubt' if kind is OutcomeKind.IN_DOUBT else kind.label.lower()}")
        errors = [r.error for r in self.results if r.error and not (r.busy or r.settled)]
        busy = self.counts.get(BUSY, 0)
        if busy:
            parts.append(f"{busy} already being re-checked")
        if self.counts.get(SETTLED, 0):
            parts.append(f"{self.counts[SETTLED]} already resolved")
        if errors:
            parts.append(f"{len(errors)} could not be checked ({errors[0]})")
        tail = " (stopped before the end)" if self.stopped else ""
        return f"Re-checked {plural(len(self.results), 'in-doubt scan')}: {', '.join(parts)}{tail}."


def count(desk) -> int:
    """How many history rows are in doubt now (raises the history's own error if it cannot be read)."""
    return desk.history.count(outcomes=[OutcomeKind.IN_DOUBT.value])


def recheck_all(desk, rows: Iterable[int] | None = None, *, cancel: CancelToken | None = None,
                on_progress: Callable[[RecheckResult], None] | None = None) -> RecheckSummary:
    """Re-check ``rows`` (history row ids; None = every in-doubt row) one by one and record what SortedPRO holds."""
    if rows is None:
        try:
            ids = [row.id for row in desk.history.in_doubt()]
        except Exception as exc:  # the history cannot be read: nothing was checked
            return RecheckSummary(problem=f"The in-doubt list could not be read: {error_words(exc)}")
    else:
        ids = list(rows)
    results: list[RecheckResult] = []
    stopped = False
    for row_id in ids:
        if cancel is not None and cancel.cancelled:
            stopped = True
            break
        result = _recheck_one(desk, row_id, cancel)
        results.append(result)
        if on_progress is not None:
            on_progress(result)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.kind] = counts.get(result.kind, 0) + 1
    return RecheckSummary(tuple(results), stopped=stopped, counts=counts)


def _recheck_one(desk, row_id: int, cancel: CancelToken | None) -> RecheckResult:
    claim = (id(desk), row_id)
    with _claim_lock:
        if claim in _claimed:
            return RecheckResult(row_id, None, error="already being re-checked", busy=True)
        _claimed.add(claim)
    try:
        return _look_up(desk, row_id, cancel)
    finally:
        with _claim_lock:
            _claimed.discard(claim)


def _look_up(desk, row_id: int, cancel: CancelToken | None) -> RecheckResult:
    reference = None
    try:
        row = desk.history.get(row_id)
        reference = row.reference if row is not None else None
        if row is not None and row.outcome != OutcomeKind.IN_DOUBT.value:
            return RecheckResult(row_id, reference, error="no longer in doubt", settled=True)
        outcome = desk.recheck(row_id, cancel=cancel)
    except Exception as exc:  # one row's trouble is that row's result; the others still get looked at
        return RecheckResult(row_id, reference, error=error_words(exc))
    return RecheckResult(row_id, outcome.reference or reference, outcome=outcome)

