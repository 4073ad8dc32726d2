"""Tolerant parsing of SortedPRO answers: documented shapes, variants, and anything at all."""

import json

from hypothesis import given
from hypothesis import strategies as st

from despatch_desk import api

DOC_SUMMARY = [{
    "StatusCode": 200,
    "ApiLinks": [{"Rel": "detail", "Href": "https://api.electioapp.com/consignments/EC-000-05B-MMA"},
                 {"Rel": "label", "Href": "https://api.electioapp.com/labels/EC-000-05B-MMA"}],
    "Description": "Consignment EC-000-05B-MMA has been successfully allocated with Carrier X Next Day Super "
                   "for shipping on 14/06/2019 17:00:00 +00:00",
    "ConsignmentLegs": [{"Leg": 1, "TrackingReferences": ["TRK00009823", "TRK00009824"],
                         "CarrierReference": "CARRIER_X", "CarrierServiceReference": None, "CarrierName": "Carrier X"}],
    "CarrierReference": "CARRIER_X", "CarrierName": "Carrier X",
    "CarrierServiceReference": "CX_NDS", "CarrierServiceName": "Next Day Super",
}]


def test_documented_array_summary():
    s = api.parse_allocation_summary(DOC_SUMMARY)
    assert s.succeeded
    assert (s.carrier_name, s.carrier_service_name, s.carrier_service_reference) == ("Carrier X", "Next Day Super", "CX_NDS")
    assert s.tracking_references == ("TRK00009823", "TRK00009824")
    assert s.consignment_reference == "EC-000-05B-MMA"
    assert s.links["label"].endswith("/labels/EC-000-05B-MMA")


def test_single_object_and_odd_casing_are_accepted():
    obj = json.loads(json.dumps(DOC_SUMMARY[0]).replace('"CarrierName"', '"carrierName"'))
    s = api.parse_allocation_summary(obj)
    assert s.succeeded and s.carrier_name == "Carrier X"


def test_refusal_inside_a_200():
    s = api.parse_allocation_summary([{"StatusCode": 400, "Description": "No carrier service can take it"}])
    assert not s.succeeded and s.description == "No carrier service can take it"


def test_missing_fields_are_none_not_errors():
    s = api.parse_allocation_summary([{"CarrierServiceName": "Tracked 48", "ConsignmentLegs": "junk",
                                       "ApiLinks": {"Rel": "detail", "Href": "/consignments/EC-AAA-BBB-CCC/"}}])
    assert s.succeeded and s.carrier_name is None and s.legs == ()
    assert s.consignment_reference == "EC-AAA-BBB-CCC"


def test_consignment_detail_variants():
    c = api.parse_consignment({
        "Reference": "EC-000-05B-MMA", "ConsignmentState": "Allocated",
        "Allocation": {"CarrierServiceGroupReference": "nextDay", "MpdCarrierServiceReference": "CX_NDS",
                       "MpdCarrierServiceName": "Next Day Super", "AllocationDate": "2026-11-23T14:02:00+00:00",
                       "Price": {"Net": 4.5, "Gross": "5.40", "VatAmount": 0.9, "Currency": {"IsoCode": "GBP"}}},
        "FailedAllocation": None,
        "ConsignmentLegs": [{"TrackingReferences": ["T1"]}],
    }, "EC-000-05B-MMA")
    assert c.state_key == "allocated"
    assert c.allocation.price.gross == 5.4 and c.allocation.price.currency == "GBP"
    assert c.allocation.allocated_at.hour == 14
    assert c.tracking_references == ("T1",)
    assert api.normalise_state("Allocation Failed") == "allocationfailed"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["StatusCode", "Description", "CarrierName", "ConsignmentLegs", "TrackingReferences",
                         "ApiLinks", "Rel", "Href", "Allocation", "Price", "Net", "Currency", "IsoCode",
                         "ConsignmentState", "FailedAllocation", "Message", "AllocationDate", "x"]),
        children, max_size=6),
    max_leaves=25,
)


@given(json_values)
def test_any_json_parses_or_raises_value_error(value):
    for parse in (lambda v: api.parse_allocation_summary(v), lambda v: api.parse_consignment(v, "EC-AAA-BBB-CCC"),
                  api.parse_status):
        try:
            parse(value)
        except ValueError:
            pass


@given(json_values)
def test_any_json_lists_parse(value):
    api.parse_service_groups(value)
    api.parse_carrier_services(value)


def test_retry_after_forms():
    assert api.parse_retry_after("3") == 3
    assert api.parse_retry_after("-4") == 0
    assert api.parse_retry_after("soon") is None
    assert api.parse_retry_after(None) is None
    assert api.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert api.parse_retry_after("1e12") == 24 * 3600


def test_base_url_rules():
    assert api.validate_base_url("https://api.electioapp.com/") == "https://api.electioapp.com"
    assert api.validate_base_url("http://127.0.0.1:8123") == "http://127.0.0.1:8123"
    for bad in ("http://api.electioapp.com", "ftp://x", "api.electioapp.com", "https://a/?x=1", "https://u:p@a"):
        try:
            api.validate_base_url(bad)
        except api.ConfigurationError as exc:
            assert str(exc)
        else:
            raise AssertionError(bad)


def test_segments_are_percent_encoded():
    assert api.segment("../x?y#z/ w") == "%2E%2E%2Fx%3Fy%23z%2F%20w"
    assert api.segment("..") == "%2E%2E"
