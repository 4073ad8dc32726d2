"""Batch benchmark (a script, not a test): ``python benchmarks/bench_batch.py``.

Against the built-in sandbox on loopback, in process, offscreen, through the real Batch window
(``ScanController.submit_batch``, the runner's scan lane, ``Desk.allocate`` with its fsync'd history):

1. **throughput** — 200 consignments at 250 ms server latency, 4 in parallel: time from Run to the
   batch's end against the ideal ``ceil(200 / 4) × 250 ms``. Goal ≤ 1.1 × ideal; every row allocated,
   every row in the history, never more than 4 PUTs at the server at once.
2. **longest GUI-thread stall** meanwhile — a 5 ms QTimer; the largest gap between its ticks (minus
   5 ms). Goal ≤ 50 ms.
3. **memory** — RSS growth of a 1,000-row batch against a 200-row one (0 ms latency, new window each),
   per extra row. Goal ≤ 32 KiB a row (a row's own data: its ticket, outcome, table row; nothing that
   grows with the batch beyond that, such as per-row timers, threads or widgets).

Exit code 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from window_driver import close_window  # noqa: E402
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _window(latency_ms: float, parallel: int):
    from despatch_desk.desk import Desk
    from despatch_desk.gui.main_window import MainWindow, Mode
    from despatch_desk.gui.sounds import SoundPlayer
    from despatch_desk.sandbox import DEMO_API_KEY, SandboxServer
    from despatch_desk.settings import Paths, ServiceGroupConfig

    from despatch_desk.sandbox import Fault

    tmp = Path(tempfile.mkdtemp(prefix="desk-bench-batch-"))
    # The PUT's latency inside its handler (a slow answer), where the sandbox counts the PUTs in flight.
    sandbox = SandboxServer(faults=[Fault("slow-after-commit", delay=latency_ms / 1000)] if latency_ms else []).start()
    desk = Desk(Paths(tmp / "config", tmp / "data", tmp / "logs"))
    desk.settings.service_groups = [ServiceGroupConfig("nextDay", "Next day")]
    desk.settings.last_group = "nextDay"
    desk.settings.max_parallel = parallel
    desk.settings.auto_print = False
    desk.set_overrides(base_url=sandbox.url, api_key=DEMO_API_KEY)
    window = MainWindow(desk, mode=Mode.DEMO, sounds=SoundPlayer(enabled=False))
    window.resize(1100, 820)
    window.show()
    return window, desk, sandbox


def _wait(app, condition, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        time.sleep(0.001)
    return True


def run_batch(app, count: int, latency_ms: float, parallel: int) -> dict[str, float]:
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from despatch_desk.gui.batch_window import open_batch

    window, desk, sandbox = _window(latency_ms, parallel)
    try:
        _wait(app, lambda: window.runner.active_count(lane=None) == 0, 10)
        refs = [sandbox.add_consignment() for _ in range(count)]
        batch = open_batch(window)
        batch.set_text("\n".join(refs))
        _wait(app, lambda: batch.preview is not None and len(batch.model.rows) == count, 30)
        gc.collect()
        rss_before = _rss_kib()
        ticks: list[float] = []
        ticker = QTimer()
        ticker.setTimerType(Qt.TimerType.PreciseTimer)
        ticker.setInterval(5)
        ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))
        loop = QEventLoop()
        window.controller.batch_finished.connect(lambda _b: loop.quit())
        timing = {"t0": 0.0, "submit_ms": 0.0}

        def start() -> None:  # inside the running loop, so the ticker sees Run's own time in the GUI thread
            timing["t0"] = time.perf_counter()
            batch.run()
            timing["submit_ms"] = (time.perf_counter() - timing["t0"]) * 1000

        ticker.start()
        QTimer.singleShot(100, start)
        QTimer.singleShot(int(max(60, count * latency_ms / 1000 / parallel * 3) * 1000), loop.quit)
        loop.exec()
        elapsed = (time.perf_counter() - timing["t0"]) * 1000
        submit_ms = timing["submit_ms"]
        ticker.stop()
        gc.collect()
        rss_after = _rss_kib()
        states = [batch.model.cells(r)[2] for r in batch.model.rows]
        history = {r.reference for r in desk.history.search(limit=None) if r.outcome == "allocated"}
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        return {
            "elapsed_ms": elapsed,
            "ideal_ms": math.ceil(count / parallel) * latency_ms,
            "allocated": float(states.count("allocated")),
            "lost": float(len(set(refs) - history)),
            "most_in_flight": float(sandbox.most_allocations_in_flight),
            "max_stall_ms": max(0.0, max(gaps) * 1000 - 5) if gaps else float("nan"),
            "rss_growth_kib": float(rss_after - rss_before),
            "submit_ms": submit_ms,
        }
    finally:
        close_window(window, desk, sandbox, app)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=250)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--memory-rows", type=int, nargs=2, default=(200, 1000))
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    ok = True
    r = run_batch(app, args.count, args.latency_ms, args.parallel)
    ratio = r["elapsed_ms"] / r["ideal_ms"] if r["ideal_ms"] else float("nan")
    good = ratio <= 1.1 and r["allocated"] == args.count and not r["lost"] and r["most_in_flight"] <= args.parallel
    ok &= good
    print(f"throughput: {args.count} at {args.latency_ms:.0f} ms, {args.parallel} in parallel: "
          f"{r['elapsed_ms']:.0f} ms vs ideal {r['ideal_ms']:.0f} ms = {ratio:.3f}x (goal <= 1.1x); "
          f"{r['allocated']:.0f} allocated, {r['lost']:.0f} lost, at most {r['most_in_flight']:.0f} in flight"
          f"  {'OK' if good else 'FAIL'}")
    good = r["max_stall_ms"] <= 50
    ok &= good
    print(f"longest GUI stall during the batch: {r['max_stall_ms']:.1f} ms (goal <= 50 ms)  {'OK' if good else 'FAIL'}"
          f"; of it, Run handing {args.count} rows to the ScanController in one turn: {r['submit_ms']:.1f} ms")
    small, large = args.memory_rows
    a = run_batch(app, small, 0, args.parallel)
    b = run_batch(app, large, 0, args.parallel)
    per_row = (b["rss_growth_kib"] - a["rss_growth_kib"]) / (large - small)
    good = per_row <= 32 and a["allocated"] == small and b["allocated"] == large
    ok &= good
    print(f"memory: RSS grew {a['rss_growth_kib']:.0f} KiB over {small} rows, {b['rss_growth_kib']:.0f} KiB over "
          f"{large} rows: {per_row:.1f} KiB per extra row (goal <= 32)  {'OK' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
