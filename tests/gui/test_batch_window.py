"""The Batch window against the real sandbox: preview, live rows, cancel, retry, export, main panel left alone."""

from __future__ import annotations

import csv

from gui_support import scan, wait_state
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from despatch_desk.gui.batch_window import open_batch
from despatch_desk.gui.theme import Tone
from despatch_desk.sandbox import Fault


def _puts(sandbox) -> list[str]:
    return [r.path.split("/")[2].upper() for r in sandbox.recorded() if r.method == "PUT"]


def _open(qtbot, window, text: str):
    batch = open_batch(window)
    batch.set_text(text)
    qtbot.waitUntil(lambda: batch.preview is not None and bool(batch.model.rows), timeout=5000)
    return batch


def _states(batch) -> list[str]:
    return [batch.model.cells(r)[2] for r in batch.model.rows]


def test_ctrl_b_opens_it_and_the_preview_counts_before_anything_is_sent(demo_window, qtbot, sandbox):
    window = demo_window
    scan(qtbot, window, "EC-000-DSK-001")          # this desk allocates one: the preview knows it
    wait_state(qtbot, window, "allocated")
    QTest.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: getattr(window, "batch_window", None) is not None and window.batch_window.isVisible(),
                    timeout=3000)
    batch = window.batch_window
    sandbox.clear_requests()
    batch.set_text("EC-000-DSK-001\nEC-000-DSK-003\nec-000-dsk-003\nrubbish\n\nEC-000-DSK-004\n")
    qtbot.waitUntil(lambda: batch.preview is not None and len(batch.model.rows) == 5, timeout=5000)
    assert batch.preview_counts() == {"send": 2, "already": 1, "duplicate": 1, "invalid": 1}
    assert "2 to send" in batch.preview_label.text() and "1 already allocated" in batch.preview_label.text()
    assert _states(batch) == ["allocated before", "to send", "duplicate", "invalid", "to send"]
    assert _puts(sandbox) == []                     # a preview sends nothing
    assert batch.run_button.isEnabled()


def test_rows_update_live_and_the_main_panel_is_left_alone(demo_window, qtbot, sandbox):
    window = demo_window
    refs = [sandbox.add_consignment() for _ in range(6)]
    sandbox.add_fault(Fault("slow-after-commit", delay=0.3))
    batch = _open(qtbot, window, "\n".join(refs))
    played_before = list(window.sounds.played)
    batch.run()
    qtbot.waitUntil(lambda: "allocating" in _states(batch), timeout=5000)   # live: some in flight now
    assert window.result_panel.state == "idle"                             # the batch took no panel
    # The main scan field keeps working during the batch, and its result is the panel's.
    scan(qtbot, window, "EC-000-DSK-005")
    qtbot.waitUntil(lambda: batch.running is None, timeout=20000)
    assert _states(batch) == ["allocated"] * 6
    assert all(batch.model.cells(r)[3] for r in batch.model.rows)      # carrier and service shown
    assert batch.progress.value() == batch.progress.maximum() == 6
    assert batch.summary_text.startswith("Batch finished: 6 rows: 6 allocated")
    wait_state(qtbot, window, "allocated")
    assert window.result_panel.reference == "EC-000-DSK-005"      # never a batch row
    new_sounds = window.sounds.played[len(played_before):]
    assert new_sounds.count(Tone.SUCCESS.value) == 2                # the scan's tone and one summary tone


def test_cancel_mid_run_marks_the_queued_rows_not_sent(demo_window, qtbot, sandbox):
    window = demo_window
    refs = [sandbox.add_consignment() for _ in range(12)]
    sandbox.add_fault(Fault("slow-after-commit", delay=0.4))
    batch = _open(qtbot, window, "\n".join(refs))
    batch.run()
    qtbot.waitUntil(lambda: "allocating" in _states(batch), timeout=5000)
    assert batch.cancel() > 0
    qtbot.waitUntil(lambda: batch.running is None, timeout=20000)
    states = _states(batch)
    assert set(states) <= {"allocated", "not sent"} and "not sent" in states and "allocated" in states
    assert "in doubt" not in states     # rows in flight were left to finish, not cut off
    sent = set(_puts(sandbox))
    for row, state in zip(batch.model.rows, states, strict=True):
        assert (row.line.reference in sent) == (state == "allocated")   # "not sent" is true at the server
    assert batch.retry_button.isEnabled()


def test_retry_failed_sends_only_the_failed_rows(demo_window, qtbot, sandbox):
    window = demo_window
    good = [sandbox.add_consignment() for _ in range(3)]
    bad = sandbox.add_consignment(weight_kg=400)        # no next-day service takes 400 kg: not allocated
    batch = _open(qtbot, window, "\n".join([*good, bad]))
    batch.run()
    qtbot.waitUntil(lambda: batch.running is None, timeout=20000)
    assert _states(batch) == ["allocated"] * 3 + ["not allocated"]
    assert "1 row can be retried" in batch.summary_text
    puts_before = len(_puts(sandbox))
    window.select_group_index([g.code for g in window.desk.settings.service_groups].index("heavy"))
    assert batch.retry_failed() is not None
    qtbot.waitUntil(lambda: batch.running is None, timeout=20000)
    assert _puts(sandbox)[puts_before:] == [bad]          # only the failed row went again
    assert _states(batch) == ["allocated"] * 4
    assert not batch.retry_button.isEnabled()


def test_export_csv_neutralises_formulas(demo_window, qtbot, sandbox, tmp_path):
    window = demo_window
    ref = sandbox.add_consignment()
    batch = _open(qtbot, window, f"{ref}\n=HYPERLINK(\"http://x\")\n")
    batch.run()
    qtbot.waitUntil(lambda: batch.running is None, timeout=20000)
    target = tmp_path / "batch.csv"
    assert batch.export_csv(str(target))
    qtbot.waitUntil(lambda: batch.exported == str(target), timeout=5000)
    with open(target, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["reference"] for r in rows] == [ref, "'=HYPERLINK(\"http://x\")"]
    assert rows[0]["state"] == "allocated" and rows[0]["carrier_and_service"] and rows[0]["tracking"]
    assert rows[1]["state"] == "invalid"
