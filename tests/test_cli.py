"""The command line, run as an operator runs it (a subprocess) against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from despatch_desk.sandbox import DEMO_API_KEY, Fault

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(sandbox, isolated_environment):
    def run(*args, key=DEMO_API_KEY, stdin=None, url=None, env_extra=None):
        env = dict(os.environ, DESPATCH_DESK_HOME=str(isolated_environment), PYTHONPATH=str(REPO / "app"),
                   DESPATCH_DESK_API_URL=url or sandbox.url, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        if key:
            env["DESPATCH_DESK_API_KEY"] = key
        env.update(env_extra or {})
        return subprocess.run([sys.executable, "-m", "despatch_desk", *args], capture_output=True, text=True,
                              env=env, input=stdin, timeout=60)

    return run


def test_version_does_not_import_qt():
    out = subprocess.run([sys.executable, "-c", "import sys; sys.argv=['x','--version'];"
                          "import despatch_desk.cli as c\ntry: c.main(['--version'])\nexcept SystemExit: pass\n"
                          "print('PySide6' in sys.modules, 'httpx' in sys.modules)"],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO / "app")))
    assert out.stdout.strip().endswith("False False")


def test_allocate_json_lines_and_exit_codes(run):
    out = run("allocate", "EC-000-DSK-001", "ec-000-dsk-003 ", "--group", "nextDay", "--json")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [x["outcome"] for x in lines] == ["allocated", "allocated"]
    assert lines[1]["reference"] == "EC-000-DSK-003" and lines[1]["tracking_references"]
    assert {"carrier_name", "service_name", "service_reference", "correlation_id", "duration_ms",
            "recovered", "server_message"} <= set(lines[0])


def test_already_allocated_is_exit_1_and_readable(run):
    out = run("allocate", "EC-000-DSK-022", "--group", "nextDay")
    assert out.returncode == 1
    assert out.stdout.startswith("HAD  EC-000-DSK-022") and "already allocated to" in out.stdout


def test_mixed_outcomes_highest_code_wins(run, sandbox):
    sandbox.add_fault(Fault("drop-after-commit", times=1, match="EC-000-DSK-002"))
    sandbox.add_fault(Fault("server-error", any_request=True, match="/consignments/EC-000-DSK-002"))
    out = run("allocate", "EC-000-DSK-001", "EC-000-DSK-022", "EC-000-DSK-002", "bad", "--group", "nextDay")
    assert out.returncode == 4, out.stdout + out.stderr
    marks = [line.split()[0] for line in out.stdout.splitlines()]
    assert marks == ["OK", "HAD", "???", "BAD"]
    history = run("history", "--json")
    rows = [json.loads(line) for line in history.stdout.splitlines()]
    assert sorted(r["outcome"] for r in rows) == ["allocated", "already_allocated", "in_doubt", "invalid_reference"]
    # The in-doubt scan is resolved later by looking, not by sending again.
    sandbox.clear_faults()
    recheck = run("recheck", "--json")
    assert recheck.returncode == 0 and json.loads(recheck.stdout)["outcome"] == "allocated"
    assert sum(1 for r in sandbox.recorded() if r.method == "PUT" and "EC-000-DSK-002" in r.path) == 1


def test_invalid_reference_is_exit_2(run, sandbox):
    out = run("allocate", "EC-12", "--group", "nextDay")
    assert out.returncode == 2 and "BAD" in out.stdout
    assert sandbox.recorded() == []


def test_bad_usage_is_exit_2_without_traceback(run):
    out = run("allocate", "EC-000-DSK-001")
    assert out.returncode == 2 and "--group" in out.stderr and "Traceback" not in out.stderr


def test_missing_key_is_exit_3(run):
    out = run("allocate", "EC-000-DSK-001", "--group", "nextDay", key=None)
    assert out.returncode == 3
    assert "no secure key storage" in out.stderr and "Traceback" not in out.stderr


def test_rejected_key_is_exit_3(run):
    out = run("allocate", "EC-000-DSK-001", "EC-000-DSK-002", "--group", "nextDay", key="nope")
    assert out.returncode == 3 and out.stdout.count("KEY") == 1  # stops after the first refusal


def test_unreachable_is_exit_4(run):
    out = run("allocate", "EC-000-DSK-001", "--group", "nextDay", url="http://127.0.0.1:9")
    assert out.returncode == 4 and "Could not reach SortedPRO" in out.stdout


def test_plain_http_to_a_remote_host_is_refused(run):
    out = run("allocate", "EC-000-DSK-001", "--group", "nextDay", url="http://api.electioapp.com")
    assert out.returncode == 4 and "plain http" in out.stderr and "Traceback" not in out.stderr


def test_groups_from_account_and_fallback(run, sandbox, isolated_environment):
    out = run("groups", "--json")
    codes = {json.loads(line)["code"] for line in out.stdout.splitlines()}
    assert {"nextDay", "economy", "international", "valuableGoods", "heavy"} <= codes
    sandbox.add_fault(Fault("servicegroups-forbidden"))
    config = isolated_environment / "config"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(json.dumps({"service_groups": [{"code": "mine", "name": "Mine"}]}))
    out = run("groups")
    assert out.returncode == 0 and out.stdout.split() == ["mine", "Mine"]
    assert "did not list its groups" in out.stderr


def test_history_csv(run):
    run("allocate", "EC-000-DSK-001", "--group", "nextDay")
    out = run("history", "--csv")
    assert out.stdout.splitlines()[0].startswith("id,started_at")
    assert "EC-000-DSK-001" in out.stdout and "allocated" in out.stdout


def test_verbose_masks_the_key(run):
    out = run("-v", "allocate", "EC-000-DSK-001", "--group", "nextDay")
    assert "PUT" in out.stderr and "••••" in out.stderr
    assert DEMO_API_KEY not in out.stdout + out.stderr


def test_key_never_lands_in_files(run, isolated_environment, sandbox):
    sandbox.add_fault(Fault("html-502", times=1))
    run("-v", "allocate", "EC-000-DSK-001", "EC-000-DSK-022", "--group", "nextDay")
    run("history", "--csv")
    files = [p for p in isolated_environment.rglob("*") if p.is_file()]
    assert files, "the history should exist"
    for path in files:
        assert DEMO_API_KEY.encode() not in path.read_bytes(), path


def test_key_set_reads_stdin_never_argv(run, isolated_environment):
    out = run("key", "set", "secret-on-argv")
    assert out.returncode == 2  # no such argument: a key cannot be given on the command line
    out = run("key", "set", stdin="abc\n", key=None)
    assert out.returncode == 3 and "no secure key storage" in out.stderr


def test_sandbox_command_help(run):
    out = run("sandbox", "--help")
    assert out.returncode == 0 and "--fault" in out.stdout


def test_window_without_a_screen_says_so(isolated_environment):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(DESPATCH_DESK_HOME=str(isolated_environment), PYTHONPATH=str(REPO / "app"))
    out = subprocess.run([sys.executable, "-m", "despatch_desk"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and "no screen" in out.stderr and "Traceback" not in out.stderr
