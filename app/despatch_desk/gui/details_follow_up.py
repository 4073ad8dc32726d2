"""Price, delivery date and parcel facts beside a result: a follow-up, so the green never waits for them.

:data:`DETAILS_FOLLOW_UP` is registered in :data:`~.tickets.FOLLOW_UPS` when this module is imported
(the main window imports it). It applies to an allocated or already-allocated scan and runs two
looks (``Desk.details``: consignment and status, never a write) on the follow-up lane; its line
("£4.20 net (£5.04 gross) · ships … · expected … · Bath BA1 2LR GB · 1 package · 1.2 kg") goes on
the result panel below carrier and service, in the smaller extra-line font, and into the recent
list; the price and expected delivery are kept in the history row. A missing field is "—"; a look
that failed leaves its fields "—" and is never a problem that needs a person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cancel import CancelToken
from ..core import Outcome, OutcomeKind
from ..details import Details, summary_line
from .jobs import Lane
from .tickets import FOLLOW_UPS, FollowUp

if TYPE_CHECKING:
    from ..desk import Desk

NAME = "details"
PENDING = "Looking up price and delivery date…"


def _applies(outcome: Outcome) -> bool:
    return outcome.kind in (OutcomeKind.ALLOCATED, OutcomeKind.ALREADY_ALLOCATED) and bool(outcome.reference)


def details_for(desk: Desk, outcome: Outcome, token: CancelToken) -> Details:  # worker thread
    row_id = None
    if outcome.ok:
        try:
            row = desk.history.latest_allocated(outcome.reference or "")
            row_id = row.id if row is not None else None
        except Exception:  # noqa: BLE001 - the history's trouble is shown elsewhere; the details still show
            row_id = None
    return desk.details(outcome.reference or "", cancel=token, row_id=row_id)


def report(value: object) -> tuple[str, str | None]:
    if not isinstance(value, Details):
        return "", None
    return summary_line(value), None  # never a problem: the allocation stands whatever the price says


# On the MISC lane: price and dates are information, and never queue in front of a parcel's label.
DETAILS_FOLLOW_UP = FollowUp(NAME, _applies, details_for, pending=PENDING, report=report, lane=Lane.MISC)
FOLLOW_UPS.register(DETAILS_FOLLOW_UP)
