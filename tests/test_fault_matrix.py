"""Issue 7, parts A and C: every hostile case over real loopback HTTP, asserting what the server received
(how many PUTs, never two in flight for one consignment, a look before every re-PUT) and the outcome.

Timing is controlled by the faults' delays and the policy's deadlines, never by sleeping: waits are on
events or on the sandbox's state (``wait_until``), with generous bounds for a loaded machine.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from despatch_desk import api
from despatch_desk.cancel import CancelToken
from despatch_desk.core import AllocationWorkflow, OutcomeKind, RetryPolicy
from despatch_desk.desk import Desk
from despatch_desk.sandbox import DEMO_API_KEY, Fault
from despatch_desk.sandbox.hostile import NEVER_ISSUED, OTHER_REFERENCE

FRESH = "EC-000-DSK-001"
SECOND = "EC-000-DSK-002"
FAST = RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02, poll_interval_s=0.05, poll_timeout_s=5,
                   rate_limit_default_wait_s=0.01, rate_limit_min_wait_s=0.01, scan_deadline_s=10)


def workflow(server, policy=FAST, read=5.0):
    return AllocationWorkflow(api.SortedProClient(server.url, DEMO_API_KEY,
                                                  timeouts=api.Timeouts(connect=1, read=read)), policy)


def wait_until(predicate, timeout=10.0):
    """Wait for the world to change (an Event wait per step, never a bare sleep)."""
    step = threading.Event()
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "the condition never came true"
        step.wait(0.02)


def assert_safe(server, reference, puts=None):
    """Never two PUTs in flight for one consignment, and a look (GET) before every re-PUT."""
    assert server.most_puts_in_flight(reference) <= 1
    calls = [c for c in server.calls_for(reference) if c in ("PUT", "GET")]
    for i, call in enumerate(calls):
        if call == "PUT" and "PUT" in calls[:i]:
            last_put = max(j for j in range(i) if calls[j] == "PUT")
            assert "GET" in calls[last_put + 1:i], f"re-PUT without a look: {calls}"
    if puts is not None:
        assert server.puts_for(reference) == puts, server.calls_for(reference)


# ------------------------------------------------------------------ A1 slow commit


def test_a1_slow_commit_no_second_put(sandbox):
    """The PUT's answer is lost (read timeout) while SortedPRO is still committing: keep looking."""
    sandbox.add_fault(Fault("slow-commit", times=1, delay=1.0))
    outcome = workflow(sandbox, read=0.3).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.recovered
    assert outcome.tracking_references == tuple(sandbox.consignment(FRESH)["ConsignmentLegs"][0]["TrackingReferences"])
    assert sandbox.calls_for(FRESH)[:2] == ["PUT", "GET"]
    assert_safe(sandbox, FRESH, puts=1)


def test_a1_slow_commit_past_the_deadline_is_in_doubt_never_not_allocated(sandbox):
    # Headroom for a loaded machine: the looks must get in between the read timeout and the deadline.
    sandbox.add_fault(Fault("slow-commit", times=1, delay=5.0))
    policy = replace(FAST, scan_deadline_s=3.0)
    outcome = workflow(sandbox, policy=policy, read=0.3).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.IN_DOUBT and "may still be working" in outcome.message
    assert sandbox.calls_for(FRESH).count("GET") >= 2  # it kept looking
    assert_safe(sandbox, FRESH, puts=1)
    wait_until(lambda: sandbox.consignment(FRESH)["ConsignmentState"] == "Allocated")  # and SortedPRO did it


def test_a1_recheck_within_commit_window_stays_in_doubt(sandbox):
    wf = workflow(sandbox)
    young = wf.recheck(FRESH, "nextDay", sent_at=datetime.now(UTC) - timedelta(seconds=5))
    assert young.kind is OutcomeKind.IN_DOUBT and "may still be working" in young.message
    old = wf.recheck(FRESH, "nextDay", sent_at=datetime.now(UTC) - timedelta(seconds=FAST.commit_window_s + 5))
    assert old.kind is OutcomeKind.NOT_ALLOCATED
    assert sandbox.puts_for(FRESH) == 0


# ------------------------------------------------------------------ A2 429 after the write was sent


def test_a2_429_after_commit_is_looked_at(sandbox):
    sandbox.add_fault(Fault("rate-limit-after-commit", times=1, retry_after=0))
    outcome = workflow(sandbox).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.recovered and outcome.service_name
    assert sandbox.calls_for(FRESH) == ["PUT", "GET"]
    assert_safe(sandbox, FRESH, puts=1)


def test_a2_repeated_429_is_never_unreachable(sandbox):
    sandbox.add_fault(Fault("rate-limit", retry_after=0, match="/allocation/"))
    outcome = workflow(sandbox).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.NOT_ALLOCATED and "(checked)" in outcome.message
    assert_safe(sandbox, FRESH, puts=FAST.rate_limit_attempts + 1)


# ------------------------------------------------------------------ A3 202 then a lagging status


def test_a3_202_then_lagging_status_keeps_polling(sandbox):
    sandbox.add_fault(Fault("flapping-202", times=1, delay=0.8))
    outcome = workflow(sandbox).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.service_name
    assert sandbox.calls_for(FRESH).count("STATUS") >= 3  # it saw Unallocated/Allocating and went on
    assert_safe(sandbox, FRESH, puts=1)


def test_a3_202_that_never_settles_is_in_doubt(sandbox):
    sandbox.add_fault(Fault("flapping-202", times=1, delay=30))
    outcome = workflow(sandbox, policy=replace(FAST, scan_deadline_s=0.8)).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.IN_DOUBT and "had not finished" in outcome.message
    assert_safe(sandbox, FRESH, puts=1)


# ------------------------------------------------------------------ A4 an answer about another consignment


@pytest.mark.parametrize("fault", ["other-consignment", "empty-200", "status-only-200", "wrong-types-200"])
def test_a4_unbelievable_answer_is_looked_at(sandbox, fault):
    sandbox.add_fault(Fault(fault, times=1))
    outcome = workflow(sandbox).allocate(FRESH, "nextDay")
    held = sandbox.consignment(FRESH)
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.recovered
    assert NEVER_ISSUED not in outcome.tracking_references
    assert outcome.tracking_references == tuple(held["ConsignmentLegs"][0]["TrackingReferences"])
    assert outcome.service_reference == held["Allocation"]["MpdCarrierServiceReference"]
    assert sandbox.calls_for(FRESH)[:2] == ["PUT", "GET"]
    assert_safe(sandbox, FRESH, puts=1)


def test_a4_desynchronised_connection_is_not_reused(sandbox):
    """Bytes after the first answer on a keep-alive connection must not become the next scan's answer."""
    sandbox.add_fault(Fault("desync", times=1))
    wf = workflow(sandbox)
    first = wf.allocate(FRESH, "nextDay")
    second = wf.allocate(SECOND, "nextDay")
    assert first.kind is OutcomeKind.ALLOCATED and second.kind is OutcomeKind.ALLOCATED
    assert NEVER_ISSUED not in second.tracking_references and OTHER_REFERENCE not in second.message
    assert second.tracking_references == tuple(sandbox.consignment(SECOND)["ConsignmentLegs"][0]["TrackingReferences"])
    assert not second.recovered  # its own answer, believed on its merits
    assert_safe(sandbox, FRESH, puts=1)
    assert_safe(sandbox, SECOND, puts=1)


class _AppendingServer:
    """A raw-socket HTTP server: the first connection's answer carries a second answer behind it."""

    def __init__(self, first: bytes, appended: bytes, later: bytes) -> None:
        self.first, self.appended, self.later = first, appended, later
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn, self.connections), daemon=True).start()

    def _talk(self, conn: socket.socket, number: int) -> None:
        with conn:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                _, buffer = buffer.split(b"\r\n\r\n", 1)
                conn.sendall(self.first + self.appended if number == 1 else self.later)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


def _http(body: str) -> bytes:
    data = body.encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)


def test_a4_transport_drops_connection_with_trailing_bytes():
    consignment = '{"Reference": "EC-AAA-AAA-AAA", "ConsignmentState": "%s"}'
    server = _AppendingServer(_http(consignment % "Unallocated"), _http(consignment % "Allocated"),
                              _http(consignment % "Manifested"))
    try:
        with api.SortedProClient(server.url, DEMO_API_KEY) as client:
            assert client.get_consignment("EC-AAA-AAA-AAA").state == "Unallocated"
            # The appended "Allocated" answer was never asked for: a new connection gives the true one.
            assert client.get_consignment("EC-AAA-AAA-AAA").state == "Manifested"
            assert server.connections == 2
    finally:
        server.close()


def test_a4_clean_keep_alive_connection_is_reused():
    """The leftover check does not spoil ordinary keep-alive: three calls, one connection."""
    answer = _http('{"Reference": "EC-AAA-AAA-AAA", "ConsignmentState": "Unallocated"}')
    server = _AppendingServer(answer, b"", answer)
    try:
        with api.SortedProClient(server.url, DEMO_API_KEY) as client:
            for _ in range(3):
                assert client.get_consignment("EC-AAA-AAA-AAA").state == "Unallocated"
        assert server.connections == 1
    finally:
        server.close()


# ------------------------------------------------------------------ A5 "already allocated" after our own attempt


def test_a5_already_allocated_after_own_uncertain_attempt_is_allocated(sandbox):
    """The first PUT's answer is lost; by the re-PUT SortedPRO holds it allocated to this group: allocated."""
    sandbox.add_fault(Fault("drop-before-commit", times=1))
    puts = []

    def first_commit_lands_late(request):
        if request.method == "PUT":
            puts.append(request)
            if len(puts) == 2:  # our first PUT took effect after all, just before the re-PUT
                sandbox.store.allocate(FRESH, "nextDay")

    sandbox.on_request = first_commit_lands_late
    outcome = workflow(sandbox, policy=replace(FAST, commit_window_s=0)).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.recovered
    assert outcome.service_name and "Nothing was changed" not in outcome.message
    assert_safe(sandbox, FRESH, puts=2)


def test_a5_prior_attempt_already_allocated_same_group_is_allocated(sandbox):
    sandbox.set_state(FRESH, "Allocated", "nextDay")
    outcome = workflow(sandbox).allocate(FRESH, "nextDay", prior_attempt=True)
    assert outcome.kind is OutcomeKind.ALLOCATED and outcome.service_name
    assert sandbox.puts_for(FRESH) == 0  # looked first: nothing to send


def test_a5_without_an_earlier_attempt_already_allocated_stays_already(sandbox):
    sandbox.set_state(FRESH, "Allocated", "nextDay")
    outcome = workflow(sandbox).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALREADY_ALLOCATED and "Nothing was changed" in outcome.message


# ------------------------------------------------------------------ A6 re-scan with an unresolved attempt


def _desk(paths, sandbox, **policy):
    return Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY, policy=replace(FAST, **policy))


def test_a6_rescan_of_in_doubt_reference_looks_first_and_resolves_it(paths, sandbox):
    desk = _desk(paths, sandbox, scan_deadline_s=0.6)
    sandbox.add_fault(Fault("slow-commit", times=1, delay=1.5))
    first = desk.allocate(FRESH, "nextDay")
    assert first.kind is OutcomeKind.IN_DOUBT
    [old] = desk.history.unresolved_for(FRESH)
    wait_until(lambda: sandbox.consignment(FRESH)["ConsignmentState"] == "Allocated")
    again = desk.allocate(FRESH, "nextDay")
    assert again.kind is OutcomeKind.ALLOCATED and again.recovered and again.attempts == 0
    assert_safe(sandbox, FRESH, puts=1)
    assert desk.history.unresolved_for(FRESH) == []
    settled = desk.history.get(old.id)
    assert settled.outcome == "allocated" and settled.resolved_at is not None
    desk.close()


def test_a6_rescan_while_the_first_put_may_still_land_sends_nothing(paths, sandbox):
    desk = _desk(paths, sandbox, scan_deadline_s=0.5)
    sandbox.add_fault(Fault("slow-commit", times=1, delay=1.5))
    assert desk.allocate(FRESH, "nextDay").kind is OutcomeKind.IN_DOUBT
    desk.policy = replace(desk.policy, scan_deadline_s=10)
    desk.reconfigure()
    again = desk.allocate(FRESH, "nextDay")  # the first PUT is still running at the server
    assert again.kind is OutcomeKind.ALLOCATED and again.attempts == 0
    assert_safe(sandbox, FRESH, puts=1)
    desk.close()


def test_a6_two_threads_one_reference_one_put(paths, sandbox):
    desk = _desk(paths, sandbox)
    sandbox.add_fault(Fault("slow-commit", times=1, delay=0.5))
    results = []
    threads = [threading.Thread(target=lambda: results.append(desk.allocate(FRESH, "nextDay"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(o.kind.value for o in results) == ["allocated", "allocated"]
    assert_safe(sandbox, FRESH, puts=1)
    desk.close()


# ------------------------------------------------------------------ C10 one deadline per scan


@pytest.mark.parametrize("fault", ["drip-headers", "drip-body"])
def test_c10_dripping_server_is_bounded_by_the_scan_deadline(sandbox, fault):
    sandbox.add_fault(Fault(fault, times=1, delay=0.2))  # a byte every 0.2 s: per-read timeouts never fire
    policy = replace(FAST, scan_deadline_s=1.5)
    t0 = time.monotonic()
    outcome = workflow(sandbox, policy=policy, read=5).allocate(FRESH, "nextDay")
    elapsed = time.monotonic() - t0
    assert outcome.kind is OutcomeKind.IN_DOUBT  # sent, answer unfinished: never "not allocated"
    assert elapsed < 1.5 + 1.0, elapsed
    assert_safe(sandbox, FRESH, puts=1)


class _SilentServer:
    """Accepts, reads the request, never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.got_request = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                self.got_request.set()
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for conn in self._conns:
            conn.close()


def test_c10_silent_server_is_bounded_by_the_scan_deadline():
    server = _SilentServer()
    try:
        client = api.SortedProClient(server.url, DEMO_API_KEY, timeouts=api.Timeouts(connect=1, read=30))
        t0 = time.monotonic()
        outcome = AllocationWorkflow(client, replace(FAST, scan_deadline_s=1.5)).allocate(FRESH, "nextDay")
        assert outcome.kind is OutcomeKind.IN_DOUBT
        assert time.monotonic() - t0 < 1.5 + 1.0
        client.close()
    finally:
        server.close()


@pytest.mark.parametrize("how", ["stop", "close"])
def test_c10_closing_ends_a_blocked_read_within_2s_and_records_honestly(paths, how):
    server = _SilentServer()
    try:
        desk = Desk(paths, base_url=server.url, api_key=DEMO_API_KEY, policy=RetryPolicy())
        result = {}
        worker = threading.Thread(target=lambda: result.setdefault("o", desk.allocate(FRESH, "nextDay")))
        worker.start()
        assert server.got_request.wait(10)
        t0 = time.monotonic()
        desk.stop() if how == "stop" else desk.close()  # "Close anyway" closes the client under the call
        worker.join(10)
        assert time.monotonic() - t0 < 2.0
        outcome = result["o"]
        assert outcome.kind is OutcomeKind.IN_DOUBT and "internal error" not in outcome.message
        assert "closed" in outcome.message
        [row] = desk.history.search()
        assert row.outcome == "in_doubt"
        desk.reopen()  # the desk works again after a stop
        assert not desk.closing.cancelled
        desk.close()
    finally:
        server.close()


def test_c10_cancelling_one_scan_leaves_the_desk_alone(paths, sandbox):
    desk = _desk(paths, sandbox)
    token = desk.closing.child()
    token.cancel("operator")
    outcome = desk.allocate(FRESH, "nextDay", cancel=token)
    assert outcome.kind is OutcomeKind.UNREACHABLE and "nothing was allocated" in outcome.message
    assert sandbox.puts_for(FRESH) == 0
    assert desk.allocate(FRESH, "nextDay").ok
    desk.close()


def test_c10_reconfigure_does_not_leave_the_desk_dead(paths, sandbox):
    desk = _desk(paths, sandbox)
    desk.stop()
    desk.reopen()
    desk.reconfigure()
    assert desk.allocate(FRESH, "nextDay").ok
    desk.close()


# ------------------------------------------------------------------ C11 Retry-After 0


def test_c11_retry_after_zero_is_a_real_backoff(sandbox):
    sandbox.add_fault(Fault("rate-limit", times=2, retry_after=0, match="/allocation/"))
    policy = replace(FAST, rate_limit_min_wait_s=RetryPolicy().rate_limit_min_wait_s)
    outcome = workflow(sandbox, policy=policy).allocate(FRESH, "nextDay")
    assert outcome.kind is OutcomeKind.ALLOCATED
    times = [r.time for r in sandbox.recorded() if r.method == "PUT"]
    assert len(times) == 3 and all(b - a >= 0.95 for a, b in zip(times, times[1:])), times
    assert_safe(sandbox, FRESH, puts=3)


def test_c11_token_deadline_caps_the_back_off(sandbox):
    sandbox.add_fault(Fault("rate-limit", retry_after=5, match="/allocation/"))
    token = CancelToken(timeout=2)
    t0 = time.monotonic()
    outcome = workflow(sandbox, policy=replace(FAST, rate_limit_max_wait_s=20)).allocate(FRESH, "nextDay",
                                                                                        cancel=token)
    assert time.monotonic() - t0 < 2.5 and outcome.kind is OutcomeKind.NOT_ALLOCATED
    assert_safe(sandbox, FRESH, puts=1)


def test_a6_two_processes_one_reference_one_put(sandbox, isolated_environment):
    """Two CLI runs on one machine scan the same consignment while SortedPRO is slow: one PUT at the server."""
    import subprocess
    import sys
    from pathlib import Path

    sandbox.add_fault(Fault("slow-commit", times=1, delay=5.0))
    env = dict(os.environ, DESPATCH_DESK_HOME=str(isolated_environment), DESPATCH_DESK_API_URL=sandbox.url,
               DESPATCH_DESK_API_KEY=DEMO_API_KEY, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               PYTHONPATH=str(Path(__file__).resolve().parents[1] / "app"))
    command = [sys.executable, "-m", "despatch_desk", "allocate", FRESH, "--group", "nextDay"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: sandbox.puts_for(FRESH) == 1, timeout=30)  # the first one's PUT is at the server
        second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out2, err2 = second.communicate(timeout=90)
        out1, err1 = first.communicate(timeout=90)
    finally:
        first.kill()
    assert first.returncode == 0, (out1, err1)
    assert second.returncode == 0, (out2, err2)  # it waited, looked, and found it allocated to this group
    assert "Traceback" not in err1 + err2
    assert_safe(sandbox, FRESH, puts=1)
    assert sandbox.calls_for(FRESH)[-1] == "GET"  # the second run's look


def test_a6_lock_files_do_not_pile_up(paths, sandbox):
    desk = _desk(paths, sandbox)
    for ref in (FRESH, SECOND):
        assert desk.allocate(ref, "nextDay").ok
    if os.name != "nt":  # removed by their holder as it lets go
        assert list((paths.data_dir / "locks").glob("*.lock")) == []
    desk.close()
