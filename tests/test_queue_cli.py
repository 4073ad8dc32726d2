"""``undo``, ``queue`` and ``recheck --retry`` as an operator runs them (subprocesses) against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from despatch_desk.core import Outcome, OutcomeKind
from despatch_desk.history import History
from despatch_desk.sandbox import DEMO_API_KEY, Fault
from despatch_desk.settings import Paths

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(sandbox, isolated_environment):
    def run(*args, key=DEMO_API_KEY, url=None):
        env = dict(os.environ, DESPATCH_DESK_HOME=str(isolated_environment), PYTHONPATH=str(REPO / "app"),
                   DESPATCH_DESK_API_URL=url or sandbox.url, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        if key:
            env["DESPATCH_DESK_API_KEY"] = key
        return subprocess.run([sys.executable, "-m", "despatch_desk", *args], capture_output=True, text=True,
                              env=env, timeout=90)

    return run


def _in_doubt_row(reference: str, *, age_s: float, group: str = "nextDay") -> int:
    history = History(Paths.default().history_file)
    try:
        row_id = history.begin(reference, reference, group, started_at=datetime.now(UTC) - timedelta(seconds=age_s))
        history.finish(row_id, Outcome(OutcomeKind.IN_DOUBT, reference, group, "The answer was lost."))
        return row_id
    finally:
        history.close()


def test_undo_exit_codes_and_json(run, sandbox):
    assert run("allocate", "EC-000-DSK-001", "-g", "nextDay", "--no-details").returncode == 0
    out = run("undo", "EC-000-DSK-001", "--json")
    assert out.returncode == 0, out.stderr
    [line] = [json.loads(x) for x in out.stdout.splitlines()]
    assert line["outcome"] == "deallocated" and line["reference"] == "EC-000-DSK-001"
    assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 1
    # not allocated any more: refused, exit 1; Manifested without the flag: refused, exit 1
    assert run("undo", "EC-000-DSK-001").returncode == 1
    manifested = run("undo", "EC-000-DSK-027")
    assert manifested.returncode == 1 and "--include-manifested" in manifested.stdout
    assert sandbox.deallocate_puts_for("EC-000-DSK-027") == 0
    assert run("undo", "EC-000-DSK-027", "--include-manifested").returncode == 0
    assert sandbox.deallocate_puts_for("EC-000-DSK-027") == 1
    # highest wins: invalid (2) beside refused (1)
    mixed = run("undo", "EC-000-DSK-002", "not-a-ref")
    assert mixed.returncode == 2 and "Traceback" not in mixed.stderr
    history = run("history", "--json")
    rows = [json.loads(x) for x in history.stdout.splitlines()]
    undo_rows = [r for r in rows if r["action"] == "deallocate" and r["outcome"] == "deallocated"]
    assert {r["reference"] for r in undo_rows} == {"EC-000-DSK-001", "EC-000-DSK-027"}
    allocation = next(r for r in rows if r["action"] == "allocate" and r["reference"] == "EC-000-DSK-001")
    assert allocation["undone_by_id"] in {r["id"] for r in undo_rows}


def test_undo_key_and_unreachable_codes(run, sandbox):
    assert run("undo", "EC-000-DSK-022", key="wrong-key").returncode == 3
    assert run("undo", "EC-000-DSK-022", url="http://127.0.0.1:9").returncode == 4
    assert sandbox.deallocate_puts_for("EC-000-DSK-022") == 0


def test_undo_answer_lost_after_the_server_deallocated(run, sandbox):
    sandbox.add_fault(Fault("drop-after-commit", times=1, any_request=True, match="/deallocate"))
    out = run("undo", "EC-000-DSK-022")
    assert out.returncode == 0, out.stdout + out.stderr
    assert sandbox.deallocate_puts_for("EC-000-DSK-022") == 1


def test_allocate_json_carries_details_unless_no_details(run, sandbox):
    out = run("allocate", "EC-000-DSK-010", "-g", "nextDay", "--json")
    assert out.returncode == 0, out.stderr
    line = json.loads(out.stdout)
    stored = sandbox.consignment("EC-000-DSK-010")["Allocation"]["Price"]
    assert line["price"] == {"net": stored["Net"], "gross": stored["Gross"], "currency": "GBP"}
    assert datetime.fromisoformat(line["expected_delivery"]).tzinfo is not None
    assert datetime.fromisoformat(line["shipping_date"])
    assert line["parcel"]["packages"] == 3 and line["parcel"]["country"] == "GB"
    sandbox.clear_requests()
    bare = json.loads(run("allocate", "EC-000-DSK-001", "-g", "nextDay", "--json", "--no-details").stdout)
    assert "price" not in bare and "expected_delivery" not in bare and "parcel" not in bare
    assert [r.method for r in sandbox.recorded()] == ["PUT"]  # no extra looks


def test_queue_lists_in_doubt_rows(run):
    row_id = _in_doubt_row("EC-000-DSK-003", age_s=600)
    out = run("queue", "--json")
    assert out.returncode == 0, out.stderr
    [item] = [json.loads(x) for x in out.stdout.splitlines()]
    assert item["id"] == row_id and item["reference"] == "EC-000-DSK-003" and item["group"] == "nextDay"
    assert item["age_s"] >= 600 and item["last_known"] == "The answer was lost."
    text = run("queue")
    assert "EC-000-DSK-003" in text.stdout and "10 min" in text.stdout


def test_recheck_retry_sends_exactly_one_put_for_an_old_unallocated_row(run, sandbox):
    _in_doubt_row("EC-000-DSK-003", age_s=600)          # old enough, still unallocated: allocate again
    _in_doubt_row("EC-000-DSK-005", age_s=5)            # may still land: looked at, never re-sent
    _in_doubt_row("EC-000-DSK-022", age_s=600)          # it did work: recovered by looking
    out = run("recheck", "--retry", "--json")
    lines = {x["reference"]: x for x in map(json.loads, out.stdout.splitlines())}
    assert sandbox.puts_for("EC-000-DSK-003") == 1
    assert sandbox.puts_for("EC-000-DSK-005") == 0 and sandbox.puts_for("EC-000-DSK-022") == 0
    assert lines["EC-000-DSK-003"]["outcome"] == "allocated" and lines["EC-000-DSK-003"]["retried"]
    assert lines["EC-000-DSK-005"]["outcome"] == "in_doubt" and not lines["EC-000-DSK-005"]["retried"]
    assert lines["EC-000-DSK-022"]["outcome"] == "allocated" and not lines["EC-000-DSK-022"]["retried"]
    assert out.returncode == 4  # one is still in doubt: the highest wins
    # Run again: 003 is settled, so nothing more is sent for it.
    run("recheck", "--retry")
    assert sandbox.puts_for("EC-000-DSK-003") == 1
