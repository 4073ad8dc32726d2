"""Background work for the window: generic jobs (callables) run on worker threads.

Rules (desk-guide.md, "Qt threading"):

* a worker never touches a widget: it only calls the job's callable and emits signals of
  :class:`JobRunner`, a QObject that lives in the GUI thread, so every connected ``@Slot`` runs
  in the GUI thread (queued connection, decided by Qt at emit time);
* the runner keeps a reference to every job until its result has been delivered;
* at most ``max_parallel`` jobs of a lane run at once, the rest wait in a queue (state
  ``queued``); a job with a ``key`` that is already queued or running is refused, so a reference
  is never sent twice at once.

Jobs are plain callables returning a result object: allocation today; labels, deallocation or
batch allocation later, without changing the runner.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("despatch_desk.gui.runner")

SCAN_LANE = "scan"
MISC_LANE = "misc"  # history reads, re-checks, key look-ups: never take an allocation slot


@dataclass(slots=True)
class Job:
    """One unit of background work. ``fn`` runs on a worker thread and must not touch Qt widgets."""

    fn: Callable[[], Any]
    key: str | None = None       # de-duplication key (a consignment reference), or None
    kind: str = "allocate"       # what it is, for the slots that receive the result
    lane: str = SCAN_LANE
    meta: dict[str, Any] = field(default_factory=dict)
    id: int = 0
    state: str = "queued"        # queued -> running -> done
    future: Future | None = None
    result: Any = None


class JobRunner(QObject):
    """Create in the GUI thread. ``job_started``/``job_finished``/``job_failed`` arrive there."""

    job_started = Signal(int)                 # job id
    job_finished = Signal(int, object)        # job id, result (emitted in the GUI thread)
    job_failed = Signal(int, str)             # job id, plain-words error (a bug in a job)
    idle = Signal()                           # no job left in any lane
    # Workers emit only the job id across threads; the result stays on the Job and is handed on by
    # _deliver in the GUI thread. (Python objects queued across threads through an `object` signal
    # upset PySide6 6.12's reference counts on Python 3.11: a crash at interpreter exit.)
    _done = Signal(int)

    def __init__(self, max_parallel: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}        # every job not yet delivered (strong references)
        self._keys: dict[str, int] = {}        # key -> job id, while queued or running
        self._max_parallel = max(1, int(max_parallel))
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._accepting = True
        self._done.connect(self._deliver)
        self.job_failed.connect(self._forget)

    # ------------------------------------------------------------------ configuration
    @property
    def max_parallel(self) -> int:
        return self._max_parallel

    def set_max_parallel(self, value: int) -> None:
        """New jobs use the new limit; running ones finish on the old pool."""
        value = max(1, int(value))
        if value == self._max_parallel:
            return
        self._max_parallel = value
        old = self._executors.pop(SCAN_LANE, None)
        if old is not None:
            old.shutdown(wait=False)

    def _executor(self, lane: str) -> ThreadPoolExecutor:
        ex = self._executors.get(lane)
        if ex is None:
            workers = self._max_parallel if lane == SCAN_LANE else 2
            ex = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"desk-{lane}")
            self._executors[lane] = ex
        return ex

    # ------------------------------------------------------------------ submitting
    def find(self, key: str) -> int | None:
        """Id of the queued or running job with this key, or None."""
        with self._lock:
            return self._keys.get(key)

    def submit(self, job: Job) -> int | None:
        """Queue ``job``; returns its id, or None if refused (closing, or its key is in flight)."""
        if not self._accepting:
            return None
        with self._lock:
            if job.key is not None and job.key in self._keys:
                return None
            job.id = next(self._ids)
            job.state = "queued"
            self._jobs[job.id] = job
            if job.key is not None:
                self._keys[job.key] = job.id
        job.future = self._executor(job.lane).submit(self._run, job)
        return job.id

    def _run(self, job: Job) -> None:  # worker thread
        job.state = "running"
        self.job_started.emit(job.id)
        try:
            result = job.fn()
        except BaseException as exc:  # noqa: BLE001 - a job's bug must not kill the worker silently
            log.exception("background job %s (%s) failed", job.id, job.kind)
            with self._lock:
                if job.key is not None and self._keys.get(job.key) == job.id:
                    del self._keys[job.key]
            job.state = "done"
            self.job_failed.emit(job.id, f"{type(exc).__name__}: {exc}"[:300])
            return
        with self._lock:
            # Release the key before the result is delivered: a re-scan after the result shows is new work.
            if job.key is not None and self._keys.get(job.key) == job.id:
                del self._keys[job.key]
        job.result = result
        job.state = "done"
        self._done.emit(job.id)

    def _deliver(self, job_id: int) -> None:  # GUI thread
        job = self._jobs.get(job_id)
        if job is None:
            return
        result, job.result = job.result, None
        try:
            self.job_finished.emit(job_id, result)
        finally:
            self._forget(job_id)

    # ------------------------------------------------------------------ state
    def job(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def active_count(self, lane: str | None = SCAN_LANE) -> int:
        """Jobs submitted and not yet delivered (queued + running), in ``lane`` (None = all)."""
        return sum(1 for j in list(self._jobs.values()) if lane is None or j.lane == lane)

    def running_count(self, lane: str = SCAN_LANE) -> int:
        return sum(1 for j in list(self._jobs.values()) if j.lane == lane and j.state == "running")

    def _forget(self, job_id: int, *_: object) -> None:
        self._jobs.pop(job_id, None)
        if not self._jobs:
            self.idle.emit()

    # ------------------------------------------------------------------ shutting down
    def stop_accepting(self) -> None:
        self._accepting = False

    @property
    def accepting(self) -> bool:
        return self._accepting

    def shutdown(self, wait: bool = False) -> None:
        """Stop taking jobs. Queued jobs still run (each one must end in the history)."""
        self._accepting = False
        for ex in list(self._executors.values()):
            ex.shutdown(wait=wait)
