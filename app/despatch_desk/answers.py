"""SortedPRO's answers as typed models, parsed tolerantly: missing fields become None, unknown fields are
ignored, wrong types are not trusted (and make an allocation summary :attr:`AllocationSummary.malformed`).

Parsers take JSON already made safe by :mod:`despatch_desk.sanitize` (strings cut, controls stripped,
the key masked); they raise only ValueError, for an answer of the wrong overall shape.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

# --------------------------------------------------------------------------- models


@dataclass(frozen=True, slots=True)
class Leg:
    number: int | None
    carrier_reference: str | None
    carrier_name: str | None
    carrier_service_reference: str | None
    tracking_references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllocationSummary:
    """The body of a 200 (or 202) from an allocation call."""

    http_status: int
    status_code: int | None
    description: str | None
    carrier_reference: str | None
    carrier_name: str | None
    carrier_service_reference: str | None
    carrier_service_name: str | None
    legs: tuple[Leg, ...]
    links: Mapping[str, str]
    consignment_reference: str | None
    malformed: bool = False                        # a deciding field of the wrong type
    mentioned_references: tuple[str, ...] = ()     # consignment references named in the description

    @property
    def succeeded(self) -> bool:
        """True when the summary reports an allocation (not a refusal inside a 200)."""
        if self.http_status == 202:
            return False
        if self.status_code is not None and self.status_code not in (200, 201):
            return False  # 202 inside the body is "accepted, not finished", not a result
        return bool(self.carrier_service_reference or self.carrier_service_name or self.carrier_name)

    @property
    def accepted(self) -> bool:
        """202 (the HTTP status or the summary's own): accepted, not finished; poll the status."""
        return self.http_status == 202 or self.status_code == 202

    def doubt_about(self, reference: str) -> str | None:
        """Why this answer cannot be believed as the answer for ``reference`` (None: it can).

        Believed only when it names the consignment asked for (the ``detail`` link, or without one
        the description) and carries a readable result; an answer about another consignment comes
        from a desynchronised connection or a confused gateway, and is a reason to look."""
        ref = reference.upper()
        if self.malformed:
            return "its fields have the wrong types"
        if self.consignment_reference and self.consignment_reference.upper() != ref:
            return f"it is about another consignment ({self.consignment_reference})"
        others = [m for m in self.mentioned_references if m != ref]
        if others and ref not in self.mentioned_references:
            return f"it is about another consignment ({others[0]})"
        if self.accepted:
            return None
        if self.succeeded:
            if not self.consignment_reference and ref not in self.mentioned_references:
                return "it does not say which consignment it is about"
            return None
        if self.status_code is not None and not 200 <= self.status_code < 300:
            return None  # a refusal inside a 200: readable (and explained by looking)
        return "it carries no result"

    @property
    def tracking_references(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for leg in self.legs:
            for ref in leg.tracking_references:
                seen.setdefault(ref, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Money:
    net: float | None
    gross: float | None
    vat: float | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class Allocation:
    group_reference: str | None
    group_name: str | None
    service_reference: str | None
    service_name: str | None
    carrier_name: str | None
    carrier_reference: str | None
    allocated_at: datetime | None
    price: Money | None


@dataclass(frozen=True, slots=True)
class FailedAllocation:
    group_reference: str | None
    service_reference: str | None
    attempted_at: datetime | None
    message: str | None


@dataclass(frozen=True, slots=True)
class Consignment:
    reference: str
    state: str | None
    shipping_date: datetime | None
    allocation: Allocation | None
    failed_allocation: FailedAllocation | None
    tracking_references: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def state_key(self) -> str:
        """State without spaces or case, e.g. ``"allocationfailed"``."""
        return normalise_state(self.state)


@dataclass(frozen=True, slots=True)
class ConsignmentStatus:
    reference: str | None
    state: str | None
    expected_delivery: datetime | None

    @property
    def state_key(self) -> str:
        return normalise_state(self.state)


@dataclass(frozen=True, slots=True)
class Label:
    reference: str
    format: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ServiceGroup:
    reference: str
    name: str
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class CarrierService:
    reference: str
    name: str
    carrier_name: str | None
    carrier_reference: str | None


def normalise_state(state: str | None) -> str:
    return "".join((state or "").split()).replace("_", "").lower()


# --------------------------------------------------------------------------- parsing helpers
# Tolerant: missing fields become None, unknown fields are ignored, wrong types are not trusted.


def _get(obj: Any, *names: str) -> Any:
    """First present value among ``names``, matched case-insensitively."""
    if not isinstance(obj, Mapping):
        return None
    for name in names:
        if name in obj:
            return obj[name]
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _datetime(value: Any) -> datetime | None:
    text = _str(value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _tracking(obj: Any) -> tuple[str, ...]:
    refs = _get(obj, "TrackingReferences", "TrackingReference")
    if isinstance(refs, str):
        refs = [refs]
    return tuple(t for t in (_str(r) for r in _list(refs)) if t)


def _links(obj: Any) -> dict[str, str]:
    links: dict[str, str] = {}
    raw = _get(obj, "ApiLinks", "ApiLink")
    if isinstance(raw, Mapping):
        raw = [raw]
    for link in _list(raw):
        rel, href = _str(_get(link, "Rel")), _str(_get(link, "Href"))
        if rel and href:
            links.setdefault(rel.lower(), href)
    return links


_CARRIER_FIELDS = ("CarrierReference", "CarrierName", "CarrierServiceReference", "CarrierServiceName")


def parse_allocation_summary(data: Any, http_status: int = 200) -> AllocationSummary:
    """Accept an array of one summary (as documented) or a bare object (as one spec models)."""
    if isinstance(data, list):
        data = next((item for item in data if isinstance(item, Mapping)), None)
    if not isinstance(data, Mapping):
        if http_status == 202:
            data = {}
        else:
            raise ValueError("allocation answer is neither an object nor an array of objects")
    # Wrong types in the fields that decide "allocated" make the whole answer untrusted.
    malformed = any(_get(data, name) is not None and not isinstance(_get(data, name), str)
                    for name in _CARRIER_FIELDS)
    status_raw = _get(data, "StatusCode")
    if status_raw is not None and _int(status_raw) is None:
        malformed = True
    legs_raw = _get(data, "ConsignmentLegs", "Legs")
    if legs_raw is not None and not isinstance(legs_raw, list):
        malformed = True
    legs = []
    for leg in _list(legs_raw):
        if not isinstance(leg, Mapping):
            malformed = True
            continue
        tracking_raw = _get(leg, "TrackingReferences", "TrackingReference")
        if tracking_raw is not None and not isinstance(tracking_raw, (list, str)):
            malformed = True
        if any(_get(leg, n) is not None and not isinstance(_get(leg, n), str)
               for n in ("CarrierReference", "CarrierName", "CarrierServiceReference")):
            malformed = True
        legs.append(Leg(
            number=_int(_get(leg, "Leg")),
            carrier_reference=_str(_get(leg, "CarrierReference")),
            carrier_name=_str(_get(leg, "CarrierName")),
            carrier_service_reference=_str(_get(leg, "CarrierServiceReference")),
            tracking_references=_tracking(leg),
        ))
    links = _links(data)
    first_leg = legs[0] if legs else None
    description = _str(_get(data, "Description"))
    return AllocationSummary(
        http_status=http_status,
        status_code=_int(status_raw),
        description=description,
        carrier_reference=_str(_get(data, "CarrierReference"))
        or (first_leg.carrier_reference if first_leg else None),
        carrier_name=_str(_get(data, "CarrierName")) or (first_leg.carrier_name if first_leg else None),
        carrier_service_reference=_str(_get(data, "CarrierServiceReference")),
        carrier_service_name=_str(_get(data, "CarrierServiceName")),
        legs=tuple(legs),
        links=links,
        consignment_reference=_tail(links.get("detail")),
        malformed=malformed,
        mentioned_references=tuple(dict.fromkeys(m.upper() for m in _REFERENCE_IN_TEXT.findall(description or ""))),
    )


def _tail(href: str | None) -> str | None:
    if not href:
        return None
    path = urlsplit(href).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1]) or None


_REFERENCE_IN_TEXT = re.compile(r"(?<![A-Z0-9])EC-[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{3}(?![A-Z0-9])", re.I)


def parse_consignment(data: Any, reference: str) -> Consignment:
    if not isinstance(data, Mapping):
        raise ValueError("consignment answer is not an object")
    alloc_raw = _get(data, "Allocation")
    allocation = None
    if isinstance(alloc_raw, Mapping):
        price_raw = _get(alloc_raw, "Price")
        price = None
        if isinstance(price_raw, Mapping):
            price = Money(
                net=_float(_get(price_raw, "Net")),
                gross=_float(_get(price_raw, "Gross")),
                vat=_float(_get(price_raw, "VatAmount", "Vat")),
                currency=_str(_get(_get(price_raw, "Currency"), "IsoCode")) or _str(_get(price_raw, "Currency")),
            )
        allocation = Allocation(
            group_reference=_str(_get(alloc_raw, "CarrierServiceGroupReference", "MpdCarrierServiceGroupReference")),
            group_name=_str(_get(alloc_raw, "MpdCarrierServiceGroupName", "CarrierServiceGroupName")),
            service_reference=_str(_get(alloc_raw, "MpdCarrierServiceReference", "CarrierServiceReference")),
            service_name=_str(_get(alloc_raw, "MpdCarrierServiceName", "CarrierServiceName")),
            carrier_name=_str(_get(alloc_raw, "CarrierName", "MpdCarrierName")),
            carrier_reference=_str(_get(alloc_raw, "CarrierReference", "MpdCarrierReference")),
            allocated_at=_datetime(_get(alloc_raw, "AllocationDate")),
            price=price,
        )
    failed_raw = _get(data, "FailedAllocation")
    failed = None
    if isinstance(failed_raw, Mapping):
        failed = FailedAllocation(
            group_reference=_str(_get(failed_raw, "CarrierServiceGroupReference")),
            service_reference=_str(_get(failed_raw, "MpdCarrierServiceReference")),
            attempted_at=_datetime(_get(failed_raw, "AttemptedAllocationDate")),
            message=_str(_get(failed_raw, "Message")),
        )
    tracking: dict[str, None] = {}
    legs = [leg for leg in _list(_get(data, "ConsignmentLegs", "Legs")) if isinstance(leg, Mapping)]
    for leg in legs:
        for ref in _tracking(leg):
            tracking.setdefault(ref, None)
    if allocation is not None and not allocation.carrier_name and legs:
        # The allocation block may lack the carrier; the first leg often names it.
        allocation = replace(allocation, carrier_name=_str(_get(legs[0], "CarrierName")),
                             carrier_reference=allocation.carrier_reference or _str(_get(legs[0], "CarrierReference")))
    for package in _list(_get(data, "Packages")):
        for ref in _tracking(package):
            tracking.setdefault(ref, None)
    return Consignment(
        reference=_str(_get(data, "Reference", "ConsignmentReference")) or reference,
        state=_str(_get(data, "ConsignmentState", "State", "Status")),
        shipping_date=_datetime(_get(data, "ShippingDate")),
        allocation=allocation,
        failed_allocation=failed,
        tracking_references=tuple(tracking),
        raw=data,
    )


def parse_status(data: Any) -> ConsignmentStatus:
    if not isinstance(data, Mapping):
        raise ValueError("status answer is not an object")
    return ConsignmentStatus(
        reference=_str(_get(data, "ConsignmentReferenceForAllLegsAssignedByMpd", "Reference")),
        state=_str(_get(data, "Status", "ConsignmentState")),
        expected_delivery=_datetime(_get(data, "ExpectedDeliveryDate")),
    )


def parse_service_groups(data: Any) -> list[ServiceGroup]:
    items = data if isinstance(data, list) else _list(_get(data, "ServiceGroups", "CarrierServiceGroups", "Items"))
    groups = []
    for item in items:
        ref = _str(_get(item, "Reference", "Code", "MpdCarrierServiceGroupReference"))
        if ref:
            enabled = _get(item, "IsEnabled", "Enabled")
            groups.append(ServiceGroup(ref, _str(_get(item, "Name")) or ref, enabled is not False))
    return groups


def parse_carrier_services(data: Any) -> list[CarrierService]:
    items = data if isinstance(data, list) else _list(_get(data, "MpdCarrierServices", "CarrierServices"))
    services = []
    for item in items:
        ref = _str(_get(item, "Reference", "MpdCarrierServiceReference"))
        if ref:
            services.append(
                CarrierService(
                    reference=ref,
                    name=_str(_get(item, "Name", "MpdCarrierServiceName")) or ref,
                    carrier_name=_str(_get(item, "CarrierName", "MpdCarrierName")),
                    carrier_reference=_str(_get(item, "CarrierReference", "MpdCarrierReference")),
                )
            )
    return services


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or odd."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (now if now is not None else time.time())
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, 24 * 3600.0))
