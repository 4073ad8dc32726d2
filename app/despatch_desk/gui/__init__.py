"""The Qt layer of Despatch Desk: a thin adapter over the Qt-free core (``despatch_desk.desk``).

Modules: ``app`` (QApplication, logging, single instance, demo mode), ``main_window`` (the operator
window and the :class:`~despatch_desk.gui.main_window.ScanDispatcher`), ``scan_field``,
``result_panel``, ``recent_scans``, ``allocation_runner`` (background jobs), ``sounds``, ``theme``
and ``selftest``. Nothing here is imported by the core.

Importing this package applies :func:`guard_signal_emit_refcount` (see there).
"""

from __future__ import annotations

import sys

SIGNAL_EMIT_BUG_WORKAROUND = False  # True when the guard below had to act (logged by the app)


def guard_signal_emit_refcount() -> bool:
    """Work around a PySide6 6.12.0 bug that would crash a long-running desk on Python 3.11.

    ``Signal.emit()`` returns ``True`` without taking a reference, so every emit from Python lowers
    the reference count of ``True`` by one; after some thousands of emits (a few thousand scans)
    CPython deallocates ``True`` and aborts ("bool_dealloc: deallocating True or False").
    Python 3.12+ is immune (``True`` is immortal there). A one-emit probe detects the bug; if
    present, ``True`` and ``False`` get a reference count so high they can never reach zero,
    which is what Python 3.12 does for them. Returns True when the workaround was applied.
    """
    global SIGNAL_EMIT_BUG_WORKAROUND
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    probe.ping.emit()
    after = sys.getrefcount(True)
    probe.deleteLater()
    if after >= before:
        return False
    import ctypes

    for obj in (True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    SIGNAL_EMIT_BUG_WORKAROUND = True
    return True


guard_signal_emit_refcount()
