"""Hypothesis against answer parsing: any bytes, any JSON, summary-shaped junk. No exception escapes, and no
outcome is "allocated" unless the body says so for the consignment asked about.

The allocation runs through the real client and workflow against a loopback server whose PUT answer is
the generated body and whose consignment look always says Unallocated, so "allocated" can only come
from believing the body.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from despatch_desk import api
from despatch_desk.core import AllocationWorkflow, OutcomeKind, RetryPolicy
from despatch_desk.sanitize import load_json

REF = "EC-000-FUZ-001"
KEY = "fuzz-key-0123456789abcdef"
POLICY = RetryPolicy(backoff_initial_s=0.001, backoff_max_s=0.002, poll_interval_s=0.005, poll_timeout_s=0.02,
                     rate_limit_min_wait_s=0.001, rate_limit_default_wait_s=0.001, commit_window_s=0.0,
                     scan_deadline_s=3, connect_attempts=2)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
refs = st.sampled_from([REF, REF.lower(), "EC-999-999-999", "", "EC-000-FUZ-00", f"{REF}/x"])
field_values = st.one_of(json_values, refs, st.sampled_from(["Carrier X", "Next Day", "CX_NDS", 200, "200"]))
summary_like = st.fixed_dictionaries(
    {},
    optional={
        "StatusCode": st.one_of(st.sampled_from([200, 201, 202, 400, "200", None]), json_values),
        "ApiLinks": st.one_of(json_values, st.lists(st.fixed_dictionaries(
            {"Rel": st.sampled_from(["detail", "label", "DETAIL"]),
             "Href": refs.map(lambda r: f"https://x/consignments/{r}")}), max_size=2)),
        "Description": st.one_of(field_values, refs.map(lambda r: f"Consignment {r} has been allocated")),
        "ConsignmentLegs": st.one_of(json_values, st.lists(st.dictionaries(
            st.sampled_from(["TrackingReferences", "CarrierName", "CarrierReference"]), field_values), max_size=2)),
        "CarrierName": field_values,
        "CarrierReference": field_values,
        "CarrierServiceReference": field_values,
        "CarrierServiceName": field_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    summary_like.map(lambda v: json.dumps(v).encode()),
    summary_like.map(lambda v: json.dumps([v]).encode()),
)


class _Server:
    """PUT → the current body and status; GET /consignments/REF → Unallocated."""

    def __init__(self) -> None:
        self.body = b"{}"
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per answer

            def log_message(self, *args):
                pass

            def _reply(self, body: bytes, status: int = 200) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                self._reply(outer.body, outer.status)

            def do_GET(self):
                if self.path.rstrip("/").endswith("/status"):
                    self._reply(json.dumps({"Status": "Unallocated"}).encode())
                else:
                    self._reply(json.dumps({"Reference": REF, "ConsignmentState": "Unallocated"}).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def fuzz_server():
    server = _Server()
    yield server
    server.close()


@pytest.fixture(scope="module")
def fuzz_workflow(fuzz_server):
    client = api.SortedProClient(fuzz_server.url, KEY, timeouts=api.Timeouts(connect=1, read=2))
    yield AllocationWorkflow(client, POLICY)
    client.close()


def _says_allocated_for(body: bytes, reference: str) -> bool:
    """The test's own reading of "the body says it is allocated, for this consignment"."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if isinstance(data, list):
        data = next((item for item in data if isinstance(item, Mapping)), None)
    if not isinstance(data, Mapping):
        return False
    status = data.get("StatusCode")
    if status is not None and str(status) not in ("200", "201") and status not in (200, 201):
        return False
    if not any(isinstance(data.get(k), str) and data.get(k).strip()
               for k in ("CarrierServiceReference", "CarrierServiceName", "CarrierName")):
        return False
    links = data.get("ApiLinks")
    links = [links] if isinstance(links, Mapping) else links if isinstance(links, list) else []
    details = [link.get("Href") for link in links if isinstance(link, Mapping)
               and str(link.get("Rel", "")).lower() == "detail" and isinstance(link.get("Href"), str)]
    description = data.get("Description") if isinstance(data.get("Description"), str) else ""
    if details:
        return details[0].rstrip("/").rsplit("/", 1)[-1].upper() == reference.upper()
    return reference.upper() in description.upper()


@FUZZ
@given(body=bodies, status=st.sampled_from([200, 200, 200, 201, 202, 400, 404, 409, 429, 500, 502, 503]))
def test_fuzz_allocation_answer_never_escapes_and_is_only_believed_for_its_consignment(fuzz_server, fuzz_workflow,
                                                                                       body, status):
    fuzz_server.body, fuzz_server.status = body, status
    outcome = fuzz_workflow.allocate(REF, "nextDay")
    assert isinstance(outcome.kind, OutcomeKind)
    assert "internal error" not in outcome.message
    if outcome.kind is OutcomeKind.ALLOCATED:
        assert status in (200, 201) and _says_allocated_for(body, REF), (status, body)
        assert not outcome.recovered  # the look said Unallocated: only the body could say allocated


@FUZZ
@given(body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_fuzz_load_json_raises_only_value_error(body):
    try:
        data = load_json(body)
    except ValueError:
        return
    json.dumps(data)  # whatever came back is plain JSON data


@FUZZ
@given(data=json_values | summary_like | st.lists(summary_like, max_size=2))
def test_fuzz_parsers_raise_only_value_error(data):
    for parse in (api.parse_allocation_summary, lambda d: api.parse_consignment(d, REF), api.parse_status,
                  api.parse_service_groups, api.parse_carrier_services):
        try:
            parsed = parse(data)
        except ValueError:
            continue
        if isinstance(parsed, api.AllocationSummary):
            parsed.doubt_about(REF)
            parsed.succeeded  # noqa: B018 - must not raise either
            parsed.tracking_references  # noqa: B018
