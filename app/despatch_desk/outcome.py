"""What happened to one scan (:class:`Outcome`), its kinds, and the small helpers that word it.

Kept apart from the workflow in :mod:`despatch_desk.core` (which re-exports these names) so the
flow stays readable; no Qt, no I/O here.
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import api

_GROUP_CODE_MAX = 100


class OutcomeKind(enum.StrEnum):
    ALLOCATED = "allocated"
    ALREADY_ALLOCATED = "already_allocated"
    NOT_ALLOCATED = "not_allocated"
    INVALID_REFERENCE = "invalid_reference"
    UNAUTHORIZED = "unauthorized"
    UNREACHABLE = "unreachable"
    IN_DOUBT = "in_doubt"
    NOT_RECORDED = "not_recorded"  # the pending row could not be written, so nothing was sent
    DEALLOCATED = "deallocated"    # an undo: SortedPRO holds the consignment unallocated again
    NOT_DEALLOCATED = "not_deallocated"  # an undo refused (state, Manifested without consent, server)

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    OutcomeKind.ALLOCATED: "Allocated",
    OutcomeKind.ALREADY_ALLOCATED: "Already allocated",
    OutcomeKind.NOT_ALLOCATED: "Not allocated",
    OutcomeKind.INVALID_REFERENCE: "Invalid scan",
    OutcomeKind.UNAUTHORIZED: "API key refused",
    OutcomeKind.UNREACHABLE: "SortedPRO unreachable",
    OutcomeKind.IN_DOUBT: "In doubt",
    OutcomeKind.NOT_RECORDED: "Not sent: history unavailable",
    OutcomeKind.DEALLOCATED: "Undone",
    OutcomeKind.NOT_DEALLOCATED: "Not undone",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one scan. ``message`` is the plain sentence shown to the operator."""

    kind: OutcomeKind
    reference: str | None
    group: str
    message: str
    raw_scan: str = ""
    carrier_name: str | None = None
    carrier_reference: str | None = None
    service_name: str | None = None
    service_reference: str | None = None
    tracking_references: tuple[str, ...] = ()
    server_message: str | None = None
    server_code: str | None = None
    correlation_id: str | None = None
    http_status: int | None = None
    recovered: bool = False
    label_url: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_ms: float = 0.0
    attempts: int = 0
    details: Any = None  # a details.Details (price, dates, parcel facts) once a follow-up fetched them

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.ALLOCATED

    @property
    def needs_attention(self) -> bool:
        """Errors stay on screen until acknowledged."""
        return self.kind not in (OutcomeKind.ALLOCATED, OutcomeKind.DEALLOCATED)

    @property
    def service_text(self) -> str:
        """"Carrier X Next Day Super", without repeating the carrier if the service name has it."""
        from .present import service_text  # one wording for the CLI, the panel, the lists and the history
        return service_text(self.carrier_name or self.carrier_reference, self.service_name or self.service_reference)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["outcome"] = data.pop("kind")
        data["tracking_references"] = list(self.tracking_references)
        data["started_at"] = self.started_at.isoformat()
        data["duration_ms"] = round(self.duration_ms, 1)
        data.pop("details", None)
        if self.details is not None:  # only the fields SortedPRO gave (see details.Details.to_json)
            data.update(self.details.to_json())
        return data


_ALLOCATED_STATES = {"allocated", "manifesting", "manifested", "manifestfailed", "intransit", "delivered",
                     "collected", "outfordelivery", "deliveryfailed", "returned"}
_ALLOCATING_STATES = {"allocating"}
_RETRYABLE_STATES = {"unallocated", "allocationfailed"}
_FINAL_FAILED_STATES = {"allocationfailed"}
_CANCELLED_STATES = {"cancelled", "cancelling"}
# The server's reason often repeats what our sentence already says ("No carrier service in group
# 'x' can take this consignment: <why>"): keep only the why.
_REDUNDANT_PREFIX = re.compile(r"^no (carrier )?services? in (the )?(carrier service )?group\b[^:]*:\s*", re.I)


def check_group_code(group: str) -> str | None:
    """A plain-words problem with a service group code, or None if it can be sent."""
    if not group or not group.strip():
        return "Choose a service group first."
    if len(group) > _GROUP_CODE_MAX or any(ord(ch) < 32 for ch in group):
        return "That service group code is not valid; check it in Settings."
    return None


def _server_fields(exc: api.ApiResponseError | None, summary: api.AllocationSummary | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if exc is not None:
        fields.update(server_message=exc.server_message, server_code=exc.code,
                      correlation_id=exc.correlation_id, http_status=exc.status)
    if summary is not None:
        fields.setdefault("server_message", summary.description)
        fields["server_message"] = fields["server_message"] or summary.description
        fields.setdefault("http_status", summary.http_status)
    return fields


def _server_words(exc: api.ApiResponseError | None, summary: api.AllocationSummary | None) -> str | None:
    if exc is not None and exc.server_message:
        return exc.server_message
    if summary is not None and summary.description:
        return summary.description
    if exc is not None:
        return exc.message
    return None


def _local_hhmm(when: datetime | None) -> str | None:
    """"14:02" today, "28 Nov 14:02" otherwise (the one wording of :func:`present.local_time`)."""
    from .present import local_time

    return local_time(when) or None
