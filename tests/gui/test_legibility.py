"""Legible from the bench (issue 11 §2): the result's word and carrier/service scale with the panel.

Measured in a separate process per case (the platform and QT_SCALE_FACTOR are fixed when Qt starts):
* a maximised window on a real 1920×1080 X screen (Xvfb): word capitals ≥ 40 px, carrier/service ≥ 28 px;
* offscreen at the default 1100×820: no smaller than the fixed sizes of before;
* offscreen at 1024×700 with QT_SCALE_FACTOR 1, 1.5 and 2: every label's text fits its rect in every state
  (or is elided deliberately with the full text in its tooltip).
Each process runs the real window against its own sandbox on loopback and scans real consignments.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MEASURE = r'''
import json, os, sys, time
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontInfo, QFontMetrics
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel

app = QApplication(sys.argv)
from despatch_desk.core import RetryPolicy
from despatch_desk.desk import Desk
from despatch_desk.gui.main_window import MainWindow
from despatch_desk.gui.widgets.result_panel import scaled_font
from despatch_desk.sandbox import DEMO_API_KEY, Fault, SandboxServer
from despatch_desk.settings import Paths

size = sys.argv[1]
home = sys.argv[2]
sandbox = SandboxServer().start()
sandbox.add_fault(Fault("drop-after-commit", match="EC-000-DSK-010", times=1))
from pathlib import Path
paths = Paths(Path(home) / "config", Path(home) / "data", Path(home) / "logs")
desk = Desk(paths, policy=RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02, poll_interval_s=0.05,
                                      poll_timeout_s=3.0))
desk.settings.environment = "custom"
desk.settings.custom_url = sandbox.url
desk.settings.scan_deadline_s = 5.0
desk.set_overrides(base_url=sandbox.url, api_key=DEMO_API_KEY)


class Quiet:
    enabled, method, played = True, "test", []
    def play(self, name): self.played.append(name)
    def close(self): pass


def pump(until, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out in {size}: {w.result_panel.state} {w.result_panel.text()!r}")
        app.processEvents()
        QTest.qWait(10)


w = MainWindow(desk, sounds=Quiet())
screen = app.primaryScreen().availableGeometry()
if size == "max":
    w.showMaximized()
    pump(lambda: w.isVisible())
    QTest.qWait(200)
    if w.width() < screen.width() - 40:  # no window manager to honour "maximised": take the screen
        w.setGeometry(screen)
else:
    width, height = (int(v) for v in size.split("x"))
    w.resize(width, height)
    w.show()
pump(lambda: w.runner.active_count(lane=None) == 0 and not w.group_sync.syncing)


def fits(label):
    text = label.text()
    if label.buddy() is not None:  # a mnemonic's & is not drawn
        text = text.replace("&&", "\0").replace("&", "").replace("\0", "&")
    rect = label.contentsRect()
    fm = QFontMetrics(label.font())
    if label.wordWrap():
        need = fm.boundingRect(QRect(0, 0, rect.width(), 100000), int(Qt.TextFlag.TextWordWrap), text)
        ok = need.width() <= rect.width() and need.height() <= rect.height() + 1
    else:
        ok = max((fm.horizontalAdvance(line) for line in text.split("\n")), default=0) <= rect.width()
    if not ok and label.toolTip() and "…" in text:
        ok = True  # elided on purpose, the full text in the tooltip
    return ok, fm.horizontalAdvance(text), rect.width(), rect.height()


def measure(name):
    app.processEvents()
    panel = w.result_panel
    misfits = []
    for label in [*panel.findChildren(QLabel), *w.group_row.findChildren(QLabel)]:
        if label.isVisible() and label.text():
            ok, adv, width, height = fits(label)
            if not ok:
                misfits.append([label.text()[:80], adv, width, height])
    return {"state": panel.state, "word_cap": QFontMetrics(panel._word.font()).capHeight(),
            "service_cap": QFontMetrics(panel._headline.font()).capHeight(), "misfits": misfits,
            "window": [w.width(), w.height()], "panel": [panel.width(), panel.height()]}


base = w.font()
old = {"word_cap": QFontMetrics(scaled_font(base, 3.0, bold=True)).capHeight(),
       "service_cap": QFontMetrics(scaled_font(base, 2.3, bold=True)).capHeight()}
results = {"old": old, "ready": measure("ready")}
for name, ref, state in [("allocated", "EC-000-DSK-006", "allocated"),
                         ("three_packages", "EC-000-DSK-010", "allocated"),
                         ("already", "EC-000-DSK-022", "already_allocated"),
                         ("not_allocated", "EC-000-DSK-021", "not_allocated"),
                         ("invalid", "EC-000-DSK-0", "invalid_reference")]:
    w.scan_field.setText(ref)
    QTest.keyClick(w.scan_field, Qt.Key.Key_Return)
    pump(lambda: w.result_panel.state == state and w.runner.active_count(lane=None) == 0)
    results[name] = measure(name)
QTest.keyClick(w.scan_field, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
results["group_changed"] = measure("group_changed")
print("RESULT " + json.dumps(results))
w.close_now()
desk.close()
sandbox.stop()
'''


def _run(tmp_path, size: str, env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_SCALE_FACTOR", "DISPLAY", "QT_QPA_PLATFORM")}
    env.update(env_extra)
    env["DESPATCH_DESK_HOME"] = str(tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "app"), os.environ.get("PYTHONPATH", "")) if p)
    done = subprocess.run([sys.executable, "-c", MEASURE, size, str(tmp_path / "home")], env=env,
                          capture_output=True, text=True, timeout=180)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, f"no measurement:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(line[len("RESULT "):])


@pytest.mark.parametrize("scale", ["1", "1.5", "2"])
def test_nothing_is_clipped_at_1024x700(tmp_path, scale):
    results = _run(tmp_path, "1024x700", {"QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale})
    for name, got in results.items():
        if name != "old":
            assert got["misfits"] == [], (scale, name, got)
    assert results["group_changed"]["state"] == "group_changed"


def test_default_size_is_no_smaller_than_before(tmp_path):
    results = _run(tmp_path, "1100x820", {"QT_QPA_PLATFORM": "offscreen"})
    old = results["old"]
    for name in ("allocated", "already", "ready"):
        assert results[name]["word_cap"] >= old["word_cap"], (name, results[name], old)
    for name in ("allocated", "already"):
        assert results[name]["service_cap"] >= old["service_cap"], (name, results[name], old)
        assert results[name]["misfits"] == []


def _free_display() -> int:
    for _ in range(200):
        n = random.randint(600, 999)
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb_1920():
    import shutil

    if not shutil.which("Xvfb"):
        if os.environ.get("CI") == "true":
            pytest.fail("Xvfb is missing")
        pytest.skip("Xvfb is not installed")
    display = _free_display()
    proc = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{display}").exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)  # another process: no event to wait on
        yield f":{display}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_maximised_1920x1080_reads_from_two_metres(tmp_path, xvfb_1920):
    results = _run(tmp_path, "max", {"DISPLAY": xvfb_1920, "QT_QPA_PLATFORM": "xcb"})
    assert results["allocated"]["window"][0] >= 1880, results["allocated"]
    for name in ("allocated", "already", "not_allocated", "group_changed"):
        got = results[name]
        assert got["word_cap"] >= 40, (name, got)
        assert got["misfits"] == [], (name, got)
    for name in ("allocated", "already"):
        assert results[name]["service_cap"] >= 28, (name, results[name])
    print(json.dumps({k: (v.get("word_cap"), v.get("service_cap")) for k, v in results.items()}))
