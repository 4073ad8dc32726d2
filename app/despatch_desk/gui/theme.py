"""Colours, words and symbols for each result state: one place, so panel, list and screenshots agree.

Colour is never the only signal: every state also has a big symbol and a word (colour-blind
operators, glare on the screen). Text/background pairs are chosen for a contrast ratio of at
least 4.5:1 (WCAG AA); white on the red/green/purple, near-black on the amber.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..core import OutcomeKind


class Tone(enum.StrEnum):
    """Which sound a result plays (sounds.py has one per tone)."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    GROUP = "group"        # the service group was changed (not a result: no Look plays it)


class Shown(enum.StrEnum):
    """Every state the panel and the lists can show: the outcome kinds plus the desk's own states."""

    IDLE = "idle"
    NOT_READY = "not_ready"
    QUEUED = "queued"
    ALLOCATING = "allocating"
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"
    CLOSING = "closing"
    CRASHED = "crashed"
    ALLOCATED = OutcomeKind.ALLOCATED.value
    ALREADY_ALLOCATED = OutcomeKind.ALREADY_ALLOCATED.value
    NOT_ALLOCATED = OutcomeKind.NOT_ALLOCATED.value
    INVALID_REFERENCE = OutcomeKind.INVALID_REFERENCE.value
    UNAUTHORIZED = OutcomeKind.UNAUTHORIZED.value
    UNREACHABLE = OutcomeKind.UNREACHABLE.value
    IN_DOUBT = OutcomeKind.IN_DOUBT.value
    NOT_RECORDED = "not_recorded"   # core: nothing was sent because the history cannot be written
    GROUP_CHANGED = "group_changed"  # the operator switched the service group: shown until the next scan


@dataclass(frozen=True, slots=True)
class Look:
    key: Shown
    symbol: str
    word: str          # the big word on the result panel
    short: str         # the state cell of the recent list
    background: str
    foreground: str
    stripes: str | None = None   # a second colour drawn as diagonal stripes (in doubt, demo)
    sound: Tone | None = None

    @property
    def is_problem(self) -> bool:
        """A result an operator must acknowledge (it stays on screen until Esc)."""
        return self.sound in (Tone.FAILURE, Tone.WARNING)


IDLE = Look(Shown.IDLE, "", "READY", "", "#ECEFF1", "#1C2833")
# Deep orange, white text (contrast 5.6:1): not red (nothing failed at SortedPRO), not calm grey either.
NOT_READY = Look(Shown.NOT_READY, "■", "NOT READY", "not ready", "#BF360C", "#FFFFFF", sound=Tone.FAILURE)
QUEUED = Look(Shown.QUEUED, "…", "QUEUED", "queued", "#CFD8DC", "#1C2833")
ALLOCATING = Look(Shown.ALLOCATING, "…", "ALLOCATING", "allocating", "#1F3A5F", "#FFFFFF")
DUPLICATE = Look(Shown.DUPLICATE, "…", "ALREADY BEING ALLOCATED", "already being allocated", "#1F3A5F", "#FFFFFF")
CANCELLED = Look(Shown.CANCELLED, "–", "CANCELLED", "cancelled", "#CFD8DC", "#1C2833")
CLOSING = Look(Shown.CLOSING, "…", "CLOSING", "closing", "#1F3A5F", "#FFFFFF")
ALLOCATED = Look(Shown.ALLOCATED, "✓", "ALLOCATED", "allocated", "#1E7B34", "#FFFFFF", sound=Tone.SUCCESS)
ALREADY = Look(Shown.ALREADY_ALLOCATED, "!", "ALREADY ALLOCATED", "already allocated", "#FFB000", "#1A1A1A",
               sound=Tone.WARNING)
NOT_ALLOCATED = Look(Shown.NOT_ALLOCATED, "✕", "NOT ALLOCATED", "not allocated", "#C62828", "#FFFFFF",
                     sound=Tone.FAILURE)
INVALID = Look(Shown.INVALID_REFERENCE, "✕", "INVALID SCAN", "invalid scan", "#C62828", "#FFFFFF", sound=Tone.FAILURE)
UNAUTHORIZED = Look(Shown.UNAUTHORIZED, "✕", "API KEY REFUSED", "key refused", "#C62828", "#FFFFFF",
                    sound=Tone.FAILURE)
UNREACHABLE = Look(Shown.UNREACHABLE, "✕", "CANNOT REACH SORTEDPRO", "unreachable", "#C62828", "#FFFFFF",
                   sound=Tone.FAILURE)
IN_DOUBT = Look(Shown.IN_DOUBT, "?", "IN DOUBT — DO NOT SHIP", "in doubt", "#4A148C", "#FFFFFF", stripes="#6A1B9A",
                sound=Tone.FAILURE)
NOT_RECORDED = Look(Shown.NOT_RECORDED, "■", "NOT READY", "not recorded", "#BF360C", "#FFFFFF", sound=Tone.FAILURE)
# Deep blue, white text (8.6:1): loud and unlike any result colour, so a stray Ctrl+2 is noticed.
GROUP_CHANGED = Look(Shown.GROUP_CHANGED, "→", "GROUP", "group changed", "#0D47A1", "#FFFFFF")
CRASHED = Look(Shown.CRASHED, "✕", "INTERNAL ERROR", "error", "#C62828", "#FFFFFF", sound=Tone.FAILURE)

_BY_KIND = {
    OutcomeKind.ALLOCATED: ALLOCATED,
    OutcomeKind.ALREADY_ALLOCATED: ALREADY,
    OutcomeKind.NOT_ALLOCATED: NOT_ALLOCATED,
    OutcomeKind.INVALID_REFERENCE: INVALID,
    OutcomeKind.UNAUTHORIZED: UNAUTHORIZED,
    OutcomeKind.UNREACHABLE: UNREACHABLE,
    OutcomeKind.IN_DOUBT: IN_DOUBT,
}

_BY_KEY: dict[str, Look] = {look.key.value: look for look in (
    IDLE, NOT_READY, QUEUED, ALLOCATING, DUPLICATE, CANCELLED, CLOSING, NOT_RECORDED, CRASHED, GROUP_CHANGED,
    *_BY_KIND.values())}


def look_for(kind: OutcomeKind | Shown | str) -> Look:
    """The look of an outcome kind or a shown state (an unknown key looks idle, never like a success)."""
    key = kind.value if isinstance(kind, enum.Enum) else str(kind)
    return _BY_KEY.get(key, IDLE)


# Environment marks (banner / tag above the scan field)
DEMO_BANNER = ("#FFD600", "#1A1A1A", "#FFEA00")       # yellow/black stripes: unmistakable
SANDBOX_BANNER = ("#0D47A1", "#FFFFFF", None)
CUSTOM_BANNER = ("#37474F", "#FFFFFF", None)
PRODUCTION_TAG = ("#1B5E20", "#FFFFFF", None)
FIRST_RUN = ("#FFF8E1", "#1A1A1A", None)
GROUP_WARNING = ("#FFE0B2", "#7F2704", None)        # a configured group the account does not have
ATTENTION = ("#FFEBEE", "#8E0000", None)
