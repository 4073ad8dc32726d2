"""Shared fixtures: an isolated desk home, an in-memory keyring, the built-in sandbox.

No test touches the developer's real keyring, settings or history.
"""

from __future__ import annotations

import os
import shutil

import keyring
import keyring.backend
import keyring.errors
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ON_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, reason: str) -> None:
    """Skip when a machine lacks a tool, but under CI=true that is a failure."""
    if condition:
        return
    if ON_CI:
        pytest.fail(f"CI must run this test but cannot: {reason}")
    pytest.skip(reason)


def need_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    need(not missing, f"missing {', '.join(missing)} (apt-get install the packages named in .ci/run)")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps secrets in a dict (tests only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.secrets.get((service, username))

    def set_password(self, service, username, password):
        self.secrets[(service, username)] = password

    def delete_password(self, service, username):
        if (service, username) not in self.secrets:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.secrets[(service, username)]


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    """Every test: its own DESPATCH_DESK_HOME, no key or URL from the environment, a memory keyring."""
    for var in ("DESPATCH_DESK_API_KEY", "DESPATCH_DESK_API_URL"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "desk-home"
    monkeypatch.setenv("DESPATCH_DESK_HOME", str(home))
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield home
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring():
    backend = keyring.get_keyring()
    assert isinstance(backend, MemoryKeyring)
    return backend


@pytest.fixture
def paths(isolated_environment):
    from despatch_desk.settings import Paths

    return Paths.default()


@pytest.fixture
def sandbox():
    from despatch_desk.sandbox import SandboxServer

    server = SandboxServer().start()
    try:
        yield server
    finally:
        server.stop()
