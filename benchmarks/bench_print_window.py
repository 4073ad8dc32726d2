"""Auto-print benchmark (a script, not a test): ``python benchmarks/bench_print_window.py``.

The window, offscreen, against the built-in sandbox at 250 ms server latency, ``--parallel`` (4)
allocations at once: 40 scans typed as key events into the scan field (like ``bench_gui.py``),
once with printing off and once with auto-print on to a raw TCP "printer" on loopback. Figures:

1. **scan throughput with printing on ÷ with printing off** — from the first key to the 40th
   allocation result. Goal ≥ 0.9 (labels run on the follow-up lane and must not slow the scans).
2. **every label received once** — the sink got exactly one job per reference, each byte-identical
   to the label SortedPRO holds (GET /labels/{ref}/ZPL afterwards).
3. time from the first key to the 40th label at the sink (labels lag the results: each is a label
   GET at the same 250 ms latency on a two-wide lane), and the longest GUI-thread stall (5 ms timer).

Exit code 0 when goals 1 and 2 are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from window_driver import scan_typer  # noqa: E402
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class Sink:
    """A raw-port label printer on 127.0.0.1: each connection's bytes, until EOF."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.uri = f"tcp://127.0.0.1:{self.server.getsockname()[1]}"
        self.jobs: list[bytes] = []
        self.last_at = 0.0
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        chunks = []
        with conn:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        with self._lock:
            self.jobs.append(b"".join(chunks))
            self.last_at = time.perf_counter()

    def stop(self) -> None:
        self.server.close()


def run(app, *, printing: bool, count: int, latency_ms: float, parallel: int) -> dict:
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from despatch_desk.desk import Desk
    from despatch_desk.gui.main_window import MainWindow, Mode
    from despatch_desk.gui.sounds import SoundPlayer
    from despatch_desk.sandbox import DEMO_API_KEY, SandboxServer
    from despatch_desk.settings import Paths, ServiceGroupConfig

    tmp = Path(tempfile.mkdtemp(prefix="desk-bench-print-"))
    sandbox = SandboxServer(latency_ms=latency_ms).start()
    sink = Sink()
    desk = Desk(Paths(tmp / "config", tmp / "data", tmp / "logs"))
    settings = desk.settings
    settings.service_groups = [ServiceGroupConfig("nextDay", "Next day")]
    settings.last_group = "nextDay"
    settings.max_parallel = parallel
    settings.printer_uri, settings.auto_print, settings.label_format = (sink.uri if printing else ""), True, "zpl"
    desk.set_overrides(base_url=sandbox.url, api_key=DEMO_API_KEY)
    window = MainWindow(desk, mode=Mode.DEMO, sounds=SoundPlayer(enabled=False))
    window.resize(1100, 820)
    window.show()
    window.focus_scan()
    spin = QEventLoop()
    QTimer.singleShot(400, spin.quit)  # start-up checks done
    spin.exec()

    refs = [sandbox.add_consignment() for _ in range(count)]
    results: dict[str, str] = {}
    ticks: list[float] = []
    state = {"start": 0.0, "end": 0.0, "typed": 0}
    loop = QEventLoop()
    ticker = QTimer()
    ticker.setTimerType(Qt.TimerType.PreciseTimer)
    ticker.setInterval(5)
    ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def finished(ticket_id: int) -> None:
        ticket = window.controller.ticket(ticket_id)
        outcome = ticket.outcome if ticket is not None else None
        if outcome is not None and outcome.reference:
            results[outcome.reference] = outcome.kind.value
        if len(results) >= count and not state["end"]:
            state["end"] = time.perf_counter()
            if not printing:
                loop.quit()

    def labels_done() -> None:
        if printing and state["end"] and len(sink.jobs) >= count:
            loop.quit()

    type_next = scan_typer(window, refs[:count], state)

    window.controller.ticket_finished.connect(finished)
    window.controller.follow_up_finished.connect(lambda *_: labels_done())
    ticker.start()
    QTimer.singleShot(0, type_next)
    QTimer.singleShot(90000, loop.quit)
    loop.exec()
    ticker.stop()
    while window.runner.active_count(lane=None):  # the last follow-up callbacks
        app.processEvents()
        time.sleep(0.002)
    try:
        elapsed = (state["end"] - state["start"]) * 1000 if state["end"] else float("inf")
        gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
        figures = {"elapsed_ms": elapsed, "allocated": sum(1 for v in results.values() if v == "allocated"),
                   "max_stall_ms": max(0.0, max(gaps) * 1000 - 5) if gaps else float("nan"),
                   "labels": len(sink.jobs), "labels_ms": (sink.last_at - state["start"]) * 1000 if sink.jobs else 0.0,
                   "once": True}
        if printing:
            sandbox.latency_ms = 0
            import httpx

            with httpx.Client(base_url=sandbox.url, headers={"ocp-apim-subscription-key": DEMO_API_KEY},
                              trust_env=False) as client:
                for ref in refs:
                    expected = base64.b64decode(client.get(f"/labels/{ref}/ZPL").json()["File"])
                    got = [job for job in sink.jobs if ref.encode() in job]
                    figures["once"] = figures["once"] and got == [expected]
        return figures
    finally:
        window.close_now()
        desk.close()
        sandbox.stop()
        sink.stop()
        window.deleteLater()
        app.processEvents()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=250)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode, alternating (medians reported)")
    args = parser.parse_args(argv)

    from despatch_desk.gui.app import make_qapplication

    app = make_qapplication([])
    off, on = [], []
    for _ in range(args.runs):
        off.append(run(app, printing=False, count=args.scans, latency_ms=args.latency_ms, parallel=args.parallel))
        on.append(run(app, printing=True, count=args.scans, latency_ms=args.latency_ms, parallel=args.parallel))
    off_ms = statistics.median(r["elapsed_ms"] for r in off)
    on_ms = statistics.median(r["elapsed_ms"] for r in on)
    ratio = off_ms / on_ms  # throughput on ÷ throughput off
    once = all(r["once"] and r["labels"] == args.scans for r in on)
    allocated = all(r["allocated"] == args.scans for r in off + on)
    rows = [
        (f"{args.scans} scans at {args.latency_ms:.0f} ms, {args.parallel} in parallel, printing off (median)",
         f"{off_ms:.0f} ms", "", True),
        ("  same, auto-print on to a TCP sink (median)", f"{on_ms:.0f} ms", "", True),
        ("  throughput on ÷ off", f"{ratio:.2f}", "≥ 0.90", ratio >= 0.9),
        ("  every scan allocated, every label received once, byte-identical",
         f"{'yes' if allocated and once else 'NO'} ({sum(r['labels'] for r in on)} labels in {len(on)} runs)",
         "yes", allocated and once),
        ("  first key → last label at the sink (median)", f"{statistics.median(r['labels_ms'] for r in on):.0f} ms",
         "(labels lag)", True),
        ("  longest GUI-thread stall, off / on (max)", f"{max(r['max_stall_ms'] for r in off):.1f} / "
         f"{max(r['max_stall_ms'] for r in on):.1f} ms", "", True),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'figure':>28}  {'goal':<12} ok")
    for name, figure, goal, ok in rows:
        print(f"{name.ljust(width)}  {figure:>28}  {goal:<12} {'yes' if ok else 'NO'}")
    print(f"(runs off: {', '.join(f'{r['elapsed_ms']:.0f}' for r in off)} ms; on: "
          f"{', '.join(f'{r['elapsed_ms']:.0f}' for r in on)} ms; python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs)")
    return 0 if ratio >= 0.9 and once and allocated else 1


if __name__ == "__main__":
    raise SystemExit(main())
