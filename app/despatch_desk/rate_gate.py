"""One back-off shared by every request of a client: a 429 slows the whole desk down, not one worker.

A 429 answer ``hold``s the gate for its ``Retry-After`` (bounded); every request ``wait``s at the gate
before it is sent (the client holds its PUTs there; the workflow's look after a 429 is a GET and
goes through, since it decides whether the allocation happened). Without a shared gate, N parallel workers would each learn about the limit on their
own and keep hammering the server while the first one backs off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .cancel import Cancelled, CancelToken

__all__ = ["RateGate"]


class RateGate:
    """Thread-safe. ``hold(seconds)`` closes the gate until now + seconds (the later of two holds wins);
    ``wait(cancel)`` returns once it is open, or raises :class:`Cancelled` if ``cancel`` ends first."""

    def __init__(self, *, default_s: float = 2.0, min_s: float = 1.0, max_s: float = 20.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.default_s = default_s
        self.min_s = min_s      # "Retry-After: 0" is no licence to hammer
        self.max_s = max_s      # a server asking for an hour does not freeze the desk for an hour
        self._clock = clock
        self._lock = threading.Lock()
        self._open_at = 0.0
        self.holds = 0          # how many 429s closed the gate (for tests and the benchmark)
        self._changed = threading.Condition(self._lock)

    def hold(self, seconds: float | None) -> float:
        """A 429 said wait ``seconds`` (None: not said). Returns the bounded wait applied."""
        wait = self.default_s if seconds is None else float(seconds)
        wait = min(max(wait, self.min_s), self.max_s)
        with self._lock:
            self._open_at = max(self._open_at, self._clock() + wait)
            self.holds += 1
            self._changed.notify_all()
        return wait

    def remaining(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        with self._lock:
            return max(0.0, self._open_at - self._clock())

    def wait(self, cancel: CancelToken | None = None) -> None:
        """Block until the gate is open. Wakes within a slice of a cancel (the token has no callback)."""
        while True:
            left = self.remaining()
            if left <= 0:
                return
            if cancel is not None:
                if cancel.wait(min(left, 0.25)):
                    raise Cancelled(cancel.reason)
                if cancel.expired:
                    raise Cancelled("the scan's deadline passed while SortedPRO was limiting requests")
            else:
                with self._lock:
                    self._changed.wait(min(left, 0.25))
