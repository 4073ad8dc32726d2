"""Scanners as they come (issue 11 §6): Linefeed ends a scan, the pause rule is for scanner speed only,
several pasted references are offered as a batch. Real window, real sandbox, assertions on what it received."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QApplication

from despatch_desk.gui.widgets.scan_field import SCANNER_GAP_MS, several_references


def _puts(sandbox) -> list[str]:
    return [r.path for r in sandbox.recorded() if r.method == "PUT"]


def _key(field, key: Qt.Key | int, text: str, stamp: int = 0,
         mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    press = QKeyEvent(QEvent.Type.KeyPress, key, mods, text)
    press.setTimestamp(stamp)
    QApplication.sendEvent(field, press)
    release = QKeyEvent(QEvent.Type.KeyRelease, key, mods, text)
    release.setTimestamp(stamp)
    QApplication.sendEvent(field, release)


def _type_at(field, text: str, gap_ms: int, start: int = 1_000_000) -> None:
    """Type ``text`` with keys ``gap_ms`` apart by their own timestamps (how the window system stamps them)."""
    for i, ch in enumerate(text):
        key = Qt.Key(ord(ch.upper())) if ch.isalnum() else Qt.Key.Key_Minus
        _key(field, key, ch, start + i * gap_ms)


def test_linefeed_ends_a_scan_and_the_server_gets_one_put(qtbot, demo_window, sandbox):
    w = demo_window
    sandbox.clear_requests()
    _type_at(w.scan_field, "EC-000-DSK-001", 4)
    _key(w.scan_field, Qt.Key.Key_unknown, "\n")  # an LF key: no Qt key of its own, "\n" as its text
    assert w.scan_field.text() == ""              # cleared at once, ready for the next scan
    qtbot.waitUntil(lambda: w.result_panel.state == "allocated", timeout=10000)
    assert _puts(sandbox) == ["/allocation/EC-000-DSK-001/allocatewithservicegroup/nextDay"]


def test_ctrl_j_linefeed_ends_a_scan(qtbot, demo_window, sandbox):
    w = demo_window
    sandbox.clear_requests()
    _type_at(w.scan_field, "EC-000-DSK-003", 4)
    _key(w.scan_field, Qt.Key.Key_J, "\n", mods=Qt.KeyboardModifier.ControlModifier)  # scanners' LF as Ctrl+J
    qtbot.waitUntil(lambda: w.result_panel.state == "allocated", timeout=10000)
    assert _puts(sandbox) == ["/allocation/EC-000-DSK-003/allocatewithservicegroup/nextDay"]


def test_scanner_speed_without_terminator_is_a_scan_after_the_pause(qtbot, demo_window, sandbox):
    w = demo_window
    w.scan_field.set_auto_submit_ms(150)
    sandbox.clear_requests()
    with qtbot.waitSignal(w.scan_field.scanned, timeout=5000) as got:
        _type_at(w.scan_field, "EC-000-DSK-005", SCANNER_GAP_MS - 20)
    assert got.args == ["EC-000-DSK-005"]
    assert not w.scan_field.typed_by_hand
    qtbot.waitUntil(lambda: w.result_panel.state == "allocated", timeout=10000)
    assert _puts(sandbox) == ["/allocation/EC-000-DSK-005/allocatewithservicegroup/nextDay"]


def test_a_person_typing_by_hand_is_never_cut_off_by_the_pause(qtbot, demo_window, sandbox):
    w = demo_window
    w.scan_field.set_auto_submit_ms(150)
    sandbox.clear_requests()
    _type_at(w.scan_field, "EC-000-DSK-007", 180)  # a person: keys 180 ms apart
    assert w.scan_field.typed_by_hand
    assert not w.scan_field._pause.isActive()      # no pause is counting: nothing will submit it by itself
    assert w.scan_field.text() == "EC-000-DSK-007"
    with qtbot.waitSignal(w.scan_field.scanned, timeout=5000):
        _key(w.scan_field, Qt.Key.Key_Return, "\r")  # the person's own Enter ends it
    qtbot.waitUntil(lambda: w.result_panel.state == "allocated", timeout=10000)
    assert _puts(sandbox) == ["/allocation/EC-000-DSK-007/allocatewithservicegroup/nextDay"]
    # the next text starts fresh: a scanner burst after the hand-typed one auto-submits again
    with qtbot.waitSignal(w.scan_field.scanned, timeout=5000):
        _type_at(w.scan_field, "EC-000-DSK-009", 3, start=2_000_000)


def test_one_slow_key_in_a_burst_makes_it_hand_typed(qtbot, demo_window):
    field = demo_window.scan_field
    field.set_auto_submit_ms(150)
    _type_at(field, "EC-000-DSK-0", 3)
    _type_at(field, "12", 3, start=1_000_000 + 12 * 3 + SCANNER_GAP_MS + 50)
    assert field.text() == "EC-000-DSK-012" and field.typed_by_hand and not field._pause.isActive()


def test_several_references_split_on_spaces_commas_and_new_lines():
    assert several_references("EC-000-DSK-001, EC-000-DSK-002\nEC-000-DSK-003") == [
        "EC-000-DSK-001", "EC-000-DSK-002", "EC-000-DSK-003"]
    assert several_references("EC-000-DSK-001") == []
    assert several_references("hello world") == []


def test_pasting_three_references_offers_a_batch_in_the_batch_window(qtbot, demo_window, sandbox):
    w = demo_window
    asked: list[int] = []
    w.confirm_batch = lambda _w, n: asked.append(n) or True
    sandbox.clear_requests()
    QGuiApplication.clipboard().setText("EC-000-DSK-011 EC-000-DSK-012,EC-000-DSK-013\n")
    w.scan_field.paste()
    assert asked == [3]
    assert w.scan_field.text() == ""
    assert "characters too long" not in w.result_panel.text()
    batch = w.batch_window  # opened pre-filled: nothing is sent before its Run
    assert batch.isVisible()
    assert batch.editor.toPlainText().split() == ["EC-000-DSK-011", "EC-000-DSK-012", "EC-000-DSK-013"]
    qtbot.waitUntil(lambda: batch.preview_counts()["send"] == 3, timeout=10000)
    assert [r for r in sandbox.recorded() if r.method == "PUT"] == []
    batch_id = batch.run()
    qtbot.waitUntil(lambda: len(_puts(sandbox)) == 3 and w.runner.active_count(lane=None) == 0, timeout=15000)
    assert sorted(_puts(sandbox)) == sorted(f"/allocation/EC-000-DSK-01{i}/allocatewithservicegroup/nextDay"
                                            for i in (1, 2, 3))
    assert w.controller.batch_summary(batch_id).total == 3
    batch.close()


def test_without_a_batch_window_a_pasted_batch_goes_through_submit_batch(qtbot, demo_window, sandbox, monkeypatch):
    from despatch_desk.gui import batch_window

    monkeypatch.delattr(batch_window, "open_batch")  # a build without the Batch window
    w = demo_window
    w.confirm_batch = lambda _w, n: True
    sandbox.clear_requests()
    QGuiApplication.clipboard().setText("EC-000-DSK-016\nEC-000-DSK-017")
    w.scan_field.paste()
    qtbot.waitUntil(lambda: len(_puts(sandbox)) == 2 and w.runner.active_count(lane=None) == 0, timeout=15000)
    batch = next(t.batch for t in w.controller.tickets() if t.batch)
    assert w.controller.batch_summary(batch).total == 2


def test_pasted_references_are_not_sent_when_the_operator_says_no(qtbot, demo_window, sandbox):
    w = demo_window
    w.confirm_batch = lambda _w, n: False
    sandbox.clear_requests()
    QGuiApplication.clipboard().setText("EC-000-DSK-001\nEC-000-DSK-002")
    w.scan_field.paste()
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=5000)
    assert _puts(sandbox) == [] and w.controller.tickets() == []
    assert w.scan_field.text() == "" and w.scan_field.hasFocus()
