"""The real keyring round trip: a private D-Bus session with GNOME Keyring's Secret Service."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import need_tools

REPO = Path(__file__).resolve().parents[1]
WRAPPER = REPO / "tools" / "with-secret-service"
KEY = "sk-test-7f3a9c1e5b2d4680"

pytestmark = pytest.mark.secret_service

CHECK = f"""
import sys
from despatch_desk.credentials import KeyStore
store = KeyStore()
print("backend", store.backend_name())
assert "SecretService" in store.backend_name(), store.backend_name()
assert store.get("https://api.electioapp.com") == "{KEY}"
assert store.get("https://apisandbox.electioapp.com") is None   # keys are per API origin
store.set("https://apisandbox.electioapp.com", "other-key")
assert store.get("https://apisandbox.electioapp.com") == "other-key"
assert store.delete("https://apisandbox.electioapp.com")
print("ok")
"""


def test_key_round_trip_through_a_real_secret_service(tmp_path):
    need_tools("dbus-run-session", "gnome-keyring-daemon")
    env = dict(os.environ, DESPATCH_DESK_HOME=str(tmp_path / "home"), SECRET_SERVICE_HOME=str(tmp_path / "kr"),
               PYTHONPATH=str(REPO / "app"))
    env.pop("DESPATCH_DESK_API_KEY", None)
    cli = [sys.executable, "-m", "despatch_desk"]

    def run(args, stdin=""):
        return subprocess.run([str(WRAPPER), *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)

    stored = run([*cli, "key", "set"], stdin=KEY + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "SecretService" in stored.stdout
    # A second, separate D-Bus session on the same keyring folder reads it back: it was really kept.
    status = run([*cli, "key", "status"])
    assert status.returncode == 0 and "stored in the keyring" in status.stdout, status.stdout + status.stderr
    checked = run([sys.executable, "-c", CHECK])
    assert checked.returncode == 0 and "ok" in checked.stdout, checked.stdout + checked.stderr
    deleted = run([*cli, "key", "delete"])
    assert "Removed" in deleted.stdout
    assert run([*cli, "key", "status"]).returncode == 3
    for out in (stored, status, checked, deleted):
        assert KEY not in out.stdout + out.stderr
    for path in tmp_path.joinpath("home").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_headless_machine_without_keyring_gets_plain_words(tmp_path):
    """No Secret Service on the bus: the key is refused with a message, never saved in plain text."""
    env = dict(os.environ, DESPATCH_DESK_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO / "app"),
               DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    out = subprocess.run([sys.executable, "-m", "despatch_desk", "key", "set"], input=KEY, capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 3
    assert "no secure key storage" in out.stderr
    assert "Traceback" not in out.stderr
    assert not any(p.is_file() and KEY.encode() in p.read_bytes() for p in tmp_path.rglob("*"))
