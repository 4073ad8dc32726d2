"""Price, dates and parcel facts of an allocated consignment, for showing beside a result.

The allocation answer carries none of these: they come from ``GET /consignments/{ref}`` (price,
shipping date, destination, packages) and ``GET /consignments/{ref}/status`` (expected delivery).
Qt-free. Everything is best effort and tolerant: a missing, odd or wrongly typed field is None
(shown as "—"), never an error; a call that fails leaves its fields None. These are looks only:
nothing here ever writes to SortedPRO.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from . import api
from .answers import _datetime, _float, _get, _list, _str
from .cancel import CancelToken

MISSING = "—"
_CURRENCY_SIGNS = {"GBP": "£", "EUR": "€", "USD": "$"}
_KG_PER_UNIT = {"kg": 1.0, "kgs": 1.0, "kilogram": 1.0, "kilograms": 1.0, "g": 0.001, "gram": 0.001,
                "grams": 0.001, "lb": 0.45359237, "lbs": 0.45359237, "pound": 0.45359237, "pounds": 0.45359237,
                "oz": 0.028349523125}
_MAX_SANE_AMOUNT = 1_000_000.0   # a price above this is not a parcel price: not believed
_MAX_SANE_WEIGHT_KG = 100_000.0


@dataclass(frozen=True, slots=True)
class Details:
    reference: str
    price_net: float | None = None
    price_gross: float | None = None
    price_vat: float | None = None
    vat_rate: float | None = None        # percent, from TaxRate (docs) or VatRate (SDK)
    currency: str | None = None
    shipping_date: datetime | None = None
    expected_delivery: datetime | None = None
    town: str | None = None
    postcode: str | None = None
    country: str | None = None           # ISO code when SortedPRO gave one
    packages: int | None = None
    weight_kg: float | None = None
    problem: str | None = None           # plain words when a call failed (the fields it would fill stay None)

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self) if f.name not in ("reference", "problem"))

    def to_json(self) -> dict[str, Any]:
        """``allocate --json`` fields: present only when SortedPRO gave them (dates in ISO 8601)."""
        data: dict[str, Any] = {}
        price = {k: v for k, v in (("net", self.price_net), ("gross", self.price_gross),
                                   ("currency", self.currency)) if v is not None}
        if self.price_net is not None or self.price_gross is not None:
            data["price"] = price
        if self.shipping_date is not None:
            data["shipping_date"] = self.shipping_date.isoformat()
        if self.expected_delivery is not None:
            data["expected_delivery"] = self.expected_delivery.isoformat()
        parcel = {k: v for k, v in (("packages", self.packages), ("weight_kg", self.weight_kg),
                                    ("country", self.country), ("postcode", self.postcode)) if v is not None}
        if parcel:
            data["parcel"] = parcel
        return data


# --------------------------------------------------------------------------- parsing
def parse_details(reference: str, consignment: Any, status: Any = None) -> Details:
    """Details from the raw JSON of the consignment and (optionally) status answers; never raises."""
    details = Details(reference)
    if isinstance(consignment, Mapping):
        details = replace(details, **_price(_get(_get(consignment, "Allocation"), "Price")),
                          shipping_date=_date(_get(consignment, "ShippingDate")),
                          **_destination(_get(consignment, "Addresses")),
                          **_parcels(_get(consignment, "Packages")))
    if isinstance(status, Mapping):
        details = replace(details, expected_delivery=_date(_get(status, "ExpectedDeliveryDate")))
    return details


def _amount(value: Any) -> float | None:
    number = _float(value)
    if number is None or not math.isfinite(number) or abs(number) > _MAX_SANE_AMOUNT:
        return None
    return round(number, 2)


def _price(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        return {}
    currency = _get(raw, "Currency")
    code = _str(_get(currency, "IsoCode")) if isinstance(currency, Mapping) else _str(currency)
    if isinstance(currency, Mapping) and code is None:
        code = _str(_get(_get(currency, "IsoCode"), "Code"))
    code = code.upper() if code and code.isalpha() and len(code) == 3 else None
    rate = _float(_get(raw, "TaxRate", "VatRate"))
    if rate is not None and (not math.isfinite(rate) or not 0 <= rate <= 100):
        rate = None
    elif rate is not None and 0 < rate < 1:
        rate = round(rate * 100, 2)  # 0.2 and 20 both mean 20 %
    return {"price_net": _amount(_get(raw, "Net")), "price_gross": _amount(_get(raw, "Gross")),
            "price_vat": _amount(_get(raw, "VatAmount", "Vat", "TaxAmount")), "vat_rate": rate, "currency": code}


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):  # ISO 8601 is text; a bare number is not a date we can trust
        return None
    when = _datetime(value)
    if when is None or not 1990 <= when.year <= 2200:
        return None
    return when


def _destination(addresses: Any) -> dict[str, Any]:
    items = [a for a in _list(addresses) if isinstance(a, Mapping)]
    dest = next((a for a in items if (_str(_get(a, "AddressType", "Type")) or "").lower()
                 in ("destination", "delivery", "recipient")), None)
    if dest is None:
        return {}
    country = _get(dest, "Country")
    iso = _get(country, "IsoCode") if isinstance(country, Mapping) else None
    code = (_str(_get(iso, "TwoLetterCode")) if isinstance(iso, Mapping) else _str(iso)) or (
        _str(country) if not isinstance(country, Mapping) else _str(_get(country, "Name")))
    return {"town": _short(_get(dest, "Town", "City")), "postcode": _short(_get(dest, "Postcode", "PostalCode", "Zip")),
            "country": _short(code)}


def _short(value: Any, limit: int = 40) -> str | None:
    text = _str(value)
    if text is None:
        return None
    text = "".join(ch for ch in text if ch.isprintable())
    return text[:limit] or None


def _parcels(packages: Any) -> dict[str, Any]:
    if not isinstance(packages, list):
        return {}
    weights: list[float] = []
    for package in packages:
        weight = _get(package, "Weight")
        value = _float(_get(weight, "Value")) if isinstance(weight, Mapping) else _float(weight)
        unit = (_str(_get(weight, "Unit")) or "kg").lower() if isinstance(weight, Mapping) else "kg"
        factor = _KG_PER_UNIT.get(unit)
        if value is None or factor is None or not math.isfinite(value) or value < 0:
            return {"packages": len(packages)}  # one unknown weight: the total would be untrue
        weights.append(value * factor)
    total = sum(weights)
    return {"packages": len(packages),
            "weight_kg": round(total, 3) if packages and total <= _MAX_SANE_WEIGHT_KG else None}


# --------------------------------------------------------------------------- fetching
def fetch_details(client: api.SortedProClient, reference: str, *, cancel: CancelToken | None = None) -> Details:
    """Two looks (consignment, status); a failed one leaves its fields None and says why in ``problem``."""
    consignment = status = None
    problems = []
    try:
        consignment = client.get_consignment(reference, cancel=cancel).raw
    except api.ApiError as exc:
        problems.append(exc.message)
    if cancel is None or not cancel.cancelled:
        try:
            answer = client.get_status(reference, cancel=cancel)
            status = {"ExpectedDeliveryDate": answer.expected_delivery.isoformat()} if answer.expected_delivery else {}
        except api.ApiError as exc:
            problems.append(exc.message)
    details = parse_details(reference, consignment, status)
    return replace(details, problem=problems[0] if problems else None)


# --------------------------------------------------------------------------- words
def money_text(amount: float | None, currency: str | None) -> str:
    if amount is None:
        return MISSING
    sign = _CURRENCY_SIGNS.get(currency or "")
    return f"{sign}{amount:,.2f}" if sign else f"{amount:,.2f} {currency}" if currency else f"{amount:,.2f}"


def date_text(when: datetime | None, *, with_time: bool = False) -> str:
    """Local date, always with its day: "Wed 2 Dec" (and " 18:00" when asked); "—" when unknown."""
    if when is None:
        return MISSING
    local = when.astimezone() if when.tzinfo else when
    text = f"{local.strftime('%a')} {local.day} {local.strftime('%b')}"
    if local.year != datetime.now(local.tzinfo).year:
        text += f" {local.year}"
    return text + (f" {local.strftime('%H:%M')}" if with_time else "")


def parcel_text(details: Details) -> str:
    place = " ".join(p for p in (details.town, details.postcode, details.country) if p) or MISSING
    count = MISSING if details.packages is None else f"{details.packages} package{'s' if details.packages != 1 else ''}"
    weight = MISSING if details.weight_kg is None else f"{details.weight_kg:g} kg"
    return f"{place} · {count} · {weight}"


def price_text(details: Details) -> str:
    gross = money_text(details.price_gross, details.currency)
    net = money_text(details.price_net, details.currency)
    vat = f", VAT {money_text(details.price_vat, details.currency)}" if details.price_vat is not None else ""
    return f"{net} net ({gross} gross{vat})"


def summary_line(details: Details) -> str:
    """One line for the result panel and the lists: price · ships · expected · destination · parcels.

    Inside each part the spaces do not break (a wrapped panel line never leaves "kg" alone)."""
    parts = [price_text(details), f"ships {date_text(details.shipping_date)}",
             f"expected {date_text(details.expected_delivery, with_time=True)}", *parcel_text(details).split(" · ")]
    return " · ".join(part.replace(" ", "\u00a0") for part in parts)


def history_fields(details: Details) -> dict[str, Any]:
    """What the history keeps (the v2 columns)."""
    return {"price_net": details.price_net, "price_gross": details.price_gross, "price_currency": details.currency,
            "expected_delivery": details.expected_delivery.isoformat() if details.expected_delivery else None}


__all__ = ["Details", "MISSING", "date_text", "fetch_details", "history_fields", "money_text", "parcel_text",
           "parse_details", "price_text", "summary_line"]


def fetch_and_record(desk, reference: str, *, cancel: CancelToken | None = None, row_id: int | None = None) -> Details:
    """``Desk.details``: fetch, then keep price and expected delivery on history row ``row_id``."""
    from .history import HistoryError

    details = fetch_details(desk.client(), reference, cancel=(cancel or desk.closing).child(timeout=30.0))
    if row_id is not None and not details.empty:
        try:
            desk.history.record_details(row_id, **history_fields(details))
        except HistoryError as exc:
            desk.last_history_error = str(exc)
    return details
