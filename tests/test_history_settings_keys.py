"""History (SQLite), settings file and keyring handling: the parts that must never lose anything."""

import csv
import io
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest

from despatch_desk.core import Outcome, OutcomeKind
from despatch_desk.credentials import CredentialError, KeyStore, check_key_format
from despatch_desk.history import History, HistoryError
from despatch_desk.settings import ServiceGroupConfig, Settings, SettingsError, SettingsStore


def _outcome(kind=OutcomeKind.ALLOCATED, ref="EC-000-05B-MMA", **kw):
    return Outcome(kind, ref, "nextDay", f"{ref} {kind.value}", raw_scan=kw.pop("raw", ref), **kw)


# ---------------------------------------------------------------- history

def test_attempt_is_on_disk_before_it_is_sent_and_survives_a_kill(paths):
    # A real desk process writes a pending row and is killed before it can finish it.
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from despatch_desk.history import History\n"
         "h = History(sys.argv[1]); print(h.begin('ec-000-05b-mma', 'EC-000-05B-MMA', 'nextDay', workstation='bench-1',"
         " environment='https://x'), flush=True); sys.stdin.read()", str(paths.history_file)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_child_env())
    row = int(child.stdout.readline())
    # A second connection (another process) sees the pending row while the desk still runs.
    other = sqlite3.connect(paths.history_file)
    assert other.execute("SELECT outcome FROM attempts WHERE id=?", (row,)).fetchone() == ("pending",)
    other.close()
    child.kill()
    child.wait(timeout=30)
    h2 = History(paths.history_file)  # the desk restarts without finishing
    assert h2.mark_interrupted() == 1
    assert h2.get(row).outcome == "in_doubt" and "stopped" in h2.get(row).message
    assert [r.id for r in h2.in_doubt()] == [row]
    mode = h2._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def _child_env():
    return dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "app"))


def test_finish_resolve_search_and_filters(paths):
    h = History(paths.history_file)
    a = h.record(_outcome(carrier_name="Swift", service_name="Next Day", tracking_references=("T1", "T2")),
                 workstation="w1")
    b = h.record(_outcome(OutcomeKind.IN_DOUBT, "EC-111-222-333"))
    h.record(_outcome(OutcomeKind.INVALID_REFERENCE, None, raw="junk"))
    assert h.get(a).tracking == ("T1", "T2") and h.get(a).workstation == "w1"
    assert [r.id for r in h.search("ec-111")] == [b]
    assert [r.id for r in h.search("T2")] == [a]
    assert h.count(outcomes=["in_doubt"]) == 1
    assert h.count(since=datetime.now(UTC) + timedelta(hours=1)) == 0
    assert h.count(until=datetime.now(UTC) + timedelta(hours=1)) == 3
    assert h.search("%") == []  # LIKE wildcards are literal
    h.resolve(b, _outcome(OutcomeKind.ALLOCATED, "EC-111-222-333", recovered=True, service_name="Economy"))
    row = h.get(b)
    assert row.outcome == "allocated" and row.recovered and row.resolved_at and row.service_name == "Economy"


def test_csv_export_neutralises_formulas(paths, tmp_path):
    h = History(paths.history_file)
    h.record(_outcome(OutcomeKind.INVALID_REFERENCE, None, raw='=HYPERLINK("http://evil","x")'))
    target = tmp_path / "out.csv"
    assert h.export_csv(h.search(), target) == 1
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows[0]["raw_scan"].startswith("'=")


def test_unwritable_history_gives_plain_words(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HistoryError) as caught:
        History(blocker / "history.sqlite3")
    assert "could not be opened" in str(caught.value)


def test_full_disk_is_reported_plainly(paths):
    h = History(paths.history_file)
    h._db.execute("PRAGMA max_page_count = 1")  # emulate a full disk: no page can be added
    with pytest.raises(HistoryError) as caught:
        for i in range(200):
            h.begin("x" * 200, None, "g")
    assert "disk is full" in str(caught.value)


# ---------------------------------------------------------------- settings

def test_settings_round_trip_and_damaged_file(paths):
    store = SettingsStore(paths)
    s = store.load()
    s.environment, s.workstation = "sandbox", "bench-7"
    s.service_groups = [ServiceGroupConfig("nextDay", "Next day"), ServiceGroupConfig("economy")]
    store.save(s)
    loaded = SettingsStore(paths).load()
    assert loaded.environment == "sandbox" and loaded.workstation == "bench-7"
    assert [g.code for g in loaded.service_groups] == ["nextDay", "economy"]
    assert loaded.api_base_url == "https://apisandbox.electioapp.com"
    paths.settings_file.write_text("{not json")
    store = SettingsStore(paths)
    damaged = store.load()
    assert damaged == Settings(workstation=damaged.workstation) and damaged.environment_unconfirmed
    assert "damaged" in store.load_warning
    assert store.damaged_copy.read_text() == "{not json"


def test_settings_tolerate_wrong_types_and_validate(paths):
    s = Settings.from_json({"environment": 3, "sounds": "yes", "read_timeout_s": "x", "max_parallel": 6,
                            "service_groups": [{"code": "a b"}, {"name": "no code"}, "junk"]})
    assert s.environment == "production" and s.sounds is True and s.max_parallel == 6
    assert [g.code for g in s.service_groups] == ["a b"]
    assert any("one word" in p for p in s.validate())
    s.environment, s.custom_url = "custom", "http://example.com"
    assert any("plain http" in p for p in s.validate())


def test_env_overrides_url(monkeypatch):
    monkeypatch.setenv("DESPATCH_DESK_API_URL", "http://127.0.0.1:9/")
    assert Settings().api_base_url == "http://127.0.0.1:9"
    assert Settings().environment_label == "custom"


def test_settings_save_failure_is_plain(paths, monkeypatch):
    paths.config_dir.parent.mkdir(parents=True, exist_ok=True)
    paths.config_dir.write_text("a file where the folder should be")
    with pytest.raises(SettingsError) as caught:
        SettingsStore(paths).save(Settings())
    assert "Could not save settings" in str(caught.value)


# ---------------------------------------------------------------- keyring

ORIGIN = "https://api.electioapp.com"


def test_key_round_trip_in_memory(memory_keyring):
    store = KeyStore()
    store.set(ORIGIN, "  abc123  ")
    assert memory_keyring.secrets[("despatch-desk", ORIGIN)] == "abc123"
    assert store.get(ORIGIN) == "abc123"
    assert store.status(ORIGIN).source == "keyring"
    assert store.delete(ORIGIN) and not store.delete(ORIGIN)
    assert store.get(ORIGIN) is None


def test_environment_key_wins(monkeypatch):
    monkeypatch.setenv("DESPATCH_DESK_API_KEY", "from-env")
    assert KeyStore().get(ORIGIN) == "from-env"
    assert KeyStore().status(ORIGIN).source == "environment"


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring()])
def test_unusable_backends_are_refused(backend):
    store = KeyStore(backend)
    with pytest.raises(CredentialError) as caught:
        store.set(ORIGIN, "abc")
    assert "no secure key storage" in str(caught.value)
    assert "no secure key storage" in store.status(ORIGIN).problem


class LockedKeyring(keyring.backends.null.Keyring):
    priority = 1

    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service, username, password):
        raise keyring.errors.KeyringLocked("locked")


class ForgetfulKeyring(keyring.backends.null.Keyring):
    priority = 1

    def set_password(self, service, username, password):
        pass


def test_locked_and_forgetful_keyrings():
    with pytest.raises(CredentialError, match="locked"):
        KeyStore(LockedKeyring()).get(ORIGIN)
    with pytest.raises(CredentialError, match="locked"):
        KeyStore(LockedKeyring()).set(ORIGIN, "abc")
    with pytest.raises(CredentialError, match="did not keep it"):
        KeyStore(ForgetfulKeyring()).set(ORIGIN, "abc")


def test_key_format_checks():
    assert check_key_format(" k3y\n") == "k3y"
    for bad in ("", "a b", "x" * 2000, "ab\x00c"):
        with pytest.raises(CredentialError):
            check_key_format(bad)


def test_auto_submit_pause_bounds():
    assert Settings().auto_submit_ms == 300 and not Settings().validate()
    assert not Settings(auto_submit_ms=0).validate()
    assert any("pause" in p for p in Settings(auto_submit_ms=50).validate())
    assert Settings.from_json({"auto_submit_ms": 0}).auto_submit_ms == 0


SECRET = "0123456789abcdef"  # a pasted key: 16 characters, then an invisible one, then more


@pytest.mark.parametrize("pasted, words", [
    (SECRET + "\u200b" + "9876", "invisible character (U+200B, zero width space) at position 17"),
    ("\ufeff" + SECRET, "invisible character (U+FEFF"),
    (SECRET[:4] + " " + SECRET[4:], "a space at position 5"),
    (SECRET[:8] + "\u00a0" + SECRET[8:], "space-like character (U+00A0, no-break space) at position 9"),
    (SECRET + "é", "not plain ASCII (U+00E9) at position 17"),
    (SECRET + "\x07", "control or undefined character (U+0007)"),
    (SECRET + "\u200e\u200e", "and 1 more"),
])
def test_validate_key_names_the_character_and_position_never_the_key(pasted, words):
    from despatch_desk.credentials import validate_key

    problem = validate_key(pasted)
    assert problem and words in problem
    assert SECRET not in problem and SECRET[:8] not in problem
    assert validate_key("  " + SECRET + "\r\n") is None  # copy-and-paste spaces around it are fine


def test_keystore_set_refuses_an_invisible_character(memory_keyring):
    with pytest.raises(CredentialError) as caught:
        KeyStore().set(ORIGIN, SECRET + "\u200b9876")
    assert "U+200B" in caught.value.message and "position 17" in caught.value.message
    assert caught.value.exit_code == 3 and SECRET not in str(caught.value)
    assert memory_keyring.secrets == {}


def test_key_from_environment_with_an_invisible_character_is_a_key_problem(monkeypatch):
    monkeypatch.setenv("DESPATCH_DESK_API_KEY", SECRET + "\u200b")
    with pytest.raises(CredentialError) as caught:
        KeyStore().get(ORIGIN)
    assert "DESPATCH_DESK_API_KEY" in caught.value.message and "U+200B" in caught.value.message
    assert caught.value.exit_code == 3 and SECRET not in caught.value.message
    status = KeyStore().status(ORIGIN)
    assert status.source == "environment" and "U+200B" in status.problem


def test_a_bad_key_stored_by_an_older_version_is_reported(memory_keyring):
    memory_keyring.secrets[("despatch-desk", ORIGIN)] = SECRET + "\u200b"
    with pytest.raises(CredentialError, match="Store it again") as caught:
        KeyStore().get(ORIGIN)
    assert SECRET not in caught.value.message


def test_errors_share_the_desk_error_base():
    from despatch_desk.errors import DeskError, exit_code
    from despatch_desk.settings import SettingsError

    assert exit_code(CredentialError("x")) == 3 and exit_code(HistoryError("x")) == 2
    assert exit_code(SettingsError("x")) == 2
    assert all(issubclass(c, DeskError) for c in (CredentialError, HistoryError, SettingsError))
