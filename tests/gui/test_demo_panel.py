"""Demo mode that teaches (issue 11 §5): the demo consignments and what each shows, a printable barcode sheet,
scanning from the list through the one door, "Leave demo mode", and Settings saying it edits the demo desk."""

from __future__ import annotations

from despatch_desk.gui.main_window import Mode
from despatch_desk.sandbox import DEMO_API_KEY
from despatch_desk.sandbox.demo import DEMO_CONSIGNMENTS


def _demo(make_window, sandbox):
    return make_window(base_url=sandbox.url, api_key=DEMO_API_KEY, mode=Mode.DEMO)


def test_the_demo_panel_lists_every_demo_consignment_and_what_it_shows(qtbot, make_window, sandbox):
    w = _demo(make_window, sandbox)
    panel = w.demo
    assert panel is not None and panel.isVisible()
    table = panel.table
    assert table.rowCount() == len(DEMO_CONSIGNMENTS) == 27
    for row, c in enumerate(DEMO_CONSIGNMENTS):
        assert table.item(row, 0).text() == c.reference
        assert c.hint in table.item(row, 1).text()
    assert "North Korea" in table.item(20, 1).text()


def test_a_normal_window_has_no_demo_panel(qtbot, demo_window):
    assert demo_window.demo is None


def test_double_clicking_a_row_scans_it_through_the_one_door(qtbot, make_window, sandbox):
    w = _demo(make_window, sandbox)
    sandbox.clear_requests()
    w.demo.scan_row(13)  # EC-000-DSK-014: 38 kg, nextDay fails
    qtbot.waitUntil(lambda: w.result_panel.state == "not_allocated", timeout=10000)
    assert [r.path for r in sandbox.recorded() if r.method == "PUT"] == [
        "/allocation/EC-000-DSK-014/allocatewithservicegroup/nextDay"]
    assert w.scan_field.hasFocus()


def test_the_barcode_sheet_is_a_pdf_written_off_the_gui_thread(qtbot, make_window, sandbox, tmp_path):
    w = _demo(make_window, sandbox)
    target = tmp_path / "sheet.pdf"
    with qtbot.waitSignal(w.demo.sheet_written, timeout=20000) as got:
        assert w.demo.write_sheet(target)
    assert got.args == [str(target)]
    data = target.read_bytes()
    assert data.startswith(b"%PDF") and b"%%EOF" in data[-64:]
    assert "Barcode sheet written" in w.demo.status.text()


def test_a_sheet_that_cannot_be_written_says_so_in_plain_words(qtbot, make_window, sandbox, tmp_path):
    w = _demo(make_window, sandbox)
    with qtbot.waitSignal(w.demo.sheet_failed, timeout=20000) as got:
        w.demo.write_sheet(tmp_path / "no-such-folder" / "sheet.pdf")
    assert "could not be written" in got.args[0] and "Traceback" not in got.args[0]


def test_help_has_the_demo_items_and_leave_demo_mode_asks_the_app(qtbot, make_window, sandbox):
    w = _demo(make_window, sandbox)
    texts = [a.text() for a in w.menuBar().actions() if a.menu()
             for a in a.menu().actions()]
    assert "&Leave demo mode" in texts and "Demo &consignments" in texts
    with qtbot.waitSignal(w.demo.leave_requested, timeout=2000):
        w.demo.actions_.leave_action.trigger()


def test_settings_in_demo_mode_says_it_edits_the_demo_desk(qtbot, make_window, sandbox):
    from despatch_desk.gui.settings_dialog import SettingsDialog

    w = _demo(make_window, sandbox)
    dialog = SettingsDialog(w.desk, w)
    qtbot.addWidget(dialog)
    assert not dialog.demo_label.isHidden() and "demo desk" in dialog.demo_label.text()
    dialog.reject()
    normal = SettingsDialog(w.desk, None)
    qtbot.addWidget(normal)
    assert normal.demo_label.isHidden()
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=10000)
