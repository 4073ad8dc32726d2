"""``despatch-desk self-test``: the installed app, end to end, in a few seconds. Exit 0 or 1.

Builds the real window (off screen when there is no display, or with ``--offscreen``), starts the
built-in sandbox in this process, types a demo consignment into the scan field and presses Enter
(the real UI path: scan field → dispatcher → worker → history → result panel), then checks the
keyring with a throwaway entry. Prints, and writes to ``self-test.txt`` in the log folder (a
windowed build has no stdout)::

    time to window: 412 ms
    scan to result: 38 ms
    label rendering: ok (1 page, 107452 bytes of PDF through QtPrintSupport)
    keyring backend: keyring.backends.SecretService.Keyring
    keyring round trip: ok
    self-test: PASS

Everything runs in a temporary desk folder: the operator's history and settings are never touched.
Never a traceback: any failure is one plain line.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

SELF_TEST_USER = "self-test://despatch-desk"
REPORT_FILE = "self-test.txt"
DEMO_REFERENCE = "EC-000-DSK-001"
DEMO_GROUP = "nextDay"


class _Report:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)
        _print(line)


def _print(line: str) -> None:
    stream = sys.stdout
    if stream is None:  # windowed build
        return
    try:
        print(line, file=stream, flush=True)
    except Exception:
        pass


def _wants_offscreen(force: bool) -> bool:
    if force:
        return True
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return False


def main(argv: list[str] | None = None) -> int:
    t_start = time.perf_counter()
    parser = argparse.ArgumentParser(prog="despatch-desk self-test",
                                     description="Check the installed Despatch Desk end to end; exit 0 or 1.")
    parser.add_argument("--offscreen", action="store_true", help="never show a window (QT_QPA_PLATFORM=offscreen)")
    parser.add_argument("--skip-keyring", action="store_true",
                        help="do not fail when this machine has no usable keyring (report it only)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for the scan's result")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    report = _Report()
    failure: str | None = None
    with tempfile.TemporaryDirectory(prefix="despatch-desk-self-test-") as tmp:
        try:
            failure = _run(args, Path(tmp), report, t_start)
        except Exception as exc:  # never a traceback for the user; the log file keeps it
            failure = f"{type(exc).__name__}: {exc}"
            _log_exception()
    report.add("self-test: PASS" if failure is None else f"self-test: FAIL: {failure}")
    _write_report(report)
    return 0 if failure is None else 1


def _run(args: argparse.Namespace, tmp: Path, report: _Report, t_start: float) -> str | None:
    if _wants_offscreen(args.offscreen) and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from ..credentials import CredentialError, KeyStore
    from ..desk import Desk
    from ..sandbox import DEMO_API_KEY, SandboxServer
    from ..settings import Paths
    from .app import make_qapplication, seed_demo_groups
    from .main_window import MainWindow, Mode
    from .sounds import SoundPlayer

    app = make_qapplication([])
    import PySide6

    # The release workflow refuses a bundle whose interpreter is known to crash (see MIN_PYTHON).
    report.add(f"interpreter: Python {sys.version.split()[0]} ({sys.implementation.name}), "
               f"PySide6 {PySide6.__version__}")
    from .. import assets
    from .sounds import SOUNDS

    missing = [p.name for p in (assets.window_icon(), *(assets.sound(n) for n in SOUNDS)) if not p.is_file()]
    report.add(f"assets: {'MISSING ' + ', '.join(missing) if missing else f'icon and {len(SOUNDS)} sounds found'}")
    paths = Paths(tmp / "config", tmp / "data", tmp / "logs")
    failure: str | None = f"the bundle lacks {', '.join(missing)}" if missing else None
    sandbox = SandboxServer(host="127.0.0.1", port=0, api_key=DEMO_API_KEY).start()
    desk = Desk(paths)
    window = None
    try:
        desk.set_overrides(base_url=sandbox.url, api_key=DEMO_API_KEY)
        seed_demo_groups(desk)
        desk.settings.last_group = DEMO_GROUP
        window = MainWindow(desk, mode=Mode.DEMO, sounds=SoundPlayer(enabled=False))
        window.show()
        window.focus_scan()
        deadline = time.perf_counter() + 10
        while not window.isVisible() and time.perf_counter() < deadline:
            app.processEvents()
        app.processEvents()
        report.add(f"time to window: {(time.perf_counter() - t_start) * 1000:.0f} ms")
        if window.current_group() != DEMO_GROUP:
            window.select_group_index(next(i for i, g in enumerate(desk.settings.service_groups)
                                           if g.code == DEMO_GROUP))

        # The real UI path: keystrokes into the scan field, Enter.
        field = window.scan_field
        t_scan = time.perf_counter()
        QTest.keyClicks(field, DEMO_REFERENCE.lower())
        QTest.keyClick(field, Qt.Key.Key_Return)
        if field.text():
            failure = "the scan field was not cleared after Enter"
        deadline = time.perf_counter() + args.timeout
        panel = window.result_panel
        while panel.state in ("allocating", "queued", "idle") and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.001)
        elapsed = (time.perf_counter() - t_scan) * 1000
        if panel.state == "allocated":
            report.add(f"scan to result: {elapsed:.0f} ms")
        else:
            report.add(f"scan to result: none after {elapsed:.0f} ms (panel shows {panel.state})")
            detail = panel.outcome.message if panel.outcome else panel.state
            failure = failure or f"the demo scan was not allocated: {detail}"
        puts = [r for r in sandbox.recorded() if r.method == "PUT"]
        if failure is None and len(puts) != 1:
            failure = f"expected one allocation request, the sandbox saw {len(puts)}"
        if failure is None:
            rows = desk.history.search(text=DEMO_REFERENCE)
            if not rows or rows[0].outcome != "allocated":
                failure = "the allocation is missing from the history"
    finally:
        if window is not None:
            window.close_now()
            deadline = time.perf_counter() + 5
            while window.runner.active_count(lane=None) and time.perf_counter() < deadline:
                app.processEvents()
                time.sleep(0.005)
            window.deleteLater()
        desk.close()
        sandbox.stop()
        QApplication.processEvents()

    # Labels: a PDF label rendered by QtPdf and painted on a QPrinter (the bundle must carry both).
    problem = _render_label(tmp, report)
    if problem:
        failure = failure or problem

    # The keyring: the real backend, a throwaway entry.
    keystore = KeyStore()
    report.add(f"keyring backend: {keystore.backend_name()}")
    value = f"selftest-{os.getpid()}-{int(time.time())}"
    try:
        keystore.set(SELF_TEST_USER, value)  # set() reads the value back and refuses a backend that drops it
        if not os.environ.get("DESPATCH_DESK_API_KEY"):
            got = keystore.get(SELF_TEST_USER)
            if got != value:
                raise CredentialError("the keyring gave back a different value than was stored")
        if not keystore.delete(SELF_TEST_USER):
            raise CredentialError("the throwaway entry could not be found to delete it")
        report.add("keyring round trip: ok")
    except CredentialError as exc:
        report.add(f"keyring round trip: {exc}")
        if not args.skip_keyring:
            failure = failure or f"keyring: {exc}"
    return failure


def _render_label(tmp: Path, report: _Report) -> str | None:
    """Render a test label into a PDF through QtPrintSupport; the failure in words, or None."""
    from datetime import datetime

    from ..cancel import CancelToken
    from ..printing import make_test_label
    from ..printing.qt_pdf import print_pdf

    out = tmp / "label-check.pdf"
    try:
        pages = print_pdf(make_test_label("pdf", desk_name="self-test", when=datetime.now()), CancelToken(timeout=20),
                          title="self-test label", output_file=str(out), where="the self-test's PDF file")
    except Exception as exc:  # a missing Qt module or plugin must be said, not raised
        report.add(f"label rendering: {type(exc).__name__}: {exc}")
        return f"label rendering: {exc}"
    ok = pages == 1 and out.is_file() and out.read_bytes()[:5] == b"%PDF-"
    size = out.stat().st_size if out.is_file() else 0
    report.add(f"label rendering: {'ok' if ok else 'FAILED'} ({pages} page, {size} bytes of PDF through QtPrintSupport)")
    return None if ok else "label rendering: the test label did not come out as one PDF page"


def _write_report(report: _Report) -> None:
    from ..settings import Paths

    text = "\n".join(report.lines) + "\n"
    try:
        log_dir = Paths.default().log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        target = log_dir / REPORT_FILE
        target.write_text(text, encoding="utf-8")
        _print(f"report written to {target}")
    except Exception as exc:
        _print(f"report could not be written: {exc}")


def _log_exception() -> None:
    try:
        import logging

        logging.getLogger("despatch_desk.selftest").error("self-test crashed:\n%s", traceback.format_exc())
    except Exception:
        pass


if __name__ == "__main__":
    raise SystemExit(main())
