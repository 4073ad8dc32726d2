"""The PySide6 6.12.0 ``Signal.emit`` reference-count bug must not be able to crash the desk."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

import despatch_desk.gui as gui


class _Emitter(QObject):
    ping = Signal(int)


def test_many_emits_cannot_free_true():
    emitter = _Emitter()
    seen = []
    emitter.ping.connect(seen.append)
    start = sys.getrefcount(True)
    for i in range(200_000):  # far more than True's natural reference count on Python 3.11
        emitter.ping.emit(i)
    assert len(seen) == 200_000
    assert sys.getrefcount(True) > 0
    if gui.SIGNAL_EMIT_BUG_WORKAROUND:
        assert start > 1 << 39
