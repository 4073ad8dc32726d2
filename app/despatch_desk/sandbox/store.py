"""The sandbox's data and business rules, without any HTTP.

All public methods are thread-safe (one re-entrant lock).  Errors that the API would answer
with an error body are raised as :class:`ApiError`.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Iterable

from . import labels
from .catalogue import (
    COUNTRY_NAMES,
    Catalogue,
    CarrierService,
    Quote,
    ServiceGroup,
    default_catalogue,
    destination_country,
    package_weights,
)
from .demo import DEMO_SPECS, ORIGIN

__all__ = [
    "ApiError",
    "SandboxStore",
    "Allocation",
    "REFERENCE_RE",
    "STATES",
    "ALLOCATABLE_STATES",
    "DEALLOCATABLE_STATES",
    "LABEL_STATES",
]

REFERENCE_RE = re.compile(r"^EC-[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{3}$")

STATES: tuple[str, ...] = (
    "Unallocated",
    "Allocating",
    "AllocationFailed",
    "Allocated",
    "Manifesting",
    "Manifested",
    "ManifestFailed",
    "InTransit",
    "Delivered",
    "Cancelling",
    "Cancelled",
)
ALLOCATABLE_STATES = frozenset({"Unallocated", "AllocationFailed"})
DEALLOCATABLE_STATES = frozenset({"Allocated", "Manifested", "ManifestFailed"})
#: States in which a consignment holds an allocation (and so has labels).
LABEL_STATES = frozenset({"Allocated", "Manifesting", "Manifested", "ManifestFailed", "InTransit", "Delivered"})

LABEL_FORMATS = {"PDF": "PDF", "ZPL": "ZPL", "ZPLII": "ZPL"}
ZPL_CONTENT_TYPE = "text/plain"


class ApiError(Exception):
    """An application error: HTTP status + the documented error body fields."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass
class Allocation:
    """Result of one allocation attempt (what the HTTP layer needs to build its answer)."""

    reference: str
    allocated: bool
    group: ServiceGroup
    service: CarrierService | None = None
    carrier_name: str = ""
    carrier_reference: str = ""
    tracking: tuple[str, ...] = ()
    shipping_date: str = ""
    reason: str = ""
    quotes: tuple[Quote, ...] = ()


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def add_business_days(day: date, days: int) -> date:
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def not_found(reference: str) -> ApiError:
    return ApiError(404, "ObjectNotFound", f"Consignment {reference} not found")


class SandboxStore:
    def __init__(
        self,
        catalogue: Catalogue | None = None,
        seed: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.catalogue = catalogue or default_catalogue()
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._consignments: dict[str, dict] = {}
        self._expected: dict[str, str | None] = {}
        self._tokens: dict[str, str] = {}  # reference -> token of a pending (202) allocation
        self.deallocations: dict[str, int] = {}  # reference -> deallocations performed (tests count them)
        self._timers: set[threading.Timer] = set()
        self._seq = 0
        self._generated = 0
        self.reset(seed)

    # -- seeding --------------------------------------------------------------------------------
    def reset(self, seed: bool = True) -> None:
        with self.lock:
            self.cancel_timers()
            self._consignments.clear()
            self._expected.clear()
            self._tokens.clear()
            self._seq = 0
            self._generated = 0
            if seed:
                self._seed()

    def _seed(self) -> None:
        now = self.clock()
        for spec in DEMO_SPECS:
            c = self._build(
                spec.reference,
                first_name=spec.first_name,
                last_name=spec.last_name,
                company=spec.company,
                address=spec.address,
                town=spec.town,
                postcode=spec.postcode,
                country=spec.country,
                packages=[{"weight_kg": kg, "dims": dims, "description": desc} for kg, dims, desc in spec.packages],
                customer_reference=f"ORD-{10230 + int(spec.reference[-3:])}",
                now=now,
            )
            self._consignments[spec.reference] = c
            self._expected[spec.reference] = None
            if spec.state != "Unallocated":
                self._force_state(c, spec.state, spec.group, when=now - timedelta(hours=2))

    def _build(
        self,
        reference: str,
        *,
        first_name: str,
        last_name: str,
        address: str,
        town: str,
        postcode: str,
        country: str,
        packages: list[dict],
        customer_reference: str | None,
        now: datetime,
        company: str = "",
    ) -> dict:
        shipping = datetime.combine(now.date(), time(17, 0), tzinfo=timezone.utc)
        pkgs = []
        for i, p in enumerate(packages, start=1):
            length, width, height = p.get("dims") or (30, 20, 15)
            pkgs.append(
                {
                    "Reference": f"EP{reference[2:]}-{i}",
                    "Description": p.get("description") or "Goods",
                    "Weight": {"Value": round(float(p["weight_kg"]), 3), "Unit": "Kg"},
                    "Dimensions": {"Length": length, "Width": width, "Height": height, "Unit": "Cm"},
                    "Value": {"Amount": round(20.0 + 5 * float(p["weight_kg"]), 2), "Currency": {"IsoCode": "GBP"}},
                }
            )
        return {
            "Reference": reference,
            "CustomerReference": customer_reference,
            "Source": "Api",
            "ConsignmentState": "Unallocated",
            "ShippingDate": iso(shipping),
            "CreatedDate": iso(now),
            "Addresses": [
                _address(
                    "Origin",
                    ORIGIN["first_name"],
                    ORIGIN["last_name"],
                    ORIGIN["company"],
                    ORIGIN["address"],
                    ORIGIN["town"],
                    ORIGIN["postcode"],
                    ORIGIN["country"],
                ),
                _address("Destination", first_name, last_name, company, address, town, postcode, country),
            ],
            "Packages": pkgs,
            "Allocation": None,
            "FailedAllocation": None,
            "ConsignmentLegs": [],
        }

    # -- test helpers ---------------------------------------------------------------------------
    def add_consignment(
        self,
        reference: str | None = None,
        *,
        weight_kg: float = 1.0,
        packages: Iterable[float | dict] | None = None,
        country: str = "GB",
        state: str = "Unallocated",
        group: str | None = None,
        length_cm: float = 30,
        width_cm: float = 20,
        height_cm: float = 15,
        first_name: str = "Test",
        last_name: str = "Recipient",
        address: str = "1 Test Street",
        town: str = "London",
        postcode: str = "EC1A 1BB",
        customer_reference: str | None = None,
    ) -> str:
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; valid: {', '.join(STATES)}")
        if packages is None:
            pkg_list = [{"weight_kg": weight_kg, "dims": (length_cm, width_cm, height_cm)}]
        else:
            pkg_list = []
            for p in packages:
                if isinstance(p, dict):
                    d = dict(p)
                    d.setdefault("dims", (length_cm, width_cm, height_cm))
                    pkg_list.append(d)
                else:
                    pkg_list.append({"weight_kg": float(p), "dims": (length_cm, width_cm, height_cm)})
            if not pkg_list:
                raise ValueError("a consignment needs at least one package")
        with self.lock:
            if reference is None:
                reference = self._new_reference()
            elif not REFERENCE_RE.match(reference):
                raise ValueError(f"reference {reference!r} is not in the EC-xxx-xxx-xxx format")
            elif reference in self._consignments:
                raise ValueError(f"consignment {reference} already exists")
            now = self.clock()
            c = self._build(
                reference,
                first_name=first_name,
                last_name=last_name,
                address=address,
                town=town,
                postcode=postcode,
                country=country.upper(),
                packages=pkg_list,
                customer_reference=customer_reference,
                now=now,
            )
            self._consignments[reference] = c
            self._expected[reference] = None
            if state != "Unallocated":
                self._force_state(c, state, group, when=now, strict=True)
            return reference

    def _new_reference(self) -> str:
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        while True:
            n = self._generated
            self._generated += 1
            digits = ""
            for _ in range(6):
                n, r = divmod(n, 36)
                digits = alphabet[r] + digits
            ref = f"EC-TST-{digits[:3]}-{digits[3:]}"
            if ref not in self._consignments:
                return ref

    def set_state(self, reference: str, state: str, group: str | None = None) -> None:
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; valid: {', '.join(STATES)}")
        with self.lock:
            c = self._consignments.get(reference)
            if c is None:
                raise KeyError(reference)
            self._tokens.pop(reference, None)
            self._force_state(c, state, group, when=self.clock())

    def _force_state(self, c: dict, state: str, group: str | None, when: datetime, strict: bool = False) -> None:
        ref = c["Reference"]
        if state == "Unallocated":
            self._clear_allocation(c)
        elif state in LABEL_STATES and c.get("Allocation") is None:
            done = False
            for grp in self._groups_to_try(group):
                service, _ = self.catalogue.choose(grp, c)
                if service is not None:
                    self._commit(c, grp, service, when)
                    done = True
                    break
            if not done and strict:
                raise ValueError(f"no service group can allocate {ref}; cannot put it in state {state}")
        elif state == "AllocationFailed" and c.get("FailedAllocation") is None:
            self._clear_allocation(c)
            grp = self._groups_to_try(group)[0]
            service, reason = self.catalogue.choose(grp, c)
            c["FailedAllocation"] = {
                "CarrierServiceGroupReference": grp.reference,
                "MpdCarrierServiceReference": None,
                "AttemptedAllocationDate": iso(when),
                "Message": reason or f"Allocation with group '{grp.reference}' failed",
            }
        c["ConsignmentState"] = state

    def _groups_to_try(self, group: str | None) -> list[ServiceGroup]:
        if group is not None:
            grp = self.catalogue.find_group(group)
            if grp is None:
                raise ValueError(f"unknown service group {group!r}")
            return [grp]
        return list(self.catalogue.groups.values())

    def consignment(self, reference: str) -> dict:
        with self.lock:
            c = self._consignments.get(reference)
            if c is None:
                raise KeyError(reference)
            return copy.deepcopy(c)

    def references(self) -> list[str]:
        with self.lock:
            return list(self._consignments)

    def quote(self, reference: str, group_code: str) -> list[Quote]:
        with self.lock:
            c = self._consignments.get(reference)
            if c is None:
                raise KeyError(reference)
            grp = self.catalogue.find_group(group_code)
            if grp is None:
                raise KeyError(group_code)
            return self.catalogue.quote(grp, c)

    # -- API operations -------------------------------------------------------------------------
    def _get(self, reference: str) -> dict:
        c = self._consignments.get(reference) if REFERENCE_RE.match(reference) else None
        if c is None:
            raise not_found(reference)
        return c

    def get_consignment(self, reference: str) -> dict:
        with self.lock:
            return copy.deepcopy(self._get(reference))

    def get_status(self, reference: str, base_url: str) -> dict:
        with self.lock:
            c = self._get(reference)
            return {
                "ConsignmentReferenceForAllLegsAssignedByMpd": reference,
                "Status": c["ConsignmentState"],
                "ExpectedDeliveryDate": self._expected.get(reference),
                "ApiLink": {"Rel": "detail", "Href": f"{base_url}/consignments/{reference}"},
            }

    def _check_allocatable(self, reference: str, group_code: str) -> tuple[dict, ServiceGroup]:
        c = self._get(reference)
        grp = self.catalogue.find_group(group_code)
        if grp is None:
            raise ApiError(
                400,
                "CarrierServiceGroupNotFoundForCustomer",
                f"No carrier service group with reference '{group_code}' found",
            )
        state = c["ConsignmentState"]
        if state not in ALLOCATABLE_STATES:
            raise ApiError(
                400,
                "OperationFailed",
                f"Consignment {reference} cannot be allocated because it is in state {state}",
                [{"Code": "InvalidConsignmentState", "Target": "ConsignmentState", "Message": state}],
            )
        if not grp.enabled:
            raise ApiError(400, "OperationFailed", f"Carrier service group '{grp.reference}' is disabled")
        return c, grp

    def allocate(self, reference: str, group_code: str) -> Allocation:
        """Allocate now (atomically: concurrent calls on one consignment allocate it once)."""
        with self.lock:
            c, grp = self._check_allocatable(reference, group_code)
            return self._decide(c, grp)

    def begin_allocation(self, reference: str, group_code: str) -> str:
        """Validate, put the consignment in Allocating and return a token for finish_allocation."""
        with self.lock:
            c, grp = self._check_allocatable(reference, group_code)
            token = uuid.uuid4().hex
            self._tokens[reference] = token
            c["ConsignmentState"] = "Allocating"
            c["Allocation"] = None
            c["ConsignmentLegs"] = []
            return token

    def finish_allocation(self, reference: str, group_code: str, token: str) -> Allocation | None:
        with self.lock:
            c = self._consignments.get(reference)
            if c is None or self._tokens.get(reference) != token or c["ConsignmentState"] != "Allocating":
                return None
            del self._tokens[reference]
            grp = self.catalogue.find_group(group_code)
            assert grp is not None
            return self._decide(c, grp)

    def schedule(self, delay: float, func: Callable[[], Any]) -> None:
        """Run ``func`` after ``delay`` seconds on a timer thread (cancelled by cancel_timers)."""

        def run() -> None:
            with self.lock:
                self._timers.discard(timer)
            func()

        timer = threading.Timer(delay, run)
        timer.daemon = True
        with self.lock:
            self._timers.add(timer)
        timer.start()

    def cancel_timers(self) -> None:
        with self.lock:
            timers = list(self._timers)
            self._timers.clear()
        for t in timers:
            t.cancel()

    def _decide(self, c: dict, grp: ServiceGroup) -> Allocation:
        reference = c["Reference"]
        now = self.clock()
        quotes = tuple(self.catalogue.quote(grp, c))
        service, reason = self.catalogue.choose(grp, c)
        if service is None:
            self._clear_allocation(c)
            c["ConsignmentState"] = "AllocationFailed"
            c["FailedAllocation"] = {
                "CarrierServiceGroupReference": grp.reference,
                "MpdCarrierServiceReference": None,
                "AttemptedAllocationDate": iso(now),
                "Message": reason,
            }
            return Allocation(reference, False, grp, reason=reason, shipping_date=c["ShippingDate"], quotes=quotes)
        tracking = self._commit(c, grp, service, now)
        carrier = self.catalogue.carrier_of(service)
        return Allocation(
            reference,
            True,
            grp,
            service=service,
            carrier_name=carrier.name,
            carrier_reference=carrier.reference,
            tracking=tuple(tracking),
            shipping_date=c["ShippingDate"],
            quotes=quotes,
        )

    def _commit(self, c: dict, grp: ServiceGroup, service: CarrierService, when: datetime) -> list[str]:
        self._seq += 1
        reference = c["Reference"]
        carrier = self.catalogue.carrier_of(service)
        tracking = [
            self.catalogue.tracking_number(service, reference, self._seq, i)
            for i in range(1, len(c["Packages"]) + 1)
        ]
        net = service.net_price(sum(package_weights(c)))
        vat = round(net * 0.20, 2) if destination_country(c) == "GB" else 0.0
        c["ConsignmentState"] = "Allocated"
        c["Allocation"] = {
            "CarrierServiceGroupReference": grp.reference,
            "MpdCarrierServiceGroupName": grp.name,
            "MpdCarrierServiceReference": service.reference,
            "MpdCarrierServiceName": service.name,
            "AllocationDate": iso(when),
            "Price": {
                "Net": net,
                "Gross": round(net + vat, 2),
                "VatAmount": vat,
                "Currency": {"IsoCode": "GBP"},
            },
        }
        c["FailedAllocation"] = None
        c["ConsignmentLegs"] = [
            {
                "Leg": 1,
                "TrackingReferences": tracking,
                "CarrierReference": carrier.reference,
                "CarrierName": carrier.name,
                "CarrierServiceReference": service.reference,
                "CarrierServiceName": service.name,
            }
        ]
        ship = parse_iso(c["ShippingDate"])
        expected = datetime.combine(add_business_days(ship.date(), service.transit_days), time(18, 0), tzinfo=timezone.utc)
        self._expected[reference] = iso(expected)
        return tracking

    def _clear_allocation(self, c: dict) -> None:
        c["Allocation"] = None
        c["ConsignmentLegs"] = []
        self._expected[c["Reference"]] = None

    def deallocate(self, reference: str) -> None:
        with self.lock:
            c = self._get(reference)
            state = c["ConsignmentState"]
            if state not in DEALLOCATABLE_STATES:
                raise ApiError(
                    400,
                    "OperationFailed",
                    f"Consignment {reference} cannot be deallocated because it is in state {state}",
                )
            self._clear_allocation(c)
            c["FailedAllocation"] = None
            c["ConsignmentState"] = "Unallocated"
            key = reference.upper()
            self.deallocations[key] = self.deallocations.get(key, 0) + 1

    # -- labels ---------------------------------------------------------------------------------
    def label(self, reference: str, fmt: str, dpi: int | None) -> tuple[bytes, str]:
        kind = LABEL_FORMATS.get(fmt.upper())
        if kind is None:
            raise ApiError(
                400,
                "InvalidRequest",
                f"Label format '{fmt}' is not supported; use PDF, ZPL or ZPLII",
            )
        with self.lock:
            c = self._get(reference)
            state = c["ConsignmentState"]
            if state not in LABEL_STATES or c.get("Allocation") is None:
                raise ApiError(
                    400,
                    "LabelNotFound",
                    f"No label available: consignment {reference} is not allocated (state {state})",
                )
            info = self._label_info(c)
        if kind == "PDF":
            return labels.render_pdf(info), "application/pdf"
        return labels.render_zpl(info, dpi or 203).encode("utf-8"), ZPL_CONTENT_TYPE

    def _label_info(self, c: dict) -> labels.LabelInfo:
        alloc = c["Allocation"]
        service = self.catalogue.services.get(alloc["MpdCarrierServiceReference"])
        leg = (c.get("ConsignmentLegs") or [{}])[0]
        tracking = list(leg.get("TrackingReferences") or [])
        dest = next(a for a in c["Addresses"] if a["AddressType"] == "Destination")
        origin = next(a for a in c["Addresses"] if a["AddressType"] == "Origin")
        contact = dest.get("Contact") or {}
        lines = [x for x in (dest.get("CompanyName"), dest.get("AddressLine1"), dest.get("AddressLine2"), dest.get("Town")) if x]
        packages = c["Packages"]
        parcels = [
            labels.LabelParcel(
                tracking[i] if i < len(tracking) else (tracking[0] if tracking else "NO-TRACKING"),
                float(p["Weight"]["Value"]),
                i + 1,
                len(packages),
            )
            for i, p in enumerate(packages)
        ]
        origin_line = ", ".join(
            x for x in (origin.get("CompanyName"), origin.get("AddressLine1"), origin.get("Town"), origin.get("Postcode")) if x
        )
        return labels.LabelInfo(
            reference=c["Reference"],
            carrier_name=leg.get("CarrierName") or "",
            service_name=alloc["MpdCarrierServiceName"],
            service_code=service.label_code if service else "",
            group_reference=alloc["CarrierServiceGroupReference"],
            ship_date=parse_iso(c["ShippingDate"]).strftime("%d/%m/%Y"),
            ship_to_name=" ".join(x for x in (contact.get("FirstName"), contact.get("LastName")) if x),
            ship_to_lines=lines,
            postcode=dest.get("Postcode") or "",
            country=(dest.get("Country") or {}).get("Name") or "",
            ship_from=origin_line,
            customer_reference=c.get("CustomerReference") or "",
            created=parse_iso(alloc["AllocationDate"]),
            parcels=parcels,
        )


def _address(
    kind: str,
    first_name: str,
    last_name: str,
    company: str,
    line1: str,
    town: str,
    postcode: str,
    country: str,
) -> dict:
    three, name = COUNTRY_NAMES.get(country, (country, country))
    slug = f"{first_name}.{last_name}".lower().replace(" ", "")
    return {
        "AddressType": kind,
        "Contact": {
            "Title": None,
            "FirstName": first_name,
            "LastName": last_name,
            "Email": f"{slug}@example.com",
            "Telephone": "01632 960000",
        },
        "CompanyName": company or None,
        "AddressLine1": line1,
        "AddressLine2": None,
        "Town": town,
        "Region": None,
        "Postcode": postcode,
        "Country": {"Name": name, "IsoCode": {"TwoLetterCode": country, "ThreeLetterCode": three}},
    }
