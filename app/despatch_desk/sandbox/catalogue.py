"""Carriers, carrier services and service groups of the sandbox, with the allocation rules.

All carrier names are fictional.  Prices are ``base + per_kg * total weight`` (GBP, net);
VAT is 20 % for GB destinations and 0 % for exports.

=============  ==============================  ===================  ======  ======  ========  =======  ==========  =======
Reference      Name                            Carrier              Base £  £/kg    Max pkg   Max len  Countries   Transit
=============  ==============================  ===================  ======  ======  ========  =======  ==========  =======
SWP_NDAY12     Next Day 12:00                  Swift Parcels         8.95    0.45    30 kg    120 cm   GB          1 day
SWP_NDAY       Next Day                        Swift Parcels         6.40    0.35    30 kg    120 cm   GB          1 day
SWP_SAT        Saturday Delivery (DISABLED)    Swift Parcels        11.90    0.45    30 kg    120 cm   GB          1 day
ALB_TRK24      Tracked 24                      Albion Post           4.20    0.30    20 kg     61 cm   GB          1 day
ALB_TRK48      Tracked 48                      Albion Post           3.35    0.25    20 kg     61 cm   GB          2 days
ALB_SDG        Special Delivery Guaranteed     Albion Post           8.50    0.60    10 kg     61 cm   GB          1 day
ALB_INTL       International Tracked           Albion Post          11.50    4.80     2 kg     60 cm   worldwide*  6 days
CCO_ECO        Economy 72                      Courier Co            2.95    0.40    15 kg    100 cm   GB          3 days
                                                                                    (25 kg total)
NWF_HVY        Heavy Parcel 48                 Northway Freight     12.50    0.22    70 kg    200 cm   GB          2 days
NWF_PLT        Pallet 48                       Northway Freight     39.00    0.12  1000 kg    240 cm   GB          2 days
CEX_EURO       Euro Road                       Continental Express   9.80    0.90    30 kg    150 cm   EU-27       4 days
CEX_WWX        Worldwide Express               Continental Express  24.00    3.20    30 kg    150 cm   worldwide*  3 days
=============  ==============================  ===================  ======  ======  ========  =======  ==========  =======

``*`` worldwide except embargoed destinations (KP, IR, SY, CU).

Service groups (the codes are what the client sends):

=================  ==================================  =========================================
Code               Name                                Members
=================  ==================================  =========================================
nextDay            Next day                            SWP_NDAY12, SWP_NDAY, ALB_TRK24, SWP_SAT
economy            Economy 2-3 day                     ALB_TRK48, CCO_ECO, NWF_HVY
international      International                       CEX_EURO, CEX_WWX, ALB_INTL
valuableGoods      Valuable goods (signed & insured)   ALB_SDG, SWP_NDAY12
heavy              Heavy & bulky                       NWF_HVY, NWF_PLT
=================  ==================================  =========================================
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

__all__ = [
    "Carrier",
    "CarrierService",
    "ServiceGroup",
    "Catalogue",
    "Quote",
    "EU_COUNTRIES",
    "EMBARGOED",
    "COUNTRY_NAMES",
    "default_catalogue",
]

EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
EMBARGOED = frozenset({"KP", "IR", "SY", "CU"})

COUNTRY_NAMES: dict[str, tuple[str, str]] = {
    # two-letter -> (three-letter, name)
    "GB": ("GBR", "United Kingdom"),
    "FR": ("FRA", "France"),
    "DE": ("DEU", "Germany"),
    "IE": ("IRL", "Ireland"),
    "NL": ("NLD", "Netherlands"),
    "ES": ("ESP", "Spain"),
    "IT": ("ITA", "Italy"),
    "US": ("USA", "United States"),
    "AU": ("AUS", "Australia"),
    "CA": ("CAN", "Canada"),
    "JP": ("JPN", "Japan"),
    "CH": ("CHE", "Switzerland"),
    "NO": ("NOR", "Norway"),
    "KP": ("PRK", "Korea, Democratic People's Republic of"),
}

VAT_RATE_GB = 0.20


@dataclass(frozen=True)
class Carrier:
    reference: str
    name: str
    tracking_style: str  # "s10", or a prefix for "<prefix><digits>"


@dataclass(frozen=True)
class CarrierService:
    reference: str
    name: str
    carrier_reference: str
    base_price: float
    per_kg: float
    max_package_kg: float
    max_length_cm: float | None = None
    max_total_kg: float | None = None
    countries: frozenset[str] | None = None  # None = worldwide (less EMBARGOED)
    transit_days: int = 1
    enabled: bool = True
    label_code: str = ""

    def serves(self, country: str) -> bool:
        if self.countries is None:
            return country not in EMBARGOED
        return country in self.countries

    def net_price(self, total_kg: float) -> float:
        return round(self.base_price + self.per_kg * total_kg, 2)


@dataclass(frozen=True)
class ServiceGroup:
    reference: str
    name: str
    services: tuple[str, ...]
    enabled: bool = True


@dataclass(frozen=True)
class Quote:
    """How one service of a group fares for one consignment."""

    service: str
    eligible: bool
    net: float
    reason: str | None = None  # why not eligible
    kind: str | None = None  # "disabled", "country", "package_weight", "total_weight", "length"
    limit: float | None = None


@dataclass
class Catalogue:
    carriers: dict[str, Carrier] = field(default_factory=dict)
    services: dict[str, CarrierService] = field(default_factory=dict)
    groups: dict[str, ServiceGroup] = field(default_factory=dict)

    # -- look-ups ---------------------------------------------------------------------------
    def find_group(self, code: str) -> ServiceGroup | None:
        group = self.groups.get(code)
        if group is not None:
            return group
        lowered = code.lower()
        for ref, grp in self.groups.items():
            if ref.lower() == lowered:
                return grp
        return None

    def carrier_of(self, service: CarrierService) -> Carrier:
        return self.carriers[service.carrier_reference]

    # -- allocation rules ---------------------------------------------------------------------
    def quote(self, group: ServiceGroup, consignment: dict) -> list[Quote]:
        """Evaluate every member of ``group`` for ``consignment`` (the stored JSON dict)."""
        country = destination_country(consignment)
        weights = package_weights(consignment)
        heaviest = max(weights, default=0.0)
        total = sum(weights)
        longest = longest_side(consignment)
        quotes: list[Quote] = []
        for ref in group.services:
            svc = self.services[ref]
            net = svc.net_price(total)
            if not svc.enabled:
                quotes.append(Quote(ref, False, net, f"{ref} is disabled", "disabled"))
            elif not svc.serves(country):
                quotes.append(
                    Quote(ref, False, net, f"{ref} does not deliver to {country}", "country")
                )
            elif heaviest > svc.max_package_kg:
                quotes.append(
                    Quote(
                        ref,
                        False,
                        net,
                        f"{ref} takes packages up to {svc.max_package_kg:g} kg",
                        "package_weight",
                        svc.max_package_kg,
                    )
                )
            elif svc.max_total_kg is not None and total > svc.max_total_kg:
                quotes.append(
                    Quote(
                        ref,
                        False,
                        net,
                        f"{ref} takes consignments up to {svc.max_total_kg:g} kg in total",
                        "total_weight",
                        svc.max_total_kg,
                    )
                )
            elif svc.max_length_cm is not None and longest > svc.max_length_cm:
                quotes.append(
                    Quote(
                        ref,
                        False,
                        net,
                        f"{ref} takes packages up to {svc.max_length_cm:g} cm long",
                        "length",
                        svc.max_length_cm,
                    )
                )
            else:
                quotes.append(Quote(ref, True, net))
        return quotes

    def choose(self, group: ServiceGroup, consignment: dict) -> tuple[CarrierService | None, str]:
        """Return (cheapest eligible service, "") or (None, reason why none fits)."""
        quotes = self.quote(group, consignment)
        eligible = [q for q in quotes if q.eligible]
        if eligible:
            # min() keeps the first of equal prices: group order breaks ties.
            best = min(eligible, key=lambda q: q.net)
            return self.services[best.service], ""
        return None, self._failure_reason(group, consignment, quotes)

    def _failure_reason(self, group: ServiceGroup, consignment: dict, quotes: list[Quote]) -> str:
        head = f"No carrier service in group '{group.reference}' can take this consignment: "
        enabled = [q for q in quotes if q.kind != "disabled"]
        if not enabled:
            return head + "the group has no enabled carrier service"
        kinds = {q.kind for q in enabled}
        if len(kinds) == 1:
            kind = kinds.pop()
            limits = [q.limit for q in enabled if q.limit is not None]
            if kind == "country":
                country = destination_country(consignment)
                return head + f"destination country {country} is not served by any service in the group"
            if kind == "package_weight":
                heaviest = max(package_weights(consignment), default=0.0)
                return head + (
                    f"package weight {heaviest:.1f} kg exceeds every service's limit "
                    f"(max {max(limits):g} kg)"
                )
            if kind == "total_weight":
                total = sum(package_weights(consignment))
                return head + (
                    f"total weight {total:.1f} kg exceeds every service's limit "
                    f"(max {max(limits):g} kg)"
                )
            if kind == "length":
                return head + (
                    f"longest package side {longest_side(consignment):g} cm exceeds every "
                    f"service's limit (max {max(limits):g} cm)"
                )
        return head + "; ".join(q.reason or q.service for q in enabled)

    # -- tracking -----------------------------------------------------------------------------
    def tracking_number(self, service: CarrierService, reference: str, seq: int, package: int) -> str:
        """A tracking number in the carrier's style, unique per (seq, package)."""
        carrier = self.carrier_of(service)
        crc = zlib.crc32(f"{reference}:{service.reference}:{seq}:{package}".encode())
        if carrier.tracking_style == "s10":
            serial = (seq * 1000 + package * 97 + crc) % 100_000_000
            return s10(carrier.reference[:1] + service.reference[4:5], serial, "GB")
        digits = f"{seq % 10000:04d}{package % 100:02d}{crc % 1_000_000:06d}"
        return f"{carrier.tracking_style}{digits}"


def s10(prefix: str, serial: int, country: str) -> str:
    """UPU S10 identifier: 2 letters, 8 digits, check digit, ISO country (e.g. AT123456785GB)."""
    digits = f"{serial:08d}"
    total = sum(int(d) * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7)))
    check = 11 - total % 11
    if check == 10:
        check = 0
    elif check == 11:
        check = 5
    return f"{prefix.upper():A<2.2}{digits}{check}{country}"


# -- consignment JSON helpers -------------------------------------------------------------------


def destination_country(consignment: dict) -> str:
    for addr in consignment.get("Addresses") or []:
        if addr.get("AddressType") == "Destination":
            try:
                return addr["Country"]["IsoCode"]["TwoLetterCode"]
            except (KeyError, TypeError):
                return ""
    return ""


def package_weights(consignment: dict) -> list[float]:
    weights = []
    for pkg in consignment.get("Packages") or []:
        try:
            weights.append(float(pkg["Weight"]["Value"]))
        except (KeyError, TypeError, ValueError):
            weights.append(0.0)
    return weights


def longest_side(consignment: dict) -> float:
    longest = 0.0
    for pkg in consignment.get("Packages") or []:
        dims = pkg.get("Dimensions") or {}
        for key in ("Length", "Width", "Height"):
            try:
                longest = max(longest, float(dims.get(key) or 0))
            except (TypeError, ValueError):
                pass
    return longest


# -- the demo catalogue ---------------------------------------------------------------------------

GB = frozenset({"GB"})


def default_catalogue() -> Catalogue:
    carriers = [
        Carrier("SWIFT", "Swift Parcels", "SWP"),
        Carrier("ALBION", "Albion Post", "s10"),
        Carrier("COURIERCO", "Courier Co", "CC"),
        Carrier("NORTHWAY", "Northway Freight", "NWF"),
        Carrier("CONTEX", "Continental Express", "CE"),
    ]
    services = [
        CarrierService("SWP_NDAY12", "Next Day 12:00", "SWIFT", 8.95, 0.45, 30, 120, None, GB, 1, True, "12"),
        CarrierService("SWP_NDAY", "Next Day", "SWIFT", 6.40, 0.35, 30, 120, None, GB, 1, True, "24"),
        CarrierService("SWP_SAT", "Saturday Delivery", "SWIFT", 11.90, 0.45, 30, 120, None, GB, 1, False, "SAT"),
        CarrierService("ALB_TRK24", "Tracked 24", "ALBION", 4.20, 0.30, 20, 61, None, GB, 1, True, "24"),
        CarrierService("ALB_TRK48", "Tracked 48", "ALBION", 3.35, 0.25, 20, 61, None, GB, 2, True, "48"),
        CarrierService("ALB_SDG", "Special Delivery Guaranteed", "ALBION", 8.50, 0.60, 10, 61, None, GB, 1, True, "SD"),
        CarrierService("ALB_INTL", "International Tracked", "ALBION", 11.50, 4.80, 2, 60, None, None, 6, True, "INT"),
        CarrierService("CCO_ECO", "Economy 72", "COURIERCO", 2.95, 0.40, 15, 100, 25, GB, 3, True, "72"),
        CarrierService("NWF_HVY", "Heavy Parcel 48", "NORTHWAY", 12.50, 0.22, 70, 200, None, GB, 2, True, "HVY"),
        CarrierService("NWF_PLT", "Pallet 48", "NORTHWAY", 39.00, 0.12, 1000, 240, None, GB, 2, True, "PLT"),
        CarrierService("CEX_EURO", "Euro Road", "CONTEX", 9.80, 0.90, 30, 150, None, EU_COUNTRIES, 4, True, "EU"),
        CarrierService("CEX_WWX", "Worldwide Express", "CONTEX", 24.00, 3.20, 30, 150, None, None, 3, True, "WWX"),
    ]
    groups = [
        ServiceGroup("nextDay", "Next day", ("SWP_NDAY12", "SWP_NDAY", "ALB_TRK24", "SWP_SAT")),
        ServiceGroup("economy", "Economy 2-3 day", ("ALB_TRK48", "CCO_ECO", "NWF_HVY")),
        ServiceGroup("international", "International", ("CEX_EURO", "CEX_WWX", "ALB_INTL")),
        ServiceGroup("valuableGoods", "Valuable goods (signed & insured)", ("ALB_SDG", "SWP_NDAY12")),
        ServiceGroup("heavy", "Heavy & bulky", ("NWF_HVY", "NWF_PLT")),
    ]
    return Catalogue(
        carriers={c.reference: c for c in carriers},
        services={s.reference: s for s in services},
        groups={g.reference: g for g in groups},
    )
