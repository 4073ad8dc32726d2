"""End to end in a real X window: the app started as a user starts it, a scanner simulated by xdotool.

* Xvfb on a free display number (started here);
* a private D-Bus session with an unlocked GNOME Keyring (``tools/with-secret-service``): the key is
  stored with ``despatch-desk key set`` (read from stdin) and read back by the app from the real
  Secret Service;
* the built-in sandbox in this process with 300 ms latency, the app pointed at it with
  ``DESPATCH_DESK_API_URL`` (plain HTTP to loopback is allowed);
* ``python -m despatch_desk`` as a subprocess with its own ``DESPATCH_DESK_HOME``;
* ``xdotool type`` + ``key Return``/``Tab``: several scans back to back, faster than the server
  answers, one ending with Tab, one dirty (spaces, lower case), one invalid, one already allocated;
* Ctrl+Q, then the outcomes are read from the history SQLite.

Skips (saying why) when a tool is missing, unless CI=true: then it fails.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import need, need_tools

pytestmark = [pytest.mark.xvfb, pytest.mark.secret_service, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WITH_SECRET_SERVICE = ROOT / "tools" / "with-secret-service"


def _free_display() -> int:
    for _ in range(200):
        n = random.randint(90, 599)
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


def _wait(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)  # polling another process: there is no Qt event loop in this test process
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def xvfb():
    need_tools("Xvfb", "xdotool", "dbus-run-session", "gnome-keyring-daemon")
    need(WITH_SECRET_SERVICE.is_file(), "tools/with-secret-service is missing")
    display = _free_display()
    proc = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: Path(f"/tmp/.X11-unix/X{display}").exists() or proc.poll() is not None, 10, "Xvfb")
        if proc.poll() is not None:
            need(False, f"Xvfb :{display} did not start")
        yield f":{display}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _xdotool(display: str, *args: str, timeout: float = 20) -> str:
    result = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"xdotool {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def test_scanner_in_a_real_window(xvfb, tmp_path):
    from despatch_desk.history import History
    from despatch_desk.sandbox import DEMO_API_KEY, Fault, SandboxServer
    from despatch_desk.settings import Paths, ServiceGroupConfig, Settings, SettingsStore

    home = tmp_path / "desk-home"
    paths = Paths(home / "config", home / "data", home / "logs")
    SettingsStore(paths).save(Settings(service_groups=[ServiceGroupConfig("nextDay", "Next day"),
                                                       ServiceGroupConfig("economy", "Economy")],
                                       last_group="nextDay", workstation="e2e-bench"))
    sandbox = SandboxServer(latency_ms=300).start()
    # The first consignment's answer takes 1.5 s more: its second scan lands while it is surely in flight.
    sandbox.add_fault(Fault("slow-after-commit", delay=1.5, match="EC-000-DSK-001"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DESPATCH_DESK_API_KEY", "PYTHON_KEYRING_BACKEND")}
    env.update(DISPLAY=xvfb, DESPATCH_DESK_HOME=str(home), DESPATCH_DESK_API_URL=sandbox.url,
               SECRET_SERVICE_HOME=str(tmp_path / "keyring-home"),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "app"), os.environ.get("PYTHONPATH", "")) if p))
    python = shutil.which("python3") if not sys.executable else sys.executable
    # Store the key in the real Secret Service, then start the desk as a user would, in one D-Bus session.
    script = f'"{python}" -m despatch_desk key set && exec "{python}" -m despatch_desk'
    log = (tmp_path / "app-output.txt").open("wb")
    app = subprocess.Popen([str(WITH_SECRET_SERVICE), "sh", "-c", script], env=env, stdin=subprocess.PIPE,
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        app.stdin.write((DEMO_API_KEY + "\n").encode())
        app.stdin.close()
        wid = _xdotool(xvfb, "search", "--sync", "--onlyvisible", "--name", "Despatch Desk", timeout=60)
        wid = wid.splitlines()[0]
        _xdotool(xvfb, "windowfocus", "--sync", wid)
        time.sleep(0.5)  # let the window settle after mapping (no window manager to tell us)
        # Back to back, faster than the server's 300 ms: each scan is typed while others are in flight.
        scans = [
            ("EC-000-DSK-001", "Return"),
            ("EC-000-DSK-001", "Return"),      # again while in flight: not sent twice
            ("EC-000-DSK-003", "Tab"),
            ("  ec-000-dsk-005 ", "Return"),   # dirty: spaces and lower case
            ("EC-000-DSK-022", "Return"),      # already allocated
            ("EC-000-DSK-021", "Return"),      # no service can take it
            ("EC-000-DSK-00", "Return"),       # a character lost: invalid, never sent
            ("EC-000-DSK-007", "KP_Enter"),
        ]
        t0 = time.monotonic()
        for text, key in scans:
            _xdotool(xvfb, "type", "--delay", "5", text)
            _xdotool(xvfb, "key", key)
        typing_s = time.monotonic() - t0

        expected = {"EC-000-DSK-001": "allocated", "EC-000-DSK-003": "allocated", "EC-000-DSK-005": "allocated",
                    "EC-000-DSK-022": "already_allocated", "EC-000-DSK-021": "not_allocated",
                    "EC-000-DSK-007": "allocated"}

        def finished():
            try:
                history = History(paths.history_file)
            except Exception:
                return None
            try:
                rows = history.search(limit=None)
            finally:
                history.close()
            if len(rows) >= len(expected) + 1 and all(r.outcome != "pending" for r in rows):
                return rows
            return None

        rows = _wait(finished, 30, "every scan to finish in the history", interval=0.2)
        _xdotool(xvfb, "key", "ctrl+q")
        app.wait(20)
    finally:
        if app.poll() is None:
            app.terminate()
            app.wait(10)
        log.close()
        sandbox.stop()
    output = (tmp_path / "app-output.txt").read_text(errors="replace")
    assert app.returncode == 0, output
    assert "Stored the key" in output and "SecretService" in output, output
    assert DEMO_API_KEY not in output
    by_ref = {r.reference: r.outcome for r in rows if r.reference and r.reference in expected}
    assert by_ref == expected, [(r.reference, r.raw_scan, r.outcome, r.message) for r in rows]
    invalid = [r for r in rows if r.outcome == "invalid_reference"]
    assert len(invalid) == 1 and invalid[0].raw_scan.strip() == "EC-000-DSK-00"
    dirty = next(r for r in rows if r.reference == "EC-000-DSK-005")
    assert dirty.raw_scan == "  ec-000-dsk-005 "  # the audit keeps what was scanned
    puts = [r for r in sandbox.recorded() if r.method == "PUT"]
    assert len([p for p in puts if "EC-000-DSK-001" in p.path]) == 1
    assert len(puts) == len(expected)
    assert all(r.workstation == "e2e-bench" for r in rows)
    # The scans were typed faster than the server answered them one by one.
    assert typing_s < 0.3 * len(scans) + 5
    log_text = (paths.log_dir / "despatch-desk.log").read_text(errors="replace")
    assert DEMO_API_KEY not in log_text


def test_a_fresh_desk_sets_itself_up_and_takes_linefeed_and_terminator_less_scans(xvfb, tmp_path):
    """A new supervisor's machine: an empty settings file, a working key. No manual step: the groups arrive
    from the account, the first scan (ended by a Linefeed) allocates; a scanner that sends no terminator
    is taken after the pause (xdotool types at scanner speed)."""
    import json

    from despatch_desk.history import History
    from despatch_desk.sandbox import DEMO_API_KEY, SandboxServer
    from despatch_desk.settings import Paths

    home = tmp_path / "desk-home"
    paths = Paths(home / "config", home / "data", home / "logs")
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text("{}", encoding="utf-8")  # nothing configured: no groups, no group chosen
    sandbox = SandboxServer(latency_ms=50).start()
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DESPATCH_DESK_API_KEY", "PYTHON_KEYRING_BACKEND")}
    env.update(DISPLAY=xvfb, DESPATCH_DESK_HOME=str(home), DESPATCH_DESK_API_URL=sandbox.url,
               SECRET_SERVICE_HOME=str(tmp_path / "keyring-home"),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "app"), os.environ.get("PYTHONPATH", "")) if p))
    python = shutil.which("python3") if not sys.executable else sys.executable
    script = f'"{python}" -m despatch_desk key set && exec "{python}" -m despatch_desk'
    log = (tmp_path / "app-output.txt").open("wb")
    app = subprocess.Popen([str(WITH_SECRET_SERVICE), "sh", "-c", script], env=env, stdin=subprocess.PIPE,
                           stdout=log, stderr=subprocess.STDOUT)

    def chosen_group():
        try:
            return json.loads((paths.data_dir / "state.json").read_text(encoding="utf-8")).get("last_group")
        except (OSError, ValueError):
            return None

    try:
        app.stdin.write((DEMO_API_KEY + "\n").encode())
        app.stdin.close()
        wid = _xdotool(xvfb, "search", "--sync", "--onlyvisible", "--name", "Despatch Desk", timeout=60).splitlines()[0]
        _xdotool(xvfb, "windowfocus", "--sync", wid)
        # The account's first group is chosen by itself (and kept in state.json).
        assert _wait(lambda: chosen_group() == "nextDay", 30, "the groups to arrive from the account")
        time.sleep(0.3)  # let the window settle after mapping (no window manager to tell us)
        _xdotool(xvfb, "type", "--delay", "5", "EC-000-DSK-001")
        _xdotool(xvfb, "key", "Linefeed")
        _xdotool(xvfb, "type", "--delay", "5", "EC-000-DSK-003")   # no terminator at all: the pause ends it

        def finished():
            try:
                history = History(paths.history_file)
            except Exception:
                return None
            try:
                rows = history.search(limit=None)
            finally:
                history.close()
            done = [r for r in rows if r.outcome != "pending"]
            return rows if len(done) >= 2 and len(done) == len(rows) else None

        rows = _wait(finished, 30, "both scans in the history", interval=0.2)
        _xdotool(xvfb, "key", "ctrl+q")
        app.wait(20)
    finally:
        if app.poll() is None:
            app.terminate()
            app.wait(10)
        log.close()
        sandbox.stop()
    output = (tmp_path / "app-output.txt").read_text(errors="replace")
    assert app.returncode == 0, output
    assert {r.reference: (r.outcome, r.group_code) for r in rows} == {
        "EC-000-DSK-001": ("allocated", "nextDay"), "EC-000-DSK-003": ("allocated", "nextDay")}, rows
    listings = [r for r in sandbox.recorded() if r.method == "GET" and r.path == "/servicegroups"]
    assert listings, "the groups were not asked for"
    puts = sorted(r.path for r in sandbox.recorded() if r.method == "PUT")
    assert puts == ["/allocation/EC-000-DSK-001/allocatewithservicegroup/nextDay",
                    "/allocation/EC-000-DSK-003/allocatewithservicegroup/nextDay"]
    assert DEMO_API_KEY not in output
