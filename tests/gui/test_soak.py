"""Soak: a shift of 3,000 scans through the real window path must not crash the desk.

The desk is started the user's way in demo mode in a child process (``benchmarks/bench_shift.py``'s child:
the built-in sandbox, the window, the history on disk) and references are typed into the focused scan
field as posted key events, like a USB scanner, one every 15 ms. On Python 3.11 with PySide6 6.12 this
aborted after about 120 scans ("deallocating None"); here the process must live to the end and every
scan must have exactly one final outcome.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANS = 3000

pytestmark = pytest.mark.slow


def _bench():
    spec = importlib.util.spec_from_file_location("bench_shift", ROOT / "benchmarks" / "bench_shift.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(600)
def test_a_shift_of_3000_scans_keeps_the_desk_alive_and_every_scan_ends():
    report = _bench().run_shift(SCANS, report_every=500, platform="offscreen", timeout_s=540)
    assert report["returncode"] == 0, (
        f"the desk died after about {report.get('last_progress')} scans: {report.get('fatal') or report['stderr_tail']}")
    assert report["scans_typed"] == SCANS
    outcomes = report["outcomes"]
    assert outcomes.get("pending", 0) == 0, outcomes
    assert sum(outcomes.values()) == SCANS, outcomes  # one final row per scan typed, none lost, none doubled
    assert report["internal_errors"] == 0
    # The demo references over and over: the first of each allocate, the rest are refused as already allocated.
    assert outcomes.get("allocated", 0) >= 10 and outcomes.get("already_allocated", 0) > SCANS // 2, outcomes
    assert set(outcomes) <= {"allocated", "already_allocated", "not_allocated"}, outcomes


def test_the_desk_refuses_an_interpreter_known_to_crash():
    from despatch_desk import interpreter_problem

    assert interpreter_problem((3, 11, 7)) and "3.12" in interpreter_problem((3, 11, 7))
    assert interpreter_problem((3, 12, 0)) is None
    assert interpreter_problem(tuple(sys.version_info[:3])) is None
