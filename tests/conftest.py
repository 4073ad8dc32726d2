"""Shared fixtures: an isolated desk home, an in-memory keyring, the built-in sandbox.

No test touches the developer's real keyring, settings or history.
"""

from __future__ import annotations

import os

import keyring
import keyring.backend
import keyring.errors
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from support import MemoryKeyring


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
