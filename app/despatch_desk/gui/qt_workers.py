"""Run one callable on a worker thread and hand its result (or exception) to the GUI thread.

Small on purpose: the settings dialog and the history view use it for a connection test, a
service-group fetch, a re-check or a CSV export. (The main window has its own lane-aware
:mod:`~despatch_desk.gui.allocation_runner` for scans.)

Rules it keeps (desk-guide.md, "Qt threading"):

* the callable runs in a :class:`QThreadPool` worker and must not touch widgets;
* the result travels through a signal of a small relay :class:`QObject` created in (and living
  in) the GUI thread, so the callbacks always run in the GUI thread (queued connection);
* every running job is referenced from the module-level set ``_running`` until its result has
  been delivered, so nothing is garbage-collected mid-flight;
* a callback is never called on a deleted object: the optional ``receiver`` is checked with
  ``shiboken6.isValid`` first, and :meth:`Job.cancel` drops the delivery altogether (a dialog that
  closes while its job runs).

Usage::

    job = run_in_background(lambda: client.list_carrier_services(),
                            on_result=self._services_arrived, on_error=self._services_failed,
                            receiver=self)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThread, QThreadPool, Signal, Slot

log = logging.getLogger("despatch_desk.gui.qt_workers")

MAX_THREADS = 4

_pool: QThreadPool | None = None
_running: set[Job] = set()


def pool() -> QThreadPool:
    """This module's own pool (never the global one the main window may size for scans)."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(MAX_THREADS)
        _pool.setExpiryTimeout(30_000)
    return _pool


class _Relay(QObject):
    """Lives in the GUI thread; its slot therefore runs there whatever thread emits ``done``."""

    done = Signal(bool, object)  # ok, result or exception

    def __init__(self, job: Job) -> None:
        super().__init__()
        self._job = job
        self.done.connect(self._deliver)

    @Slot(bool, object)
    def _deliver(self, ok: bool, payload: object) -> None:
        job, self._job = self._job, None
        if job is not None:
            job._deliver(ok, payload)
        self.deleteLater()


class Job(QRunnable):
    """One background call. Create through :func:`run_in_background` (from the GUI thread)."""

    def __init__(self, fn: Callable[[], Any], on_result: Callable[[Any], None] | None,
                 on_error: Callable[[BaseException], None] | None, receiver: QObject | None,
                 name: str = "") -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python keeps the reference (``_running``), not the pool
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "job")
        self._on_result = on_result
        self._on_error = on_error
        self._receiver = receiver
        self.cancelled = False
        self.finished = False
        self._relay = _Relay(self)

    def cancel(self) -> None:
        """Do not deliver the result (the call itself still runs to its end: it cannot be torn down)."""
        self.cancelled = True
        self._on_result = self._on_error = None
        self._receiver = None

    def run(self) -> None:  # worker thread
        try:
            result = self.fn()
        except Exception as exc:  # delivered to on_error in the GUI thread
            self._relay.done.emit(False, exc)
        else:
            self._relay.done.emit(True, result)

    def _deliver(self, ok: bool, payload: object) -> None:  # GUI thread (via the relay)
        self.finished = True
        _running.discard(self)
        receiver, on_result, on_error = self._receiver, self._on_result, self._on_error
        self._receiver = self._on_result = self._on_error = None
        self._relay = None
        if self.cancelled or (receiver is not None and not shiboken6.isValid(receiver)):
            return
        try:
            if ok:
                if on_result is not None:
                    on_result(payload)
            elif on_error is not None:
                on_error(payload)  # type: ignore[arg-type]
            else:
                log.error("background job %s failed: %r", self.name, payload)
        except Exception:  # a broken callback must not take the event loop down
            log.exception("result callback of %s failed", self.name)


def run_in_background(fn: Callable[[], Any], on_result: Callable[[Any], None] | None = None,
                      on_error: Callable[[BaseException], None] | None = None, *,
                      receiver: QObject | None = None, name: str = "") -> Job:
    """Start ``fn()`` on a worker thread; ``on_result(value)`` or ``on_error(exc)`` run later in the GUI thread.

    Call from the GUI thread. ``receiver`` (usually the widget that owns the callbacks) is checked
    for validity before delivery.
    """
    app = QCoreApplication.instance()
    if app is not None and QThread.currentThread() is not app.thread():
        raise RuntimeError("run_in_background must be called from the GUI thread")
    job = Job(fn, on_result, on_error, receiver, name)
    _running.add(job)
    pool().start(job)
    return job


def running() -> int:
    """Jobs started and not yet delivered."""
    return len(_running)


def wait_for_all(timeout_ms: int = 10_000) -> bool:
    """Let the worker threads finish (shutdown, tests); results are delivered by the event loop later."""
    return pool().waitForDone(timeout_ms)


def run_tracked(jobs: set[Job], fn: Callable[[], Any], on_result: Callable[[Any], None],
                on_error: Callable[[BaseException], None], *, receiver: QObject, name: str = "") -> Job:
    """:func:`run_in_background`, keeping the job in ``jobs`` (a widget's own set) until delivered,
    so the widget can cancel what it started when it closes."""
    def done(callback):
        def deliver(value):
            jobs.discard(job)
            callback(value)
        return deliver

    job = run_in_background(fn, done(on_result), done(on_error), receiver=receiver, name=name)
    jobs.add(job)
    return job
