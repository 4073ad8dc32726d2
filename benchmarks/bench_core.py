"""Core benchmark (a script, not a test): run ``python benchmarks/bench_core.py``.

Measured side by side in one run against the built-in sandbox at zero latency:

* the added cost of one allocation through ``AllocationWorkflow`` versus a bare ``httpx`` PUT
  with the same headers on the same kind of consignment (goal: median ≤ 3 ms);
* the same through ``Desk.allocate`` (history written and fsync'd before and after the call);
* start-up of ``despatch-desk --version`` (goal ≤ 250 ms), next to a bare ``python -c pass``.

Bare and workflow calls are interleaved so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "app"))

import httpx  # noqa: E402

from despatch_desk import api  # noqa: E402
from despatch_desk.core import AllocationWorkflow  # noqa: E402
from despatch_desk.sandbox import DEMO_API_KEY, SandboxServer  # noqa: E402


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def bench_allocation(rounds: int) -> dict[str, float]:
    from despatch_desk.desk import Desk
    from despatch_desk.settings import Paths

    server = SandboxServer(seed=False).start()
    refs = [server.add_consignment(weight_kg=1.0, country="GB") for _ in range(rounds * 3)]
    headers = {api.KEY_HEADER: DEMO_API_KEY, "electio-api-version": api.API_VERSION, "Accept": "application/json"}
    bare = httpx.Client(base_url=server.url, headers=headers, timeout=10)
    client = api.SortedProClient(server.url, DEMO_API_KEY)
    workflow = AllocationWorkflow(client)
    home = Path(tempfile.mkdtemp(prefix="despatch-bench-"))
    desk = Desk(Paths(home / "c", home / "d", home / "l"), base_url=server.url, api_key=DEMO_API_KEY)
    group = "nextDay"
    try:
        # Warm up connections, code paths and the history file.
        for ref in refs[:3]:
            bare.put(f"/allocation/{ref}/allocatewithservicegroup/{group}").json()
        t_bare, t_flow, t_desk = [], [], []
        it = iter(refs[3:])
        for _ in range(rounds - 1):
            ref = next(it)
            t0 = time.perf_counter()
            response = bare.put(f"/allocation/{ref}/allocatewithservicegroup/{group}")
            response.raise_for_status()
            response.json()
            t_bare.append(time.perf_counter() - t0)

            ref = next(it)
            t0 = time.perf_counter()
            outcome = workflow.allocate(ref, group)
            t_flow.append(time.perf_counter() - t0)
            assert outcome.ok, outcome.message

            ref = next(it)
            t0 = time.perf_counter()
            outcome = desk.allocate(ref, group)
            t_desk.append(time.perf_counter() - t0)
            assert outcome.ok, outcome.message
        return {
            "bare_ms": _median_ms(t_bare),
            "workflow_ms": _median_ms(t_flow),
            "desk_ms": _median_ms(t_desk),
            "added_workflow_ms": _median_ms(t_flow) - _median_ms(t_bare),
            "added_desk_ms": _median_ms(t_desk) - _median_ms(t_bare),
            "rounds": rounds - 1,
        }
    finally:
        bare.close()
        client.close()
        desk.close()
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def bench_startup(runs: int) -> dict[str, float]:
    exe = shutil.which("despatch-desk")
    cmd = [exe, "--version"] if exe else [sys.executable, "-m", "despatch_desk", "--version"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "app"))

    def timed(command: list[str]) -> list[float]:
        subprocess.run(command, capture_output=True, env=env, check=True)  # warm the file cache
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(command, capture_output=True, env=env, check=True)
            out.append(time.perf_counter() - t0)
        return out

    version = timed(cmd)
    baseline = timed([sys.executable, "-c", "pass"])
    return {"version_ms": _median_ms(version), "version_max_ms": max(version) * 1000,
            "python_pass_ms": _median_ms(baseline), "command": " ".join(Path(c).name for c in cmd)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    a = bench_allocation(args.rounds)
    s = bench_startup(args.runs)
    ok_alloc = a["added_workflow_ms"] <= 3.0
    ok_start = s["version_ms"] <= 250
    print(f"allocation, sandbox at zero latency, median of {a['rounds']} each (interleaved):")
    print(f"  bare httpx PUT                 {a['bare_ms']:7.2f} ms")
    print(f"  AllocationWorkflow.allocate    {a['workflow_ms']:7.2f} ms   added {a['added_workflow_ms']:+.2f} ms"
          f"   goal <= 3 ms: {'met' if ok_alloc else 'MISSED'}")
    print(f"  Desk.allocate (+history fsync) {a['desk_ms']:7.2f} ms   added {a['added_desk_ms']:+.2f} ms")
    print(f"start-up, median of {args.runs}:")
    print(f"  {s['command']:<30} {s['version_ms']:7.1f} ms (max {s['version_max_ms']:.1f})"
          f"   goal <= 250 ms: {'met' if ok_start else 'MISSED'}")
    print(f"  python -c pass (floor)         {s['python_pass_ms']:7.1f} ms")
    return 0 if ok_alloc and ok_start else 1


if __name__ == "__main__":
    raise SystemExit(main())
