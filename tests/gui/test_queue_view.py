"""The in-doubt queue in the window: its list, Allocate again (one PUT), and the background drain (looks only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from despatch_desk.core import Outcome, OutcomeKind
from despatch_desk.sandbox import DEMO_API_KEY, Fault
from gui_support import scan, wait_state


def _in_doubt(desk, reference, age_s, group="nextDay"):
    row_id = desk.history.begin(reference, reference, group, started_at=datetime.now(UTC) - timedelta(seconds=age_s))
    desk.history.finish(row_id, Outcome(OutcomeKind.IN_DOUBT, reference, group, "The answer was lost."))
    return row_id


def _window(make_window, make_desk, sandbox, rows):
    desk = make_desk(base_url=sandbox.url, api_key=DEMO_API_KEY)
    ids = [_in_doubt(desk, ref, age) for ref, age in rows]
    return make_window(desk), ids


def test_queue_lists_rows_and_allocate_again_sends_one_put(qtbot, make_window, make_desk, sandbox):
    w, (old, fresh) = _window(make_window, make_desk, sandbox, [("EC-000-DSK-003", 600), ("EC-000-DSK-005", 5)])
    assert w.in_doubt_bar.isVisible() and w.queue.button.isVisible()
    dialog = w.queue.open()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=5000)
    cells = {dialog.table.item(r, 0).text(): [dialog.table.item(r, c).text() for c in range(4)] for r in range(2)}
    assert cells["EC-000-DSK-003"][1:] == ["nextDay", "10 min", "The answer was lost."]
    assert "2 scans in doubt" in dialog.count_label.text()
    sandbox.clear_requests()
    row_of_old = next(r for r in range(2) if dialog.entries[r].row_id == old)
    dialog.table.selectRow(row_of_old)
    assert dialog.allocate_again_button.isEnabled()
    assert dialog.allocate_again()
    qtbot.waitUntil(lambda: getattr(dialog, "last_result", None) is not None, timeout=10000)
    assert dialog.last_result.allocated is not None and dialog.last_result.allocated.ok
    assert sandbox.puts_for("EC-000-DSK-003") == 1
    # the fresh one may still land: Allocate again only looks, never sends
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=5000)
    dialog.last_result = None
    dialog.table.selectRow(0)
    assert dialog.allocate_again()
    qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=10000)
    assert dialog.last_result.allocated is None and sandbox.puts_for("EC-000-DSK-005") == 0
    assert "Not sent again" in dialog.status.text()


def test_background_drain_resolves_by_looking_and_says_so(qtbot, make_window, make_desk, sandbox):
    w, (row,) = _window(make_window, make_desk, sandbox, [("EC-000-DSK-022", 600)])  # it did work
    qtbot.waitUntil(lambda: w.controller.in_doubt_count == 1, timeout=5000)
    sandbox.clear_requests()
    with qtbot.waitSignal(w.queue.drain.drained, timeout=10000) as blocker:
        w.queue.drain.set_interval(50)  # injectable: a few minutes in production
    assert "EC-000-DSK-022" in blocker.args[0]
    assert any("EC-000-DSK-022" in n for n in w.controller.notices)
    assert all(r.method == "GET" for r in sandbox.recorded())  # looks only
    assert w.desk.history.get(row).outcome == "allocated"
    qtbot.waitUntil(lambda: w.controller.in_doubt_count == 0, timeout=5000)
    runs = w.queue.drain.runs
    qtbot.wait(300)  # an empty queue is not re-checked (several intervals pass)
    assert w.queue.drain.runs == runs


def test_drain_runs_when_the_network_comes_back(qtbot, make_window, make_desk, sandbox):
    w, (row,) = _window(make_window, make_desk, sandbox, [("EC-000-DSK-022", 600)])
    qtbot.waitUntil(lambda: w.controller.in_doubt_count == 1, timeout=5000)
    sandbox.add_fault(Fault("html-502", times=1, match="EC-000-DSK-002"))
    sandbox.add_fault(Fault("html-502", any_request=True, match="/consignments/EC-000-DSK-002"))
    scan(qtbot, w, "EC-000-DSK-002")  # no answer SortedPRO can be believed: in doubt, the desk is "offline"
    wait_state(qtbot, w, "in_doubt", timeout=15000)
    assert w.queue.drain.offline and w.queue.drain.runs == 0
    sandbox.clear_faults()
    with qtbot.waitSignal(w.queue.drain.drained, timeout=15000):
        scan(qtbot, w, "EC-000-DSK-001")  # SortedPRO answers again
        wait_state(qtbot, w, "allocated")
    assert w.queue.drain.runs == 1 and not w.queue.drain.offline
    assert w.desk.history.get(row).outcome == "allocated"
    assert sandbox.puts_for("EC-000-DSK-022") == 0  # the drain only looks


def test_an_undo_in_doubt_is_resolved_by_the_drain_without_touching_the_scans(qtbot, make_window, make_desk, sandbox):
    desk = make_desk(base_url=sandbox.url, api_key=DEMO_API_KEY)
    undo_row = desk.history.begin("EC-000-DSK-002", "EC-000-DSK-002", "", action="deallocate",
                                  started_at=datetime.now(UTC) - timedelta(seconds=600))
    desk.history.finish(undo_row, Outcome(OutcomeKind.IN_DOUBT, "EC-000-DSK-002", "", "The undo's answer was lost."))
    w = make_window(desk)
    qtbot.waitUntil(lambda: w.controller.in_doubt_count == 1, timeout=5000)
    dialog = w.queue.open()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=5000)
    assert dialog.table.item(0, 0).text() == "EC-000-DSK-002  (undo)"
    dialog.table.selectRow(0)
    assert not dialog.allocate_again_button.isEnabled()  # an undo is never "allocated again"
    sandbox.clear_requests()
    with qtbot.waitSignal(w.queue.drain.drained, timeout=10000) as blocker:
        w.queue.drain.tick()
    assert "unallocated again" in blocker.args[0]  # the sandbox holds it unallocated: the undo worked
    assert all(r.method == "GET" for r in sandbox.recorded())
    assert w.desk.history.get(undo_row).outcome == "deallocated"
