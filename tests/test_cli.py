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
    # The 502 leaves the scan in doubt until its deadline: keep that short (5 s, the lowest allowed).
    (isolated_environment / "config").mkdir(parents=True)
    (isolated_environment / "config" / "settings.json").write_text(json.dumps({"scan_deadline_s": 5}))
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


# ---------------------------------------------------------------- E16: no traceback, whatever comes in

def _env(isolated_environment, **extra):
    env = dict(os.environ, DESPATCH_DESK_HOME=str(isolated_environment), PYTHONPATH=str(REPO / "app"),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.update(extra)
    return env


def test_invalid_utf8_in_arguments_is_plain_words(sandbox, isolated_environment):
    env = _env(isolated_environment, DESPATCH_DESK_API_URL=sandbox.url, DESPATCH_DESK_API_KEY=DEMO_API_KEY)
    out = subprocess.run([sys.executable, "-m", "despatch_desk", "allocate", b"EC-000-\xff\xfe-MMA", "--group",
                          "nextDay"], capture_output=True, env=env, timeout=60)
    text = (out.stdout + out.stderr).decode("utf-8", "replace")
    assert out.returncode == 2 and "Traceback" not in text, text
    assert out.stdout.decode().startswith("BAD ") and sandbox.recorded() == []
    out = subprocess.run([sys.executable, "-m", "despatch_desk", "allocate", "EC-000-DSK-001", "--group",
                          b"next\xffDay"], capture_output=True, env=env, timeout=60)
    # An unknown group is the server's to refuse: the words come back, nothing crashes.
    assert out.returncode == 1 and b"Traceback" not in out.stderr + out.stdout
    assert "next\ufffdDay" in out.stdout.decode()
    history = subprocess.run([sys.executable, "-m", "despatch_desk", "history", "--json"], capture_output=True,
                             env=env, timeout=60)
    raw_scans = [json.loads(line)["raw_scan"] for line in history.stdout.splitlines()]
    assert "EC-000-\ufffd\ufffd-MMA" in raw_scans


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://127.0.0.1:abc", "https://api.example.com:0"])
def test_malformed_port_in_the_api_address(run, sandbox, url):
    out = run("allocate", "EC-000-DSK-001", "--group", "nextDay", url=url)
    assert out.returncode == 4 and "port" in out.stderr and "Traceback" not in out.stderr + out.stdout
    out = run("key", "status", url=url)
    assert out.returncode == 4 and "port" in out.stderr and "Traceback" not in out.stderr
    out = run("allocate", "EC-000-DSK-001", "--group", "nextDay", "--base-url", url)
    assert out.returncode == 4 and "port" in out.stderr and "Traceback" not in out.stderr
    assert sandbox.recorded() == []


def _seed_history(isolated_environment, rows):
    from despatch_desk.core import Outcome, OutcomeKind
    from despatch_desk.history import History

    h = History(isolated_environment / "data" / "history.sqlite3")
    h._db.execute("BEGIN")
    for i in range(rows):
        h.record(Outcome(OutcomeKind.ALLOCATED, f"EC-000-{i % 1000:03d}-AAA", "nextDay", "Allocated " * 5))
    h._db.execute("COMMIT")
    h.close()


def test_reader_closing_the_pipe_early_is_quiet(isolated_environment):
    _seed_history(isolated_environment, 3000)  # far more than a pipe buffer holds
    child = subprocess.Popen([sys.executable, "-m", "despatch_desk", "history", "--limit", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(isolated_environment))
    first = child.stdout.readline()
    child.stdout.close()  # `| head -1`
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0
    assert b"EC-000-" in first and stderr == "", stderr


def test_closed_stdout_is_quiet(isolated_environment):
    _seed_history(isolated_environment, 5)
    for args in (["history"], ["history", "--csv"], ["history", "--json"], ["config"]):
        out = subprocess.run([sys.executable, "-m", "despatch_desk", *args], stderr=subprocess.PIPE, text=True,
                             env=_env(isolated_environment), timeout=60, preexec_fn=lambda: os.close(1))
        assert out.returncode == 0 and "Traceback" not in out.stderr, (args, out.stderr)


def test_history_that_cannot_be_written_sends_nothing_and_exits_2(run, sandbox, isolated_environment):
    (isolated_environment / "data" / "history.sqlite3").mkdir(parents=True)  # not a file: cannot be opened
    out = run("allocate", "EC-000-DSK-001", "EC-000-DSK-003", "--group", "nextDay", "--json")
    assert out.returncode == 2, out.stdout + out.stderr
    assert [json.loads(line)["outcome"] for line in out.stdout.splitlines()] == ["not_recorded"] * 2
    assert not any(r.method == "PUT" for r in sandbox.recorded())
    assert "Traceback" not in out.stderr
    out = run("history")
    assert out.returncode == 2 and "scan history" in out.stderr and "Traceback" not in out.stderr


def test_newer_or_damaged_history_gives_plain_words(run, isolated_environment):
    import sqlite3

    data = isolated_environment / "data"
    data.mkdir(parents=True)
    db = sqlite3.connect(data / "history.sqlite3")
    db.execute("CREATE TABLE attempts (id INTEGER PRIMARY KEY)")
    db.execute("PRAGMA user_version = 9")
    db.commit()
    db.close()
    out = run("history")
    assert out.returncode == 2 and "newer Despatch Desk" in out.stderr and "Traceback" not in out.stderr
    (data / "history.sqlite3").write_bytes(b"garbage, not a database " * 100)
    out = run("history")
    assert out.returncode == 0 and "damaged" in out.stderr and "corrupt-" in out.stderr
    assert any(p.name.startswith("history.sqlite3.corrupt-") for p in data.iterdir())


def test_damaged_settings_refuse_to_allocate_until_the_environment_is_confirmed(run, sandbox, isolated_environment):
    config = isolated_environment / "config"
    config.mkdir(parents=True)
    (config / "settings.json").write_bytes(b'{"envir\xff\x00nment": "sandbox", "service_groups": [{"code": "nextDay"}')
    no_override = {"DESPATCH_DESK_API_URL": ""}
    out = run("allocate", "EC-000-DSK-001", "--group", "nextDay", env_extra=no_override)
    assert out.returncode == 2 and "confirm" in out.stderr and "damaged" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    out = run("config", env_extra=no_override)
    assert out.returncode == 2 and "NOT CONFIRMED" in out.stdout
    out = run("config", "--environment", "sandbox", env_extra=no_override)
    assert out.returncode == 0 and "apisandbox" in out.stdout
    out = run("config", env_extra=no_override)
    assert out.returncode == 0 and "Environment: sandbox" in out.stdout and "nextDay" in out.stdout
    assert sandbox.recorded() == []


def test_latin1_settings_file_does_not_crash_commands(run, isolated_environment):
    config = isolated_environment / "config"
    config.mkdir(parents=True)
    (config / "settings.json").write_bytes('{"workstation": "Bänk 1", "service_groups": [{"code": "mine", '
                                           '"name": "Größe"}]}'.encode("latin-1"))
    out = run("groups", "--json")
    assert out.returncode == 0 and "Traceback" not in out.stderr and "not UTF-8" in out.stderr


def test_key_with_an_invisible_character_is_refused_by_key_set(run, memory_keyring):
    secret = "0123456789abcdef"
    out = run("key", "set", stdin=secret + "\u200b9876\n", key=None)
    assert out.returncode == 3 and "U+200B" in out.stderr and "position 17" in out.stderr
    assert secret not in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_key_set_with_bytes_that_are_not_utf8(isolated_environment):
    out = subprocess.run([sys.executable, "-m", "despatch_desk", "key", "set"], input=b"abc\xffdef\n",
                         capture_output=True, env=_env(isolated_environment), timeout=60)
    assert out.returncode == 3 and b"position 4" in out.stderr and b"Traceback" not in out.stderr


def test_environment_key_with_an_invisible_character_is_exit_3(run, sandbox):
    out = run("allocate", "EC-000-DSK-001", "--group", "nextDay", key=DEMO_API_KEY + "\u200b")
    assert out.returncode == 3 and "U+200B" in out.stderr and "Traceback" not in out.stderr
    assert DEMO_API_KEY not in out.stdout + out.stderr
    assert sandbox.recorded() == []


def test_recheck_survives_deeply_nested_answers_and_checks_every_row(isolated_environment):
    import http.server
    import threading

    from despatch_desk.core import Outcome, OutcomeKind
    from despatch_desk.history import History

    looked_at: list[str] = []

    class Nested(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            looked_at.append(self.path)
            body = b"[" * 200_000 + b"]" * 200_000  # deeper than any parser's recursion limit
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_PUT = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Nested)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        h = History(isolated_environment / "data" / "history.sqlite3")
        for ref in ("EC-000-DSK-001", "EC-000-DSK-002"):
            h.record(Outcome(OutcomeKind.IN_DOUBT, ref, "nextDay", "?"))
        h.close()
        out = subprocess.run([sys.executable, "-m", "despatch_desk", "recheck"], capture_output=True, text=True,
                             timeout=120, env=_env(isolated_environment, DESPATCH_DESK_API_KEY="k",
                                                   DESPATCH_DESK_API_URL=f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
        server.server_close()
    assert out.returncode == 4 and "Traceback" not in out.stderr + out.stdout, out.stderr
    assert sorted(line.split()[1] for line in out.stdout.splitlines()) == ["EC-000-DSK-001", "EC-000-DSK-002"]
    assert not any("allocatewithservicegroup" in p.lower() for p in looked_at)  # re-checking never sends
