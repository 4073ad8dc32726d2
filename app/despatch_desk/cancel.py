"""Cancel tokens: one per call (a scan, a batch, a re-check), each watching its parents.

The desk owns a closing token; every call's token is a child of it, so closing the desk ends every wait
at once, while cancelling one batch (a child with its own children) leaves the desk and other calls
alone, and a cancelled desk can be given a fresh closing token and used again.

A token also carries an optional deadline (``time.monotonic()`` seconds): ``remaining()`` is how long a
blocking operation may still take, and ``expired`` says the deadline passed. Waiting is ``wait()``:
True when the token was cancelled during the wait (not when the time simply ran out).

No Qt, no I/O. Children are held weakly by their parents, so a long shift of scans does not grow the
desk's token.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable

Clock = Callable[[], float]


class Cancelled(Exception):
    """Raised by :meth:`CancelToken.raise_if_cancelled`: the caller asked this work to stop."""


class DeadlineExpired(Exception):
    """Raised by :meth:`CancelToken.raise_if_expired`: the call's one overall deadline has passed."""


class CancelToken:
    __slots__ = ("_event", "_children", "_lock", "_deadline", "_clock", "reason", "__weakref__")

    def __init__(self, parent: CancelToken | None = None, *, deadline: float | None = None,
                 timeout: float | None = None, clock: Clock = time.monotonic) -> None:
        self._event = threading.Event()
        self._children: weakref.WeakSet[CancelToken] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._clock = clock
        if timeout is not None:
            deadline = clock() + max(0.0, timeout) if deadline is None else min(deadline, clock() + timeout)
        if parent is not None and parent._deadline is not None:
            deadline = parent._deadline if deadline is None else min(deadline, parent._deadline)
        self._deadline = deadline
        self.reason = ""
        if parent is not None:
            parent._adopt(self)

    # ------------------------------------------------------------------ tree
    def child(self, *, timeout: float | None = None, deadline: float | None = None) -> CancelToken:
        """A token cancelled with this one (and on its own), with an optional tighter deadline."""
        return CancelToken(self, timeout=timeout, deadline=deadline, clock=self._clock)

    def _adopt(self, child: CancelToken) -> None:
        with self._lock:
            if not self._event.is_set():
                self._children.add(child)
                return
            reason = self.reason
        child.cancel(reason)

    # ------------------------------------------------------------------ state
    def cancel(self, reason: str = "") -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            children = list(self._children)
            self._children.clear()
        for child in children:
            child.cancel(reason)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def deadline(self) -> float | None:
        return self._deadline

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None without a deadline."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - self._clock())

    @property
    def expired(self) -> bool:
        return self._deadline is not None and self._clock() >= self._deadline

    def bound(self, seconds: float) -> float:
        """``seconds`` cut to what is left before the deadline."""
        left = self.remaining()
        return seconds if left is None else min(seconds, left)

    # ------------------------------------------------------------------ waiting
    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (cut to the deadline). True if cancelled meanwhile."""
        return self._event.wait(max(0.0, self.bound(seconds)))

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason)

    def raise_if_expired(self) -> None:
        self.raise_if_cancelled()
        if self.expired:
            raise DeadlineExpired()

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "live"
        return f"<CancelToken {state} remaining={self.remaining()}>"
