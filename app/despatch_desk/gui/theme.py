"""Colours, words and symbols for each result state: one place, so panel, list and screenshots agree.

Colour is never the only signal: every state also has a big symbol and a word (colour-blind
operators, glare on the screen). Text/background pairs are chosen for a contrast ratio of at
least 4.5:1 (WCAG AA); white on the red/green/purple, near-black on the amber.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import OutcomeKind


@dataclass(frozen=True, slots=True)
class Look:
    key: str
    symbol: str
    word: str          # the big word on the result panel
    short: str         # the state cell of the recent list
    background: str
    foreground: str
    stripes: str | None = None   # a second colour drawn as diagonal stripes (in doubt, demo)
    sound: str | None = None     # success / warning / failure


IDLE = Look("idle", "", "READY", "", "#ECEFF1", "#1C2833")
QUEUED = Look("queued", "…", "QUEUED", "queued", "#CFD8DC", "#1C2833")
ALLOCATING = Look("allocating", "…", "ALLOCATING", "allocating", "#1F3A5F", "#FFFFFF")
DUPLICATE = Look("duplicate", "…", "ALREADY BEING ALLOCATED", "already being allocated", "#1F3A5F", "#FFFFFF")
ALLOCATED = Look("allocated", "✓", "ALLOCATED", "allocated", "#1E7B34", "#FFFFFF", sound="success")
ALREADY = Look("already_allocated", "!", "ALREADY ALLOCATED", "already allocated", "#FFB000", "#1A1A1A",
               sound="warning")
NOT_ALLOCATED = Look("not_allocated", "✕", "NOT ALLOCATED", "not allocated", "#C62828", "#FFFFFF", sound="failure")
INVALID = Look("invalid_reference", "✕", "INVALID SCAN", "invalid scan", "#C62828", "#FFFFFF", sound="failure")
UNAUTHORIZED = Look("unauthorized", "✕", "API KEY REFUSED", "key refused", "#C62828", "#FFFFFF", sound="failure")
UNREACHABLE = Look("unreachable", "✕", "CANNOT REACH SORTEDPRO", "unreachable", "#C62828", "#FFFFFF",
                   sound="failure")
IN_DOUBT = Look("in_doubt", "?", "IN DOUBT — DO NOT SHIP", "in doubt", "#4A148C", "#FFFFFF", stripes="#6A1B9A",
                sound="failure")
CRASHED = Look("crashed", "✕", "INTERNAL ERROR", "error", "#C62828", "#FFFFFF", sound="failure")

_BY_KIND = {
    OutcomeKind.ALLOCATED: ALLOCATED,
    OutcomeKind.ALREADY_ALLOCATED: ALREADY,
    OutcomeKind.NOT_ALLOCATED: NOT_ALLOCATED,
    OutcomeKind.INVALID_REFERENCE: INVALID,
    OutcomeKind.UNAUTHORIZED: UNAUTHORIZED,
    OutcomeKind.UNREACHABLE: UNREACHABLE,
    OutcomeKind.IN_DOUBT: IN_DOUBT,
}

_BY_KEY = {look.key: look for look in (IDLE, QUEUED, ALLOCATING, DUPLICATE, CRASHED, *_BY_KIND.values())}


def look_for(kind: OutcomeKind | str) -> Look:
    if isinstance(kind, OutcomeKind):
        return _BY_KIND[kind]
    try:
        return _BY_KIND[OutcomeKind(kind)]
    except ValueError:
        return _BY_KEY.get(kind, IDLE)


# Environment marks (banner / tag above the scan field)
DEMO_BANNER = ("#FFD600", "#1A1A1A", "#FFEA00")       # yellow/black stripes: unmistakable
SANDBOX_BANNER = ("#0D47A1", "#FFFFFF", None)
CUSTOM_BANNER = ("#37474F", "#FFFFFF", None)
PRODUCTION_TAG = ("#1B5E20", "#FFFFFF", None)
FIRST_RUN = ("#FFF8E1", "#1A1A1A", None)
ATTENTION = ("#FFEBEE", "#8E0000", None)
