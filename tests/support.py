"""Test helpers shared by every test folder (import as ``from support import ...``)."""

from __future__ import annotations

import os
import shutil

import keyring.backend
import keyring.errors
import pytest

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
