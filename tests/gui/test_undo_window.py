"""Undo last allocation in the window: the confirmation names what is undone; Cancel sends nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from gui_support import scan, wait_state


def _allocate(qtbot, window, sandbox, ref="EC-000-DSK-001"):
    scan(qtbot, window, ref)
    wait_state(qtbot, window, "allocated")
    qtbot.waitUntil(lambda: window.runner.active_count(lane=None) == 0, timeout=8000)  # follow-ups done
    sandbox.clear_requests()


def _button(box: QMessageBox, text: str):
    return next(b for b in box.buttons() if b.text().replace("&", "") == text)


def test_ctrl_z_from_the_scan_field_asks_and_cancel_sends_nothing(qtbot, demo_window, sandbox):
    w = demo_window
    _allocate(qtbot, w, sandbox)
    QTest.keyClick(w.scan_field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.undo.dialog is not None and w.undo.dialog.isVisible(), timeout=3000)
    box = w.undo.dialog
    text = box.text() + " " + box.informativeText()
    assert "EC-000-DSK-001" in text and "Albion Post" in text and "void" in text and "destroyed" in text
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert box.defaultButton() is box.escapeButton()  # Enter or Esc: cancel
    _button(box, "Cancel").click()
    qtbot.waitUntil(lambda: w.undo.dialog is None, timeout=3000)
    assert sandbox.recorded() == []
    assert sandbox.consignment("EC-000-DSK-001")["ConsignmentState"] == "Allocated"


def test_confirmed_undo_deallocates_once_and_the_lists_say_undone(qtbot, demo_window, sandbox):
    w = demo_window
    _allocate(qtbot, w, sandbox)
    assert w.undo.ask()
    with qtbot.waitSignal(w.undo.finished, timeout=10000):
        _button(w.undo.dialog, "Undo allocation").click()
    assert w.undo.last_outcome.kind.value == "deallocated"
    assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 1
    assert w.result_panel.state == "group_changed" and "destroy" in w.result_panel.text()
    row = w.recent_model.rows()[0]
    assert row.undone and "undone" in w.recent_model.data(w.recent_model.index(0, 3))
    # nothing left to undo in this session
    assert not w.undo.ask() and "Nothing to undo" in w.undo.last_refusal


def test_manifested_gets_a_second_louder_warning(qtbot, demo_window, sandbox):
    w = demo_window
    scan(qtbot, w, "EC-000-DSK-027")  # manifested: "already allocated"
    wait_state(qtbot, w, "already_allocated")
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=8000)
    sandbox.clear_requests()
    assert w.undo.ask()
    first = w.undo.dialog
    with qtbot.waitSignal(w.undo.finished, timeout=10000):
        _button(first, "Undo allocation").click()
    assert sandbox.deallocate_puts_for("EC-000-DSK-027") == 0  # refused on the look, nothing sent
    qtbot.waitUntil(lambda: w.undo.dialog is not None and w.undo.dialog is not first, timeout=3000)
    second = w.undo.dialog
    assert "MANIFESTED" in second.text() and second.icon() == QMessageBox.Icon.Critical
    _button(second, "Cancel").click()
    assert sandbox.deallocate_puts_for("EC-000-DSK-027") == 0
    assert w.undo.ask(w.recent_model.rows()[0], manifested=True)
    with qtbot.waitSignal(w.undo.finished, timeout=10000):
        _button(w.undo.dialog, "Undo it anyway").click()
    assert sandbox.deallocate_puts_for("EC-000-DSK-027") == 1


def test_context_menu_and_command_barcode_offer_undo(qtbot, demo_window, sandbox):
    w = demo_window
    _allocate(qtbot, w, sandbox)
    view = w.recent_view
    view.customContextMenuRequested.emit(view.visualRect(w.recent_model.index(0, 1)).center())
    menu = w.undo.context_menu
    texts = [a.text().replace("&", "") for a in menu.actions() if a.text()]
    assert "Reprint label (Ctrl+P)" in texts and "Undo allocation… (Ctrl+Z)" in texts  # one menu, both
    [undo_item] = [a for a in menu.actions() if "Undo" in a.text()]
    assert undo_item.isEnabled()
    menu.close()
    scan(qtbot, w, "DD:UNDO")
    qtbot.waitUntil(lambda: w.undo.dialog is not None and w.undo.dialog.isVisible(), timeout=3000)
    _button(w.undo.dialog, "Cancel").click()
    assert sandbox.recorded() == []
