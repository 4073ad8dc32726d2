"""The audit history: every scan attempt, in SQLite (WAL, fsync'd), searchable and exportable.

A scan is written *before* it is sent (outcome ``pending``, with the process id and host that
own it) and updated when it ends, so a desk that is killed mid-flight still knows which scans it
had sent: on the next open the rows whose process is gone become ``in_doubt`` and can be
re-checked against SortedPRO. Schema versions, upgrades and damaged files: ``history_schema``.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import history_schema as schema
from .core import Outcome, OutcomeKind
from .errors import EXIT_USAGE, DeskError

PENDING = "pending"
LABEL_PRINTED, LABEL_NOT_PRINTED = "printed", "not_printed"  # label_status values

CSV_COLUMNS = (
    "id", "started_at", "finished_at", "workstation", "environment", "reference", "group_code", "outcome",
    "recovered", "carrier_name", "service_name", "service_reference", "tracking", "message", "server_message",
    "server_code", "correlation_id", "http_status", "duration_ms", "resolved_at", "resolution", "raw_scan",
    # version 2 (appended: spreadsheets keyed on the old columns keep working)
    "action", "batch_id", "undoes_id", "undone_by_id", "label_status", "label_printer", "label_format", "label_at",
    "label_error", "price_net", "price_gross", "price_currency", "expected_delivery",
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
    # version 2: defaults so rows built by hand (tests, older callers) still work
    pid: int | None = None
    host: str | None = None
    action: str = "allocate"
    undoes_id: int | None = None
    undone_by_id: int | None = None
    batch_id: str | None = None
    label_status: str | None = None
    label_printer: str | None = None
    label_format: str | None = None
    label_at: datetime | None = None
    label_error: str | None = None
    price_net: float | None = None
    price_gross: float | None = None
    price_currency: str | None = None
    expected_delivery: str | None = None

    @property
    def kind(self) -> OutcomeKind | None:
        try:
            return OutcomeKind(self.outcome)
        except ValueError:
            return None

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        data["tracking"] = list(self.tracking)
        return data


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds") if dt else None


def _dt(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):  # a value edited by hand: unknown, not a crash
        return None


def _friendly(exc: sqlite3.Error, path: Path) -> str:
    return schema.plain_words(exc, path)


class History:
    """Thread-safe (one connection, one lock): workers record while the GUI reads.

    ``notice`` holds plain words for the operator when opening had to do something they should
    know about (a damaged or empty file kept aside and a new one started, an upgrade);
    ``recovered_from`` is where the damaged file went.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.notice: str | None = None
        self.recovered_from: Path | None = None
        self.backup: Path | None = None
        self.upgraded_from: int | None = None
        try:
            opened = schema.open_history(path)
        except schema.NewerHistory as exc:
            raise HistoryError(
                f"The scan history ({self.path}) was written by a newer Despatch Desk (history version "
                f"{exc.version}; this one knows up to {schema.LATEST_VERSION}). Install the newer version; "
                "the history was not changed.") from None
        except sqlite3.Error as exc:
            raise HistoryError(_friendly(exc, self.path)) from None
        except OSError as exc:
            raise HistoryError(f"The scan history ({self.path}) could not be opened: {exc.strerror or exc}.") from None
        self._db = opened.db
        self.notice, self.recovered_from = opened.notice, opened.recovered_from
        self.backup, self.upgraded_from = opened.backup, opened.upgraded_from

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        params = [_storable(p) for p in params]
        with self._lock:
            try:
                return self._db.execute(sql, params)
            except sqlite3.Error as exc:
                raise HistoryError(_friendly(exc, self.path)) from None

    # -- writing
    def begin(self, raw_scan: str, reference: str | None, group: str, *, workstation: str = "",
              environment: str = "", started_at: datetime | None = None, action: str = "allocate",
              batch_id: str | None = None, undoes_id: int | None = None) -> int:
        """Record that a scan is about to be sent; returns the row id to :meth:`finish`.

        The row carries this process's id and host name, so another desk opening the history
        knows the row is still being worked on (see :meth:`mark_interrupted`)."""
        cur = self._execute(
            "INSERT INTO attempts (started_at, workstation, environment, raw_scan, reference, group_code, outcome,"
            " pid, host, action, batch_id, undoes_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_iso(started_at or datetime.now(UTC)), workstation, environment, raw_scan[:200], reference, group,
             PENDING, os.getpid(), schema.current_host(), action, batch_id, undoes_id),
        )
        return int(cur.lastrowid)

    def finish(self, row_id: int, outcome: Outcome) -> None:
        if _not_recorded(outcome):
            return  # "nothing was sent because nothing could be written": never a row of its own
        self._execute(
            "UPDATE attempts SET finished_at=?, reference=COALESCE(?, reference), outcome=?, recovered=?,"
            " carrier_name=?, carrier_reference=?, service_name=?, service_reference=?, tracking=?, message=?,"
            " server_message=?, server_code=?, correlation_id=?, http_status=?, duration_ms=? WHERE id=?",
            (_iso(datetime.now(UTC)), outcome.reference, outcome.kind.value, int(outcome.recovered),
             outcome.carrier_name, outcome.carrier_reference, outcome.service_name, outcome.service_reference,
             " ".join(outcome.tracking_references), outcome.message, outcome.server_message, outcome.server_code,
             outcome.correlation_id, outcome.http_status, round(outcome.duration_ms, 1), row_id),
        )

    def record(self, outcome: Outcome, *, workstation: str = "", environment: str = "") -> int | None:
        """Begin + finish in one go (for outcomes that never went to the network); None for ``not_recorded``."""
        if _not_recorded(outcome):
            return None
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

    def record_label(self, row_id: int, *, printed: bool, printer: str, fmt: str, error: str | None = None,
                     at: datetime | None = None) -> None:
        """What became of a row's label: ``printed`` (the bytes were handed to ``printer``) or why not.

        ``printer`` is the URI without credentials and ``error`` plain words: neither may hold a key.
        A reprint writes over the previous attempt's columns: the row keeps the latest word."""
        self._execute(
            "UPDATE attempts SET label_status=?, label_printer=?, label_format=?, label_at=?, label_error=? WHERE id=?",
            (LABEL_PRINTED if printed else LABEL_NOT_PRINTED, printer[:300], fmt[:20],
             _iso(at or datetime.now(UTC)), None if printed else (error or "")[:500], row_id),
        )

    def mark_undone(self, row_id: int, undo_row_id: int) -> None:
        """The allocation row ``row_id`` was undone by the deallocate row ``undo_row_id``."""
        self._execute("UPDATE attempts SET undone_by_id=? WHERE id=?", (undo_row_id, row_id))

    def record_details(self, row_id: int, *, price_net: float | None, price_gross: float | None,
                       price_currency: str | None, expected_delivery: str | None) -> None:
        """Price and expected delivery fetched after the allocation (a follow-up); None keeps what is there."""
        self._execute(
            "UPDATE attempts SET price_net=COALESCE(?, price_net), price_gross=COALESCE(?, price_gross),"
            " price_currency=COALESCE(?, price_currency), expected_delivery=COALESCE(?, expected_delivery) WHERE id=?",
            (price_net, price_gross, price_currency, expected_delivery, row_id))

    def last_undoable(self) -> HistoryRow | None:
        """The newest allocation on this desk that has not been undone (what "Undo last allocation" means)."""
        rows = self._rows("SELECT * FROM attempts WHERE action='allocate' AND outcome=? AND undone_by_id IS NULL"
                          " ORDER BY id DESC LIMIT 1", (OutcomeKind.ALLOCATED.value,))
        return rows[0] if rows else None

    def latest_allocated(self, reference: str) -> HistoryRow | None:
        """The newest row that allocated ``reference`` (its label is recorded there), or None."""
        rows = self._rows("SELECT * FROM attempts WHERE reference=? AND outcome=? ORDER BY id DESC LIMIT 1",
                          (reference, OutcomeKind.ALLOCATED.value))
        return rows[0] if rows else None

    def mark_interrupted(self) -> int:
        """Rows left ``pending`` by a desk that stopped mid-flight become ``in_doubt``.

        Only rows whose own process is gone: a row with no pid (written before version 2), or
        written on this host by a process that no longer runs. A live desk's pending row (the
        window allocating while ``despatch-desk history`` runs) is left alone, and so are rows
        of another host sharing the file: that host's desk judges its own rows."""
        host = schema.current_host()
        with self._lock:
            try:
                pending = self._db.execute("SELECT id, pid, host, started_at FROM attempts WHERE outcome=?",
                                           (PENDING,)).fetchall()
            except sqlite3.Error as exc:
                raise HistoryError(_friendly(exc, self.path)) from None
        orphans = [r["id"] for r in pending
                   if r["pid"] is None or (r["host"] in (None, host) and not _owner_alive(r["pid"], r["started_at"]))]
        marked = 0
        for row_id in orphans:
            cur = self._execute(
                "UPDATE attempts SET outcome=?, finished_at=?, message=? WHERE id=? AND outcome=?",
                (OutcomeKind.IN_DOUBT.value, _iso(datetime.now(UTC)),
                 "The desk stopped before SortedPRO's answer arrived; check whether it was allocated.", row_id,
                 PENDING),
            )
            marked += cur.rowcount
        return marked

    def unresolved_for(self, reference: str) -> list[HistoryRow]:
        """Rows of this reference still ``pending`` or ``in_doubt`` and not resolved, newest first."""
        return self._rows(
            "SELECT * FROM attempts WHERE reference=? AND outcome IN (?, ?) AND resolved_at IS NULL ORDER BY id DESC",
            (reference, PENDING, OutcomeKind.IN_DOUBT.value))

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


# A process that started this long after a row was written is not its owner but a reused pid
# (generous: clocks read from /proc are only good to a second or so).
_PID_REUSE_MARGIN = timedelta(seconds=30)


def _owner_alive(pid: Any, started_at: str | None) -> bool:
    if not isinstance(pid, int) or not schema.process_alive(pid):
        return False
    row_started, process_started = _dt(started_at), schema.process_started_at(pid)
    if row_started is None or process_started is None:
        return True  # cannot tell: a live process keeps its row
    return process_started <= row_started + _PID_REUSE_MARGIN


def _storable(value: Any) -> Any:
    """Text SQLite can store: a lone surrogate (bytes that were not UTF-8) becomes U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "".join(ch if not 0xD800 <= ord(ch) <= 0xDFFF else "\ufffd" for ch in value)
    return value


def _not_recorded(outcome: Outcome) -> bool:
    return outcome.kind.value == "not_recorded"


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


def _tracking(text: str | None) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


# How a column's stored value becomes the HistoryRow field of the same name; the rest are as stored.
_CONVERT: dict[str, Any] = {
    "started_at": lambda v: _dt(v) or datetime.fromtimestamp(0, UTC),  # unknown: never pretend "now"
    "finished_at": _dt, "resolved_at": _dt, "label_at": _dt,
    "recovered": bool,
    "tracking": _tracking,
    "action": lambda v: v or "allocate",
}
_FIELDS = tuple(f.name for f in fields(HistoryRow))


def _row(r: sqlite3.Row) -> HistoryRow:
    """Mapped by column name, so a new column is one field in HistoryRow (and one migration)."""
    present = set(r.keys())
    values = {}
    for name in _FIELDS:
        if name in present:
            value = r[name]
            convert = _CONVERT.get(name)
            values[name] = convert(value) if convert else value
    return HistoryRow(**values)
