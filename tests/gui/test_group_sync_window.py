"""Ready by itself (issue 11 §1, the window): groups fetched in the background, in the account's order, the last
known list offline, the manual list when listing is refused, configured groups the account lacks flagged, and
READY only when the key works and a group is chosen (else NOT READY with the one next step)."""

from __future__ import annotations

import pytest
from gui_support import closed_port, scan
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from despatch_desk.sandbox import DEMO_API_KEY
from despatch_desk.sandbox.faults import Fault
from despatch_desk.settings import ServiceGroupConfig

ACCOUNT_ORDER = ["nextDay", "economy", "international", "valuableGoods", "heavy"]


def _codes(w) -> list[str]:
    return [w.group_combo.itemData(i) for i in range(w.group_combo.count())]


def _listings(sandbox) -> int:
    return sum(1 for r in sandbox.recorded() if r.method == "GET" and r.path == "/servicegroups")


@pytest.fixture
def fresh_desk(paths):
    """A new supervisor's desk: nothing configured but the address and a working key in the keyring."""
    from despatch_desk.desk import Desk

    desks = []

    def factory(url: str, key: str | None = DEMO_API_KEY, groups=()):
        desk = Desk(paths)
        desk.settings.environment, desk.settings.custom_url = "custom", url
        desk.settings.service_groups = list(groups)
        desk.settings.connect_timeout_s = 2.0
        desk.settings_store.save(desk.settings)
        if key:
            desk.keystore.set(desk.origin, key)
        desks.append(desk)
        return desk

    yield factory
    for desk in desks:
        desk.close()


def _ready(qtbot, w):
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0 and not w.group_sync.syncing, timeout=10000)


def test_a_fresh_desk_with_a_working_key_fetches_the_groups_and_the_first_scan_allocates(
        qtbot, make_window, fresh_desk, sandbox):
    w = make_window(fresh_desk(sandbox.url), wait_ready=False)
    _ready(qtbot, w)
    assert _listings(sandbox) == 1
    assert _codes(w) == ACCOUNT_ORDER and w.group_combo.isEnabled()
    assert w.result_panel.text().startswith("READY")
    QTest.keyClick(w.scan_field, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(w.scan_field, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)  # the account's first
    assert w.current_group() == "nextDay"
    sandbox.clear_requests()
    scan(qtbot, w, "EC-000-DSK-001")
    qtbot.waitUntil(lambda: w.result_panel.state == "allocated", timeout=10000)
    assert [r.path for r in sandbox.recorded() if r.method == "PUT"] == [
        "/allocation/EC-000-DSK-001/allocatewithservicegroup/nextDay"]
    assert w.desk.settings.last_group == "nextDay"  # the account's first group, chosen by itself


def test_the_last_known_list_is_used_offline(qtbot, make_window, fresh_desk, sandbox, paths):
    first = make_window(fresh_desk(sandbox.url), wait_ready=False)
    _ready(qtbot, first)
    assert _codes(first) == ACCOUNT_ORDER
    first.close_now()
    # Same origin, nothing listening any more: the groups come from state.json.
    port = sandbox.port if hasattr(sandbox, "port") else int(sandbox.url.rsplit(":", 1)[1])
    sandbox.stop()
    w = make_window(fresh_desk(f"http://127.0.0.1:{port}"), wait_ready=False)
    _ready(qtbot, w)
    assert w.group_sync.last.source == "last-known"
    assert _codes(w) == ACCOUNT_ORDER
    assert "could not be reached" in (w.group_sync.note or "")


def test_a_refused_listing_uses_the_manual_list_and_says_why(qtbot, make_window, fresh_desk, sandbox):
    sandbox.add_fault(Fault("servicegroups-forbidden"))
    w = make_window(fresh_desk(sandbox.url, groups=[ServiceGroupConfig("economy", "Economy"),
                                                      ServiceGroupConfig("heavy", "Heavy")]), wait_ready=False)
    _ready(qtbot, w)
    assert _codes(w) == ["economy", "heavy"]
    assert "does not list its service groups" in w.group_sync.note
    assert w.result_panel.text().startswith("READY")  # a 403 on the list is not a refused key


def test_a_configured_group_the_account_lacks_is_flagged_beside_the_group(qtbot, make_window, fresh_desk, sandbox):
    w = make_window(fresh_desk(sandbox.url, groups=[ServiceGroupConfig("express", "Express")]), wait_ready=False)
    _ready(qtbot, w)
    assert _codes(w) == [*ACCOUNT_ORDER, "express"]   # still offered, last, and marked
    assert "not in the account" in w.group_combo.itemText(5)
    warning = w.group_row.warning
    assert warning.isVisible() and "'express'" in warning.text() and "refused" in warning.text()
    assert warning.textFormat() == Qt.TextFormat.PlainText


def test_no_key_is_not_ready_with_the_next_step(qtbot, make_window, fresh_desk, sandbox):
    w = make_window(fresh_desk(sandbox.url, key=None), wait_ready=False)
    _ready(qtbot, w)
    text = w.result_panel.text()
    assert text.startswith("NOT READY") and "No API key" in text and "Settings" in text
    assert _listings(sandbox) == 0  # nothing to ask with


def test_a_refused_key_is_not_ready_at_start(qtbot, make_window, fresh_desk, sandbox):
    w = make_window(fresh_desk(sandbox.url, key="not-the-key-at-all"), wait_ready=False)
    _ready(qtbot, w)
    text = w.result_panel.text()
    assert text.startswith("NOT READY") and "refused the API key" in text and "Settings" in text
    assert "not-the-key-at-all" not in text


def test_a_refused_key_from_the_environment_says_so(qtbot, make_window, fresh_desk, sandbox, monkeypatch):
    monkeypatch.setenv("DESPATCH_DESK_API_KEY", "env-key-that-is-wrong")
    w = make_window(fresh_desk(sandbox.url, key=None), wait_ready=False)
    _ready(qtbot, w)
    text = w.result_panel.text()
    assert text.startswith("NOT READY") and "DESPATCH_DESK_API_KEY" in text
    assert "Paste a working key in Settings" not in text and "env-key-that-is-wrong" not in text


def test_no_group_at_all_is_not_ready_and_scans_are_not_sent(qtbot, make_window, fresh_desk, sandbox):
    sandbox.add_fault(Fault("servicegroups-forbidden"))
    w = make_window(fresh_desk(sandbox.url), wait_ready=False)
    _ready(qtbot, w)
    assert not w.group_combo.isEnabled()
    text = w.result_panel.text()
    assert text.startswith("NOT READY") and "No service groups" in text
    sandbox.clear_requests()
    scan(qtbot, w, "EC-000-DSK-001")
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=5000)
    assert [r for r in sandbox.recorded() if r.method == "PUT"] == []
    assert "INVALID SCAN" not in w.result_panel.text()


def test_changing_the_manual_list_fetches_again_but_choosing_a_group_does_not(
        qtbot, make_window, fresh_desk, sandbox):
    w = make_window(fresh_desk(sandbox.url), wait_ready=False)
    _ready(qtbot, w)
    assert _listings(sandbox) == 1
    w.select_group_index(2)   # saves the settings: no new listing for that
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=5000)
    assert _listings(sandbox) == 1

    def change(s):
        s.service_groups = [ServiceGroupConfig("heavy", "Heavy")]
    w.desk.settings_store.update(change)
    qtbot.waitUntil(lambda: _listings(sandbox) == 2, timeout=5000)
    _ready(qtbot, w)
    assert _codes(w) == ACCOUNT_ORDER


def test_changing_the_group_is_loud_until_the_next_scan(qtbot, demo_window, sandbox):
    w = demo_window
    QTest.keyClick(w.scan_field, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert w.current_group() == "heavy"
    assert w.sounds.played[-1] == "group"
    text = w.result_panel.text()
    assert text.startswith("GROUP → Heavy & bulky (heavy)")
    assert w.result_panel.state == "group_changed"
    scan(qtbot, w, "EC-000-DSK-014")
    qtbot.waitUntil(lambda: w.result_panel.state == "allocated", timeout=10000)
    assert "GROUP →" not in w.result_panel.text() and "heavy" in w.result_panel.text()


def test_a_group_change_does_not_hide_a_problem(qtbot, demo_window, sandbox):
    w = demo_window
    scan(qtbot, w, "EC-000-DSK-021")  # no service delivers there: NOT ALLOCATED, stays until Esc
    qtbot.waitUntil(lambda: w.result_panel.state == "not_allocated", timeout=10000)
    QTest.keyClick(w.scan_field, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert w.result_panel.state == "group_changed"
    assert any("EC-000-DSK-021" in t.reference for t in w.controller.problems())
    assert w.attention.isVisible()  # the problem moved to the stack above, still waiting for Esc


def test_offline_at_first_start_keeps_the_settings_list(qtbot, make_window, fresh_desk):
    w = make_window(fresh_desk(f"http://127.0.0.1:{closed_port()}",
                               groups=[ServiceGroupConfig("nextDay", "Next day")]), wait_ready=False)
    _ready(qtbot, w)
    assert _codes(w) == ["nextDay"] and w.group_sync.last.source == "settings"
