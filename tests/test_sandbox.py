"""The built-in SortedPRO sandbox, over real HTTP on loopback.

Covers the API surface (shapes, states, errors, routing), labels (PDF structure, ZPL), every
fault, concurrency, shutdown and the command line.  No fixed sleeps: waits poll with a deadline.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    import despatch_desk  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from despatch_desk.sandbox import (
    DEMO_API_KEY,
    DEMO_CONSIGNMENTS,
    FAULT_NAMES,
    Fault,
    RecordedRequest,
    SandboxServer,
)
from despatch_desk.sandbox import code128
from despatch_desk.sandbox.cli import main as cli_main

APP_DIR = Path(__file__).resolve().parents[1] / "app"
HEADERS = {"ocp-apim-subscription-key": DEMO_API_KEY, "electio-api-version": "1.1", "Accept": "application/json"}
REF_RE = re.compile(r"^EC-[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{3}$")

FRESH = "EC-000-DSK-001"  # GB 1.2 kg; nextDay -> Albion Post Tracked 24
FRESH2 = "EC-000-DSK-002"
OVER_20 = "EC-000-DSK-008"  # 24 kg; nextDay -> Swift Parcels Next Day
MULTI = "EC-000-DSK-010"  # three packages
HEAVY = "EC-000-DSK-014"  # 38 kg; nextDay fails
NOWHERE = "EC-000-DSK-021"  # KP; every group fails
ALLOCATED = "EC-000-DSK-022"
FAILED_BEFORE = "EC-000-DSK-025"
CANCELLED = "EC-000-DSK-026"
MANIFESTED = "EC-000-DSK-027"


@pytest.fixture
def sb():
    server = SandboxServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(sb):
    with httpx.Client(base_url=sb.url, headers=HEADERS, timeout=5) as c:
        yield c


def allocate(client: httpx.Client, ref: str, group: str = "nextDay") -> httpx.Response:
    return client.put(f"/allocation/{ref}/allocatewithservicegroup/{group}")


def state(sb: SandboxServer, ref: str) -> str:
    return sb.consignment(ref)["ConsignmentState"]


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


# ------------------------------------------------------------------ lifecycle


def test_start_is_fast_and_url_is_loopback():
    t0 = time.perf_counter()
    server = SandboxServer()
    server.start()
    elapsed = time.perf_counter() - t0
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert elapsed < 0.25, f"start took {elapsed * 1000:.1f} ms"
        assert server.start() is server  # start twice: no-op
    finally:
        server.stop()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        server.start()


def test_context_manager_and_non_loopback_refused():
    with SandboxServer() as s:
        r = httpx.get(s.url + "/servicegroups", headers=HEADERS)
        assert r.status_code == 200
    assert not s.running
    with pytest.raises(ValueError, match="loopback"):
        SandboxServer(host="0.0.0.0")


def test_request_handling_is_fast(sb, client):
    allocate(client, FRESH)
    client.get(f"/consignments/{FRESH}")  # warm the connection
    n = 100
    t0 = time.perf_counter()
    for _ in range(n):
        assert client.get(f"/consignments/{FRESH}").status_code == 200
    per_request = (time.perf_counter() - t0) / n
    assert per_request < 0.02, f"{per_request * 1000:.2f} ms per request"


def test_keep_alive_connection_is_reused(sb):
    host, port = sb.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        for path in ("/servicegroups", f"/consignments/{FRESH}", "/nope", f"/consignments/{FRESH}/status"):
            conn.request("GET", path, headers=HEADERS)
            resp = conn.getresponse()
            body = resp.read()
            assert resp.getheader("Content-Length") == str(len(body))
        conn.request("HEAD", f"/consignments/{FRESH}", headers=HEADERS)
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b""
        assert int(resp.getheader("Content-Length")) > 0
        conn.request("GET", "/carrierservices", headers=HEADERS)  # same socket still usable after HEAD
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    ports = {r.headers.get("host") for r in sb.recorded()}
    assert len(ports) == 1


def test_stop_closes_kept_alive_connections(sb):
    c = httpx.Client(base_url=sb.url, headers=HEADERS, timeout=2)
    assert c.get("/servicegroups").status_code == 200
    handler_threads = list(sb._connections.values())
    assert handler_threads  # the idle keep-alive connection has its thread
    t0 = time.perf_counter()
    sb.stop()
    assert time.perf_counter() - t0 < 0.5
    assert not any(t.is_alive() for t in handler_threads)
    with pytest.raises(httpx.TransportError):
        c.get("/servicegroups")
    c.close()


def test_malformed_request_gets_a_json_400_and_no_output(sb, capfd):
    host, port = sb.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400") or data.startswith(b"HTTP/1.0 400")
    assert b'"Code":"BadRequest"' in data
    assert capfd.readouterr() == ("", "")


def test_stop_is_prompt_with_a_slow_request_in_flight(sb):
    sb.add_fault(Fault("slow-after-commit", delay=30))
    errors: list[BaseException] = []

    def call():
        try:
            with httpx.Client(base_url=sb.url, headers=HEADERS, timeout=60) as c:
                allocate(c, FRESH)
        except BaseException as e:  # noqa: BLE001 - recorded for the assertion
            errors.append(e)

    t = threading.Thread(target=call, daemon=True)
    t.start()
    wait_for(lambda: any(r.method == "PUT" for r in sb.recorded()))
    wait_for(lambda: state(sb, FRESH) == "Allocated")
    t0 = time.perf_counter()
    sb.stop()
    assert time.perf_counter() - t0 < 1.5
    t.join(5)
    assert not t.is_alive()
    assert errors and isinstance(errors[0], httpx.TransportError)


def test_server_prints_nothing(capfd):
    with SandboxServer() as s, httpx.Client(base_url=s.url, headers=HEADERS) as c:
        allocate(c, FRESH)
        c.get("/nope")
        httpx.get(s.url + "/servicegroups")  # 401
        s.add_fault(Fault("drop-after-commit", times=1))
        with pytest.raises(httpx.RemoteProtocolError):
            allocate(c, FRESH2)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert s.errors == []


# ------------------------------------------------------------------ authentication and recording


def test_missing_and_wrong_key_are_401_in_gateway_shape(sb):
    r = httpx.get(f"{sb.url}/consignments/{FRESH}")
    assert r.status_code == 401
    assert r.json()["statusCode"] == 401
    assert r.json()["message"].startswith("Access denied due to missing subscription key")
    r = httpx.put(
        f"{sb.url}/allocation/{FRESH}/allocatewithservicegroup/nextDay",
        headers={"ocp-apim-subscription-key": "wrong"},
    )
    assert r.status_code == 401
    assert r.json() == {
        "statusCode": 401,
        "message": "Access denied due to invalid subscription key. "
        "Make sure to provide a valid key for an active subscription.",
    }
    assert state(sb, FRESH) == "Unallocated"
    assert [r.method for r in sb.recorded()] == ["GET", "PUT"]  # 401s are recorded too


def test_custom_api_key():
    with SandboxServer(api_key="other-key") as s:
        assert httpx.get(s.url + "/servicegroups", headers=HEADERS).status_code == 401
        assert httpx.get(s.url + "/servicegroups", headers={"ocp-apim-subscription-key": "other-key"}).status_code == 200


def test_requests_are_recorded_raw_and_decoded(sb, client):
    client.put("/allocation/EC-000-DSK-001%20/allocatewithservicegroup/next%44ay?x=1", content=b"{}")
    [rec] = sb.recorded()
    assert isinstance(rec, RecordedRequest)
    assert rec.method == "PUT"
    assert rec.raw_path == "/allocation/EC-000-DSK-001%20/allocatewithservicegroup/next%44ay?x=1"
    assert rec.path == "/allocation/EC-000-DSK-001 /allocatewithservicegroup/nextDay"
    assert rec.headers["electio-api-version"] == "1.1"
    assert rec.headers["ocp-apim-subscription-key"] == DEMO_API_KEY
    assert rec.body == b"{}"
    assert abs(rec.time - time.time()) < 60
    snapshot = sb.requests
    snapshot.clear()  # a copy: clearing it changes nothing
    assert len(sb.recorded()) == 1
    sb.clear_requests()
    assert sb.recorded() == []


def test_chunked_body_is_read_and_connection_stays_usable(sb, client):
    def gen():
        yield b"ab"
        yield b"cd"

    r = client.put(f"/allocation/{FRESH}/allocatewithservicegroup/nextDay", content=gen())
    assert r.status_code == 200
    assert client.get(f"/consignments/{FRESH}").status_code == 200
    assert sb.recorded()[0].body == b"abcd"


# ------------------------------------------------------------------ allocation


def test_happy_allocation_summary_shape_and_state(sb, client):
    r = allocate(client, FRESH)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, list) and len(body) == 1
    s = body[0]
    assert set(s) == {
        "StatusCode", "ApiLinks", "Description", "ConsignmentLegs", "CarrierReference", "CarrierName",
        "CarrierServiceReference", "CarrierServiceName",
    }
    assert s["StatusCode"] == 200
    assert s["ApiLinks"] == [
        {"Rel": "detail", "Href": f"{sb.url}/consignments/{FRESH}"},
        {"Rel": "label", "Href": f"{sb.url}/labels/{FRESH}"},
    ]
    assert (s["CarrierReference"], s["CarrierName"]) == ("ALBION", "Albion Post")
    assert (s["CarrierServiceReference"], s["CarrierServiceName"]) == ("ALB_TRK24", "Tracked 24")
    assert re.fullmatch(
        rf"Consignment {FRESH} has been successfully allocated with Albion Post Tracked 24 "
        r"for shipping on \d\d/\d\d/\d{4} \d\d:\d\d:\d\d \+00:00",
        s["Description"],
    )
    [leg] = s["ConsignmentLegs"]
    assert leg["Leg"] == 1 and leg["CarrierName"] == "Albion Post" and leg["CarrierReference"] == "ALBION"
    assert "CarrierServiceReference" in leg
    [tracking] = leg["TrackingReferences"]
    assert re.fullmatch(r"[A-Z]{2}\d{9}GB", tracking)  # UPU S10 style for Albion Post

    c = sb.consignment(FRESH)
    assert c["ConsignmentState"] == "Allocated"
    alloc = c["Allocation"]
    assert alloc["CarrierServiceGroupReference"] == "nextDay"
    assert alloc["MpdCarrierServiceGroupName"] == "Next day"
    assert alloc["MpdCarrierServiceReference"] == "ALB_TRK24"
    assert alloc["MpdCarrierServiceName"] == "Tracked 24"
    assert datetime.fromisoformat(alloc["AllocationDate"]).utcoffset() is not None
    price = alloc["Price"]
    assert price["Net"] == pytest.approx(4.20 + 0.30 * 1.2)
    assert price["VatAmount"] == pytest.approx(round(price["Net"] * 0.2, 2))
    assert price["Gross"] == pytest.approx(price["Net"] + price["VatAmount"])
    assert price["Currency"] == {"IsoCode": "GBP"}
    assert c["FailedAllocation"] is None
    assert c["ConsignmentLegs"][0]["TrackingReferences"] == [tracking]
    assert client.get(f"/consignments/{FRESH}").json() == c


def test_cheapest_eligible_service_wins(sb, client):
    quotes = sb.quote(FRESH, "nextDay")
    eligible = sorted((q for q in quotes if q.eligible), key=lambda q: q.net)
    assert [q.service for q in eligible] == ["ALB_TRK24", "SWP_NDAY", "SWP_NDAY12"]
    assert eligible[0].net < eligible[1].net < eligible[2].net
    assert [q.kind for q in quotes if not q.eligible] == ["disabled"]  # SWP_SAT is switched off
    assert allocate(client, FRESH).json()[0]["CarrierServiceReference"] == "ALB_TRK24"
    assert sb.consignment(FRESH)["Allocation"]["Price"]["Net"] == eligible[0].net

    # Over Albion Post's 20 kg: the cheaper-by-base service is filtered out, next cheapest wins.
    quotes = {q.service: q for q in sb.quote(OVER_20, "nextDay")}
    assert not quotes["ALB_TRK24"].eligible and quotes["ALB_TRK24"].kind == "package_weight"
    assert quotes["SWP_NDAY"].net < quotes["SWP_NDAY12"].net
    assert allocate(client, OVER_20).json()[0]["CarrierServiceReference"] == "SWP_NDAY"


def test_price_ordering_depends_on_weight(sb, client):
    light = sb.add_consignment(weight_kg=0.5)
    heavier = sb.add_consignment(weight_kg=5.0)
    assert allocate(client, light, "economy").json()[0]["CarrierServiceReference"] == "CCO_ECO"
    assert allocate(client, heavier, "economy").json()[0]["CarrierServiceReference"] == "ALB_TRK48"


def test_multi_package_consignment_has_one_tracking_reference_per_package(sb, client):
    [s] = allocate(client, MULTI).json()
    refs = s["ConsignmentLegs"][0]["TrackingReferences"]
    assert len(refs) == 3 and len(set(refs)) == 3


def test_no_eligible_service_is_a_200_summary_with_status_400(sb, client):
    r = allocate(client, HEAVY, "nextDay")
    assert r.status_code == 200
    [s] = r.json()
    assert s["StatusCode"] == 400
    assert s["Description"] == (
        "No carrier service in group 'nextDay' can take this consignment: "
        "package weight 38.0 kg exceeds every service's limit (max 30 kg)"
    )
    assert s["ConsignmentLegs"] == [] and s["CarrierName"] is None
    c = sb.consignment(HEAVY)
    assert c["ConsignmentState"] == "AllocationFailed"
    assert c["Allocation"] is None
    failed = c["FailedAllocation"]
    assert failed["CarrierServiceGroupReference"] == "nextDay"
    assert failed["MpdCarrierServiceReference"] is None
    assert failed["Message"] == s["Description"]
    assert datetime.fromisoformat(failed["AttemptedAllocationDate"])
    # AllocationFailed can be allocated again, with a group that fits.
    [s] = allocate(client, HEAVY, "heavy").json()
    assert s["StatusCode"] == 200 and s["CarrierServiceReference"] == "NWF_HVY"
    assert sb.consignment(HEAVY)["FailedAllocation"] is None


def test_no_eligible_service_as_error_body():
    with SandboxServer(failed_allocation_style="error") as s, httpx.Client(base_url=s.url, headers=HEADERS) as c:
        r = allocate(c, HEAVY, "nextDay")
        assert r.status_code == 400
        body = r.json()
        assert body["Code"] == "AllocationFailed"
        assert "38.0 kg" in body["Message"]
        assert re.fullmatch(r"[0-9a-f-]{36}", body["CorrelationId"])
        assert {d["Target"] for d in body["Details"]} == {"SWP_NDAY12", "SWP_NDAY", "ALB_TRK24", "SWP_SAT"}
        assert s.consignment(HEAVY)["ConsignmentState"] == "AllocationFailed"
        s.failed_allocation_style = "summary"  # switchable at run time
        assert allocate(c, NOWHERE, "nextDay").json()[0]["StatusCode"] == 400
    with pytest.raises(ValueError):
        SandboxServer(failed_allocation_style="bogus")


@pytest.mark.parametrize("group", ["nextDay", "economy", "international", "valuableGoods", "heavy"])
def test_country_nobody_serves_fails_in_every_group(sb, client, group):
    [s] = allocate(client, NOWHERE, group).json()
    assert s["StatusCode"] == 400
    assert "destination country KP is not served" in s["Description"]
    assert sb.consignment(NOWHERE)["FailedAllocation"]["Message"] == s["Description"]


def test_mixed_reasons_are_listed_per_service(sb, client):
    ref = sb.add_consignment(weight_kg=31, country="US")
    [s] = allocate(client, ref, "international").json()
    assert s["StatusCode"] == 400
    assert s["Description"].startswith("No carrier service in group 'international' can take this consignment: ")
    assert "CEX_EURO does not deliver to US" in s["Description"]
    assert "CEX_WWX takes packages up to 30 kg" in s["Description"]
    assert "ALB_INTL takes packages up to 2 kg" in s["Description"]


@pytest.mark.parametrize(
    "ref, current",
    [(ALLOCATED, "Allocated"), (CANCELLED, "Cancelled"), (MANIFESTED, "Manifested")],
)
def test_wrong_state_is_refused(sb, client, ref, current):
    before = sb.consignment(ref)
    r = allocate(client, ref)
    assert r.status_code == 400
    body = r.json()
    assert body["Code"] == "OperationFailed"
    assert body["Message"] == f"Consignment {ref} cannot be allocated because it is in state {current}"
    assert sb.consignment(ref) == before


def test_second_allocation_is_refused(sb, client):
    assert allocate(client, FRESH).status_code == 200
    first = sb.consignment(FRESH)
    r = allocate(client, FRESH, "economy")
    assert r.status_code == 400 and "in state Allocated" in r.json()["Message"]
    assert sb.consignment(FRESH) == first


@pytest.mark.parametrize("ref", ["EC-999-999-999", "EC-000-DSK-0011", "ec-000-dsk-001", "EC-000-DSK", "junk"])
def test_unknown_or_malformed_reference_is_404(sb, client, ref):
    r = allocate(client, ref)
    assert r.status_code == 404
    assert r.json()["Code"] == "ObjectNotFound"
    assert r.json()["Message"] == f"Consignment {ref} not found"
    assert client.get(f"/consignments/{ref}").status_code == 404
    assert client.get(f"/consignments/{ref}/status").status_code == 404


def test_unknown_group_and_case_insensitive_group_and_paths(sb, client):
    r = allocate(client, FRESH, "overnight")
    assert r.status_code == 400
    assert r.json()["Code"] == "CarrierServiceGroupNotFoundForCustomer"
    assert r.json()["Message"] == "No carrier service group with reference 'overnight' found"
    assert state(sb, FRESH) == "Unallocated"
    r = client.put(f"/Allocation/{FRESH}/allocateWithServiceGroup/NEXTDAY")
    assert r.status_code == 200
    assert sb.consignment(FRESH)["Allocation"]["CarrierServiceGroupReference"] == "nextDay"
    assert client.get(f"/CONSIGNMENTS/{FRESH}/Status").json()["Status"] == "Allocated"
    assert client.get(f"/consignments/{FRESH}/").status_code == 200  # trailing slash


# ------------------------------------------------------------------ routing and percent-encoding


@pytest.mark.parametrize(
    "raw",
    [
        f"/consignments/{FRESH}%2F..%2F..%2Fservicegroups",
        f"/consignments/{FRESH}%2Fstatus",
        f"/consignments/{FRESH}%3F",
        f"/consignments/{FRESH}%3Fx=1",
        "/consignments/..%2Fservicegroups",
        f"/consignments/{FRESH}%23frag",
    ],
)
def test_encoded_slash_question_mark_and_dots_stay_in_their_segment(sb, client, raw):
    r = client.get(raw)
    assert r.status_code == 404
    assert r.json()["Code"] == "ObjectNotFound"
    assert sb.recorded()[-1].raw_path == raw


def test_encoded_traversal_in_allocation_touches_nothing(sb, client):
    raws = [
        f"/allocation/{FRESH}%2F..%2F{FRESH2}/allocatewithservicegroup/nextDay",
        f"/allocation/{FRESH}%3F/allocatewithservicegroup/nextDay",
        f"/allocation/..%2F..%2Fconsignments%2F{FRESH}%2Fdeallocate/allocatewithservicegroup/nextDay",
    ]
    for raw in raws:
        r = client.put(raw)
        assert r.status_code == 404 and r.json()["Code"] == "ObjectNotFound"
    r = client.put(f"/allocation/{FRESH}/allocatewithservicegroup/nextDay%2F..%2F..%2Feconomy")
    assert r.status_code == 400 and r.json()["Code"] == "CarrierServiceGroupNotFoundForCustomer"
    r = client.put(f"/allocation/{FRESH}/allocatewithservicegroup/nextDay%3F")
    assert r.status_code == 400
    assert state(sb, FRESH) == "Unallocated" and state(sb, FRESH2) == "Unallocated"
    assert [r.raw_path for r in sb.recorded()][: len(raws)] == raws


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=30))
def test_any_encoded_reference_text_is_a_404_or_the_real_consignment(sb, client, text):
    from urllib.parse import quote

    # quote() leaves "." alone and httpx would then drop "." / ".." as dot segments: encode it too.
    raw = "/consignments/" + quote(text, safe="").replace(".", "%2E")
    r = client.get(raw)
    assert sb.recorded()[-1].raw_path == raw
    if text in {d.reference for d in DEMO_CONSIGNMENTS}:
        assert r.status_code == 200
    else:
        assert r.status_code == 404
        assert r.json()["Code"] == "ObjectNotFound"


def test_unknown_path_404_and_wrong_method_405(sb, client):
    r = client.get("/nothing/here")
    assert r.status_code == 404 and r.json()["Code"] == "ResourceNotFound"
    assert client.get("/").status_code == 404
    assert client.get("/consignments").status_code == 404
    r = client.get(f"/allocation/{FRESH}/allocatewithservicegroup/nextDay")
    assert r.status_code == 405 and r.headers["allow"] == "PUT"
    r = client.post(f"/consignments/{FRESH}")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert client.delete("/servicegroups").status_code == 405
    assert state(sb, FRESH) == "Unallocated"


# ------------------------------------------------------------------ other calls


def test_status_and_expected_delivery(sb, client):
    st_ = client.get(f"/consignments/{FRESH}/status").json()
    assert st_ == {
        "ConsignmentReferenceForAllLegsAssignedByMpd": FRESH,
        "Status": "Unallocated",
        "ExpectedDeliveryDate": None,
        "ApiLink": {"Rel": "detail", "Href": f"{sb.url}/consignments/{FRESH}"},
    }
    allocate(client, FRESH)  # Tracked 24: 1 business day
    st_ = client.get(f"/consignments/{FRESH}/status").json()
    assert st_["Status"] == "Allocated"
    expected = datetime.fromisoformat(st_["ExpectedDeliveryDate"])
    shipping = datetime.fromisoformat(sb.consignment(FRESH)["ShippingDate"]).date()
    assert expected.date() == business_days_after(shipping, 1)
    assert expected.utcoffset() is not None

    ref = sb.add_consignment(weight_kg=0.3)
    allocate(client, ref, "economy")  # Courier Co Economy 72: 3 business days
    expected = datetime.fromisoformat(client.get(f"/consignments/{ref}/status").json()["ExpectedDeliveryDate"])
    assert expected.date() == business_days_after(shipping, 3)


def business_days_after(day: date, n: int) -> date:
    while n:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def test_consignment_detail_shape(sb, client):
    c = client.get(f"/consignments/{FRESH}").json()
    assert c["Reference"] == FRESH
    assert c["ConsignmentState"] == "Unallocated"
    assert datetime.fromisoformat(c["ShippingDate"]).utcoffset() is not None
    origin, dest = c["Addresses"]
    assert origin["AddressType"] == "Origin" and dest["AddressType"] == "Destination"
    assert dest["Country"]["IsoCode"]["TwoLetterCode"] == "GB"
    assert dest["Town"] == "London" and dest["Postcode"] and dest["AddressLine1"]
    assert dest["Contact"]["FirstName"] and dest["Contact"]["LastName"]
    [pkg] = c["Packages"]
    assert pkg["Weight"] == {"Value": 1.2, "Unit": "Kg"}
    assert pkg["Dimensions"]["Unit"] == "Cm" and pkg["Description"]
    assert c["Allocation"] is None and c["FailedAllocation"] is None and c["ConsignmentLegs"] == []
    assert c["Source"] and c["CustomerReference"]


def test_deallocate(sb, client):
    allocate(client, FRESH)
    r = client.put(f"/consignments/{FRESH}/deallocate")
    assert r.status_code == 200 and r.content == b""
    c = sb.consignment(FRESH)
    assert c["ConsignmentState"] == "Unallocated"
    assert c["Allocation"] is None and c["ConsignmentLegs"] == []
    assert client.get(f"/consignments/{FRESH}/status").json()["ExpectedDeliveryDate"] is None
    r = client.put(f"/consignments/{FRESH}/deallocate")
    assert r.status_code == 400 and r.json()["Code"] == "OperationFailed"
    assert client.put(f"/consignments/{MANIFESTED}/deallocate").status_code == 200
    assert state(sb, MANIFESTED) == "Unallocated"
    assert client.put(f"/consignments/{CANCELLED}/deallocate").status_code == 400
    assert client.put("/consignments/EC-999-999-999/deallocate").status_code == 404
    assert allocate(client, FRESH).status_code == 200  # can be allocated again


def test_servicegroups_and_carrierservices(sb, client):
    groups = client.get("/servicegroups").json()
    assert [g["Reference"] for g in groups] == ["nextDay", "economy", "international", "valuableGoods", "heavy"]
    assert all(set(g) == {"Reference", "Name", "IsEnabled", "MpdCarrierServices"} for g in groups)
    services = client.get("/carrierservices").json()["MpdCarrierServices"]
    refs = {s["Reference"] for s in services}
    assert len(services) >= 8
    assert all(m in refs for g in groups for m in g["MpdCarrierServices"])
    assert all({"Reference", "Name", "CarrierReference", "CarrierName", "IsEnabled"} <= set(s) for s in services)
    assert any(not s["IsEnabled"] for s in services)


# ------------------------------------------------------------------ labels


def check_pdf_structure(pdf: bytes) -> int:
    """Pure-Python check: header, EOF, xref offsets, startxref; returns the page count."""
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf).group(1))
    assert pdf[startxref:].startswith(b"xref\n")
    m = re.match(rb"xref\n0 (\d+)\n", pdf[startxref:])
    size = int(m.group(1))
    table = pdf[startxref + m.end():]
    entries = [table[i * 20:(i + 1) * 20] for i in range(size)]
    assert entries[0] == b"0000000000 65535 f \n"
    for num, entry in enumerate(entries[1:], start=1):
        assert re.fullmatch(rb"\d{10} 00000 n \n", entry), entry
        offset = int(entry[:10])
        assert pdf[offset:].startswith(b"%d 0 obj" % num), num
    assert re.search(rb"trailer\s*<<\s*/Size %d /Root 1 0 R" % size, pdf)
    for m in re.finditer(rb"<< /Length (\d+) >>\nstream\n", pdf):
        length = int(m.group(1))
        assert pdf[m.end() + length:].startswith(b"\nendstream")
    return int(re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count (\d+)", pdf).group(1))


def get_label(client, path) -> tuple[bytes, str]:
    r = client.get(path)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"File", "ContentType"}
    return base64.b64decode(body["File"], validate=True), body["ContentType"]


def test_pdf_label_structure_and_content(sb, client):
    [s] = allocate(client, MULTI).json()
    tracking = s["ConsignmentLegs"][0]["TrackingReferences"]
    pdf, content_type = get_label(client, f"/labels/{MULTI}/PDF")
    assert content_type == "application/pdf"
    assert check_pdf_structure(pdf) == 3  # one page per package
    for t in tracking:
        assert b"(" + t.encode() + b")" in pdf
    for text in (MULTI, "Albion Post", "Tracked 24", "NE1 6AE", "Harriet Lee", "SANDBOX - NOT FOR SHIPPING"):
        assert text.encode() in pdf
    assert pdf.count(b" re f") > 50  # barcode bars are filled rectangles
    assert get_label(client, f"/labels/{MULTI}")[0] == pdf  # default format: PDF
    assert get_label(client, f"/labels/{MULTI}/pdf/300")[0] == pdf  # dpi ignored for vector output


def test_pdf_label_renders_and_its_barcodes_scan(sb, client, tmp_path):
    """Needs poppler-utils (pdftoppm); qpdf and zbar-tools (zbarimg) are used when present."""
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm not installed (poppler-utils): rendering not checked")
    [s] = allocate(client, MULTI).json()
    tracking = s["ConsignmentLegs"][0]["TrackingReferences"]
    pdf, _ = get_label(client, f"/labels/{MULTI}/PDF")
    path = tmp_path / "label.pdf"
    path.write_bytes(pdf)
    if shutil.which("qpdf"):
        check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")], check=True, timeout=30)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 3
    if shutil.which("zbarimg"):
        out = subprocess.run(["zbarimg", "-q", *map(str, pages)], capture_output=True, text=True, timeout=30)
        assert sorted(re.findall(r"CODE-128:(\S+)", out.stdout)) == sorted(tracking)


def test_pdf_escapes_and_non_ascii(sb, client):
    ref = sb.add_consignment(first_name="Zoë (test)", last_name="O\\Brien", address="Torstraße 1", state="Allocated")
    pdf, _ = get_label(client, f"/labels/{ref}/PDF")
    check_pdf_structure(pdf)
    assert b"Zo\xeb \\(test\\) O\\\\Brien" in pdf  # cp1252 ë, escaped parentheses and backslash


@pytest.mark.parametrize("fmt", ["ZPL", "zpl", "ZPLII"])
@pytest.mark.parametrize("dpi, width, length", [(None, 812, 1218), (203, 812, 1218), (300, 1200, 1800)])
def test_zpl_label_honours_dpi(sb, client, fmt, dpi, width, length):
    [s] = allocate(client, MULTI).json()
    tracking = s["ConsignmentLegs"][0]["TrackingReferences"]
    path = f"/labels/{MULTI}/{fmt}" + (f"/{dpi}" if dpi else "")
    data, content_type = get_label(client, path)
    assert content_type == "text/plain"
    zpl = data.decode("utf-8")
    blocks = re.findall(r"\^XA.*?\^XZ", zpl, re.S)
    assert len(blocks) == 3 and zpl.strip().startswith("^XA") and zpl.strip().endswith("^XZ")
    for block, t in zip(blocks, tracking):
        assert f"^PW{width}" in block and f"^LL{length}" in block
        assert re.search(r"\^BCN,\d+,Y,N,N\^FD" + t + r"\^FS", block)
        assert "^FDHarriet Lee^FS" in block and f"Consignment {MULTI}" in block
        for x, y in re.findall(r"\^FO(\d+),(\d+)", block):
            assert 0 <= int(x) < width and 0 <= int(y) < length
        assert block.count("^FO") == block.count("^FS")


def test_label_errors(sb, client):
    r = client.get(f"/labels/{FRESH}/PDF")
    assert r.status_code == 400
    assert r.json()["Code"] == "LabelNotFound"
    assert FRESH in r.json()["Message"] and "not allocated" in r.json()["Message"]
    assert client.get("/labels/EC-999-999-999/PDF").status_code == 404
    assert client.get(f"/labels/{ALLOCATED}/PNG").status_code == 400
    assert client.get(f"/labels/{ALLOCATED}/ZPL/abc").status_code == 400
    assert client.get(f"/labels/{ALLOCATED}/ZPL/5000").status_code == 400
    assert client.get(f"/labels/{ALLOCATED}/ZPL/203").status_code == 200
    assert client.get(f"/labels/{MANIFESTED}/PDF").status_code == 200


def test_code128_symbols():
    assert len(code128.PATTERNS) == 107 and len(set(code128.PATTERNS)) == 107
    assert all(sum(map(int, p)) == 11 for p in code128.PATTERNS[:106])
    values = code128.encode_b("PJJ123C")
    assert values[0] == 104 and values[-1] == 106
    assert values[-2] == (104 + sum(i * v for i, v in enumerate(values[1:-2], 1))) % 103
    mods = code128.modules("AT123456785GB")
    assert len(mods) == 11 * (13 + 3) + 2 and mods.startswith("11") and mods.endswith("11")
    with pytest.raises(ValueError):
        code128.encode_b("é")


# ------------------------------------------------------------------ faults


def test_fault_names_and_parse():
    assert set(FAULT_NAMES) == {
        "rate-limit", "server-error", "server-error-after-commit", "html-502", "drop-after-commit",
        "drop-before-commit", "slow-after-commit", "accepted-202", "garbage-200", "unauthorized",
        "servicegroups-forbidden", "label-not-ready",
        # issue 7: hostile answers
        "slow-commit", "rate-limit-after-commit", "flapping-202", "echo-key", "echo-key-error", "gzip-bomb",
        "huge-body", "drip-headers", "drip-body", "desync", "other-consignment", "empty-200", "status-only-200",
        "wrong-types-200",
    }
    f = Fault.parse("drop-after-commit:2")
    assert (f.name, f.times) == ("drop-after-commit", 2)
    assert Fault.parse("rate-limit").times is None
    with pytest.raises(ValueError) as e:
        Fault.parse("explode")
    assert "drop-after-commit" in str(e.value) and "rate-limit" in str(e.value)
    for bad in ("rate-limit:0", "rate-limit:x", "rate-limit:-1"):
        with pytest.raises(ValueError):
            Fault.parse(bad)
    assert Fault("slow-after-commit").effective_delay == 3
    assert Fault("accepted-202").effective_delay == 0.3


def test_drop_after_commit(sb, client):
    sb.add_fault(Fault("drop-after-commit", times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        allocate(client, FRESH)
    assert state(sb, FRESH) == "Allocated"
    assert sb.faults == []
    assert allocate(client, FRESH2).status_code == 200  # times=1: used up


def test_drop_before_commit(sb, client):
    sb.add_fault("drop-before-commit:1")
    with pytest.raises(httpx.RemoteProtocolError):
        allocate(client, FRESH)
    assert state(sb, FRESH) == "Unallocated"


def test_html_502_leaves_it_unallocated(sb, client):
    sb.add_fault(Fault("html-502", times=1))
    r = allocate(client, FRESH)
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<html>") and "<h1>502 Bad Gateway</h1>" in r.text
    assert state(sb, FRESH) == "Unallocated"


def test_server_error_before_and_after_commit(sb, client):
    sb.add_fault(Fault("server-error", times=1))
    r = allocate(client, FRESH)
    assert r.status_code == 500 and r.json()["Code"] and r.json()["CorrelationId"]
    assert state(sb, FRESH) == "Unallocated"
    sb.add_fault(Fault("server-error-after-commit", times=1))
    r = allocate(client, FRESH)
    assert r.status_code == 500
    assert state(sb, FRESH) == "Allocated"


def test_garbage_200(sb, client):
    sb.add_fault(Fault("garbage-200", times=1))
    r = allocate(client, FRESH)
    assert r.status_code == 200 and r.text == "<html>OK</html>"
    assert r.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert state(sb, FRESH) == "Allocated"


def test_slow_after_commit_gives_read_timeout_but_allocates(sb):
    sb.add_fault(Fault("slow-after-commit", delay=2, times=1))
    with httpx.Client(base_url=sb.url, headers=HEADERS, timeout=httpx.Timeout(5, read=0.3)) as c:
        t0 = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            allocate(c, FRESH)
        assert time.perf_counter() - t0 < 1.5
    assert state(sb, FRESH) == "Allocated"


def test_accepted_202_then_allocated(sb, client):
    sb.add_fault(Fault("accepted-202", delay=0.2, times=1))
    r = allocate(client, FRESH)
    assert r.status_code == 202
    [s] = r.json()
    assert s["StatusCode"] == 202 and s["ConsignmentLegs"] == []
    assert s["ApiLinks"][0] == {"Rel": "detail", "Href": f"{sb.url}/consignments/{FRESH}"}
    assert client.get(f"/consignments/{FRESH}/status").json()["Status"] == "Allocating"
    assert client.get(f"/consignments/{FRESH}").json()["Allocation"] is None
    r = allocate(client, FRESH)  # while allocating: refused
    assert r.status_code == 400 and "Allocating" in r.json()["Message"]
    wait_for(lambda: client.get(f"/consignments/{FRESH}/status").json()["Status"] != "Allocating")
    c = client.get(f"/consignments/{FRESH}").json()
    assert c["ConsignmentState"] == "Allocated"
    assert c["Allocation"]["MpdCarrierServiceReference"] == "ALB_TRK24"
    assert client.get(f"/consignments/{FRESH}/status").json()["ExpectedDeliveryDate"]


def test_accepted_202_then_allocation_failed(sb, client):
    sb.add_fault(Fault("accepted-202", delay=0.05))
    assert allocate(client, HEAVY).status_code == 202
    wait_for(lambda: state(sb, HEAVY) != "Allocating")
    c = sb.consignment(HEAVY)
    assert c["ConsignmentState"] == "AllocationFailed"
    assert "38.0 kg" in c["FailedAllocation"]["Message"]
    # Validation still happens up front: wrong state and unknown group are not 202.
    assert allocate(client, ALLOCATED).status_code == 400
    assert allocate(client, FRESH, "bogus").status_code == 400


def test_rate_limit_applies_to_any_request(sb, client):
    sb.add_fault(Fault("rate-limit", times=2, retry_after=3))
    r = client.get("/servicegroups")
    assert r.status_code == 429 and r.headers["retry-after"] == "3"
    assert r.json()["statusCode"] == 429
    r = allocate(client, FRESH)
    assert r.status_code == 429 and r.headers["retry-after"] == "3"
    assert state(sb, FRESH) == "Unallocated"
    assert allocate(client, FRESH).status_code == 200
    sb.add_fault("rate-limit:1")
    assert client.get("/servicegroups").headers["retry-after"] == "1"


def test_unauthorized_fault(sb, client):
    sb.add_fault(Fault("unauthorized", times=1))
    r = client.get(f"/consignments/{FRESH}")
    assert r.status_code == 401
    assert r.json() == {
        "statusCode": 401,
        "message": "Access denied due to invalid subscription key. "
        "Make sure to provide a valid key for an active subscription.",
    }
    assert client.get(f"/consignments/{FRESH}").status_code == 200


def test_servicegroups_forbidden(sb, client):
    sb.add_fault(Fault("servicegroups-forbidden"))
    r = client.get("/servicegroups")
    assert r.status_code == 403 and r.json()["Code"] and r.json()["Message"]
    assert client.get("/carrierservices").status_code == 200
    assert allocate(client, FRESH).status_code == 200
    assert client.get("/servicegroups").status_code == 403  # every time
    sb.clear_faults()
    assert client.get("/servicegroups").status_code == 200


def test_times_counts_down_and_match_narrows(sb, client):
    sb.add_fault(Fault("server-error", times=2, match="ec-000-dsk-002"))
    assert allocate(client, FRESH).status_code == 200  # not matched: untouched
    assert [f.times for f in sb.faults] == [2]
    assert allocate(client, FRESH2).status_code == 500
    assert [f.times for f in sb.faults] == [1]
    assert allocate(client, FRESH2).status_code == 500
    assert sb.faults == []
    assert allocate(client, FRESH2).status_code == 200


def test_fault_order_and_default_scope(sb, client):
    sb.add_fault(Fault("html-502", times=1))
    assert client.get(f"/consignments/{FRESH}").status_code == 200  # allocation faults skip GETs
    sb.add_fault(Fault("drop-before-commit", times=1))
    assert allocate(client, FRESH).status_code == 502  # first added, first used
    with pytest.raises(httpx.RemoteProtocolError):
        allocate(client, FRESH)
    assert allocate(client, FRESH).status_code == 200


def test_any_request_widens_a_fault(sb, client):
    sb.add_fault(Fault("html-502", any_request=True, match="/status"))
    assert client.get(f"/consignments/{FRESH}/status").status_code == 502
    assert client.get(f"/consignments/{FRESH}").status_code == 200
    sb.clear_faults()
    sb.add_fault(Fault("drop-after-commit", any_request=True, times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(f"/consignments/{FRESH}")


def test_faults_given_to_the_constructor():
    with SandboxServer(faults=["html-502:1", Fault("rate-limit", times=1, match="/servicegroups")]) as s:
        with httpx.Client(base_url=s.url, headers=HEADERS) as c:
            assert c.get("/servicegroups").status_code == 429
            assert allocate(c, FRESH).status_code == 502
            assert allocate(c, FRESH).status_code == 200


def test_latency_is_applied_and_settable(sb, client):
    client.get("/servicegroups")
    sb.latency_ms = 150
    t0 = time.perf_counter()
    assert client.get("/servicegroups").status_code == 200
    assert time.perf_counter() - t0 >= 0.15
    sb.latency_ms = 0
    t0 = time.perf_counter()
    client.get("/servicegroups")
    assert time.perf_counter() - t0 < 0.1
    with pytest.raises(ValueError):
        sb.latency_ms = -1


# ------------------------------------------------------------------ concurrency


def test_fifty_parallel_allocations_of_distinct_consignments(sb):
    refs = [sb.add_consignment(weight_kg=1 + i % 10) for i in range(50)]
    results: dict[str, int] = {}
    barrier = threading.Barrier(len(refs))

    def work(ref):
        with httpx.Client(base_url=sb.url, headers=HEADERS, timeout=10) as c:
            barrier.wait(5)
            results[ref] = allocate(c, ref).json()[0]["StatusCode"]

    threads = [threading.Thread(target=work, args=(r,)) for r in refs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == {r: 200 for r in refs}
    tracking = [sb.consignment(r)["ConsignmentLegs"][0]["TrackingReferences"][0] for r in refs]
    assert len(set(tracking)) == 50
    assert sb.errors == []


def test_concurrent_puts_on_one_consignment_allocate_it_once(sb):
    codes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def work():
        with httpx.Client(base_url=sb.url, headers=HEADERS, timeout=10) as c:
            barrier.wait(5)
            r = allocate(c, FRESH)
            with lock:
                codes.append(r.status_code)

    threads = [threading.Thread(target=work) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(codes) == [200] + [400] * 9
    assert state(sb, FRESH) == "Allocated"
    assert sum(1 for r in sb.recorded() if r.method == "PUT") == 10


# ------------------------------------------------------------------ demo data and helpers


def test_demo_data():
    refs = [d.reference for d in DEMO_CONSIGNMENTS]
    assert len(refs) >= 24 and len(set(refs)) == len(refs)
    assert all(REF_RE.match(r) for r in refs)
    states = [d.state for d in DEMO_CONSIGNMENTS]
    assert states.count("Allocated") == 3
    assert states.count("AllocationFailed") == 1
    assert states.count("Cancelled") == 1 and states.count("Manifested") == 1
    assert sum(1 for d in DEMO_CONSIGNMENTS if d.state == "Unallocated" and d.country == "GB") >= 12
    assert all(d.hint for d in DEMO_CONSIGNMENTS)


def test_demo_consignments_behave_as_their_hints_say(sb, client):
    for demo in DEMO_CONSIGNMENTS:
        c = sb.consignment(demo.reference)
        assert c["ConsignmentState"] == demo.state
        if demo.state in ("Allocated", "Manifested"):
            assert c["Allocation"] and c["ConsignmentLegs"][0]["TrackingReferences"]
            assert c["Allocation"]["CarrierServiceGroupReference"] == demo.suggested_group
        if demo.state == "AllocationFailed":
            assert "can take this consignment" in c["FailedAllocation"]["Message"]
            [s] = allocate(client, demo.reference, "heavy").json()
            assert s["StatusCode"] == 200
        if demo.state == "Unallocated":
            [s] = allocate(client, demo.reference, demo.suggested_group).json()
            assert s["StatusCode"] == (400 if demo.reference == NOWHERE else 200), demo
            if s["StatusCode"] == 200:
                assert s["CarrierName"] in demo.hint or s["CarrierServiceName"] in demo.hint or "→" not in demo.hint


def test_reset_reloads_the_seed(sb, client):
    allocate(client, FRESH)
    extra = sb.add_consignment()
    sb.reset()
    assert state(sb, FRESH) == "Unallocated"
    with pytest.raises(KeyError):
        sb.consignment(extra)
    assert state(sb, ALLOCATED) == "Allocated"


def test_empty_sandbox_and_helpers():
    with SandboxServer(seed=False) as s, httpx.Client(base_url=s.url, headers=HEADERS) as c:
        assert c.get(f"/consignments/{FRESH}").status_code == 404
        ref = s.add_consignment(weight_kg=2, country="FR")
        assert REF_RE.match(ref)
        assert allocate(c, ref, "international").json()[0]["CarrierServiceReference"] == "CEX_EURO"
        assert s.add_consignment("EC-ABC-DEF-123", packages=[1.0, 2.0]) == "EC-ABC-DEF-123"
        assert len(s.consignment("EC-ABC-DEF-123")["Packages"]) == 2
        with pytest.raises(ValueError):
            s.add_consignment("EC-ABC-DEF-123")
        with pytest.raises(ValueError):
            s.add_consignment("bad-ref")
        s.set_state("EC-ABC-DEF-123", "Allocated")  # forced: gets a real allocation and labels
        assert c.get("/labels/EC-ABC-DEF-123/ZPL").status_code == 200
        s.set_state("EC-ABC-DEF-123", "Cancelled")
        assert allocate(c, "EC-ABC-DEF-123").status_code == 400
        s.set_state("EC-ABC-DEF-123", "Unallocated")
        assert s.consignment("EC-ABC-DEF-123")["Allocation"] is None
        with pytest.raises(ValueError):
            s.set_state("EC-ABC-DEF-123", "Lost")
        with pytest.raises(KeyError):
            s.set_state("EC-999-999-999", "Allocated")
        s.reset()
        assert c.get("/consignments/EC-ABC-DEF-123").status_code == 404


def test_consignment_returns_a_deep_copy(sb):
    c = sb.consignment(FRESH)
    c["Addresses"][1]["Town"] = "Nowhere"
    assert sb.consignment(FRESH)["Addresses"][1]["Town"] == "London"


# ------------------------------------------------------------------ command line


def test_cli_refuses_non_loopback_without_allow_remote(capsys):
    assert cli_main(["--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli_main(["--fault", "explode"])
    assert e.value.code == 2
    assert "rate-limit" in capsys.readouterr().err


@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT")
def test_cli_serves_prints_url_and_key_and_stops_cleanly_on_ctrl_c():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(APP_DIR), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "despatch_desk.sandbox", "--port", "0", "--fault", "html-502:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()
    try:
        first = lines.get(timeout=15)
        url = re.search(r"(http://127\.0\.0\.1:\d+)", first).group(1)
        key_line = lines.get(timeout=5)
        assert key_line.strip() == f"API key: {DEMO_API_KEY}"
        with httpx.Client(base_url=url, headers=HEADERS) as c:
            assert allocate(c, FRESH).status_code == 502
            assert allocate(c, FRESH).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read()
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
