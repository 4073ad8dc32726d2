"""Render the operator window in each state to ``docs/screenshots/`` (offscreen, real sandbox).

    python tools/screenshots.py            # scale 1 and 2: NAME.png and NAME@2x.png
    python tools/screenshots.py --scale 1.5

States: idle, allocated, already-allocated, not-allocated, in-doubt, problem-stays (earlier problems
kept above a later green), label-printed, label-not-printed, first-run, demo, settings,
settings-printer, history, fresh-1-start/fresh-2-ready/fresh-3-first-green (-default and -maximised:
a desk with no groups configured setting itself up), group-changed. Every scan goes through the real UI path (keys into the scan field, Enter) against the
built-in sandbox; the keyring is an in-memory one holding a dummy key, which the settings dialog
masks (the script checks that the dummy never appears in any widget's text).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
DUMMY_KEY = "dummy-key-MUST-NOT-APPEAR-0123456789"


def _suffix(scale: float) -> str:
    if scale == 1:
        return ""
    return f"@{scale:g}x"


def render(scale: float, out: Path) -> list[Path]:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["QT_SCALE_FACTOR"] = f"{scale:g}"
    tmp = Path(tempfile.mkdtemp(prefix="desk-shots-"))
    os.environ["DESPATCH_DESK_HOME"] = str(tmp / "home")
    os.environ.pop("DESPATCH_DESK_API_URL", None)
    os.environ.pop("DESPATCH_DESK_API_KEY", None)
    sys.path.insert(0, str(ROOT / "app"))

    import keyring
    sys.path.insert(0, str(ROOT / "tests"))
    from support import MemoryKeyring as _TestKeyring

    class MemoryKeyring(_TestKeyring):
        """The tests' in-memory keyring, named for what the settings dialog shows."""

    MemoryKeyring.__module__ = "screenshots"  # shown by the settings dialog as the backend's name
    keyring.set_keyring(MemoryKeyring())

    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtGui import QFont
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QWidget

    from despatch_desk.core import RetryPolicy
    from despatch_desk.desk import Desk
    from despatch_desk.gui.app import make_qapplication, seed_demo_groups
    from despatch_desk.gui.main_window import MainWindow, Mode
    from despatch_desk.gui.sounds import SoundPlayer
    from despatch_desk.sandbox import DEMO_API_KEY, Fault, SandboxServer
    from despatch_desk.settings import Paths, ServiceGroupConfig

    app = make_qapplication([])
    font = QFont("DejaVu Sans")
    font.setPointSizeF(10)
    app.setFont(font)
    written: list[Path] = []

    def spin(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait(predicate, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit("screenshots: timed out waiting for the window")
            spin(10)

    def check_no_secret(widget: QWidget) -> None:
        for child in [widget, *widget.findChildren(QWidget)]:
            texts = []
            if isinstance(child, QLabel):
                texts.append(child.text())
            if isinstance(child, QLineEdit) and child.echoMode() == QLineEdit.EchoMode.Normal:
                texts.append(child.text())
            texts.append(child.windowTitle())
            for text in texts:
                for secret in (DUMMY_KEY, DEMO_API_KEY):
                    if secret and secret in (text or ""):
                        raise SystemExit(f"screenshots: a key is visible in {type(child).__name__}")

    def shot(widget: QWidget, name: str) -> None:
        check_no_secret(widget)
        spin(50)
        path = out / f"{name}{_suffix(scale)}.png"
        widget.grab().save(str(path))
        written.append(path)

    def scan(window: MainWindow, text: str) -> None:
        QTest.keyClicks(window.scan_field, text)
        QTest.keyClick(window.scan_field, Qt.Key.Key_Return)

    def result(window: MainWindow, state: str) -> None:
        wait(lambda: window.result_panel.state == state)
        wait(lambda: window.runner.active_count(lane=None) == 0)

    sandbox = SandboxServer().start()
    out.mkdir(parents=True, exist_ok=True)
    try:
        # -- the production look, talking to the sandbox
        paths = Paths.default()
        desk = Desk(paths, policy=RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02))
        seed_demo_groups(desk)
        desk.settings.workstation = "packing-bench-2"
        desk.settings.last_group = "nextDay"
        desk.keystore.set(desk.origin, DUMMY_KEY)  # what the settings dialog will find (masked)
        desk.set_overrides(base_url=sandbox.url, api_key=DEMO_API_KEY)
        window = MainWindow(desk, mode=Mode.NORMAL, sounds=SoundPlayer(enabled=False))
        window.resize(1100, 820)
        window.show()
        window.focus_scan()
        wait(lambda: window.ready_checked and window.in_doubt_checked)
        for ref in ("EC-000-DSK-003", "ec-000-dsk-012 "):
            scan(window, ref)
            result(window, "allocated")
        scan(window, "EC-000-DSK-010")  # three packages: three tracking numbers
        result(window, "allocated")
        shot(window, "allocated")
        scan(window, "EC-000-DSK-022")
        result(window, "already_allocated")
        shot(window, "already-allocated")
        QTest.keyClick(window.scan_field, Qt.Key.Key_Escape)  # acknowledged: each state on its own
        scan(window, "EC-000-DSK-021")
        result(window, "not_allocated")
        shot(window, "not-allocated")
        QTest.keyClick(window.scan_field, Qt.Key.Key_Escape)
        sandbox.add_fault(Fault("drop-after-commit", any_request=True))
        scan(window, "EC-000-DSK-007")
        result(window, "in_doubt")
        wait(lambda: window.in_doubt_bar.isVisible())
        sandbox.clear_faults()
        shot(window, "in-doubt")
        queue_dialog = window.queue.open()  # the in-doubt queue (issue 9)
        wait(lambda: queue_dialog.table.rowCount() == 1)
        shot(queue_dialog, "in-doubt-queue")
        queue_dialog.close()
        QTest.keyClick(window.scan_field, Qt.Key.Key_Escape)
        shot(window, "idle")
        # Problems stay on screen while later scans go on: two unacknowledged, a green after them.
        scan(window, "EC-000-DSK-014")  # 38 kg: nothing in next day takes it
        result(window, "not_allocated")
        scan(window, "EC-000-DSK-01")  # a character lost
        result(window, "invalid_reference")
        scan(window, "EC-000-DSK-005")
        result(window, "allocated")
        shot(window, "problem-stays")
        for _ in range(2):
            QTest.keyClick(window.scan_field, Qt.Key.Key_Escape)
        # Undo last allocation (issue 9): the confirmation names consignment and service; cancelled here.
        window.undo.ask()
        wait(lambda: window.undo.dialog is not None and window.undo.dialog.isVisible())
        shot(window.undo.dialog, "undo-confirmation")
        window.undo.dialog.reject()
        wait(lambda: window.undo.dialog is None)
        # Labels (issue 8): printed at once after the allocation; a printer that is off is LABEL NOT PRINTED.
        label_sink = socket.create_server(("127.0.0.1", 0))
        label_jobs: list[bytes] = []

        def serve_labels() -> None:
            while True:
                try:
                    conn, _ = label_sink.accept()
                except OSError:
                    return
                with conn:
                    label_jobs.append(b"".join(iter(lambda c=conn: c.recv(65536), b"")))

        threading.Thread(target=serve_labels, daemon=True).start()
        desk.settings.printer_uri, desk.settings.auto_print = f"tcp://127.0.0.1:{label_sink.getsockname()[1]}", True
        scan(window, "EC-000-DSK-001")
        result(window, "allocated")
        wait(lambda: len(label_jobs) == 1)
        shot(window, "label-printed")
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            off_port = closed.getsockname()[1]
        desk.settings.printer_uri = f"tcp://127.0.0.1:{off_port}"
        scan(window, "EC-000-DSK-009")
        result(window, "allocated")
        wait(lambda: "LABEL NOT PRINTED" in window.attention.text())
        shot(window, "label-not-printed")
        QTest.keyClick(window.scan_field, Qt.Key.Key_Escape)
        label_sink.close()
        desk.settings.printer_uri = "tcp://192.0.2.10:9100"  # the printer page shows a typical address

        try:
            from despatch_desk.gui.settings_dialog import SettingsDialog
        except ImportError:
            SettingsDialog = None  # noqa: N806
        if SettingsDialog is not None:
            dialog = SettingsDialog(desk, window)
            dialog.show()
            spin(600)
            shot(dialog, "settings")
            dialog.tabs.setCurrentIndex(dialog.tabs.count() - 1)  # the label printer page
            spin(200)
            shot(dialog, "settings-printer")
            dialog.reject()
        try:
            from despatch_desk.gui.history_view import HistoryView
        except ImportError:
            HistoryView = None  # noqa: N806
        if HistoryView is not None:
            view = HistoryView(desk, window)
            view.resize(1200, 700)
            view.show()
            if hasattr(view, "refresh"):
                view.refresh()
            spin(800)
            shot(view, "history")
            view.close()
        window.close_now()
        wait(lambda: window.runner.active_count(lane=None) == 0)
        desk.close()

        # -- first run: no key stored
        keyring.get_keyring().secrets.clear()
        first_paths = Paths(paths.config_dir / "first", paths.data_dir / "first", paths.log_dir)
        first = Desk(first_paths)
        first_window = MainWindow(first, mode=Mode.NORMAL, sounds=SoundPlayer(enabled=False))
        first_window.resize(1100, 820)
        first_window.show()
        wait(lambda: first_window.first_run.isVisible())
        shot(first_window, "first-run")
        first_window.close_now()
        wait(lambda: first_window.runner.active_count(lane=None) == 0)
        first.close()

        # -- demo mode
        demo_paths = Paths(paths.config_dir / "demo", paths.data_dir / "demo", paths.log_dir)
        demo = Desk(demo_paths)
        demo.set_overrides(base_url=sandbox.url, api_key=DEMO_API_KEY)
        seed_demo_groups(demo)
        demo_window = MainWindow(demo, mode=Mode.DEMO, sounds=SoundPlayer(enabled=False))
        demo_window.resize(1100, 820)
        demo_window.show()
        wait(lambda: demo_window.ready_checked)
        QTest.keyClick(demo_window.scan_field, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
        scan(demo_window, "EC-000-DSK-016")
        result(demo_window, "allocated")
        shot(demo_window, "demo")
        demo_window.close_now()
        wait(lambda: demo_window.runner.active_count(lane=None) == 0)
        demo.close()

        # -- issue 11: a fresh desk sets itself up (no groups configured, a working key), at two sizes
        for size, tag, ref in (((1100, 820), "default", "EC-000-DSK-006"), ((1920, 1080), "maximised", "EC-000-DSK-008")):
            fresh_paths = Paths(paths.config_dir / f"fresh-{tag}", paths.data_dir / f"fresh-{tag}", paths.log_dir)
            fresh = Desk(fresh_paths, policy=RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02))
            fresh.settings.workstation = "packing-bench-2"
            fresh.set_overrides(base_url=sandbox.url, api_key=DEMO_API_KEY)
            fresh_window = MainWindow(fresh, mode=Mode.NORMAL, sounds=SoundPlayer(enabled=False))
            fresh_window.resize(*size)
            fresh_window.show()
            fresh_window.focus_scan()
            shot(fresh_window, f"fresh-1-start-{tag}")          # asking the account for its groups
            wait(lambda w=fresh_window: w.ready_checked and not w.group_sync.syncing)
            wait(lambda w=fresh_window: w.runner.active_count(lane=None) == 0)
            shot(fresh_window, f"fresh-2-ready-{tag}")          # the account's groups, READY
            scan(fresh_window, ref)
            result(fresh_window, "allocated")
            shot(fresh_window, f"fresh-3-first-green-{tag}")
            fresh_window.close_now()
            wait(lambda w=fresh_window: w.runner.active_count(lane=None) == 0)
            fresh.close()

        # -- a group the account lacks is flagged; a group change is loud (GROUP → …) until the next scan
        loud_paths = Paths(paths.config_dir / "loud", paths.data_dir / "loud", paths.log_dir)
        loud = Desk(loud_paths, policy=RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02))
        seed_demo_groups(loud)
        loud.settings.service_groups = [*loud.settings.service_groups, ServiceGroupConfig("express", "Express")]
        loud.settings.last_group = "nextDay"
        loud.set_overrides(base_url=sandbox.url, api_key=DEMO_API_KEY)
        loud_window = MainWindow(loud, mode=Mode.NORMAL, sounds=SoundPlayer(enabled=False))
        loud_window.resize(1100, 820)
        loud_window.show()
        wait(lambda: loud_window.ready_checked and not loud_window.group_sync.syncing)
        wait(lambda: loud_window.runner.active_count(lane=None) == 0)
        QTest.keyClick(loud_window.scan_field, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
        shot(loud_window, "group-changed")
        loud_window.close_now()
        wait(lambda: loud_window.runner.active_count(lane=None) == 0)
        loud.close()

        # -- command barcodes and the Batch window (issue 10)
        from despatch_desk.gui.batch_window import open_batch

        batch_paths = Paths(paths.config_dir / "batch", paths.data_dir / "batch", paths.log_dir)
        bdesk = Desk(batch_paths, policy=RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02))
        bdesk.set_overrides(base_url=sandbox.url, api_key=DEMO_API_KEY)
        seed_demo_groups(bdesk)
        bdesk.settings.last_group = "nextDay"
        bwindow = MainWindow(bdesk, mode=Mode.NORMAL, sounds=SoundPlayer(enabled=False))
        bwindow.resize(1100, 820)
        bwindow.show()
        wait(lambda: bwindow.ready_checked and bwindow.in_doubt_checked)
        fresh = [sandbox.add_consignment() for _ in range(9)]
        heavy = [sandbox.add_consignment(weight_kg=400) for _ in range(2)]
        scan(bwindow, fresh[8])  # this desk allocated it before: the preview marks it
        result(bwindow, "allocated")
        scan(bwindow, "DD:GROUP:HEAVY")
        wait(lambda: bwindow.current_group() == "heavy")
        shot(bwindow, "command-group")
        scan(bwindow, "DD:LAUNCH")
        shot(bwindow, "command-refused")
        scan(bwindow, "DD:GROUP:NEXTDAY")
        wait(lambda: bwindow.current_group() == "nextDay")
        rows = [fresh[0], fresh[1], fresh[8].lower(), fresh[2], fresh[1], heavy[0], "EC-000-DSK-0", fresh[3],
                fresh[4], heavy[1], "=HYPERLINK(1)", *fresh[5:8]]
        batch = open_batch(bwindow)
        batch.resize(900, 640)
        batch.set_text("\n".join(rows))
        wait(lambda: batch.preview is not None and len(batch.model.rows) == len(rows))
        shot(batch, "batch-preview")
        sandbox.add_fault(Fault("slow-after-commit", delay=0.6))
        batch.run()
        wait(lambda: batch.progress.value() >= 4)
        shot(batch, "batch-running")
        wait(lambda: batch.running is None, 30)
        sandbox.clear_faults()
        shot(batch, "batch-finished")
        batch.close()
        bwindow.close_now()
        wait(lambda: bwindow.runner.active_count(lane=None) == 0)
        bdesk.close()
    finally:
        sandbox.stop()
    QApplication.processEvents()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, action="append", help="render at this scale only (repeatable)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scales = args.scale or [1.0, 2.0]
    if args.child:
        for path in render(scales[0], args.out):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        sys.stdout.flush()
        os._exit(0)  # skip Qt teardown of a throwaway process
    code = 0
    for scale in scales:  # QT_SCALE_FACTOR must be set before the QApplication exists: one process each
        proc = subprocess.run([sys.executable, __file__, "--child", "--scale", f"{scale:g}", "--out", str(args.out)],
                              timeout=180)
        code = code or proc.returncode
    return code


if __name__ == "__main__":
    raise SystemExit(main())
