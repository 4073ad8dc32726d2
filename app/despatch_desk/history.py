"""The audit history: every scan attempt, in SQLite (WAL, fsync'd), searchable and exportable.

A scan is written *before* it is sent (outcome ``pending``) and updated when it ends, so a desk
that is killed mid-flight still knows which scans it had sent: on the next open those rows
become ``in_doubt`` and can be re-checked against SortedPRO.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .core import Outcome, OutcomeKind
from .errors import EXIT_USAGE, DeskError

PENDING = "pending"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
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
);
CREATE INDEX IF NOT EXISTS attempts_reference ON attempts(reference);
CREATE INDEX IF NOT EXISTS attempts_started ON attempts(started_at);
CREATE INDEX IF NOT EXISTS attempts_outcome ON attempts(outcome);
"""

CSV_COLUMNS = (
    "id", "started_at", "finished_at", "workstation", "environment", "reference", "group_code", "outcome",
    "recovered", "carrier_name", "service_name", "service_reference", "tracking", "message", "server_message",
    "server_code", "correlation_id", "http_status", "duration_ms", "resolved_at", "resolution", "raw_scan",
)


class HistoryError(DeskError):
    """The history could not be read or written; plain words (exit code 2: the desk is not ready to record)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class HistoryRow:
    id: int
    started_at: datetime
    finished_at: datetime | None
    workstation: str
    environment: str
    raw_scan: str
    reference: str | None
    group_code: str
    outcome: str
    recovered: bool
    carrier_name: str | None
    carrier_reference: str | None
    service_name: str | None
    service_reference: str | None
    tracking: tuple[str, ...]
    message: str
    server_message: str | None
    server_code: str | None
    correlation_id: str | None
    http_status: int | None
    duration_ms: float | None
    resolved_at: datetime | None
    resolution: str | None

    @property
    def kind(self) -> OutcomeKind | None:
        try:
            return OutcomeKind(self.outcome)
        except ValueError:
            return None

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        for key in ("started_at", "finished_at", "resolved_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["tracking"] = list(self.tracking)
        return data


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds") if dt else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _friendly(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc)
    if "full" in text.lower():
        return f"The disk is full: the scan history ({path}) cannot be written. Free some space."
    if "locked" in text.lower() or "busy" in text.lower():
        return "The scan history is busy (another program has it open). Try again."
    if "readonly" in text.lower() or "read-only" in text.lower():
        return f"The scan history ({path}) is read-only: check the folder's permissions."
    return f"The scan history ({path}) could not be used: {text}."


class History:
    """Thread-safe (one connection, one lock): workers record while the GUI reads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=5.0,
                                       isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: an attempt written is on disk before the request goes out (audit trail).
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            msg = _friendly(exc, self.path) if isinstance(exc, sqlite3.Error) else \
                f"The scan history ({self.path}) could not be opened: {exc.strerror or exc}."
            raise HistoryError(msg) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._db.execute(sql, params)
            except sqlite3.Error as exc:
                raise HistoryError(_friendly(exc, self.path)) from None

    # -- writing
    def begin(self, raw_scan: str, reference: str | None, group: str, *, workstation: str = "",
              environment: str = "", started_at: datetime | None = None) -> int:
        """Record that a scan is about to be sent; returns the row id to :meth:`finish`."""
        cur = self._execute(
            "INSERT INTO attempts (started_at, workstation, environment, raw_scan, reference, group_code, outcome)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_iso(started_at or datetime.now(UTC)), workstation, environment, raw_scan[:200], reference, group,
             PENDING),
        )
        return int(cur.lastrowid)

    def finish(self, row_id: int, outcome: Outcome) -> None:
        self._execute(
            "UPDATE attempts SET finished_at=?, reference=COALESCE(?, reference), outcome=?, recovered=?,"
            " carrier_name=?, carrier_reference=?, service_name=?, service_reference=?, tracking=?, message=?,"
            " server_message=?, server_code=?, correlation_id=?, http_status=?, duration_ms=? WHERE id=?",
            (_iso(datetime.now(UTC)), outcome.reference, outcome.kind.value, int(outcome.recovered),
             outcome.carrier_name, outcome.carrier_reference, outcome.service_name, outcome.service_reference,
             " ".join(outcome.tracking_references), outcome.message, outcome.server_message, outcome.server_code,
             outcome.correlation_id, outcome.http_status, round(outcome.duration_ms, 1), row_id),
        )

    def record(self, outcome: Outcome, *, workstation: str = "", environment: str = "") -> int:
        """Begin + finish in one go (for outcomes that never went to the network)."""
        row_id = self.begin(outcome.raw_scan, outcome.reference, outcome.group, workstation=workstation,
                            environment=environment, started_at=outcome.started_at)
        self.finish(row_id, outcome)
        return row_id

    def resolve(self, row_id: int, outcome: Outcome) -> None:
        """An in-doubt row re-checked: keep the original attempt, note what the server holds."""
        self._execute(
            "UPDATE attempts SET outcome=?, recovered=?, carrier_name=?, carrier_reference=?, service_name=?,"
            " service_reference=?, tracking=?, resolved_at=?, resolution=? WHERE id=?",
            (outcome.kind.value, int(outcome.recovered or outcome.ok), outcome.carrier_name,
             outcome.carrier_reference, outcome.service_name, outcome.service_reference,
             " ".join(outcome.tracking_references), _iso(datetime.now(UTC)), outcome.message, row_id),
        )

    def mark_interrupted(self) -> int:
        """Rows left ``pending`` by a desk that stopped mid-flight become ``in_doubt``."""
        cur = self._execute(
            "UPDATE attempts SET outcome=?, finished_at=?, message=? WHERE outcome=?",
            (OutcomeKind.IN_DOUBT.value, _iso(datetime.now(UTC)),
             "The desk stopped before SortedPRO's answer arrived; check whether it was allocated.", PENDING),
        )
        return cur.rowcount

    # -- reading
    def get(self, row_id: int) -> HistoryRow | None:
        rows = self._rows("SELECT * FROM attempts WHERE id=?", (row_id,))
        return rows[0] if rows else None

    def search(self, text: str = "", *, outcomes: Iterable[str] | None = None, since: datetime | None = None,
               until: datetime | None = None, limit: int | None = 500, offset: int = 0) -> list[HistoryRow]:
        """Newest first. ``text`` matches reference, raw scan, tracking or group (case-insensitive)."""
        where, params = self._where(text, outcomes, since, until)
        sql = f"SELECT * FROM attempts {where} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        return self._rows(sql, params)

    def count(self, text: str = "", *, outcomes: Iterable[str] | None = None, since: datetime | None = None,
              until: datetime | None = None) -> int:
        where, params = self._where(text, outcomes, since, until)
        with self._lock:
            try:
                return int(self._db.execute(f"SELECT COUNT(*) FROM attempts {where}", params).fetchone()[0])
            except sqlite3.Error as exc:
                raise HistoryError(_friendly(exc, self.path)) from None

    def in_doubt(self) -> list[HistoryRow]:
        return self.search(outcomes=[OutcomeKind.IN_DOUBT.value], limit=None)

    def _where(self, text: str, outcomes: Iterable[str] | None, since: datetime | None,
               until: datetime | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        text = text.strip()
        if text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("(reference LIKE ? ESCAPE '\\' OR raw_scan LIKE ? ESCAPE '\\' OR tracking LIKE ? ESCAPE '\\'"
                           " OR group_code LIKE ? ESCAPE '\\')")
            params += [like] * 4
        outcomes = list(outcomes or [])
        if outcomes:
            clauses.append(f"outcome IN ({', '.join('?' * len(outcomes))})")
            params += outcomes
        if since:
            clauses.append("started_at >= ?")
            params.append(_iso(since))
        if until:
            clauses.append("started_at < ?")
            params.append(_iso(until))
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _rows(self, sql: str, params: Sequence[Any]) -> list[HistoryRow]:
        with self._lock:
            try:
                fetched = self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise HistoryError(_friendly(exc, self.path)) from None
        return [_row(r) for r in fetched]

    # -- export
    def export_csv(self, rows: Iterable[HistoryRow], target: Path | str | io.TextIOBase) -> int:
        """Write rows as CSV (UTF-8 with BOM for spreadsheet programs); returns the count."""
        if isinstance(target, (str, Path)):
            path = Path(target)
            tmp = path.with_name(path.name + ".part")
            try:
                with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
                    count = write_csv(rows, fh)
                tmp.replace(path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise HistoryError(f"Could not write {path}: {exc.strerror or exc}.") from None
            return count
        return write_csv(rows, target)


def write_csv(rows: Iterable[HistoryRow], fh: Any) -> int:
    writer = csv.writer(fh)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        data = row.as_dict()
        data["tracking"] = " ".join(row.tracking)
        writer.writerow([_csv_safe(data[c]) for c in CSV_COLUMNS])
        count += 1
    return count


def _csv_safe(value: Any) -> Any:
    # A scanned "=cmd|..." must not become a formula when the export is opened in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(value):
        return "'" + value
    return "" if value is None else value


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _row(r: sqlite3.Row) -> HistoryRow:
    return HistoryRow(
        id=r["id"], started_at=_dt(r["started_at"]) or datetime.now(UTC), finished_at=_dt(r["finished_at"]),
        workstation=r["workstation"], environment=r["environment"], raw_scan=r["raw_scan"],
        reference=r["reference"], group_code=r["group_code"], outcome=r["outcome"], recovered=bool(r["recovered"]),
        carrier_name=r["carrier_name"], carrier_reference=r["carrier_reference"], service_name=r["service_name"],
        service_reference=r["service_reference"], tracking=tuple(r["tracking"].split()) if r["tracking"] else (),
        message=r["message"], server_message=r["server_message"], server_code=r["server_code"],
        correlation_id=r["correlation_id"], http_status=r["http_status"], duration_ms=r["duration_ms"],
        resolved_at=_dt(r["resolved_at"]), resolution=r["resolution"],
    )
