"""The in-doubt queue: the desk's unfinished business, listed, re-checked and (carefully) allocated again.

Qt-free; the CLI (``queue``, ``recheck --retry``) and the window's queue view share it. Re-checking
is :mod:`in_doubt` (looks only). "Allocate again" is for a row that a look showed not allocated once
its first attempt could no longer take effect (the re-check only says "not allocated" after the
commit window): the row is resolved by that look, then ``Desk.allocate(..., prior_attempt=True)``
looks once more and sends exactly one PUT if SortedPRO still holds it unallocated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from . import in_doubt
from .cancel import CancelToken
from .outcome import Outcome, OutcomeKind
from .present import plural


@dataclass(frozen=True, slots=True)
class QueueEntry:
    row_id: int
    reference: str | None
    group: str
    action: str                 # "allocate" or "deallocate" (an undo in doubt)
    started_at: datetime
    last_known: str             # the last thing the desk knew, in plain words

    def age_s(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        start = self.started_at if self.started_at.tzinfo else self.started_at.replace(tzinfo=UTC)
        return max(0.0, (now - start).total_seconds())

    def to_json(self, now: datetime | None = None) -> dict:
        return {"id": self.row_id, "reference": self.reference, "group": self.group, "action": self.action,
                "started_at": self.started_at.isoformat(), "age_s": round(self.age_s(now), 1),
                "last_known": self.last_known}


def entries(desk) -> list[QueueEntry]:
    """Every row in doubt, newest first (raises the history's own error if it cannot be read)."""
    return [QueueEntry(row.id, row.reference, row.group_code, row.action, row.started_at,
                       row.resolution or row.message or "")
            for row in desk.history.in_doubt()]


def age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


@dataclass(frozen=True, slots=True)
class RetryResult:
    row_id: int
    reference: str | None
    looked: Outcome | None       # what the re-check found (None: it could not look)
    allocated: Outcome | None    # the new attempt, when the look showed not allocated
    error: str | None = None

    @property
    def final(self) -> Outcome | None:
        return self.allocated or self.looked


def allocate_again(desk, row_id: int, *, cancel: CancelToken | None = None) -> RetryResult:
    """Look (re-check); if the look shows it not allocated, allocate it once more (one PUT at most)."""
    summary = in_doubt.recheck_all(desk, [row_id], cancel=cancel)
    result = summary.results[0] if summary.results else None
    if result is None or result.outcome is None:
        return RetryResult(row_id, result.reference if result else None, None, None,
                           error=result.error if result else summary.problem)
    looked = result.outcome
    row = desk.history.get(row_id)
    if (looked.kind is not OutcomeKind.NOT_ALLOCATED or row is None or row.action != "allocate"
            or not row.reference):
        return RetryResult(row_id, looked.reference, looked, None)
    again = desk.allocate(row.reference, row.group_code, cancel=cancel, prior_attempt=True)
    return RetryResult(row_id, row.reference, looked, again)


def retry_all(desk, rows: Iterable[int] | None = None, *, cancel: CancelToken | None = None,
              on_progress: Callable[[RetryResult], None] | None = None) -> list[RetryResult]:
    ids = [e.row_id for e in entries(desk)] if rows is None else list(rows)
    results = []
    for row_id in ids:
        if cancel is not None and cancel.cancelled:
            break
        result = allocate_again(desk, row_id, cancel=cancel)
        results.append(result)
        if on_progress is not None:
            on_progress(result)
    return results


def drain_words(summary: in_doubt.RecheckSummary) -> str | None:
    """The notice after a background re-check: what it resolved, or None when it resolved nothing."""
    resolved = [r for r in summary.results if r.outcome is not None and r.outcome.kind is not OutcomeKind.IN_DOUBT]
    if not resolved:
        return None
    if len(resolved) == 1:
        return f"In-doubt queue: {resolved[0].outcome.message}"
    left = summary.still_in_doubt
    tail = f"; {plural(left, 'scan')} still in doubt" if left else "; the queue is empty"
    kinds: dict[str, int] = {}
    for r in resolved:
        kinds[r.outcome.kind.label.lower()] = kinds.get(r.outcome.kind.label.lower(), 0) + 1
    parts = ", ".join(f"{n} {label}" for label, n in kinds.items())
    return f"In-doubt queue: {plural(len(resolved), 'scan')} resolved by looking ({parts}){tail}."
