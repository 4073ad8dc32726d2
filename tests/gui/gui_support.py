"""Helpers for the GUI tests (imported by name: ``from gui_support import scan``)."""

from __future__ import annotations

import socket

FAST_POLICY_KW = dict(backoff_initial_s=0.01, backoff_max_s=0.02, poll_interval_s=0.05, poll_timeout_s=3.0)


class SilentSounds:
    """Records what would have been played (no audio device in tests)."""

    def __init__(self) -> None:
        self.enabled = True
        self.played: list[str] = []
        self.method = "test"

    def play(self, name: str | None) -> None:
        if name and self.enabled:
            self.played.append(name)

    def close(self) -> None:
        pass


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scan(qtbot, window, text: str, terminator=None) -> None:
    """Type like a scanner: the characters, then Enter (or Tab)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    QTest.keyClicks(window.scan_field, text)
    QTest.keyClick(window.scan_field, terminator if terminator is not None else Qt.Key.Key_Return)


def wait_state(qtbot, window, state: str, timeout: int = 8000) -> None:
    qtbot.waitUntil(lambda: window.result_panel.state == state, timeout=timeout)
