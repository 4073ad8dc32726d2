"""What the window benchmarks share: typing scans like a scanner, and closing a window without losing work."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def scan_typer(window, refs: Sequence[str], state: dict) -> Callable[[], None]:
    """A callable that types ``refs`` into the scan field, one scan per event-loop turn (a scanner firing
    back to back); ``state["start"]`` is set at the first key, ``state["typed"]`` counts the scans."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest

    state.setdefault("typed", 0)

    def type_next() -> None:
        i = state["typed"]
        if i >= len(refs):
            return
        if i == 0:
            state["start"] = time.perf_counter()
        QTest.keyClicks(window.scan_field, refs[i])
        QTest.keyClick(window.scan_field, Qt.Key.Key_Return)
        state["typed"] = i + 1
        QTimer.singleShot(0, type_next)

    return type_next


def close_window(window, desk, sandbox, app) -> None:
    """Close the window, let its jobs end (bounded), then the desk and the sandbox."""
    window.close_now()
    deadline = time.perf_counter() + 10
    while window.runner.active_count(lane=None) and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.002)
    desk.close()
    sandbox.stop()
    window.deleteLater()
    app.processEvents()
