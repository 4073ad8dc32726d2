"""A scan's ticket, its decisions and phases, and the follow-up registry: the controller's vocabulary.

GUI-thread data only (no Qt objects): a worker never sees a ticket.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..cancel import CancelToken
from ..core import Outcome
from ..desk import Desk
from . import theme
from .jobs import Lane
from .theme import Shown

log = logging.getLogger("despatch_desk.gui.scan")


class ScanDecision(enum.StrEnum):
    QUEUED = "queued"          # handed to the runner
    DUPLICATE = "duplicate"    # that reference is already queued or in flight: nothing new is sent
    INVALID = "invalid"        # not a consignment reference: refused on the spot, recorded
    NOT_READY = "not_ready"    # the desk cannot allocate (no group chosen, key refused): nothing sent or recorded
    CLOSED = "closed"          # the desk is closing: not taken


class Phase(enum.StrEnum):
    WAITING = "waiting"        # queued on the runner
    RUNNING = "running"
    DONE = "done"              # decided (an outcome, or a decision made on the spot)
    DROPPED = "dropped"        # cancelled before it was sent
    CRASHED = "crashed"        # the job itself failed (a bug): the history says what is known


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Work that hangs off an outcome: ``run(desk, outcome, token)`` on the follow-up lane when ``applies``."""

    name: str
    applies: Callable[[Outcome], bool]
    run: Callable[[Desk, Outcome, CancelToken], Any]
    wanted: Callable[[Desk], bool] | None = None     # asked when the outcome arrives (e.g. a printer is set up)
    pending: str = ""                                # what the panel says while it runs ("Printing label…")
    # (words, problem) for a result: problem words make it stay in the problem stack until Esc.
    report: Callable[[Any], tuple[str, str | None]] | None = None
    problem_look: theme.Look | None = None           # the problem stack's look for such a problem
    lane: Lane = Lane.FOLLOW_UP                      # labels are time-critical; mere information may go to MISC


@dataclass(frozen=True, slots=True)
class FollowUpResult:
    name: str
    phase: Phase
    value: Any = None
    error: str | None = None   # plain words
    words: str = ""            # one line for the panel and the recent list
    problem: str | None = None  # needs a person (the parcel has no label): stays until Esc
    look: theme.Look | None = None


class FollowUpRegistry:
    def __init__(self) -> None:
        self._items: dict[str, FollowUp] = {}

    def register(self, follow_up: FollowUp) -> None:
        self._items[follow_up.name] = follow_up

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)

    def matching(self, outcome: Outcome, desk: Desk | None = None) -> list[FollowUp]:
        return [f for f in self._items.values() if _safe_applies(f, outcome)
                and (desk is None or f.wanted is None or _safe_applies(f, desk, f.wanted))]

    def get(self, name: str) -> FollowUp | None:
        return self._items.get(name)

    def __len__(self) -> int:
        return len(self._items)


def _safe_applies(follow_up: FollowUp, subject: Any, predicate: Callable[[Any], bool] | None = None) -> bool:
    try:
        return bool((predicate or follow_up.applies)(subject))
    except Exception:
        log.exception("follow-up %s: predicate failed", follow_up.name)
        return False


@dataclass(eq=False, slots=True)
class Ticket:
    """One scan, as the operator made it. Lives in the GUI thread; workers never see it."""

    id: int
    raw: str
    group: str
    decision: ScanDecision
    reference: str | None = None
    job_id: int | None = None
    phase: Phase = Phase.WAITING
    outcome: Outcome | None = None
    message: str = ""                  # the desk's own words when there is no outcome (not ready, closing …)
    batch: str | None = None
    quiet: bool = False
    duplicate_of: int | None = None    # the ticket whose result this scan waits for
    acknowledged: bool = False
    rechecked: bool = False            # the outcome came from a later re-check
    scanned_at: datetime = field(default_factory=datetime.now)
    follow_ups: dict[str, FollowUpResult] = field(default_factory=dict)
    follow_ups_started: bool = False   # a batch row's follow-ups wait for the rows before it
    undone: bool = False               # its allocation was undone (gui/undo.py): the lists say so

    @property
    def follow_up_problem(self) -> FollowUpResult | None:
        """The newest follow-up result that needs a person (LABEL NOT PRINTED), if any."""
        found = [r for r in self.follow_ups.values() if r.problem]
        return found[-1] if found else None

    @property
    def needs_acknowledgement(self) -> bool:
        """Its result, or one of its follow-ups, needs a person (Esc acknowledges both)."""
        return self.is_problem or self.follow_up_problem is not None

    @property
    def state(self) -> Shown:
        """What the panel and the lists show for this scan."""
        if self.outcome is not None:
            return Shown(self.outcome.kind.value)
        if self.decision is ScanDecision.DUPLICATE:
            return Shown.DUPLICATE
        if self.decision is ScanDecision.NOT_READY:
            return Shown.NOT_READY
        if self.decision is ScanDecision.CLOSED:
            return Shown.CLOSING
        return {Phase.WAITING: Shown.QUEUED, Phase.RUNNING: Shown.ALLOCATING, Phase.DROPPED: Shown.CANCELLED,
                Phase.CRASHED: Shown.CRASHED}.get(self.phase, Shown.QUEUED)

    @property
    def look(self) -> theme.Look:
        return theme.look_for(self.state)

    @property
    def is_problem(self) -> bool:
        """Needs a person: stays visible until acknowledged."""
        return self.look.is_problem

    @property
    def settled(self) -> bool:
        return self.phase in (Phase.DONE, Phase.DROPPED, Phase.CRASHED)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    batch: str
    total: int
    counts: dict[str, int]
    problems: int

    def words(self) -> str:
        parts = ", ".join(f"{n} {theme.look_for(k).short or k}" for k, n in sorted(self.counts.items()))
        return f"Batch of {self.total}: {parts}."


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str = ""
    blocks_scans: bool = False   # True: a scan is not sent at all (no group chosen)


FOLLOW_UPS = FollowUpRegistry()   # production follow-ups register here (gui/label_follow_up.py: "label")
