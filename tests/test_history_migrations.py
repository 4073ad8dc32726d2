"""History files as they meet a desk in the field: old, newer, damaged, empty, full, read-only, shared."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import shutil
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from despatch_desk import history_schema
from despatch_desk.core import Outcome, OutcomeKind
from despatch_desk.errors import EXIT_USAGE, DeskError
from despatch_desk.history import History, HistoryError, HistoryRow

APP = Path(__file__).resolve().parents[1] / "app"

# The history schema exactly as the desk wrote it before versions existed (user_version stayed 0).
V1_DDL = """
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

V2_COLUMNS = {"pid", "host", "action", "undoes_id", "undone_by_id", "batch_id", "label_status", "label_printer",
              "label_format", "label_at", "label_error", "price_net", "price_gross", "price_currency",
              "expected_delivery"}


def _v1_file(path: Path, *, user_version: int = 0, extra_sql: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(V1_DDL + extra_sql)
    db.execute("PRAGMA journal_mode=WAL")
    db.executemany(
        "INSERT INTO attempts (started_at, finished_at, workstation, environment, raw_scan, reference, group_code,"
        " outcome, carrier_name, service_name, tracking, message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [("2026-11-30T08:00:00.000+00:00", "2026-11-30T08:00:01.000+00:00", "bench-1", "https://x",
          "EC-000-05B-MMA", "EC-000-05B-MMA", "nextDay", "allocated", "Swift", "Next Day", "T1 T2", "ok"),
         ("2026-11-30T08:01:00.000+00:00", None, "bench-1", "https://x", "EC-111-222-333", "EC-111-222-333",
          "nextDay", "pending", None, None, "", "")])
    if user_version:
        db.execute(f"PRAGMA user_version = {user_version}")
    db.commit()
    db.close()


def _columns(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[1] for r in db.execute("PRAGMA table_info(attempts)")}
    finally:
        db.close()


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def _child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(APP), PYTHONDONTWRITEBYTECODE="1")


# ---------------------------------------------------------------- versions

@pytest.mark.parametrize("stored_version", [0, 1], ids=["unversioned-v1", "user_version-1"])
def test_v1_file_with_rows_is_upgraded_with_a_copy_kept(paths, stored_version):
    _v1_file(paths.history_file, user_version=stored_version)
    h = History(paths.history_file)
    assert h.upgraded_from == 1 and h.backup == paths.history_file.with_name("history.sqlite3.v1-backup")
    assert _user_version(paths.history_file) == history_schema.LATEST_VERSION == 2
    assert V2_COLUMNS <= _columns(paths.history_file)
    # The rows are kept, field by field, and the new columns read as their defaults.
    rows = {r.reference: r for r in h.search()}
    old = rows["EC-000-05B-MMA"]
    assert (old.outcome, old.carrier_name, old.tracking, old.workstation) == ("allocated", "Swift", ("T1", "T2"),
                                                                             "bench-1")
    assert old.action == "allocate" and old.pid is None and old.price_net is None
    # The copy is the untouched version-1 file, rows included.
    assert _columns(h.backup).isdisjoint(V2_COLUMNS) and _user_version(h.backup) == stored_version
    backup = sqlite3.connect(h.backup)
    assert backup.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 2
    backup.close()
    # A version-1 pending row has no owner to ask: it is interrupted.
    assert h.mark_interrupted() == 1 and rows["EC-111-222-333"].id in [r.id for r in h.in_doubt()]
    # New rows use the new columns; reopening does not migrate (or copy) again.
    row_id = h.begin("EC-000-DSK-001", "EC-000-DSK-001", "nextDay", batch_id="b-1")
    h.close()
    again = History(paths.history_file)
    assert again.upgraded_from is None and again.backup is None
    assert again.get(row_id).batch_id == "b-1" and again.get(row_id).pid == os.getpid()


def test_a_failing_migration_changes_nothing(paths):
    # A file whose table already has one of version 2's columns: the ALTER fails halfway through the step.
    _v1_file(paths.history_file, extra_sql="ALTER TABLE attempts ADD COLUMN label_status TEXT;")
    before = _columns(paths.history_file)
    with pytest.raises(HistoryError) as caught:
        History(paths.history_file)
    assert "Traceback" not in caught.value.message
    assert _columns(paths.history_file) == before and "pid" not in before  # the earlier ALTERs rolled back
    assert _user_version(paths.history_file) == 0
    assert paths.history_file.with_name("history.sqlite3.v1-backup").exists()


def test_a_newer_file_is_refused_and_not_touched(paths):
    _v1_file(paths.history_file, user_version=7)
    digest = hashlib.sha256(paths.history_file.read_bytes()).hexdigest()
    with pytest.raises(HistoryError) as caught:
        History(paths.history_file)
    assert "newer Despatch Desk" in caught.value.message and "version 7" in caught.value.message
    assert isinstance(caught.value, DeskError) and caught.value.exit_code == EXIT_USAGE
    assert hashlib.sha256(paths.history_file.read_bytes()).hexdigest() == digest
    assert _user_version(paths.history_file) == 7


def test_history_row_maps_every_column_by_name(paths):
    h = History(paths.history_file)
    assert set(history_schema.columns(h._db)) == {f.name for f in fields(HistoryRow)}


# ---------------------------------------------------------------- damaged and empty files

def test_a_file_that_is_not_a_database_is_kept_aside_and_a_new_history_works(paths):
    paths.history_file.parent.mkdir(parents=True)
    junk = b"this is not a database, it is a spreadsheet someone saved over it\n" * 200
    paths.history_file.write_bytes(junk)
    h = History(paths.history_file)
    assert h.recovered_from is not None and h.recovered_from.name.startswith("history.sqlite3.corrupt-")
    assert h.recovered_from.read_bytes() == junk
    assert "damaged" in h.notice and h.recovered_from.name in h.notice
    row = h.record(Outcome(OutcomeKind.ALLOCATED, "EC-000-05B-MMA", "nextDay", "ok"))
    assert h.get(row).outcome == "allocated" and _user_version(paths.history_file) == 2


def test_a_malformed_database_is_kept_aside(paths):
    h = History(paths.history_file)
    h._db.execute("BEGIN")
    for i in range(400):
        h.record(Outcome(OutcomeKind.ALLOCATED, f"EC-000-{i:03d}-AAA", "nextDay", "ok " * 20))
    h._db.execute("COMMIT")
    h.close()  # the last connection checkpoints the WAL into the file
    data = bytearray(paths.history_file.read_bytes())
    assert len(data) > 4096 * 6
    data[4096 * 3:4096 * 5] = b"\xff" * 8192  # two b-tree pages overwritten
    paths.history_file.write_bytes(bytes(data))
    fresh = History(paths.history_file)
    assert fresh.recovered_from and fresh.recovered_from.read_bytes() == bytes(data)
    assert "damaged" in fresh.notice and fresh.count() == 0
    fresh.begin("EC-000-05B-MMA", "EC-000-05B-MMA", "nextDay")
    assert fresh.count() == 1


def test_an_empty_file_is_not_silently_a_new_history(paths):
    paths.history_file.parent.mkdir(parents=True)
    paths.history_file.write_bytes(b"")
    h = History(paths.history_file)
    assert h.recovered_from and h.recovered_from.name.startswith("history.sqlite3.empty-")
    assert h.recovered_from.stat().st_size == 0
    assert "empty" in h.notice and h.recovered_from.name in h.notice
    assert h.count() == 0 and h.begin("x", None, "g") == 1


def test_a_healthy_file_gives_no_notice(paths):
    History(paths.history_file).close()
    h = History(paths.history_file)
    assert h.notice is None and h.recovered_from is None
    assert [p.name for p in paths.data_dir.iterdir() if ".corrupt-" in p.name or ".empty-" in p.name] == []


# ---------------------------------------------------------------- full disk, read-only folder

FULL_DISK_CHILD = """
import resource, signal, sys
from despatch_desk.history import History, HistoryError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails (EFBIG) instead of killing us
h = History(sys.argv[1])
h.begin("warm-up", None, "g")
limit = 256 * 1024
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    for i in range(100000):
        h.begin("x" * 200, None, "g")
except HistoryError as exc:
    print("HistoryError:", exc.message, "| exit", exc.exit_code)
else:
    print("no error")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_full_disk_raises_history_error_in_plain_words(paths):
    out = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, str(paths.history_file)], capture_output=True,
                         text=True, env=_child_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("HistoryError: "), out.stdout + out.stderr
    assert "could not be written" in out.stdout or "disk is full" in out.stdout
    assert "| exit 2" in out.stdout and "Traceback" not in out.stdout + out.stderr


READ_ONLY_CHILD = """
import os, sys
from despatch_desk.history import History, HistoryError
if os.geteuid() == 0:   # root ignores permissions: become 'nobody' (a real unprivileged process) once imported
    os.setgid(65534)
    os.setuid(65534)
try:
    h = History(sys.argv[1])
    h.begin("EC-000-05B-MMA", "EC-000-05B-MMA", "nextDay")
except HistoryError as exc:
    print("HistoryError:", exc.message)
else:
    print("written")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_only_folder_raises_history_error_in_plain_words():
    base = Path(tempfile.mkdtemp(prefix="desk-ro-"))
    try:
        os.chmod(base, 0o755)
        folder = base / "data"
        history = folder / "history.sqlite3"
        seed = History(history)
        seed.begin("EC-000-DSK-001", "EC-000-DSK-001", "nextDay")
        seed.close()
        for side in folder.iterdir():
            os.chmod(side, 0o444)
        os.chmod(folder, 0o555)
        out = subprocess.run([sys.executable, "-c", READ_ONLY_CHILD, str(history)], capture_output=True, text=True,
                             env=_child_env(), timeout=60)
        assert out.stdout.startswith("HistoryError: "), out.stdout + out.stderr
        assert "Traceback" not in out.stdout + out.stderr
        assert "read-only" in out.stdout or "could not be opened" in out.stdout
        assert sorted(p.name for p in folder.iterdir()) == ["history.sqlite3"]  # nothing moved aside
    finally:
        os.chmod(base / "data", 0o755)
        shutil.rmtree(base)


# ---------------------------------------------------------------- B8: whose pending row is it?

HOLDER_CHILD = """
import sys
from despatch_desk.history import History
h = History(sys.argv[1])
print(h.begin("EC-000-DSK-005", "EC-000-DSK-005", "nextDay"), flush=True)
sys.stdin.readline()   # a live desk, mid-flight, until the test lets it go
"""


def test_mark_interrupted_spares_a_live_desks_pending_row(paths):
    History(paths.history_file).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER_CHILD, str(paths.history_file)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=_child_env())
    try:
        live_row = int(holder.stdout.readline())
        # A process that has ended: its pending row is an orphan.
        gone = subprocess.run([sys.executable, "-c", "import sys; from despatch_desk.history import History;"
                               "print(History(sys.argv[1]).begin('EC-000-DSK-006', 'EC-000-DSK-006', 'nextDay'))",
                               str(paths.history_file)], capture_output=True, text=True, env=_child_env(), timeout=60)
        gone_row = int(gone.stdout)
        h = History(paths.history_file)
        foreign = h.begin("EC-000-DSK-007", "EC-000-DSK-007", "nextDay")
        h._db.execute("UPDATE attempts SET host='another-bench', pid=1 WHERE id=?", (foreign,))
        assert h.get(live_row).pid == holder.pid and h.get(live_row).host
        assert h.mark_interrupted() == 1
        assert h.get(gone_row).outcome == "in_doubt"
        assert h.get(live_row).outcome == "pending"   # the live desk is still working on it
        assert h.get(foreign).outcome == "pending"    # another host judges its own rows
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert h.mark_interrupted() == 1 and h.get(live_row).outcome == "in_doubt"


def test_process_alive():
    assert history_schema.process_alive(os.getpid())
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert not history_schema.process_alive(int(child.stdout))
    assert not history_schema.process_alive(0) and not history_schema.process_alive(-5)


def test_unresolved_for_lists_pending_and_in_doubt_newest_first(paths):
    h = History(paths.history_file)
    ref = "EC-000-DSK-009"
    old_doubt = h.record(Outcome(OutcomeKind.IN_DOUBT, ref, "nextDay", "?"))
    resolved = h.record(Outcome(OutcomeKind.IN_DOUBT, ref, "nextDay", "?"))
    h.resolve(resolved, Outcome(OutcomeKind.ALLOCATED, ref, "nextDay", "found"))
    h.record(Outcome(OutcomeKind.NOT_ALLOCATED, ref, "nextDay", "no"))
    h.record(Outcome(OutcomeKind.IN_DOUBT, "EC-000-DSK-010", "nextDay", "?"))
    pending = h.begin(ref, ref, "nextDay")
    assert [r.id for r in h.unresolved_for(ref)] == [pending, old_doubt]
    assert h.unresolved_for("EC-999-999-999") == []


def test_not_recorded_outcomes_never_get_a_row(paths):
    h = History(paths.history_file)
    nothing_sent = Outcome(OutcomeKind("not_recorded"), "EC-000-DSK-011", "nextDay", "history unavailable")
    assert h.record(nothing_sent) is None
    assert h.count() == 0


def test_scan_text_that_was_not_utf8_is_stored_not_a_crash(paths):
    h = History(paths.history_file)
    row = h.record(Outcome(OutcomeKind.INVALID_REFERENCE, None, "next\udcffDay", "not a reference",
                           raw_scan="EC-\udcfe\udcff"))
    assert h.get(row).raw_scan == "EC-\ufffd\ufffd" and h.get(row).group_code == "next\ufffdDay"


MIGRATING_CHILD = """
import sys
from despatch_desk.history import History
sys.stdin.readline()   # all start together
h = History(sys.argv[1])
print(h.upgraded_from, h.count(), flush=True)
"""


def test_desks_opening_an_old_file_at_once_migrate_it_once(paths):
    _v1_file(paths.history_file)
    children = [subprocess.Popen([sys.executable, "-c", MIGRATING_CHILD, str(paths.history_file)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=_child_env()) for _ in range(3)]
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    results = [child.communicate(timeout=60) for child in children]
    assert all(child.returncode == 0 for child in children), results
    assert all(out.split()[1] == "2" for out, _err in results)  # every desk sees both rows
    assert _user_version(paths.history_file) == 2 and V2_COLUMNS <= _columns(paths.history_file)
    backups = list(paths.data_dir.glob("history.sqlite3.v1-backup*"))
    assert len(backups) == 1 and _columns(backups[0]).isdisjoint(V2_COLUMNS)  # one copy, of the old file
    assert sorted(out.split()[0] for out, _err in results).count("1") == 1  # one desk migrated it


def test_a_reused_pid_does_not_keep_an_old_row_pending(paths):
    # The row's desk died long ago (a reboot); its pid now belongs to a process that started later.
    h = History(paths.history_file)
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    try:
        started = history_schema.process_started_at(holder.pid)
        if sys.platform.startswith("linux"):
            assert started is not None and abs((datetime.now(UTC) - started).total_seconds()) < 60
        row = h.begin("EC-000-DSK-012", "EC-000-DSK-012", "nextDay", started_at=datetime.now(UTC) - timedelta(hours=3))
        h._db.execute("UPDATE attempts SET pid=? WHERE id=?", (holder.pid, row))
        fresh = h.begin("EC-000-DSK-013", "EC-000-DSK-013", "nextDay")
        h._db.execute("UPDATE attempts SET pid=? WHERE id=?", (holder.pid, fresh))
        expected = 1 if started is not None else 0
        assert h.mark_interrupted() == expected
        assert h.get(row).outcome == ("in_doubt" if started is not None else "pending")
        assert h.get(fresh).outcome == "pending"  # written after the process started: its own
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
