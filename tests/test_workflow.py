"""The allocation workflow against the built-in sandbox over real loopback HTTP.

Every outcome and every fault; in every in-doubt case the server must have received exactly one PUT.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import replace

import pytest

from despatch_desk import api
from despatch_desk.core import AllocationWorkflow, OutcomeKind, RetryPolicy
from despatch_desk.sandbox import DEMO_API_KEY, Fault, SandboxServer

FAST = RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02, poll_interval_s=0.05, poll_timeout_s=5,
                   rate_limit_default_wait_s=0.01, rate_limit_min_wait_s=0.01)
# The first PUT can no longer take effect once its answer is in (tests of the retry after a look).
NO_WINDOW = replace(FAST, commit_window_s=0.0)

FRESH = "EC-000-DSK-001"          # Unallocated GB parcel; nextDay -> Albion Post Tracked 24
HEAVY = "EC-000-DSK-014"          # 38 kg: no nextDay service can take it
NOWHERE = "EC-000-DSK-021"        # KP: no group can take it
ALREADY = "EC-000-DSK-022"        # Allocated (nextDay)
FAILED_BEFORE = "EC-000-DSK-025"  # AllocationFailed earlier; heavy works
CANCELLED = "EC-000-DSK-026"
MANIFESTED = "EC-000-DSK-027"


def puts(server):
    return [r for r in server.recorded() if r.method == "PUT"]


def workflow(server, key=DEMO_API_KEY, policy=FAST, read=5.0, url=None):
    client = api.SortedProClient(url or server.url, key, timeouts=api.Timeouts(connect=1, read=read))
    return AllocationWorkflow(client, policy)


@pytest.fixture
def wf(sandbox):
    w = workflow(sandbox)
    yield w
    w.client.close()


# ------------------------------------------------------------------ outcomes


def test_allocated_with_carrier_service_and_tracking(sandbox, wf):
    outcome = wf.allocate(f"  ]C0{FRESH.lower()}\r", "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.ok and not outcome.recovered
    assert outcome.reference == FRESH
    assert outcome.carrier_name and outcome.service_name and outcome.service_reference
    assert outcome.tracking_references
    assert outcome.label_url and outcome.label_url.endswith(FRESH)
    assert outcome.service_text in outcome.message
    assert sandbox.consignment(FRESH)["ConsignmentState"] == "Allocated"
    [put] = puts(sandbox)
    assert put.raw_path == f"/allocation/{FRESH}/allocatewithservicegroup/nextDay"
    assert put.headers["ocp-apim-subscription-key"] == DEMO_API_KEY
    assert put.headers["electio-api-version"] == "1.1"
    assert put.headers["accept"] == "application/json"
    assert outcome.attempts == 1 and outcome.duration_ms > 0


def test_cheapest_eligible_service_is_reported(sandbox, wf):
    outcome = wf.allocate("EC-000-DSK-008", "nextDay")  # 24 kg: over Albion's 20 kg limit
    assert outcome.kind is OutcomeKind.ALLOCATED
    assert outcome.carrier_name == "Swift Parcels"


def test_invalid_scan_sends_nothing(sandbox, wf):
    outcome = wf.allocate("EC-000-DSK-00", "nextDay")
    assert outcome.kind is OutcomeKind.INVALID_REFERENCE
    assert "short" in outcome.message
    assert sandbox.recorded() == []


def test_already_allocated_says_to_whom(sandbox, wf):
    outcome = wf.allocate(ALREADY, "nextDay")
    assert outcome.kind is OutcomeKind.ALREADY_ALLOCATED
    assert "already allocated to" in outcome.message and "group nextDay" in outcome.message
    assert outcome.service_name and outcome.carrier_name
    assert outcome.carrier_name in outcome.message
    assert len(puts(sandbox)) == 1


def test_manifested_counts_as_already_allocated(sandbox, wf):
    outcome = wf.allocate(MANIFESTED, "nextDay")
    assert outcome.kind is OutcomeKind.ALREADY_ALLOCATED
    assert "Manifested" in outcome.message


@pytest.mark.parametrize("style", ["summary", "error"])
def test_no_eligible_service_explains_why(style):
    with SandboxServer(failed_allocation_style=style) as server:
        w = workflow(server)
        outcome = w.allocate(HEAVY, "nextDay")
        assert outcome.kind is OutcomeKind.NOT_ALLOCATED
        assert outcome.message.startswith(f"No service in group nextDay can take {HEAVY}: ")
        assert "kg" in outcome.message
        assert server.consignment(HEAVY)["ConsignmentState"] == "AllocationFailed"
        # The failed one can still go with another group: state AllocationFailed allows it.
        assert w.allocate(HEAVY, "heavy").kind is OutcomeKind.ALLOCATED
        w.client.close()


def test_previously_failed_consignment_can_be_allocated(sandbox, wf):
    assert wf.allocate(FAILED_BEFORE, "heavy").kind is OutcomeKind.ALLOCATED


def test_unknown_consignment(sandbox, wf):
    outcome = wf.allocate("EC-999-999-999", "nextDay")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED
    assert outcome.message == "There is no consignment EC-999-999-999 in this SortedPRO account."
    assert outcome.server_code and outcome.correlation_id


def test_unknown_group(sandbox, wf):
    outcome = wf.allocate(FRESH, "noSuchGroup")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED
    assert "Service group 'noSuchGroup' does not exist" in outcome.message
    assert sandbox.consignment(FRESH)["ConsignmentState"] == "Unallocated"


def test_cancelled(sandbox, wf):
    outcome = wf.allocate(CANCELLED, "nextDay")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED and "Cancelled" in outcome.message


def test_wrong_key_is_unauthorized(sandbox):
    w = workflow(sandbox, key="wrong-key")
    outcome = w.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.UNAUTHORIZED
    assert "API key" in outcome.message
    assert "wrong-key" not in outcome.message + (outcome.server_message or "")


def test_closed_port_is_unreachable_after_bounded_retries():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = AllocationWorkflow(api.SortedProClient(f"http://127.0.0.1:{port}", "k"), FAST)
    t0 = time.perf_counter()
    outcome = w.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.UNREACHABLE
    assert "nothing was sent" in outcome.message
    assert outcome.attempts == 0
    assert time.perf_counter() - t0 < 2


def test_percent_encoding_keeps_input_inside_its_segment(sandbox, wf):
    outcome = wf.allocate(FRESH, "next/../Day?x=1#y")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED
    [put] = puts(sandbox)
    assert put.raw_path == f"/allocation/{FRESH}/allocatewithservicegroup/next%2F%2E%2E%2FDay%3Fx%3D1%23y"


# ------------------------------------------------------------------ faults


def test_rate_limit_honours_retry_after(sandbox, wf):
    sandbox.add_fault(Fault("rate-limit", times=1, retry_after=1))
    t0 = time.perf_counter()
    outcome = wf.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED
    assert time.perf_counter() - t0 >= 0.95
    assert len(puts(sandbox)) == 2


def test_rate_limit_is_bounded_and_looked_at(sandbox, wf):
    sandbox.add_fault(Fault("rate-limit", retry_after=0, match="/allocation/"))
    outcome = wf.allocate(FRESH, "nextDay")
    # A 429 came after the PUT was sent: never "unreachable"; the look showed it unallocated.
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED and "limiting requests" in outcome.message
    assert "(checked)" in outcome.message
    assert len(puts(sandbox)) == FAST.rate_limit_attempts + 1
    methods = [r.method for r in sandbox.recorded()]
    assert all(methods[i + 1] == "GET" for i, m in enumerate(methods[:-1]) if m == "PUT")  # a look after each


def test_rate_limit_longer_than_we_wait_gives_up_at_once(sandbox):
    sandbox.add_fault(Fault("rate-limit", retry_after=600, match="/allocation/"))
    outcome = workflow(sandbox).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED and len(puts(sandbox)) == 1


def test_rate_limit_on_every_request_is_in_doubt_not_unreachable(sandbox, wf):
    sandbox.add_fault(Fault("rate-limit", retry_after=0))
    outcome = wf.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.IN_DOUBT and len(puts(sandbox)) == 1


@pytest.mark.parametrize("fault", ["drop-after-commit", "server-error-after-commit", "garbage-200"])
def test_answer_lost_after_commit_is_recovered_with_one_put(sandbox, wf, fault):
    sandbox.add_fault(Fault(fault, times=1))
    outcome = wf.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.recovered
    assert outcome.carrier_name and outcome.service_name and outcome.tracking_references
    assert "confirmed with SortedPRO" in outcome.message
    assert len(puts(sandbox)) == 1


def test_read_timeout_after_commit_is_recovered_with_one_put(sandbox):
    sandbox.add_fault(Fault("slow-after-commit", times=1, delay=2))
    w = workflow(sandbox, read=0.3)
    outcome = w.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.recovered
    assert len(puts(sandbox)) == 1


@pytest.mark.parametrize("fault", ["drop-before-commit", "server-error", "html-502"])
def test_failure_before_commit_is_looked_at_then_retried_once(sandbox, fault):
    """Once the first PUT can no longer take effect (its commit window is over), one retry is safe."""
    sandbox.add_fault(Fault(fault, times=1))
    outcome = workflow(sandbox, policy=NO_WINDOW).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and not outcome.recovered
    methods = [(r.method, r.path.split("/")[1]) for r in sandbox.recorded()]
    # PUT (lost) -> GET consignment (look: still Unallocated) -> PUT (the one safe retry)
    assert methods[:3] == [("PUT", "allocation"), ("GET", "consignments"), ("PUT", "allocation")]
    assert len(puts(sandbox)) == 2


def test_application_500_is_retried_after_a_look(sandbox, wf):
    """SortedPRO's own 500 means its handler ended: "Unallocated" is then proof, one retry is safe."""
    sandbox.add_fault(Fault("server-error", times=1))
    outcome = wf.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and len(puts(sandbox)) == 2


@pytest.mark.parametrize("fault", ["drop-before-commit", "html-502"])
def test_lost_answer_within_the_commit_window_is_never_resent(sandbox, fault):
    """A dropped connection or a gateway's 502: the PUT may still run, so no second PUT, ever."""
    sandbox.add_fault(Fault(fault, times=1))
    policy = replace(FAST, scan_deadline_s=0.6, poll_interval_s=0.1)
    outcome = workflow(sandbox, policy=policy).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.IN_DOUBT and "may still be working" in outcome.message
    assert len(puts(sandbox)) == 1


def test_persistent_server_errors_stop_after_one_retry(sandbox, wf):
    sandbox.add_fault(Fault("server-error", match="/allocation/"))
    outcome = wf.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED
    assert "failed twice" in outcome.message and "Unallocated" in outcome.message
    assert len(puts(sandbox)) == 2


@pytest.mark.parametrize("fault", ["drop-after-commit", "server-error-after-commit", "html-502", "garbage-200"])
def test_in_doubt_when_the_look_fails_too_exactly_one_put(sandbox, wf, fault):
    sandbox.add_fault(Fault(fault, times=1))
    sandbox.add_fault(Fault("server-error", any_request=True, match="/consignments/"))
    outcome = wf.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.IN_DOUBT
    assert "may or may not be allocated" in outcome.message and "Do not ship" in outcome.message
    assert len(puts(sandbox)) == 1


def test_in_doubt_is_resolved_by_recheck_without_a_put(sandbox, wf):
    sandbox.add_fault(Fault("drop-after-commit", times=1))
    sandbox.add_fault(Fault("server-error", any_request=True, match="/consignments/"))
    assert wf.allocate(FRESH, "nextDay").kind is OutcomeKind.IN_DOUBT
    sandbox.clear_faults()
    sandbox.clear_requests()
    outcome = wf.recheck(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.recovered
    assert puts(sandbox) == []


def test_recheck_of_an_unallocated_consignment_says_not_allocated(sandbox, wf):
    outcome = wf.recheck(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED and puts(sandbox) == []


def test_accepted_202_is_polled_to_the_result(sandbox, wf):
    sandbox.add_fault(Fault("accepted-202", times=1, delay=0.3))
    outcome = wf.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.service_name
    assert any(r.path.endswith("/status") for r in sandbox.recorded())
    assert len(puts(sandbox)) == 1


def test_accepted_202_that_fails_explains(sandbox, wf):
    sandbox.add_fault(Fault("accepted-202", times=1, delay=0.1))
    outcome = wf.allocate(HEAVY, "nextDay")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED and "No service in group nextDay" in outcome.message


def test_accepted_202_that_never_finishes_is_in_doubt(sandbox):
    sandbox.add_fault(Fault("accepted-202", times=1, delay=30))
    policy = RetryPolicy(poll_interval_s=0.05, poll_timeout_s=0.3)
    outcome = workflow(sandbox, policy=policy).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.IN_DOUBT and "had not finished" in outcome.message
    assert len(puts(sandbox)) == 1


def test_gateway_unauthorized_shape(sandbox, wf):
    sandbox.add_fault(Fault("unauthorized"))
    outcome = wf.allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.UNAUTHORIZED
    assert "subscription key" in (outcome.server_message or "")


def test_stop_ends_backoff_waits_promptly():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slow = RetryPolicy(backoff_initial_s=30, backoff_max_s=30)
    w = AllocationWorkflow(api.SortedProClient(f"http://127.0.0.1:{port}", "k"), slow)
    threading.Timer(0.2, w.stop_event.set).start()
    t0 = time.perf_counter()
    outcome = w.allocate(FRESH, "nextDay")
    assert time.perf_counter() - t0 < 5
    assert outcome.kind is OutcomeKind.UNREACHABLE and "closed before this scan was sent" in outcome.message


def test_concurrent_allocations_share_one_client(sandbox, wf):
    refs = [f"EC-000-DSK-{i:03d}" for i in range(1, 14)]
    results = {}

    def run(ref):
        results[ref] = wf.allocate(ref, "nextDay" if ref != "EC-000-DSK-002" else "economy")

    threads = [threading.Thread(target=run, args=(r,)) for r in refs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == len(refs)
    assert all(o.kind is OutcomeKind.ALLOCATED for o in results.values()), {
        r: o.message for r, o in results.items() if not o.ok}


def test_the_same_consignment_twice_at_once_allocates_once(sandbox, wf):
    results = []
    threads = [threading.Thread(target=lambda: results.append(wf.allocate(FRESH, "nextDay"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    kinds = sorted(o.kind.value for o in results)
    assert kinds.count("allocated") == 1 and kinds.count("already_allocated") == 5


def test_verbose_log_masks_the_key(sandbox, wf, caplog):
    caplog.set_level(logging.DEBUG, logger="despatch_desk")
    wf.allocate(FRESH, "nextDay")
    wf.allocate(ALREADY, "nextDay")
    assert "PUT" in caplog.text and "••••" in caplog.text
    assert DEMO_API_KEY not in caplog.text


def test_dot_segments_cannot_escape_their_place(sandbox, wf):
    outcome = wf.allocate(FRESH, "..")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED
    [put] = puts(sandbox)
    assert put.raw_path == f"/allocation/{FRESH}/allocatewithservicegroup/%2E%2E"


def test_carrier_name_falls_back_to_carrier_services_list():
    """A consignment detail with neither a carrier in Allocation nor legs: ask /carrierservices once."""
    import httpx

    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.method == "PUT":
            return httpx.Response(400, json={"Code": "OperationFailed", "Message": "already allocated"})
        if request.url.path == "/carrierservices":
            return httpx.Response(200, json={"MpdCarrierServices": [
                {"Reference": "SWP_NDAY", "Name": "Next Day", "CarrierName": "Swift Parcels"}]})
        return httpx.Response(200, json={"Reference": FRESH, "ConsignmentState": "Allocated", "Allocation": {
            "CarrierServiceGroupReference": "nextDay", "MpdCarrierServiceReference": "SWP_NDAY",
            "MpdCarrierServiceName": "Next Day"}})

    client = api.SortedProClient("https://api.example.test", "k", transport=httpx.MockTransport(handler))
    w = AllocationWorkflow(client, FAST)
    for _ in range(2):
        outcome = w.allocate(FRESH, "nextDay")
        assert outcome.kind is OutcomeKind.ALREADY_ALLOCATED
        assert outcome.carrier_name == "Swift Parcels" and "Swift Parcels Next Day" in outcome.message
    assert calls.count("/carrierservices") == 1  # cached
