"""The scan controller: cancelling, the one re-check policy, follow-ups, quiet batches (real sandbox, real HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from gui_support import scan, wait_state
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from despatch_desk.core import Outcome, OutcomeKind
from despatch_desk.sandbox import DEMO_API_KEY, Fault

REPO = Path(__file__).resolve().parents[2]


def puts(sandbox, reference=None):
    return [r for r in sandbox.recorded() if r.method == "PUT" and "/allocation/" in r.path.lower()
            and (reference is None or reference.lower() in r.path.lower())]


# --------------------------------------------------------------------------- cancelling


def test_a_cancelled_queued_scan_sends_and_writes_nothing(qtbot, make_window, sandbox):
    sandbox.latency_ms = 400
    w = make_window(base_url=sandbox.url, api_key=DEMO_API_KEY, max_parallel=1)
    first = w.controller.submit_scan("EC-000-DSK-001")
    queued = w.controller.submit_scan("EC-000-DSK-003")
    qtbot.waitUntil(lambda: first.state == "allocating", timeout=3000)
    assert queued.state == "queued"
    assert w.controller.cancel(queued.id)
    assert queued.state == "cancelled" and "nothing was sent or recorded" in queued.message
    assert w.recent_model.rows()[0].state == "cancelled"
    qtbot.waitUntil(lambda: first.state == "allocated", timeout=8000)
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=5000)
    assert puts(sandbox, "EC-000-DSK-003") == []                  # nothing sent ...
    assert w.desk.history.search("EC-000-DSK-003") == []          # ... and nothing written
    # The desk goes on: the same reference scanned again is sent now.
    again = w.controller.submit_scan("EC-000-DSK-003")
    qtbot.waitUntil(lambda: again.state == "allocated", timeout=8000)
    assert len(puts(sandbox, "EC-000-DSK-003")) == 1


def test_a_cancelled_running_scan_ends_honestly_and_the_desk_works_on(qtbot, demo_window, sandbox):
    w = demo_window
    sandbox.add_fault(Fault("slow-after-commit", delay=4.0, match="EC-000-DSK-005"))  # applied; answer held
    ticket = w.controller.submit_scan("EC-000-DSK-005")
    qtbot.waitUntil(lambda: len(puts(sandbox, "EC-000-DSK-005")) == 1, timeout=3000)
    assert w.controller.cancel(ticket.id)
    qtbot.waitUntil(lambda: ticket.outcome is not None, timeout=3500)  # well before the 4 s answer
    # It reached the server: the outcome says what is known, never "not allocated".
    assert ticket.outcome.kind in (OutcomeKind.ALLOCATED, OutcomeKind.IN_DOUBT), ticket.outcome
    row = w.desk.history.search("EC-000-DSK-005")[0]
    assert row.outcome == ticket.outcome.kind.value  # the history says the same
    assert not w.desk.closing.cancelled  # one scan's cancel leaves the desk alone
    other = w.controller.submit_scan("EC-000-DSK-007")
    qtbot.waitUntil(lambda: other.state == "allocated", timeout=8000)
    assert len(puts(sandbox, "EC-000-DSK-005")) == 1


def test_a_cancelled_batch_drops_its_queued_rows_and_the_desk_works_again(qtbot, make_window, sandbox):
    sandbox.latency_ms = 300
    w = make_window(base_url=sandbox.url, api_key=DEMO_API_KEY, max_parallel=1)
    refs = [f"EC-000-DSK-{n:03d}" for n in (1, 3, 5, 7)]
    batch = w.controller.submit_batch(refs)
    with qtbot.waitSignal(w.controller.batch_finished, timeout=8000) as finished:
        qtbot.waitUntil(lambda: len(puts(sandbox)) == 1, timeout=3000)
        assert w.controller.cancel_batch(batch) == 4
    assert finished.args == [batch]
    states = [t.state for t in w.controller.batch_tickets(batch)]
    assert states[1:] == ["cancelled"] * 3 and states[0] in ("allocated", "in_doubt")
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=5000)
    assert len(puts(sandbox)) == 1
    later = w.controller.submit_scan("EC-000-DSK-009")
    qtbot.waitUntil(lambda: later.state == "allocated", timeout=8000)


# --------------------------------------------------------------------------- quiet batches


def test_a_batch_is_quiet_and_ends_with_one_summary(qtbot, demo_window, sandbox):
    w = demo_window
    scan(qtbot, w, "EC-000-DSK-001")
    wait_state(qtbot, w, "allocated")
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=8000)  # its price line is in
    paints = w.result_panel.paint_count
    panel_text = w.result_panel.text()
    w.sounds.played.clear()
    refs = ["EC-000-DSK-003", "EC-000-DSK-005", "EC-000-DSK-021", "EC-000-DSK-022", "nonsense",
            "EC-000-DSK-007", "EC-000-DSK-009", "EC-000-DSK-011", "EC-000-DSK-012", "EC-000-DSK-013"]
    with qtbot.waitSignal(w.controller.batch_finished, timeout=10000) as finished:
        batch = w.controller.submit_batch(refs)
    summary = w.controller.batch_summary(finished.args[0])
    assert finished.args == [batch] and summary.total == 10
    assert summary.counts == {"allocated": 7, "not_allocated": 1, "already_allocated": 1, "invalid_reference": 1}
    assert w.sounds.played == ["failure"]                  # one sound for the batch, not one per row
    assert w.result_panel.text() == panel_text             # the panel still shows the operator's own scan
    QApplication.processEvents()
    # Not repainted per row (at most for the one batch line appearing above it and the list growing).
    assert w.result_panel.paint_count - paints <= 2
    assert len(w.recent_model.rows()) == 11                # the list has every row
    assert w.attention.count == 1 and "Batch of 10" in w.attention.text()  # one problem line, not three
    # The history records each sent row with the batch it belongs to (an id unique across sessions).
    rows = [r for r in w.desk.history.search() if r.reference in refs and r.outcome != "invalid_reference"]
    assert len(rows) == 9 and {r.batch_id for r in rows} == {batch} and batch.startswith("window-")


# --------------------------------------------------------------------------- follow-ups


def test_follow_ups_run_after_an_allocation_and_update_the_ticket(qtbot, make_desk, sandbox):
    from despatch_desk.gui.jobs import JobRunner
    from despatch_desk.gui.scan_controller import FollowUp, FollowUpRegistry, ScanController

    desk = make_desk(sandbox.url, DEMO_API_KEY)
    registry = FollowUpRegistry()
    threads: list[str] = []

    def expected_delivery(desk_, outcome, token):  # a real call on the follow-up lane
        threads.append(threading.current_thread().name)
        return desk_.client().get_status(outcome.reference).state

    registry.register(FollowUp("status", lambda o: o.ok, expected_delivery))
    registry.register(FollowUp("broken", lambda o: o.ok, lambda *_: 1 / 0))
    registry.register(FollowUp("never", lambda o: False, lambda *_: "no"))
    runner = JobRunner(token_source=lambda: desk.closing)
    controller = ScanController(desk, runner, lambda: "nextDay", follow_ups=registry)
    seen: list[tuple[int, str, QThread]] = []
    controller.follow_up_finished.connect(lambda tid, name: seen.append((tid, name, QThread.currentThread())))
    ticket = controller.submit_scan("EC-000-DSK-011")
    refused = controller.submit_scan("EC-000-DSK-021")
    qtbot.waitUntil(lambda: len(seen) == 2 and refused.settled, timeout=8000)
    assert ticket.follow_ups["status"].value == "Allocated" and ticket.follow_ups["status"].error is None
    assert "ZeroDivisionError" in ticket.follow_ups["broken"].error
    assert "never" not in ticket.follow_ups and refused.follow_ups == {}
    assert threads and all(name.startswith("desk-job") for name in threads)
    assert all(thread is QApplication.instance().thread() for _t, _n, thread in seen)
    status_calls = [r for r in sandbox.recorded() if r.method == "GET" and r.path.lower().endswith("/status")]
    assert len(status_calls) == 1


def test_production_registers_the_label_and_details_follow_ups():
    from despatch_desk.gui import details_follow_up, label_follow_up
    from despatch_desk.gui.scan_controller import FOLLOW_UPS

    assert len(FOLLOW_UPS) == 2 and FOLLOW_UPS.get("label") is label_follow_up.LABEL_FOLLOW_UP
    assert FOLLOW_UPS.get("details") is details_follow_up.DETAILS_FOLLOW_UP


# --------------------------------------------------------------------------- the one re-check policy

REFS = {"EC-000-DSK-022": "the sandbox holds it allocated", "EC-000-DSK-001": "unallocated, just sent",
        "EC-999-ZZZ-999": "no such consignment"}


def _doubt_all(desk) -> list[int]:
    return [desk.history.record(Outcome(OutcomeKind.IN_DOUBT, ref, "nextDay", "?"), workstation="t",
                                environment=desk.origin) for ref in REFS]


def _outcomes(desk, ids) -> dict[str, str]:
    return {desk.history.get(i).reference: desk.history.get(i).outcome for i in ids}


def test_window_history_view_and_cli_recheck_alike(qtbot, demo_window, sandbox, isolated_environment):
    w = demo_window
    desk = w.desk
    ids = _doubt_all(desk)
    with qtbot.waitSignal(w.controller.recheck_finished, timeout=10000):
        w.recheck_in_doubt()
    by_window = _outcomes(desk, ids)
    window_counts = w.controller.last_recheck.counts

    ids = _doubt_all(desk)
    for row_id in set(r.id for r in desk.history.in_doubt()) - set(ids):
        desk.history.resolve(row_id, Outcome(OutcomeKind.NOT_ALLOCATED, None, "nextDay", "test: set aside"))
    w.history_action.trigger()
    view = w.history_view
    with qtbot.waitSignal(view.rechecked, timeout=10000):
        assert view.recheck_in_doubt()
    by_view = _outcomes(desk, ids)
    view.close()

    ids = _doubt_all(desk)
    for row_id in set(r.id for r in desk.history.in_doubt()) - set(ids):
        desk.history.resolve(row_id, Outcome(OutcomeKind.NOT_ALLOCATED, None, "nextDay", "test: set aside"))
    env = dict(os.environ, DESPATCH_DESK_HOME=str(isolated_environment), PYTHONPATH=str(REPO / "app"),
               DESPATCH_DESK_API_URL=sandbox.url, DESPATCH_DESK_API_KEY=DEMO_API_KEY,
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    out = subprocess.run([sys.executable, "-m", "despatch_desk", "recheck", "--json"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert "Traceback" not in out.stderr, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    by_cli = {line["reference"]: line["outcome"] for line in lines}

    assert by_window == by_view == by_cli, (by_window, by_view, by_cli)
    assert by_window["EC-000-DSK-022"] == "allocated"
    assert window_counts == {k: sum(1 for v in by_window.values() if v == k) for k in set(by_window.values())}
    assert not puts(sandbox)  # re-checking only ever looks


def test_never_two_rechecks_of_one_row_at_once(qtbot, demo_window, sandbox):
    w = demo_window
    desk = w.desk
    ids = _doubt_all(desk)
    sandbox.latency_ms = 300  # every look takes a while: the two re-checks overlap
    w.history_action.trigger()
    view = w.history_view
    with qtbot.waitSignal(view.rechecked, timeout=15000), \
            qtbot.waitSignal(w.controller.recheck_finished, timeout=15000):
        assert w.controller.recheck()
        assert not w.controller.recheck()      # the window's own second press is refused
        assert view.recheck_in_doubt()         # the history view's runs beside it, row by row
    looks = sorted((r.time, r.path.rsplit("/", 1)[-1].upper()) for r in sandbox.recorded()
                   if r.method == "GET" and "/consignments/" in r.path.lower())
    for ref in REFS:
        times = [t for t, name in looks if name == ref]
        assert times, ref
        # A second look at the same row, if any, started only after the first had its answer.
        assert all(b - a >= 0.25 for a, b in zip(times, times[1:])), (ref, times)
    combined = list(view.last_recheck.results) + list(w.controller.last_recheck.results)
    assert {r.row_id for r in combined} == set(ids)
    assert all(r.kind != "error" for r in combined)
    view.close()


def test_one_rows_error_does_not_stop_the_others(qtbot, demo_window, sandbox):
    from despatch_desk import in_doubt

    desk = demo_window.desk
    broken = desk.history.record(Outcome(OutcomeKind.IN_DOUBT, None, "nextDay", "?", raw_scan="garbled"),
                                 workstation="t", environment=desk.origin)  # nothing to look up
    ids = [broken, *_doubt_all(desk)]
    sandbox.add_fault(Fault("server-error", any_request=True, match="EC-000-DSK-001"))  # its looks fail
    summary = in_doubt.recheck_all(desk, ids)
    kinds = {r.row_id: r.kind for r in summary.results}
    assert list(kinds) == ids
    assert kinds[broken] == "error" and "no consignment reference" in summary.results[0].error
    assert kinds[ids[1]] == "allocated" and kinds[ids[2]] == "in_doubt"
    assert sum(summary.counts.values()) == len(ids) and "could not be checked" in summary.words()
