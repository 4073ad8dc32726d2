"""One lock file per consignment reference, so two desks on one machine (two CLI runs, the CLI beside
the window, two threads) never allocate the same consignment at once.

``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows: both are released by the OS when the process
dies, so a crashed desk never leaves a reference locked. On POSIX the holder removes the file as it
lets go (no pile of lock files), and a waiter checks it locked the file that is still there. flock locks belong to the open file, so two
threads of one process exclude each other too. Waiting is done in short steps on the scan's cancel
token, so closing the desk ends the wait.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from .cancel import CancelToken

_STEP_S = 0.05

if os.name == "nt":  # pragma: no cover - exercised on the Windows runners
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class ReferenceLock:
    """``with ReferenceLock(folder, ref, token) as lock:`` — ``lock.acquired``, ``lock.waited``."""

    def __init__(self, folder: Path, reference: str, token: CancelToken) -> None:
        self.path = folder / f"{reference}.lock"
        self.token = token
        self.acquired = False
        self.waited = False  # someone else held it: they may have just allocated this reference
        self._fd: int | None = None

    def __enter__(self) -> ReferenceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            while not _try_lock(self._fd):
                self.waited = True
                if self.token.expired or self.token.wait(_STEP_S):
                    return self  # not acquired: the caller says so in plain words
            if self._still_the_file():
                self.acquired = True
                return self
            # The holder removed the file as it let go: lock the file that is there now.
            os.close(self._fd)
            self._fd = None
            self.waited = True

    def _still_the_file(self) -> bool:
        if os.name == "nt":  # pragma: no cover - Windows never removes an open file
            return True
        try:
            return os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except FileNotFoundError:
            return False

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is None:
            return
        try:
            if self.acquired:
                if os.name != "nt":
                    # Removed while still held, so lock files never pile up (one per consignment ever
                    # scanned); a waiter that locked the old file notices and takes the new one.
                    try:
                        os.unlink(self.path)
                    except OSError:
                        pass
                _unlock(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
