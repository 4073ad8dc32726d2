"""The one background-job runner of the Qt layer: scans, follow-ups and everything else, in lanes.

Rules (desk-guide.md, "Qt threading"):

* a job's callable runs on a worker thread, gets its own :class:`~despatch_desk.cancel.CancelToken`
  (a child of the desk's closing token) and never touches a widget;
* **only ids cross threads**: workers emit ints, the result stays on the :class:`Job` and is handed
  to the job's callbacks in the GUI thread (an ``object`` signal emitted from a worker upset
  PySide6 6.12's reference counts);
* lanes (:class:`Lane`) share one thread budget, each with its own limit, so a history read or a
  re-check never takes an allocation slot;
* a job holds keys (a consignment reference, ``recheck:<row id>``): a job whose key is queued or
  running is refused, so a reference is never sent twice at once and a row never re-checked twice;
* :meth:`JobRunner.cancel`: a queued job is dropped before it ran (it sent and wrote nothing); a
  running job has its token cancelled and ends honestly (its result says what is known).

One runner per desk (:func:`runner_for`): the window, the history view and the dialogs share it.
"""

from __future__ import annotations

import enum
import itertools
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from ..cancel import CancelToken

log = logging.getLogger("despatch_desk.gui.jobs")


class Lane(enum.StrEnum):
    SCAN = "scan"              # allocations: settings.max_parallel wide
    FOLLOW_UP = "follow_up"    # work hanging off an allocated scan (labels, price, delivery date)
    MISC = "misc"              # history reads, re-checks, key look-ups, settings saves


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"              # returned a result
    FAILED = "failed"          # raised (a bug, or an error the caller handles in on_error)
    DROPPED = "dropped"        # cancelled while queued: never ran


LANE_LIMITS = {Lane.MISC: 2}  # SCAN and FOLLOW_UP are as wide as the desk's parallel setting (labels keep pace)


@dataclass(eq=False, slots=True)
class Job:
    """One unit of background work. ``fn(token)`` runs on a worker thread and must not touch Qt widgets."""

    fn: Callable[[CancelToken], Any]
    lane: Lane = Lane.MISC
    keys: tuple[str, ...] = ()
    group: str | None = None             # cancel_group() target (a batch id)
    name: str = ""
    on_result: Callable[[Any], None] | None = None
    on_error: Callable[[BaseException], None] | None = None
    on_dropped: Callable[[], None] | None = None
    receiver: QObject | None = None      # callbacks are skipped once this object is deleted
    id: int = 0
    state: JobState = JobState.QUEUED
    token: CancelToken | None = None
    result: Any = None
    error: BaseException | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def detach(self) -> None:
        """Do not call back (the owner is closing); the work itself still runs to its honest end."""
        self.on_result = self.on_error = self.on_dropped = None
        self.receiver = None

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED, JobState.DROPPED)


class JobRunner(QObject):
    """Create in the GUI thread. Every public signal and callback arrives there."""

    job_started = Signal(int)     # job id
    job_finished = Signal(int)    # job id, after its callbacks ran (read runner.last_finished for the Job)
    idle = Signal()               # nothing queued or running in any lane
    _started = Signal(int)        # worker -> GUI thread: ids only
    _done = Signal(int)

    def __init__(self, max_parallel: int = 4, *, token_source: Callable[[], CancelToken | None] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}                  # every job not yet delivered (strong references)
        self._keys: dict[str, int] = {}                  # key -> job id while queued or running
        self._queues: dict[Lane, deque[Job]] = {lane: deque() for lane in Lane}
        self._running: dict[Lane, int] = dict.fromkeys(Lane, 0)
        width = max(1, int(max_parallel))
        self._limits = {Lane.SCAN: width, Lane.FOLLOW_UP: width, **LANE_LIMITS}
        self._token_source = token_source or (lambda: None)
        self._executor: ThreadPoolExecutor | None = None
        self._accepting = True
        self.last_finished: Job | None = None
        self._started.connect(self._on_started)
        self._done.connect(self._deliver)

    # ------------------------------------------------------------------ configuration
    @property
    def max_parallel(self) -> int:
        return self._limits[Lane.SCAN]

    def set_max_parallel(self, value: int) -> None:
        """New work uses the new scan-lane width; running jobs finish where they are."""
        with self._lock:
            self._limits[Lane.SCAN] = self._limits[Lane.FOLLOW_UP] = max(1, int(value))
        self._pump()

    def _budget(self) -> int:
        return sum(self._limits.values())

    def _pool(self) -> ThreadPoolExecutor:  # under self._lock
        if self._executor is None or self._executor._max_workers < self._budget():
            old, self._executor = self._executor, ThreadPoolExecutor(
                max_workers=self._budget(), thread_name_prefix="desk-job")
            if old is not None:
                old.shutdown(wait=False)  # its running jobs still finish
        return self._executor

    # ------------------------------------------------------------------ submitting
    def find(self, key: str) -> int | None:
        """Id of the queued or running job holding ``key``, or None."""
        with self._lock:
            return self._keys.get(key)

    def busy(self, keys: Iterable[str]) -> bool:
        with self._lock:
            return any(k in self._keys for k in keys)

    def submit(self, job: Job) -> int | None:
        """Queue ``job``; its id, or None when refused (closing, or one of its keys is in flight)."""
        _require_gui_thread()
        if not self._accepting:
            return None
        with self._lock:
            if any(k in self._keys for k in job.keys):
                return None
            job.id = next(self._ids)
            job.state = JobState.QUEUED
            parent = self._token_source()
            job.token = parent.child() if parent is not None else CancelToken()
            self._jobs[job.id] = job
            for key in job.keys:
                self._keys[key] = job.id
            self._queues[job.lane].append(job)
        self._pump()
        return job.id

    def run(self, fn: Callable[[CancelToken], Any], on_result: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None, *, receiver: QObject | None = None,
            lane: Lane = Lane.MISC, keys: Iterable[str] = (), name: str = "") -> Job | None:
        """Shorthand for the dialogs: submit ``fn(token)``; None when refused."""
        job = Job(fn=fn, lane=lane, keys=tuple(keys), name=name or getattr(fn, "__name__", "job"),
                  on_result=on_result, on_error=on_error, receiver=receiver)
        return job if self.submit(job) is not None else None

    def run_kept(self, kept: set[Job], fn: Callable[[], Any], on_result: Callable[[Any], None],
                 on_error: Callable[[BaseException], None], *, receiver: QObject, name: str) -> Job | None:
        """:meth:`run` for a window or dialog that keeps its jobs in ``kept`` until their answers arrive
        (so closing it can wait for them); ``fn`` takes no token."""
        job: Job | None = None

        def arrived(callback: Callable[[Any], None]) -> Callable[[Any], None]:
            def deliver(value: Any) -> None:
                kept.discard(job)
                callback(value)
            return deliver

        job = self.run(lambda _token: fn(), arrived(on_result), arrived(on_error), receiver=receiver, name=name)
        if job is not None:
            kept.add(job)
        return job

    def _pump(self) -> None:
        """Start queued jobs while their lane has room (any thread)."""
        with self._lock:
            for lane, queue in self._queues.items():
                while queue and self._running[lane] < self._limits[lane]:
                    job = queue.popleft()
                    self._running[lane] += 1
                    job.state = JobState.RUNNING
                    self._pool().submit(self._work, job)

    def _work(self, job: Job) -> None:  # worker thread
        self._started.emit(job.id)
        try:
            job.result = job.fn(job.token)
            state = JobState.DONE
        except BaseException as exc:  # noqa: BLE001 - a job's error goes to its on_error, never kills the worker
            job.error = exc
            state = JobState.FAILED
        with self._lock:
            self._running[job.lane] -= 1
            # Release the keys before delivery: a re-scan after the result shows is new work.
            self._release(job)
            job.state = state
        self._done.emit(job.id)
        self._pump()

    def _release(self, job: Job) -> None:  # under self._lock
        for key in job.keys:
            if self._keys.get(key) == job.id:
                del self._keys[key]

    # ------------------------------------------------------------------ cancelling
    def cancel(self, job_id: int, reason: str = "cancelled") -> bool:
        """Drop a queued job (it never runs) or cancel a running one's token. False if it is not active."""
        _require_gui_thread()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.finished:
                return False
            queued = job.state is JobState.QUEUED and job in self._queues[job.lane]
            if queued:
                self._queues[job.lane].remove(job)
                self._release(job)
                job.state = JobState.DROPPED
        if job.token is not None:
            job.token.cancel(reason)
        if queued:
            self._deliver(job_id)
        return True

    def cancel_group(self, group: str, reason: str = "cancelled") -> int:
        """Cancel every active job of ``group`` (a batch); returns how many were active."""
        jobs = [j for j in list(self._jobs.values()) if j.group == group and not j.finished]
        # Queued ones first: cancelling a running job frees its slot, which must not start the next one.
        jobs.sort(key=lambda j: j.state is not JobState.QUEUED)
        return sum(1 for job in jobs if self.cancel(job.id, reason))

    # ------------------------------------------------------------------ delivery (GUI thread)
    @Slot(int)
    def _on_started(self, job_id: int) -> None:
        if job_id in self._jobs:
            self.job_started.emit(job_id)

    @Slot(int)
    def _deliver(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        callback: Callable[..., None] | None
        args: tuple[Any, ...]
        if job.state is JobState.DROPPED:
            callback, args = job.on_dropped, ()
        elif job.state is JobState.FAILED:
            callback, args = job.on_error, (job.error,)
            if callback is None and job.error is not None:
                log.error("background job %s (%s) failed", job.id, job.name, exc_info=job.error)
        else:
            callback, args = job.on_result, (job.result,)
        receiver = job.receiver
        alive = receiver is None or shiboken6.isValid(receiver)
        job.detach()
        try:
            if callback is not None and alive:
                callback(*args)
        except Exception:  # a broken callback must not take the event loop down
            log.exception("callback of background job %s (%s) failed", job.id, job.name)
        finally:
            self._jobs.pop(job_id, None)
            self.last_finished = job
            self.job_finished.emit(job_id)
            self.last_finished = None
            if not self._jobs:
                self.idle.emit()

    # ------------------------------------------------------------------ state
    def job(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def active_count(self, lane: Lane | None = Lane.SCAN) -> int:
        """Jobs submitted and not yet delivered (queued + running) in ``lane`` (None = every lane)."""
        return sum(1 for j in list(self._jobs.values()) if lane is None or j.lane is lane)

    def running_count(self, lane: Lane = Lane.SCAN) -> int:
        with self._lock:
            return self._running[lane]

    # ------------------------------------------------------------------ shutting down
    def stop_accepting(self) -> None:
        self._accepting = False

    def resume(self) -> None:
        self._accepting = True

    @property
    def accepting(self) -> bool:
        return self._accepting

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking work. Queued jobs still run (each scan must end in the history)."""
        self._accepting = False
        if wait:
            with self._lock:
                executor = self._executor
            if executor is not None:
                executor.shutdown(wait=True)


def _require_gui_thread() -> None:
    app = QCoreApplication.instance()
    if app is not None and QThread.currentThread() is not app.thread():
        raise RuntimeError("jobs are submitted and cancelled from the GUI thread")


_RUNNERS: weakref.WeakKeyDictionary[Any, JobRunner] = weakref.WeakKeyDictionary()


def runner_for(desk: Any) -> JobRunner:
    """The desk's one runner (made on first use, in the GUI thread); job tokens are children of ``desk.closing``."""
    runner = _RUNNERS.get(desk)
    if runner is None or not shiboken6.isValid(runner):
        settings = getattr(desk, "settings", None)
        desk_ref = weakref.ref(desk)

        def closing_token() -> CancelToken | None:
            owner = desk_ref()
            return getattr(owner, "closing", None) if owner is not None else None

        runner = JobRunner(getattr(settings, "max_parallel", 4), token_source=closing_token)
        _RUNNERS[desk] = runner
    return runner


def active_jobs() -> int:
    """Jobs not yet delivered, over every desk's runner (tests and shutdown wait on this reaching 0)."""
    return sum(r.active_count(lane=None) for r in list(_RUNNERS.values()) if shiboken6.isValid(r))
