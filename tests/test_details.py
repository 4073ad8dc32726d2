"""Price, dates and parcel facts: tolerant parsing, and the two looks against the real sandbox."""

from __future__ import annotations

from datetime import datetime, timezone

from despatch_desk import details as d
from despatch_desk.core import RetryPolicy
from despatch_desk.desk import Desk
from despatch_desk.sandbox import DEMO_API_KEY, Fault

CONSIGNMENT = {
    "Reference": "EC-000-DSK-001", "ConsignmentState": "Allocated", "ShippingDate": "2026-12-01T17:00:00+00:00",
    "Addresses": [{"AddressType": "Origin", "Town": "Milton Keynes", "Postcode": "MK9 1AA",
                   "Country": {"IsoCode": {"TwoLetterCode": "GB"}}},
                  {"AddressType": "Destination", "Town": "Bath", "Postcode": "BA1 2LR",
                   "Country": {"Name": "United Kingdom", "IsoCode": {"TwoLetterCode": "GB"}}}],
    "Packages": [{"Weight": {"Value": 1.2, "Unit": "Kg"}}, {"Weight": {"Value": 300, "Unit": "g"}}],
    "Allocation": {"Price": {"Net": 4.2, "Gross": 5.04, "VatAmount": 0.84, "Currency": {"IsoCode": "GBP"}}},
}


def _with_price(**price):
    return {**CONSIGNMENT, "Allocation": {"Price": price}}


def test_full_answer():
    got = d.parse_details("EC-000-DSK-001", CONSIGNMENT, {"ExpectedDeliveryDate": "2026-12-02T14:20:11+01:00"})
    assert (got.price_net, got.price_gross, got.price_vat, got.currency) == (4.2, 5.04, 0.84, "GBP")
    assert got.shipping_date == datetime(2026, 12, 1, 17, tzinfo=timezone.utc)
    assert got.expected_delivery.utcoffset().total_seconds() == 3600
    assert (got.town, got.postcode, got.country, got.packages, got.weight_kg) == ("Bath", "BA1 2LR", "GB", 2, 1.5)
    assert got.to_json() == {
        "price": {"net": 4.2, "gross": 5.04, "currency": "GBP"},
        "shipping_date": "2026-12-01T17:00:00+00:00", "expected_delivery": "2026-12-02T14:20:11+01:00",
        "parcel": {"packages": 2, "weight_kg": 1.5, "country": "GB", "postcode": "BA1 2LR"}}
    line = d.summary_line(got)
    assert " · 2\u00a0packages · 1.5\u00a0kg" in line  # a wrapped line breaks only between parts
    line = line.replace("\u00a0", " ")
    assert "£4.20 net" in line and "£5.04 gross" in line and "Bath BA1 2LR GB" in line and "2 packages" in line


def test_tax_rate_under_either_name():
    assert d.parse_details("R", _with_price(Net=1, TaxRate=20)).vat_rate == 20
    assert d.parse_details("R", _with_price(Net=1, VatRate=0.2)).vat_rate == 20
    assert d.parse_details("R", _with_price(Net=1, vatrate="20")).vat_rate == 20
    assert d.parse_details("R", _with_price(Net=1, TaxRate=-5)).vat_rate is None
    assert d.parse_details("R", _with_price(Net=1, VatRate="lots")).vat_rate is None


def test_missing_everything_is_dashes_never_an_error():
    for consignment in (None, {}, [], "x", {"Allocation": None}, {"Allocation": {"Price": "free"}},
                        {"Packages": "many", "Addresses": {"Town": 1}}, {"Addresses": [None, 3, []]}):
        got = d.parse_details("EC-000-DSK-001", consignment, ["not", "a", "status"])
        assert got.empty
        assert got.to_json() == {}
        line = d.summary_line(got)
        assert line.count(d.MISSING) >= 5 and "None" not in line


def test_odd_values_are_not_believed():
    odd = {**CONSIGNMENT, "ShippingDate": "14/06/2019 17:00:00 +00:00",
           "Packages": [{"Weight": {"Value": 1, "Unit": "stone"}}],
           "Allocation": {"Price": {"Net": "NaN", "Gross": 1e12, "Currency": {"IsoCode": "<b>"}}}}
    got = d.parse_details("R", odd, {"ExpectedDeliveryDate": "0001-01-01T00:00:00"})
    assert got.shipping_date is None and got.expected_delivery is None
    assert got.price_net is None and got.price_gross is None and got.currency is None
    assert got.packages == 1 and got.weight_kg is None  # one weight in an unknown unit: no total
    assert d.parse_details("R", CONSIGNMENT, {"ExpectedDeliveryDate": 20261202}).expected_delivery is None
    assert d.parse_details("R", CONSIGNMENT, {"ExpectedDeliveryDate": "2026-12-02Z"}).expected_delivery is not None


def test_currency_as_plain_text_and_unknown_sign():
    got = d.parse_details("R", _with_price(Net=10, Gross=12, Currency="chf"))
    assert got.currency == "CHF" and d.money_text(got.price_gross, got.currency) == "12.00 CHF"


def test_desk_details_from_the_sandbox_recorded_in_history(paths, sandbox):
    desk = Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY)
    try:
        assert desk.allocate("EC-000-DSK-010", "nextDay").ok
        row = desk.history.latest_allocated("EC-000-DSK-010")
        sandbox.clear_requests()
        got = desk.details("EC-000-DSK-010", row_id=row.id)
        assert [r.method for r in sandbox.recorded()] == ["GET", "GET"]  # looks only
        stored = sandbox.consignment("EC-000-DSK-010")["Allocation"]["Price"]
        assert got.price_net == stored["Net"] and got.price_gross == stored["Gross"] and got.currency == "GBP"
        assert got.packages == 3 and got.country == "GB" and got.expected_delivery is not None
        again = desk.history.get(row.id)
        assert again.price_net == stored["Net"] and again.price_currency == "GBP"
        assert datetime.fromisoformat(again.expected_delivery) == got.expected_delivery
        import io
        import csv
        buffer = io.StringIO()
        desk.history.export_csv([again], buffer)
        [exported] = list(csv.DictReader(io.StringIO(buffer.getvalue())))
        assert float(exported["price_net"]) == stored["Net"] and exported["price_currency"] == "GBP"
        assert exported["expected_delivery"] == again.expected_delivery
    finally:
        desk.close()


def test_a_failed_look_leaves_fields_empty_with_words(paths, sandbox):
    desk = Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY,
                policy=RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02))
    try:
        sandbox.add_fault(Fault("html-502", any_request=True, match="/status"))
        got = desk.details("EC-000-DSK-022")
        assert got.expected_delivery is None and got.problem
        assert got.price_net is not None  # the other look still answered
    finally:
        desk.close()
