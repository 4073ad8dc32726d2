"""Demo data loaded by ``SandboxServer(seed=True)`` and ``SandboxServer.reset()``.

The shipper is a fictional UK business (Despatch Desk Demo Ltd, Milton Keynes).  Every reference
below is fixed, so demos, screenshots and tests can rely on them.  "→" shows what allocating with
the suggested group gives (cheapest eligible service wins; see ``catalogue.py`` for the rules).

==============  =================  =========  ============================================================
Reference       State              Dest/kg    What it demonstrates
==============  =================  =========  ============================================================
EC-000-DSK-001  Unallocated        GB 1.2     everyday parcel; nextDay → Albion Post Tracked 24
EC-000-DSK-002  Unallocated        GB 0.4     small parcel; economy → Courier Co Economy 72
EC-000-DSK-003  Unallocated        GB 2.5     nextDay → Albion Post Tracked 24
EC-000-DSK-004  Unallocated        GB 4.8     economy → Albion Post Tracked 48 (cheaper than Courier Co here)
EC-000-DSK-005  Unallocated        GB 7.5     nextDay → Albion Post Tracked 24
EC-000-DSK-006  Unallocated        GB 12.0    90 cm long: too long for Albion; nextDay → Swift Parcels Next Day
EC-000-DSK-007  Unallocated        GB 18.5    nextDay → Albion Post Tracked 24 (just under its 20 kg limit)
EC-000-DSK-008  Unallocated        GB 24.0    over Albion's 20 kg; nextDay → Swift Parcels Next Day
EC-000-DSK-009  Unallocated        GB 29.9    just under the 30 kg next-day limit
EC-000-DSK-010  Unallocated        GB 6.6     three packages: one leg with three tracking references
EC-000-DSK-011  Unallocated        GB 0.9     a watch; valuableGoods → Albion Post Special Delivery Guaranteed
EC-000-DSK-012  Unallocated        GB 1.5     nextDay → Albion Post Tracked 24
EC-000-DSK-013  Unallocated        GB 0.25    large letter; economy → Courier Co Economy 72
EC-000-DSK-014  Unallocated        GB 38.0    nextDay FAILS (38 kg over every 30 kg limit); heavy → Northway
EC-000-DSK-015  Unallocated        GB 140     pallet; heavy → Northway Freight Pallet 48; others fail
EC-000-DSK-016  Unallocated        FR 2.0     international → Continental Express Euro Road
EC-000-DSK-017  Unallocated        DE 6.5     international → Continental Express Euro Road
EC-000-DSK-018  Unallocated        IE 1.0     international → Euro Road; nextDay FAILS (GB only)
EC-000-DSK-019  Unallocated        US 1.8     international → Albion Post International Tracked
EC-000-DSK-020  Unallocated        AU 3.5     international → Continental Express Worldwide Express (> 2 kg)
EC-000-DSK-021  Unallocated        KP 1.0     no service in any group delivers to KP: every group FAILS
EC-000-DSK-022  Allocated          GB 2.2     already allocated (nextDay): refused, label available
EC-000-DSK-023  Allocated          GB 5.0     already allocated (economy)
EC-000-DSK-024  Allocated          NL 3.0     already allocated (international)
EC-000-DSK-025  AllocationFailed   GB 32.0    an earlier nextDay attempt failed; retry with heavy works
EC-000-DSK-026  Cancelled          GB 1.0     cancelled: allocation refused
EC-000-DSK-027  Manifested         GB 3.3     manifested (collected): allocation refused, deallocate allowed
==============  =================  =========  ============================================================
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DemoConsignment", "DEMO_CONSIGNMENTS", "DEMO_SPECS", "ORIGIN", "DemoSpec"]


@dataclass(frozen=True)
class DemoConsignment:
    """What the GUI can show as a hint for one demo consignment."""

    reference: str
    state: str
    country: str
    weight_kg: float
    packages: int
    suggested_group: str | None
    hint: str


@dataclass(frozen=True)
class DemoSpec:
    reference: str
    hint: str
    first_name: str
    last_name: str
    address: str
    town: str
    postcode: str
    country: str
    packages: tuple[tuple[float, tuple[int, int, int], str], ...]  # (kg, (L, W, H) cm, description)
    state: str = "Unallocated"
    group: str | None = None  # suggested group / group of the (failed) allocation
    company: str = ""


ORIGIN = {
    "company": "Despatch Desk Demo Ltd",
    "first_name": "Sam",
    "last_name": "Patel",
    "address": "Unit 4, Brunel Park",
    "town": "Milton Keynes",
    "postcode": "MK10 0AB",
    "country": "GB",
}


def _p(kg: float, dims: tuple[int, int, int], description: str) -> tuple[float, tuple[int, int, int], str]:
    return (kg, dims, description)


DEMO_SPECS: tuple[DemoSpec, ...] = (
    DemoSpec("EC-000-DSK-001", "everyday parcel; nextDay gives Albion Post Tracked 24",
             "Jane", "Cooper", "14 Albert Road", "London", "N4 3RP", "GB",
             (_p(1.2, (30, 20, 10), "Books"),), group="nextDay"),
    DemoSpec("EC-000-DSK-002", "small parcel; economy gives Courier Co Economy 72",
             "Tom", "Hughes", "8 Canal Street", "Manchester", "M1 3HE", "GB",
             (_p(0.4, (22, 16, 4), "Phone case"),), group="economy"),
    DemoSpec("EC-000-DSK-003", "nextDay gives Albion Post Tracked 24",
             "Priya", "Shah", "52 Headingley Lane", "Leeds", "LS6 1BN", "GB",
             (_p(2.5, (40, 30, 15), "Kitchen scales"),), group="nextDay"),
    DemoSpec("EC-000-DSK-004", "economy gives Albion Post Tracked 48 (cheaper than Courier Co at 4.8 kg)",
             "Owen", "Davies", "3 Clifton Down", "Bristol", "BS8 3HT", "GB",
             (_p(4.8, (45, 35, 20), "Bedding"),), group="economy"),
    DemoSpec("EC-000-DSK-005", "nextDay gives Albion Post Tracked 24",
             "Fiona", "Campbell", "27 Byres Road", "Glasgow", "G11 5RD", "GB",
             (_p(7.5, (55, 30, 30), "Desk lamp"),), group="nextDay"),
    DemoSpec("EC-000-DSK-006", "90 cm long, too long for Albion Post; nextDay gives Swift Parcels Next Day",
             "Rhys", "Morgan", "19 Cathedral Road", "Cardiff", "CF11 9HA", "GB",
             (_p(12.0, (90, 25, 20), "Garden tools"),), group="nextDay"),
    DemoSpec("EC-000-DSK-007", "18.5 kg, just under Albion Post's 20 kg; nextDay gives Tracked 24",
             "Aisha", "Khan", "101 Broad Street", "Birmingham", "B15 1AU", "GB",
             (_p(18.5, (60, 40, 40), "Printer"),), group="nextDay"),
    DemoSpec("EC-000-DSK-008", "24 kg, over Albion Post's 20 kg; nextDay gives Swift Parcels Next Day",
             "Ciaran", "Murphy", "5 Botanic Avenue", "Belfast", "BT7 1JG", "GB",
             (_p(24.0, (60, 50, 40), "Floor tiles"),), group="nextDay"),
    DemoSpec("EC-000-DSK-009", "29.9 kg, just under the 30 kg next-day limit",
             "Isla", "Ross", "12 Marchmont Road", "Edinburgh", "EH9 1HY", "GB",
             (_p(29.9, (70, 50, 40), "Dumbbells"),), group="nextDay"),
    DemoSpec("EC-000-DSK-010", "three packages: one leg with three tracking references, three labels",
             "Harriet", "Lee", "40 Grey Street", "Newcastle upon Tyne", "NE1 6AE", "GB",
             (_p(2.0, (30, 30, 20), "Wedding favours 1/3"), _p(3.5, (40, 30, 20), "Wedding favours 2/3"),
              _p(1.1, (25, 20, 10), "Wedding favours 3/3")), group="nextDay"),
    DemoSpec("EC-000-DSK-011", "a watch; valuableGoods gives Albion Post Special Delivery Guaranteed",
             "Eleanor", "Price", "2 Royal Crescent", "Bath", "BA1 2LR", "GB",
             (_p(0.9, (15, 15, 10), "Wristwatch"),), group="valuableGoods"),
    DemoSpec("EC-000-DSK-012", "nextDay gives Albion Post Tracked 24",
             "Ben", "Walker", "77 Magdalen Street", "Norwich", "NR3 1AA", "GB",
             (_p(1.5, (35, 25, 10), "Trainers"),), group="nextDay"),
    DemoSpec("EC-000-DSK-013", "large letter; economy gives Courier Co Economy 72",
             "Grace", "Turner", "9 Hope Street", "Liverpool", "L1 9BQ", "GB",
             (_p(0.25, (32, 23, 2), "Greeting cards"),), group="economy"),
    DemoSpec("EC-000-DSK-014", "38 kg: nextDay FAILS (every next-day service stops at 30 kg); heavy works",
             "Daniel", "Wright", "220 Ecclesall Road", "Sheffield", "S11 8PE", "GB",
             (_p(38.0, (80, 60, 50), "Cast-iron radiator"),), group="heavy"),
    DemoSpec("EC-000-DSK-015", "140 kg pallet: heavy gives Northway Freight Pallet 48; other groups fail",
             "Mark", "Bennett", "Freemens Common Trade Park", "Leicester", "LE2 7SQ", "GB",
             (_p(140.0, (120, 100, 90), "Pallet of flooring"),), group="heavy", company="Leicester Builders Ltd"),
    DemoSpec("EC-000-DSK-016", "France; international gives Continental Express Euro Road",
             "Camille", "Martin", "12 Rue de Rivoli", "Paris", "75004", "FR",
             (_p(2.0, (30, 25, 15), "Tea set"),), group="international"),
    DemoSpec("EC-000-DSK-017", "Germany; international gives Continental Express Euro Road",
             "Lukas", "Schneider", "Torstraße 101", "Berlin", "10119", "DE",
             (_p(6.5, (50, 40, 30), "Record player"),), group="international"),
    DemoSpec("EC-000-DSK-018", "Ireland; international gives Euro Road, nextDay FAILS (GB only)",
             "Siobhan", "Byrne", "21 Dame Street", "Dublin", "D02 XY45", "IE",
             (_p(1.0, (25, 20, 10), "Knitwear"),), group="international"),
    DemoSpec("EC-000-DSK-019", "United States; international gives Albion Post International Tracked",
             "Emily", "Johnson", "350 Fifth Avenue", "New York NY", "10118", "US",
             (_p(1.8, (30, 20, 10), "Scarves"),), group="international"),
    DemoSpec("EC-000-DSK-020", "Australia, 3.5 kg (over Albion's 2 kg); international gives Worldwide Express",
             "Jack", "Wilson", "10 George Street", "Sydney NSW", "2000", "AU",
             (_p(3.5, (40, 30, 20), "Cricket bat"),), group="international"),
    DemoSpec("EC-000-DSK-021", "North Korea: no service delivers there, every group FAILS",
             "Ri", "Chol", "Kumsong Street 1", "Pyongyang", "", "KP",
             (_p(1.0, (20, 20, 10), "Books"),), group="international"),
    DemoSpec("EC-000-DSK-022", "already Allocated (nextDay): allocation refused, label available",
             "Sophie", "Green", "31 Cowley Road", "Oxford", "OX4 1HP", "GB",
             (_p(2.2, (35, 25, 15), "Cushions"),), state="Allocated", group="nextDay"),
    DemoSpec("EC-000-DSK-023", "already Allocated (economy)",
             "Mohammed", "Ali", "60 Mill Road", "Cambridge", "CB1 2AS", "GB",
             (_p(5.0, (45, 35, 25), "Board games"),), state="Allocated", group="economy"),
    DemoSpec("EC-000-DSK-024", "already Allocated (international, Netherlands)",
             "Anouk", "de Vries", "Prinsengracht 263", "Amsterdam", "1016 GV", "NL",
             (_p(3.0, (40, 30, 15), "Woollen blanket"),), state="Allocated", group="international"),
    DemoSpec("EC-000-DSK-025", "AllocationFailed (an earlier nextDay attempt, 32 kg); retry with heavy works",
             "Oliver", "Hall", "18 Park Row", "Nottingham", "NG1 6GR", "GB",
             (_p(32.0, (70, 60, 50), "Rowing machine"),), state="AllocationFailed", group="nextDay"),
    DemoSpec("EC-000-DSK-026", "Cancelled: allocation refused",
             "Lucy", "King", "4 High Street", "Winchester", "SO23 9JX", "GB",
             (_p(1.0, (25, 20, 10), "Candles"),), state="Cancelled", group="nextDay"),
    DemoSpec("EC-000-DSK-027", "Manifested (allocated nextDay, collected): allocation refused, deallocate allowed",
             "Ethan", "Scott", "88 Queen Street", "Exeter", "EX4 3SQ", "GB",
             (_p(3.3, (40, 30, 20), "Coffee machine"),), state="Manifested", group="nextDay"),
)

DEMO_CONSIGNMENTS: tuple[DemoConsignment, ...] = tuple(
    DemoConsignment(
        reference=s.reference,
        state=s.state,
        country=s.country,
        weight_kg=round(sum(p[0] for p in s.packages), 3),
        packages=len(s.packages),
        suggested_group=s.group,
        hint=s.hint,
    )
    for s in DEMO_SPECS
)
