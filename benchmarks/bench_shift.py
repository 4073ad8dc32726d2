"""Shift benchmark (a script, not a test): ``python benchmarks/bench_shift.py [--scans 10000]``.

A whole shift of scans through the real window path: the desk is started the user's way in demo mode
(``DeskApplication(demo=True)``: the built-in sandbox, the window, the job runner, the history on disk), in
a child process, and references are typed into the focused widget as posted key events, the way a USB
scanner types, one scan every ``--interval-ms`` (15 ms by default), the demo references over and over.
A reference is typed again only once its previous scan has a final row in the history, so every scan
typed must end with exactly one outcome.

It prints the child's resident memory at launch, once warm (after the first 100 scans: the HTTP client,
SQLite and each result state's first paint load once), every 1,000 scans and at the end, the growth over
the shift and per 1,000 scans, and the longest GUI-thread stall (a 5 ms timer; the largest gap between its ticks, minus
5 ms). Goals: the warm desk grows by ≤ 10 MB over 10,000 scans, no stall above 50 ms, the process stays
alive, every scan has an outcome, none is "internal error". Exit code 0 when every goal is met.

``tests/gui/test_soak.py`` runs the same child with 3,000 scans.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROWTH_GOAL_MB = 10.0
WARM_SCANS = 100
STALL_GOAL_MS = 50.0


# --------------------------------------------------------------------------- the child (the desk itself)


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, AttributeError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def _wrapper_counts() -> dict[str, int]:
    from collections import Counter

    from shiboken6 import Shiboken

    return dict(Counter(type(w).__name__ for w in Shiboken.getAllValidWrappers()))


class HistoryWatcher(threading.Thread):
    """Reads the desk's history from a second connection, off the GUI thread: finished scans per reference."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True, name="history-watcher")
        self.path = path
        self.finished: dict[str, int] = {}
        self.total_finished = 0
        self.stop = threading.Event()

    def run(self) -> None:
        db = None
        try:
            while not self.stop.wait(0.05):
                try:
                    if db is None:
                        if not self.path.exists():
                            continue
                        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
                    rows = db.execute("SELECT reference, COUNT(*) FROM attempts WHERE outcome != 'pending' "
                                      "GROUP BY reference").fetchall()
                except sqlite3.Error:
                    continue
                self.finished = {ref: n for ref, n in rows if ref}
                self.total_finished = sum(self.finished.values())
        finally:
            if db is not None:
                db.close()


def child(scans: int, interval_ms: int, report_every: int, out: Path, trace: bool = False) -> int:
    import tracemalloc

    if trace:
        tracemalloc.start(12)
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, Qt, QTimer
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    from despatch_desk.gui.app import DeskApplication
    from despatch_desk.sandbox.demo import DEMO_CONSIGNMENTS

    desk_app = DeskApplication(demo=True)
    session = desk_app.start()
    window = session.window
    history_file = session.desk.paths.history_file
    references = [c.reference for c in DEMO_CONSIGNMENTS]
    watcher = HistoryWatcher(history_file)
    watcher.start()
    typed: dict[str, int] = {}
    state = {"typed": 0, "next": 0, "stall_ms": 0.0, "done_at": None}
    samples: list[tuple[int, float]] = []
    app = QApplication.instance()

    def key(target, text: str, code: int) -> None:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QCoreApplication.postEvent(target, QKeyEvent(kind, code, Qt.KeyboardModifier.NoModifier, text))

    def type_next() -> None:
        if state["typed"] >= scans:
            return
        target = QApplication.focusWidget()
        if target is None:
            return
        for _ in range(len(references)):  # the next reference whose previous scan has finished
            ref = references[state["next"] % len(references)]
            state["next"] += 1
            if watcher.finished.get(ref, 0) >= typed.get(ref, 0):
                break
        else:
            return
        for ch in ref:
            key(target, ch, Qt.Key.Key_A if ch.isalpha() else Qt.Key.Key_0)
        key(target, "\r", Qt.Key.Key_Return)
        typed[ref] = typed.get(ref, 0) + 1
        state["typed"] += 1

    elapsed = QElapsedTimer()
    elapsed.start()
    last_tick = [elapsed.elapsed()]

    def tick() -> None:
        now = elapsed.elapsed()
        state["stall_ms"] = max(state["stall_ms"], now - last_tick[0] - 5)
        last_tick[0] = now

    def sample() -> None:
        done = watcher.total_finished
        if trace and done >= scans // 5 and "snap" not in state:
            state["snap"] = tracemalloc.take_snapshot()
            state["wrappers"] = _wrapper_counts()
        due = done >= samples[-1][0] + report_every or (samples[-1][0] < WARM_SCANS <= done)
        if not samples or due or (done >= scans and samples[-1][0] < scans):
            samples.append((min(done, scans), rss_mb()))
            print(f"  {samples[-1][0]:>6} scans  {samples[-1][1]:7.1f} MB", file=sys.stderr, flush=True)
        if done >= scans and state["done_at"] is None:
            state["done_at"] = time.perf_counter()
            QTimer.singleShot(0, finish)

    def finish() -> None:
        if trace:  # where the memory of the last four fifths of the shift went
            diff = tracemalloc.take_snapshot().compare_to(state["snap"], "traceback")
            for stat in diff[:12]:
                print(f"{stat.size_diff / 1e6:+.2f} MB {stat.count_diff:+d} blocks", file=sys.stderr)
                for line in stat.traceback.format()[-8:]:
                    print("    " + line, file=sys.stderr)
            now, before = _wrapper_counts(), state["wrappers"]
            grown = sorted(((now[k] - before.get(k, 0), k) for k in now), reverse=True)[:10]
            print("Qt wrappers that grew: " + ", ".join(f"{k} {n:+d}" for n, k in grown if n), file=sys.stderr)
        watcher.stop.set()
        watcher.join(5)
        with sqlite3.connect(f"file:{history_file}?mode=ro", uri=True) as db:
            outcomes = dict(db.execute("SELECT outcome, COUNT(*) FROM attempts GROUP BY outcome").fetchall())
            internal = db.execute("SELECT COUNT(*) FROM attempts WHERE message LIKE '%internal error%'").fetchone()[0]
        report = {
            "python": sys.version.split()[0], "scans_typed": state["typed"], "outcomes": outcomes,
            "internal_errors": internal, "samples": samples, "longest_stall_ms": round(state["stall_ms"], 1),
            "seconds": round(state["done_at"] - started, 1),
        }
        out.write_text(json.dumps(report), encoding="utf-8")
        window.close_now() if hasattr(window, "close_now") else window.close()
        QTimer.singleShot(0, app.quit)

    timers = []
    for interval, slot in ((interval_ms, type_next), (5, tick), (100, sample)):
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.timeout.connect(slot)
        timer.start(interval)
        timers.append(timer)
    samples.append((0, rss_mb()))
    started = time.perf_counter()
    code = desk_app.run()
    return code


# --------------------------------------------------------------------------- the parent


def run_shift(scans: int, *, interval_ms: int = 15, report_every: int = 1000, platform: str | None = None,
              timeout_s: float = 3600) -> dict:
    """Run one shift in a child process; returns its report plus ``returncode`` (raises on a missing report)."""
    with tempfile.TemporaryDirectory(prefix="desk-shift-") as tmp:
        out = Path(tmp) / "report.json"
        env = dict(os.environ, DESPATCH_DESK_HOME=str(Path(tmp) / "home"),
                   PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "app"), os.environ.get("PYTHONPATH")) if p))
        env.pop("DESPATCH_DESK_API_KEY", None)
        env["QT_QPA_PLATFORM"] = platform or env.get("QT_QPA_PLATFORM") or "offscreen"
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", "--scans", str(scans),
             "--interval-ms", str(interval_ms), "--report-every", str(report_every), "--out", str(out)],
            env=env, timeout=timeout_s, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        report = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
        report["returncode"] = proc.returncode
        report["stderr_tail"] = proc.stderr[-3000:]
        progress = [line.split()[0] for line in proc.stderr.splitlines() if line.strip().endswith(" MB")]
        report["last_progress"] = int(progress[-1]) if progress else 0
        report["fatal"] = next((line for line in proc.stderr.splitlines() if line.startswith("Fatal Python error")), "")
        return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=10_000)
    parser.add_argument("--interval-ms", type=int, default=15)
    parser.add_argument("--report-every", type=int, default=1000)
    parser.add_argument("--platform", help="QT_QPA_PLATFORM for the desk (default offscreen)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help="child: print where memory grew (slow)")
    args = parser.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(ROOT / "app"))
        return child(args.scans, args.interval_ms, args.report_every, args.out, args.tracemalloc)

    print(f"Shift: {args.scans} scans, one every {args.interval_ms} ms, demo desk on {sys.version.split()[0]}")
    report = run_shift(args.scans, interval_ms=args.interval_ms, report_every=args.report_every,
                       platform=args.platform)
    if not report.get("samples"):
        print(f"The desk died (exit code {report['returncode']}) after at least {report['last_progress']} "
              f"finished scans: {report['fatal'] or report['stderr_tail']}")
        return 1
    samples = report["samples"]
    for done, mb in samples:
        print(f"  {done:>6} scans  {mb:7.1f} MB")
    (n0, m0), (n1, m1) = samples[0], samples[-1]
    # The shift is judged from the warm desk: the first scans load what every desk loads once (the HTTP
    # client and its TLS context, SQLite, each result state's first paint): about 10 MB in the first 50.
    warm = next(((n, m) for n, m in samples if n >= min(WARM_SCANS, n1)), samples[0])
    grown = m1 - warm[1]
    per_k = grown / max(1, (n1 - warm[0])) * 1000
    ok_growth = grown <= GROWTH_GOAL_MB * max(1.0, n1 / 10_000)
    ok_stall = report["longest_stall_ms"] <= STALL_GOAL_MS
    typed = report["scans_typed"]
    finished = sum(v for k, v in report["outcomes"].items() if k != "pending")
    ok_outcomes = report["returncode"] == 0 and finished == typed and not report["internal_errors"]
    print(f"memory: {m0:.1f} MB at launch, {warm[1]:.1f} MB warm (after {warm[0]} scans), {m1:.1f} MB after {n1} scans")
    print(f"growth over the shift: +{grown:.1f} MB from the warm desk (goal ≤ {GROWTH_GOAL_MB:.0f} MB per 10,000), "
          f"{per_k:+.2f} MB per 1,000 scans; +{m1 - m0:.1f} MB from launch")
    print(f"longest GUI stall: {report['longest_stall_ms']:.1f} ms (goal ≤ {STALL_GOAL_MS:.0f} ms)")
    print(f"outcomes: {report['outcomes']}; {finished}/{typed} scans ended with an outcome; "
          f"internal errors: {report['internal_errors']}; {report['seconds']} s; exit code {report['returncode']}")
    return 0 if ok_growth and ok_stall and ok_outcomes else 1


if __name__ == "__main__":
    sys.exit(main())
