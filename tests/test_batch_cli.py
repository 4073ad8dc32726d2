"""``despatch-desk allocate --file``: real subprocesses against the sandbox on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from despatch_desk.sandbox import DEMO_API_KEY, Fault

REPO = Path(__file__).resolve().parents[1]


def _env(sandbox, home) -> dict[str, str]:
    return dict(os.environ, DESPATCH_DESK_HOME=str(home), PYTHONPATH=str(REPO / "app"),
                DESPATCH_DESK_API_URL=sandbox.url, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
                DESPATCH_DESK_API_KEY=DEMO_API_KEY)


@pytest.fixture
def run(sandbox, isolated_environment):
    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "despatch_desk", *args], capture_output=True, text=True,
                              env=_env(sandbox, isolated_environment), input=stdin, timeout=120)

    return run


def _puts(sandbox) -> list[str]:
    return [r.path.split("/")[2].upper() for r in sandbox.recorded() if r.method == "PUT"]


def test_file_with_duplicates_blanks_and_invalid_lines(run, sandbox, tmp_path):
    listing = tmp_path / "refs.txt"
    listing.write_text("EC-000-DSK-001\n\n  ec-000-dsk-003 \nnot a reference\nEC-000-DSK-001\n]C0EC-000-DSK-004\n"
                       "EC-000-DSK-022\n", encoding="utf-8")
    out = run("allocate", "--file", str(listing), "--group", "nextDay", "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    by_outcome: dict[str, list[dict]] = {}
    for row in rows:
        by_outcome.setdefault(row["outcome"], []).append(row)
    assert len(by_outcome["allocated"]) == 3
    assert [r["reference"] for r in by_outcome["already_allocated"]] == ["EC-000-DSK-022"]
    assert by_outcome["duplicate"] == [{"line": 5, "reference": "EC-000-DSK-001", "outcome": "duplicate",
                                        "duplicate_of_line": 1, "sent": False}]
    assert [(r["line"], r["raw"]) for r in by_outcome["invalid_reference"]] == [(4, "not a reference")]
    # Each valid reference sent once; the duplicate and the invalid line never.
    assert sorted(_puts(sandbox)) == ["EC-000-DSK-001", "EC-000-DSK-003", "EC-000-DSK-004", "EC-000-DSK-022"]
    assert out.returncode == 2  # an invalid line (2) beats already allocated (1)
    assert "Batch of 4" in out.stderr and "1 duplicate sent once" in out.stderr
    history = [json.loads(x) for x in run("history", "--json").stdout.splitlines()]
    assert sorted(r["reference"] for r in history) == sorted(_puts(sandbox))
    batch_ids = {r["batch_id"] for r in rows if r.get("sent", True)}
    assert len(batch_ids) == 1 and {r["batch_id"] for r in history} == batch_ids   # each row, with its batch


def test_csv_with_a_header_reads_the_reference_column(run, sandbox, tmp_path):
    listing = tmp_path / "export.csv"
    listing.write_text("Order,Consignment Reference,Weight\n1001,EC-000-DSK-005,2.0\n1002,EC-000-DSK-006,1.0\n"
                       "1003,,3\n", encoding="utf-8")
    out = run("allocate", "--file", str(listing), "--group", "nextDay")
    lines = out.stdout.splitlines()
    assert sorted(_puts(sandbox)) == ["EC-000-DSK-005", "EC-000-DSK-006"]
    assert sum(line.startswith("OK") for line in lines) == 2
    assert any(line.startswith("BAD") and "line 4" in line for line in lines)  # the empty cell, reported
    assert "Traceback" not in out.stderr


def test_standard_input_and_exit_0(run, sandbox):
    out = run("allocate", "--file", "-", "--group", "nextDay", stdin="EC-000-DSK-007\nEC-000-DSK-008\n")
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(_puts(sandbox)) == ["EC-000-DSK-007", "EC-000-DSK-008"]


def test_bad_file_is_plain_words_exit_2(run, sandbox, tmp_path):
    out = run("allocate", "--file", str(tmp_path / "missing.txt"), "--group", "nextDay")
    assert out.returncode == 2 and "There is no file" in out.stderr and "Traceback" not in out.stderr
    out = run("allocate", "EC-000-DSK-001", "--file", "-", "--group", "nextDay", stdin="")
    assert out.returncode == 2 and "not both" in out.stderr
    assert sandbox.recorded() == []


@pytest.mark.parametrize("parallel", [1, 3])
def test_never_more_than_n_in_flight(run, sandbox, tmp_path, parallel):
    refs = [sandbox.add_consignment() for _ in range(9)]
    # Slow answers inside the handler, where the sandbox counts the PUTs being handled.
    sandbox.add_fault(Fault("slow-after-commit", delay=0.15))
    listing = tmp_path / "refs.txt"
    listing.write_text("\n".join(refs) + "\n", encoding="utf-8")
    out = run("allocate", "--file", str(listing), "--group", "nextDay", "--parallel", str(parallel))
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(_puts(sandbox)) == sorted(refs)
    assert sandbox.most_allocations_in_flight <= parallel
    assert sandbox.most_allocations_in_flight >= min(parallel, 2)


def test_a_429_mid_batch_slows_the_whole_batch_and_loses_nothing(run, sandbox, tmp_path):
    refs = [sandbox.add_consignment() for _ in range(12)]
    sandbox.latency_ms = 60
    sandbox.add_fault(Fault("rate-limit", times=1, retry_after=2, match=refs[3]))
    listing = tmp_path / "refs.txt"
    listing.write_text("\n".join(refs) + "\n", encoding="utf-8")
    out = run("allocate", "--file", str(listing), "--group", "nextDay", "--parallel", "4", "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted(r["reference"] for r in rows) == sorted(refs)
    assert {r["outcome"] for r in rows} == {"allocated"}, rows
    assert out.returncode == 0
    puts = [r for r in sandbox.recorded() if r.method == "PUT"]
    limited_at = next(r.time for r in puts if refs[3] in r.path)  # the first PUT of that one got the 429
    # Workers already past the gate when the 429 came may land a moment later; none starts inside the window.
    inside = [r for r in puts if limited_at + 0.5 < r.time < limited_at + 2.0]
    assert inside == [], [(r.path, round(r.time - limited_at, 2)) for r in inside]


def test_ctrl_c_mid_batch_stops_sending_and_accounts_for_every_row(sandbox, isolated_environment, tmp_path):
    refs = [sandbox.add_consignment() for _ in range(30)]
    sandbox.latency_ms = 400
    listing = tmp_path / "refs.txt"
    listing.write_text("\n".join(refs) + "\n", encoding="utf-8")
    two_in_flight = threading.Event()
    seen: list[str] = []

    def on_request(request) -> None:
        if request.method == "PUT":
            seen.append(request.path)
            if len(seen) >= 2:
                two_in_flight.set()

    sandbox.on_request = on_request
    proc = subprocess.Popen([sys.executable, "-m", "despatch_desk", "allocate", "--file", str(listing), "--group",
                             "nextDay", "--parallel", "2", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(sandbox, isolated_environment))
    assert two_in_flight.wait(60)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert sorted(r["reference"] for r in rows) == sorted(refs), stderr
    outcomes = {r["reference"]: r["outcome"] for r in rows}
    assert set(outcomes.values()) <= {"allocated", "not_allocated", "already_allocated", "in_doubt", "not_sent"}
    sent = set(_puts(sandbox))
    not_sent = {ref for ref, o in outcomes.items() if o == "not_sent"}
    assert not_sent and not (not_sent & sent)          # "not sent" is true: the server never saw them
    assert {ref for ref, o in outcomes.items() if o != "not_sent"} == sent
    assert all(sandbox.consignment(ref)["ConsignmentState"] == "Unallocated" for ref in not_sent)
    assert proc.returncode == 4 and "Stopping" in stderr and "Traceback" not in stderr
