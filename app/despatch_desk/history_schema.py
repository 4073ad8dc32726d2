"""The history file's schema versions, and opening a history file that may be old, new, empty or damaged.

The version lives in ``PRAGMA user_version``. Files written before versions existed have
``user_version`` 0 and the version-1 table: they are version 1. Migrations run in order, in one
transaction, after a copy of the file is kept beside it (``history.sqlite3.v1-backup``). A file
from a newer app is refused, never downgraded. A file that is not a database (or is damaged, or
is empty where a history was expected) is moved aside with a timestamp and a fresh one started;
the caller gets a plain-words notice to show.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("despatch_desk.history")

# Version 1: the schema as it was before versions were recorded (keep it byte for byte: old files have it).
V1_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    workstation TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL DEFAULT '',
    raw_scan TEXT NOT NULL DEFAULT '',
    reference TEXT,
    group_code TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL,
    recovered INTEGER NOT NULL DEFAULT 0,
    carrier_name TEXT,
    carrier_reference TEXT,
    service_name TEXT,
    service_reference TEXT,
    tracking TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    server_message TEXT,
    server_code TEXT,
    correlation_id TEXT,
    http_status INTEGER,
    duration_ms REAL,
    resolved_at TEXT,
    resolution TEXT
)""",
    "CREATE INDEX IF NOT EXISTS attempts_reference ON attempts(reference)",
    "CREATE INDEX IF NOT EXISTS attempts_started ON attempts(started_at)",
    "CREATE INDEX IF NOT EXISTS attempts_outcome ON attempts(outcome)",
)

# Version 2: who owns a pending row (pid, host), undo links, batches, labels, price and delivery date.
V2_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE attempts ADD COLUMN pid INTEGER",
    "ALTER TABLE attempts ADD COLUMN host TEXT",
    "ALTER TABLE attempts ADD COLUMN action TEXT NOT NULL DEFAULT 'allocate'",
    "ALTER TABLE attempts ADD COLUMN undoes_id INTEGER",
    "ALTER TABLE attempts ADD COLUMN undone_by_id INTEGER",
    "ALTER TABLE attempts ADD COLUMN batch_id TEXT",
    "ALTER TABLE attempts ADD COLUMN label_status TEXT",
    "ALTER TABLE attempts ADD COLUMN label_printer TEXT",
    "ALTER TABLE attempts ADD COLUMN label_format TEXT",
    "ALTER TABLE attempts ADD COLUMN label_at TEXT",
    "ALTER TABLE attempts ADD COLUMN label_error TEXT",
    "ALTER TABLE attempts ADD COLUMN price_net REAL",
    "ALTER TABLE attempts ADD COLUMN price_gross REAL",
    "ALTER TABLE attempts ADD COLUMN price_currency TEXT",
    "ALTER TABLE attempts ADD COLUMN expected_delivery TEXT",
    "CREATE INDEX IF NOT EXISTS attempts_batch ON attempts(batch_id)",
)

# MIGRATIONS[n] takes a file from version n to n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (V1_STATEMENTS, V2_STATEMENTS)
LATEST_VERSION = len(MIGRATIONS)

# SQLite primary result codes (the low byte of the extended code).
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 10, 11, 13, 14, 26


class NewerHistory(Exception):
    """The file's version is newer than this app knows."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


@dataclass(frozen=True, slots=True)
class Opened:
    db: sqlite3.Connection
    notice: str | None          # plain words for the operator (file moved aside, upgraded), or None
    recovered_from: Path | None  # where a damaged or empty file was moved to
    backup: Path | None          # the copy kept before a migration
    upgraded_from: int | None    # the version the file had before migrating


def error_code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF


def is_damage(exc: sqlite3.Error) -> bool:
    """Not a database, or a damaged one (as opposed to busy, full or read-only)."""
    if error_code(exc) in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def plain_words(exc: sqlite3.Error, path: Path) -> str:
    code, text = error_code(exc), str(exc)
    lower = text.lower()
    if code == SQLITE_FULL or "full" in lower:
        return f"The disk is full: the scan history ({path}) cannot be written. Free some space."
    if code in (SQLITE_BUSY, SQLITE_LOCKED) or "locked" in lower or "busy" in lower:
        return "The scan history is busy (another program has it open). Try again."
    if code in (SQLITE_READONLY, SQLITE_PERM) or "readonly" in lower or "read-only" in lower:
        return f"The scan history ({path}) is read-only: check the folder's permissions."
    if code == SQLITE_CANTOPEN:
        return (f"The scan history ({path}) could not be opened: check that its folder exists and that this "
                "user may write to it.")
    if code == SQLITE_IOERR:
        return (f"The scan history ({path}) could not be written (the disk refused: it may be full, "
                "removed or failing). Nothing is sent until it can be written.")
    if is_damage(exc):
        return f"The scan history ({path}) is damaged."
    return f"The scan history ({path}) could not be used: {text}."


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _side_files(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def move_aside(path: Path, label: str) -> Path:
    """Move the file (and its WAL/SHM companions, which belong to it) to ``<name>.<label>-<time>``."""
    target = path.with_name(f"{path.name}.{label}-{_stamp()}")
    os.replace(path, target)
    for side in _side_files(path):
        if side.exists():
            if side.name.endswith("-shm"):
                side.unlink()  # shared-memory index: rebuilt from the WAL, worthless apart
            else:
                os.replace(side, target.with_name(target.name + side.name[len(path.name):]))
    return target


def _connect(path: Path | str) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), check_same_thread=False, timeout=5.0, isolation_level=None)
    db.row_factory = sqlite3.Row
    return db


def _probe(db: sqlite3.Connection) -> int:
    """Read the version and check the pages: raises sqlite3.DatabaseError on a damaged file."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    result = db.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise sqlite3.DatabaseError(f"database disk image is malformed ({result})")
    return version


def _has_attempts(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='attempts'").fetchone() is not None


def _effective_version(db: sqlite3.Connection, stored: int) -> int:
    # Files from before versions were recorded say 0 but hold the version-1 table.
    return 1 if stored == 0 and _has_attempts(db) else stored


def _keep_copy(db: sqlite3.Connection, path: Path, version: int) -> Path:
    """A consistent copy (WAL included) through SQLite's backup API, before anything is changed."""
    target = path.with_name(f"{path.name}.v{version}-backup")
    if target.exists():
        target = path.with_name(f"{path.name}.v{version}-backup-{_stamp()}")
    copy = sqlite3.connect(str(target))
    try:
        db.backup(copy)
    finally:
        copy.close()
    return target


def migrate(db: sqlite3.Connection, path: Path | None) -> tuple[int, Path | None]:
    """Bring the file to :data:`LATEST_VERSION` in one transaction; returns (version before, backup)."""
    before = _effective_version(db, int(db.execute("PRAGMA user_version").fetchone()[0]))
    if before > LATEST_VERSION:
        raise NewerHistory(before)
    if before == LATEST_VERSION:
        return before, None
    backup = _keep_copy(db, path, before) if (path is not None and before > 0) else None
    db.execute("BEGIN IMMEDIATE")
    try:
        # Another desk may have migrated while we waited for the write lock: read again inside it.
        current = _effective_version(db, int(db.execute("PRAGMA user_version").fetchone()[0]))
        if current > LATEST_VERSION:
            raise NewerHistory(current)
        if current == LATEST_VERSION:
            db.execute("ROLLBACK")
            if backup is not None:
                backup.unlink(missing_ok=True)  # the other desk's copy is the one that matters
            return current, None
        for step in MIGRATIONS[current:]:
            for statement in step:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {LATEST_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if backup is not None:
        log.info("history %s upgraded from version %d to %d; copy kept as %s", path, current, LATEST_VERSION, backup)
    return current, backup


def open_history(path: Path | str) -> Opened:
    """Open (creating, upgrading or replacing a damaged file as needed). Raises sqlite3/OSError/NewerHistory."""
    memory = str(path) == ":memory:"
    notice: str | None = None
    recovered_from: Path | None = None
    file = Path(path)
    if not memory:
        file.parent.mkdir(parents=True, exist_ok=True)
        if file.exists() and file.stat().st_size == 0:
            # An empty file where a history should be: something truncated it. Keep it, say so.
            recovered_from = move_aside(file, "empty")
            notice = (f"The scan history file was empty (0 bytes), so earlier scans are not in it. It was kept as "
                      f"{recovered_from.name} and a new history has been started.")
            log.warning(notice)
    db = _connect(path)
    try:
        _probe(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        if memory or not is_damage(exc):
            raise
        recovered_from = move_aside(file, "corrupt")
        notice = (f"The scan history was damaged ({exc}) and could not be read. It was kept as "
                  f"{recovered_from.name} and a new history has been started; earlier scans are in the kept file.")
        log.error(notice)
        db = _connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: an attempt written is on disk before the request goes out (audit trail).
        db.execute("PRAGMA synchronous=FULL")
        before, backup = migrate(db, None if memory else file)
    except BaseException:
        db.close()
        raise
    upgraded = before if 0 < before < LATEST_VERSION else None
    return Opened(db, notice, recovered_from, backup, upgraded)


def current_host() -> str:
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """Is a process with this id running on this machine? (A pid of ours is alive by definition.)"""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0: existence check only, nothing is delivered
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it belongs to someone else
    except OSError:
        return False
    return True


def _windows_process_alive(pid: int) -> bool:  # pragma: no cover - exercised on Windows CI
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    process_query_limited_information, still_active, access_denied = 0x1000, 259, 5
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return ctypes.get_last_error() == access_denied
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def process_started_at(pid: int) -> datetime | None:
    """When a running process started (Linux and Windows), or None when this system cannot say.

    A pid can be reused after the desk that wrote a row has gone (a reboot): a process that
    started after the row was written cannot be the row's owner."""
    try:
        if sys.platform.startswith("linux"):
            return _linux_started_at(pid)
        if sys.platform == "win32":
            return _windows_started_at(pid)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return None


def _linux_started_at(pid: int) -> datetime | None:
    stat = Path(f"/proc/{pid}/stat").read_text()
    ticks = int(stat[stat.rindex(")") + 2:].split()[19])  # field 22: start time in clock ticks since boot
    boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime "))
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)


def _windows_started_at(pid: int) -> datetime | None:  # pragma: no cover - exercised on Windows CI
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return None
    try:
        created, exited, kernel, user = (wintypes.FILETIME() for _ in range(4))
        if not kernel32.GetProcessTimes(handle, ctypes.byref(created), ctypes.byref(exited), ctypes.byref(kernel),
                                        ctypes.byref(user)):
            return None
        hundred_ns = (created.dwHighDateTime << 32) | created.dwLowDateTime
        return datetime.fromtimestamp(hundred_ns / 1e7 - 11644473600, UTC)  # FILETIME counts from 1601
    finally:
        kernel32.CloseHandle(handle)


def columns(db: sqlite3.Connection) -> Sequence[str]:
    return [r[1] for r in db.execute("PRAGMA table_info(attempts)").fetchall()]
