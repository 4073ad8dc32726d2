"""Command barcodes typed into the real scan field, like a scanner: executed, never sent, never recorded."""

from __future__ import annotations

import pytest
from gui_support import scan, wait_state

from despatch_desk.commands import CommandKind
from despatch_desk.gui import command_dispatch
from despatch_desk.gui.theme import Shown, Tone


def _scans_sent(sandbox) -> list:
    """Requests about consignments (the window's own group listing at start is not a scan)."""
    return [r for r in sandbox.recorded() if "/allocation/" in r.path.lower() or "/consignments" in r.path.lower()]


def _history_count(window) -> int:
    return len(window.desk.history.search("", limit=None))


def test_group_switch_is_loud_and_sends_nothing(demo_window, qtbot, sandbox):
    window = demo_window
    scan(qtbot, window, "DD:GROUP:HEAVY")
    qtbot.waitUntil(lambda: window.current_group() == "heavy", timeout=3000)
    assert window.result_panel.state == Shown.GROUP_CHANGED
    assert window.result_panel.text().startswith("GROUP") and "Heavy" in window.result_panel.text()
    assert Tone.GROUP.value in window.sounds.played
    assert window.scan_field.text() == ""
    assert _scans_sent(sandbox) == []
    # The next scan uses the new group and replaces the GROUP panel.
    scan(qtbot, window, "EC-000-DSK-001")
    wait_state(qtbot, window, "allocated")
    assert any("/allocatewithservicegroup/heavy" in r.path for r in sandbox.recorded() if r.method == "PUT")


def test_group_switch_through_qwertz_dirt(demo_window, qtbot, sandbox):
    window = demo_window
    scan(qtbot, window, "]C0ddÖgroupÖheavz  ")  # a US scanner on a German keyboard: Ö for ':', Y and Z swapped
    qtbot.waitUntil(lambda: window.current_group() == "heavy", timeout=3000)
    assert window.result_panel.state == Shown.GROUP_CHANGED
    assert _scans_sent(sandbox) == []


def test_ack_clears_the_top_problem(demo_window, qtbot, sandbox):
    window = demo_window
    scan(qtbot, window, "EC-000-DSK-022")  # already allocated: a problem that stays
    wait_state(qtbot, window, "already_allocated")
    assert window.controller.problems()
    scan(qtbot, window, "DD:ACK")
    qtbot.waitUntil(lambda: not window.controller.problems(), timeout=3000)
    assert sum(1 for r in sandbox.recorded() if r.method == "PUT") == 1


def test_recheck_starts_a_recheck(demo_window, qtbot, monkeypatch):
    window = demo_window
    started = []
    monkeypatch.setattr(window.controller, "recheck", lambda rows=None: started.append(rows) or True)
    scan(qtbot, window, "DD:RECHECK")
    assert started == [None]
    assert window.result_panel.text().startswith("RE-CHECK")


@pytest.mark.parametrize("text, expected", [("DD:AUTOPRINT:OFF", False), ("DD:AUTOPRINT:ON", True)])
def test_autoprint_sets_the_setting(demo_window, qtbot, text, expected):
    window = demo_window
    store = window.desk.settings_store
    store.update(lambda s: setattr(s, "auto_print", not expected))
    scan(qtbot, window, text)
    qtbot.waitUntil(lambda: store.current.auto_print is expected, timeout=5000)
    assert store.load().auto_print is expected           # on disk, not only in memory
    qtbot.waitUntil(lambda: window.result_panel.text().startswith("AUTO-PRINT " + ("ON" if expected else "OFF")),
                    timeout=3000)


def test_autoprint_toggle_flips_it(demo_window, qtbot):
    window = demo_window
    store = window.desk.settings_store
    before = store.current.auto_print
    scan(qtbot, window, "DD:AUTOPRINT:TOGGLE")
    qtbot.waitUntil(lambda: store.current.auto_print is (not before), timeout=5000)


def test_unknown_command_refused_nothing_sent_nothing_recorded(demo_window, qtbot, sandbox):
    window = demo_window
    before = _history_count(window)
    group = window.current_group()
    for text in ("DD:LAUNCH", "DD:GROUP:nosuchgroup", "DD:AUTOPRINT"):
        scan(qtbot, window, text)
        assert window.result_panel.text().startswith("COMMAND REFUSED"), text
        assert "nothing was done" in window.result_panel.text()
    assert window.sounds.played.count(Tone.FAILURE.value) == 3
    assert window.current_group() == group
    assert _scans_sent(sandbox) == []
    assert not window.controller.problems()   # shown until the next scan, not a problem that stays
    qtbot.waitUntil(lambda: window.runner.active_count(lane=None) == 0, timeout=5000)
    assert _history_count(window) == before


def test_a_command_without_a_handler_is_refused_in_plain_words(demo_window, qtbot, sandbox, monkeypatch):
    window = demo_window
    monkeypatch.setitem(command_dispatch._HANDLERS, CommandKind.REPRINT, None)
    monkeypatch.delitem(command_dispatch._HANDLERS, CommandKind.REPRINT)
    scan(qtbot, window, "DD:REPRINT")
    assert "Reprint is not set up on this desk yet; nothing was done" in window.result_panel.text()
    assert _scans_sent(sandbox) == []


def test_a_registered_handler_runs(demo_window, qtbot, monkeypatch):
    window = demo_window
    calls = []
    monkeypatch.setitem(command_dispatch._HANDLERS, CommandKind.UNDO,
                        lambda w, command: calls.append((w, command.kind)) or "UNDO: asked")
    scan(qtbot, window, "DD:UNDO")
    assert calls == [(window, CommandKind.UNDO)]
    assert window.result_panel.text().startswith("UNDO")


def test_a_command_is_never_in_the_history(demo_window, qtbot, sandbox):
    window = demo_window
    scan(qtbot, window, "EC-000-DSK-001")
    wait_state(qtbot, window, "allocated")
    for text in ("DD:GROUP:ECONOMY", "DD:ACK", "DD:NONSENSE"):
        scan(qtbot, window, text)
    scan(qtbot, window, "EC-000-DSK-003")
    qtbot.waitUntil(lambda: window.result_panel.state == "allocated" and window.controller.in_flight() == 0,
                    timeout=8000)
    rows = window.desk.history.search("", limit=None)
    assert sorted(r.reference for r in rows) == ["EC-000-DSK-001", "EC-000-DSK-003"]
    assert not any("DD" in (r.raw_scan or "").upper() for r in rows)
    assert {r.group_code for r in rows} == {"nextDay", "economy"}


def test_help_print_command_sheet_writes_the_pdf_off_the_gui_thread(demo_window, qtbot, tmp_path):
    window = demo_window
    assert window.command_sheet_action.text() == "Print &command sheet…"
    target = tmp_path / "sheet.pdf"
    assert command_dispatch.save_command_sheet(window, str(target), "A4")
    qtbot.waitUntil(lambda: getattr(window, "command_sheet_saved", None) == str(target), timeout=10000)
    data = target.read_bytes()
    assert data.startswith(b"%PDF") and b"DD:GROUP:heavy" in data and b"DD:UNDO" in data
