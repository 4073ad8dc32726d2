"""Price, delivery date and parcel facts on the panel: a follow-up that never delays the green."""

from __future__ import annotations

from PySide6.QtGui import QFontInfo

from despatch_desk.gui import details_follow_up
from despatch_desk.sandbox import Fault
from gui_support import scan, wait_state


def _panel_extra(window) -> str:
    return window.result_panel._extra.text()


def test_result_is_shown_before_the_details_arrive_then_they_are_added(qtbot, demo_window, sandbox):
    w = demo_window
    sandbox.add_fault(Fault("slow-after-commit", any_request=True, match="/status", delay=2.0, times=1))
    scan(qtbot, w, "EC-000-DSK-010")
    wait_state(qtbot, w, "allocated")
    ticket = w.controller.latest
    # The green is up while the status look is still being answered.
    assert details_follow_up.NAME in ticket.follow_ups
    assert ticket.follow_ups[details_follow_up.NAME].phase.value in ("waiting", "running")
    with qtbot.waitSignal(w.controller.follow_up_finished, timeout=10000,
                          check_params_cb=lambda tid, name: name == details_follow_up.NAME):
        pass
    qtbot.waitUntil(lambda: "£" in _panel_extra(w), timeout=3000)
    line = _panel_extra(w).replace("\u00a0", " ")
    price = sandbox.consignment("EC-000-DSK-010")["Allocation"]["Price"]
    assert f"£{price['Net']:.2f} net" in line and "3 packages" in line and "GB" in line
    assert "expected" in line and "—" not in line.split("expected")[1].split("·")[0]
    # smaller than carrier and service
    assert QFontInfo(w.result_panel._extra.font()).pixelSize() < QFontInfo(w.result_panel._headline.font()).pixelSize()
    # in the recent list and the history too
    assert "£" in w.recent_model.data(w.recent_model.index(0, 6))
    row = w.desk.history.latest_allocated("EC-000-DSK-010")
    assert row.price_net == price["Net"] and row.expected_delivery


def test_a_failed_look_is_dashes_not_a_problem(qtbot, demo_window, sandbox):
    w = demo_window
    sandbox.add_fault(Fault("html-502", any_request=True, match="/consignments/EC-000-DSK-001"))
    sandbox.add_fault(Fault("drop-after-commit", any_request=True, match="/consignments/EC-000-DSK-001", times=1))
    scan(qtbot, w, "EC-000-DSK-001")
    wait_state(qtbot, w, "allocated")
    qtbot.waitUntil(lambda: w.controller.latest.follow_ups.get(details_follow_up.NAME) is not None
                    and w.controller.latest.follow_ups[details_follow_up.NAME].phase.value == "done", timeout=10000)
    assert "—" in _panel_extra(w)
    assert w.result_panel.state == "allocated" and not w.controller.latest.needs_acknowledgement
