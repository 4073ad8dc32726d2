"""Settings files as people leave them: Notepad encodings, BOMs, damage, silly numbers, old and newer versions."""

from __future__ import annotations

import codecs
import json
import logging
import os

import pytest

from despatch_desk.errors import EXIT_USAGE
from despatch_desk.settings import SANDBOX_URL, ServiceGroupConfig, Settings, SettingsError, SettingsStore


def _write(paths, data, encoding="utf-8", prefix=b""):
    paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    paths.settings_file.write_bytes(prefix + text.encode(encoding))


def _on_disk(paths):
    return json.loads(paths.settings_file.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- encodings

def test_latin1_file_from_notepad_keeps_its_values(paths):
    _write(paths, {"environment": "sandbox", "workstation": "Bänk-Süd", "service_groups": [{"code": "nextDay",
           "name": "Nächster Tag"}]}, encoding="latin-1")
    store = SettingsStore(paths)
    s = store.load()
    assert (s.environment, s.workstation, s.service_groups[0].name) == ("sandbox", "Bänk-Süd", "Nächster Tag")
    assert not s.environment_unconfirmed and store.damaged_copy is None
    assert "not UTF-8" in store.load_warning
    store.save(s.copy(sounds=False))
    assert _on_disk(paths)["workstation"] == "Bänk-Süd"  # saved back as UTF-8


def test_bom_file_is_read_not_reset_to_production(paths):
    _write(paths, {"environment": "sandbox", "workstation": "bench-2"}, prefix=codecs.BOM_UTF8)
    store = SettingsStore(paths)
    s = store.load()
    assert s.environment == "sandbox" and s.api_base_url == SANDBOX_URL and not s.environment_unconfirmed
    assert store.load_warning is None and store.damaged_copy is None


def test_utf16_file_from_notepad_unicode(paths):
    _write(paths, {"environment": "sandbox"}, encoding="utf-16")
    s = SettingsStore(paths).load()
    assert s.environment == "sandbox" and not s.environment_unconfirmed


# ---------------------------------------------------------------- damage

def test_damaged_file_keeps_what_it_can_and_never_switches_the_environment(paths):
    truncated = ('{"environment": "sandbox", "workstation": "bench-7", "sounds": false, '
                 '"service_groups": [{"code": "nextDay", "name": "Next day"}, {"code": "econ')
    _write(paths, truncated)
    store = SettingsStore(paths)
    s = store.load()
    assert s.environment == "sandbox" and not s.environment_unconfirmed and s.api_base_url == SANDBOX_URL
    assert (s.workstation, s.sounds, [g.code for g in s.service_groups]) == ("bench-7", False, ["nextDay"])
    assert "damaged" in store.load_warning and "environment" in store.load_warning
    assert store.damaged_copy.read_text() == truncated
    # Repaired on disk, so the next start does not guess again.
    assert _on_disk(paths)["environment"] == "sandbox"
    again = SettingsStore(paths)
    assert again.load().environment == "sandbox" and again.load_warning is None


def test_damaged_file_without_a_readable_environment_refuses_until_confirmed(paths):
    _write(paths, '{"environ\x00ment": "sandb\x01ox", "workstation": "bench-9", ')
    store = SettingsStore(paths)
    s = store.load()
    assert s.environment_unconfirmed and s.workstation == "bench-9"
    assert "confirm" in s.environment_problem and "confirmed" in store.load_warning
    # Toggling sounds (any ordinary save) is not a confirmation; the flag survives a restart.
    store.save(s.copy(sounds=False))
    reloaded = SettingsStore(paths).load()
    assert reloaded.environment_unconfirmed and reloaded.sounds is False
    # A person choosing the environment is.
    confirmed = SettingsStore(paths)
    confirmed.load()
    confirmed.confirm_environment("sandbox")
    final = SettingsStore(paths).load()
    assert not final.environment_unconfirmed and final.environment == "sandbox" and final.environment_problem is None


def test_unknown_environment_value_must_be_confirmed(paths):
    _write(paths, {"environment": "prod", "workstation": "bench-1"})
    s = SettingsStore(paths).load()
    assert s.environment_unconfirmed and s.environment_problem


def test_explicit_api_address_needs_no_confirmation(paths, monkeypatch):
    _write(paths, "{garbage")
    s = SettingsStore(paths).load()
    assert s.environment_unconfirmed and s.environment_problem
    monkeypatch.setenv("DESPATCH_DESK_API_URL", "http://127.0.0.1:9")
    assert s.environment_problem is None


def test_unreadable_file_leaves_the_environment_unconfirmed(paths):
    paths.settings_file.mkdir(parents=True)  # a folder where the file should be: reading fails
    store = SettingsStore(paths)
    s = store.load()
    assert s.environment_unconfirmed and "Could not read the settings file" in store.load_warning
    with pytest.raises(SettingsError, match="not written over"):
        store.save(s.copy(sounds=False))
    store.save(s.copy(last_group="a"))  # state is apart: a group choice still works
    assert paths.settings_file.is_dir() and json.loads(paths.state_file.read_text())["last_group"] == "a"


@pytest.mark.parametrize("content", ["[]", '"text"', "null", "[" * 100000])
def test_json_that_is_not_an_object_is_damage(paths, content):
    _write(paths, content)
    store = SettingsStore(paths)
    s = store.load()
    assert s.environment_unconfirmed and "damaged" in store.load_warning


# ---------------------------------------------------------------- clamping

def test_numbers_are_clamped_and_every_change_is_logged(paths, caplog):
    _write(paths, '{"environment": "sandbox", "auto_submit_ms": 1e20, "read_timeout_s": NaN, '
                  '"connect_timeout_s": -5, "max_parallel": Infinity, "scan_deadline_s": "45", '
                  '"sounds": "yes", "label_format": "PDF", "workstation": ""}')
    caplog.set_level(logging.WARNING, logger="despatch_desk.settings")
    store = SettingsStore(paths)
    s = store.load()
    assert s.auto_submit_ms == 5000 and isinstance(s.auto_submit_ms, int)
    assert s.read_timeout_s == 30.0 and s.connect_timeout_s == 0.5 and s.max_parallel == 16
    assert s.scan_deadline_s == 45.0 and s.sounds is True and s.label_format == "pdf"
    assert s.workstation == Settings().workstation and s.environment == "sandbox"
    assert not s.validate()  # what was loaded can be saved as it is
    logged = caplog.text
    for name in ("auto_submit_ms", "read_timeout_s", "connect_timeout_s", "max_parallel", "scan_deadline_s",
                 "sounds", "workstation"):
        assert name in logged and any(name in n for n in store.load_notes), name
    store.save(s)
    assert _on_disk(paths)["auto_submit_ms"] == 5000  # and the file is valid JSON (no NaN) again


@pytest.mark.parametrize("name, value, expected", [
    ("scan_deadline_s", 1, 5.0), ("scan_deadline_s", 10000, 600.0), ("auto_submit_ms", -3, 0),
    ("auto_submit_ms", 20, 100), ("max_parallel", 0, 1), ("read_timeout_s", "abc", 30.0),
    ("connect_timeout_s", True, 5.0), ("max_parallel", 6, 6)])
def test_clamp_rules(name, value, expected):
    assert getattr(Settings.from_json({name: value}), name) == expected


def test_validate_covers_new_fields_and_bad_ports():
    assert Settings().scan_deadline_s == 60.0 and Settings().label_format == "zpl" and Settings().auto_print
    assert Settings().printer_uri == "" and Settings().proxy == "system"
    assert any("600" in p for p in Settings(scan_deadline_s=1000).validate())
    assert any("zpl or pdf" in p for p in Settings(label_format="png").validate())
    for url in ("https://api.example.com:99999", "https://api.example.com:abc"):
        assert any("port" in p for p in Settings(environment="custom", custom_url=url).validate()), url


# ---------------------------------------------------------------- versions and state

def test_version_1_file_moves_last_group_to_state(paths):
    _write(paths, {"version": 1, "environment": "sandbox", "last_group": "economy",
                   "service_groups": [{"code": "economy"}]})
    store = SettingsStore(paths)
    s = store.load()
    assert s.last_group == "economy"
    assert json.loads(paths.state_file.read_text())["last_group"] == "economy"
    store.save(s.copy(sounds=False))
    on_disk = _on_disk(paths)
    assert "last_group" not in on_disk and on_disk["version"] == 2 and on_disk["environment"] == "sandbox"
    assert SettingsStore(paths).load().last_group == "economy"


def test_group_choice_writes_only_state_and_without_fsync(paths, monkeypatch):
    store = SettingsStore(paths)
    s = store.load()
    s.service_groups = [ServiceGroupConfig("a"), ServiceGroupConfig("b")]
    store.save(s)
    before = paths.settings_file.stat()
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    for code in ("a", "b", "a", "b"):
        store.save(s.copy(last_group=code))  # what the window does on Ctrl+1 / Ctrl+2
    after = paths.settings_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert json.loads(paths.state_file.read_text())["last_group"] == "b"
    assert synced == []
    assert SettingsStore(paths).load().last_group == "b"


def test_newer_file_is_read_but_never_overwritten(paths):
    newer = {"version": 9, "environment": "sandbox", "workstation": "bench-3", "colour_scheme": "dark"}
    _write(paths, newer)
    store = SettingsStore(paths)
    s = store.load()
    assert s.environment == "sandbox" and s.workstation == "bench-3" and store.newer_version == 9
    assert "newer Despatch Desk" in store.load_warning
    original = paths.settings_file.read_bytes()
    with pytest.raises(SettingsError) as caught:
        store.save(s.copy(sounds=False))
    assert "newer Despatch Desk" in caught.value.message and caught.value.exit_code == EXIT_USAGE
    assert paths.settings_file.read_bytes() == original
    store.save(s.copy(last_group="x"))  # state is separate: a group choice still works
    assert paths.settings_file.read_bytes() == original and json.loads(paths.state_file.read_text())["last_group"] == "x"


# ---------------------------------------------------------------- one atomic update with listeners

def test_update_saves_swaps_a_new_object_and_tells_every_listener(paths, caplog):
    store = SettingsStore(paths)
    first = store.current
    heard: list[tuple[Settings, Settings]] = []

    def broken(old, new):
        raise RuntimeError("listener bug")

    store.subscribe(broken)
    store.subscribe(lambda old, new: heard.append((old, new)))
    new = store.update(lambda s: setattr(s, "max_parallel", 7))
    assert store.current is new and new is not first and first.max_parallel == 4  # the old object is untouched
    assert heard == [(first, new)] and new.max_parallel == 7
    assert _on_disk(paths)["max_parallel"] == 7
    assert "listener bug" in caplog.text
    # Invalid settings: not saved, not swapped, nobody told.
    with pytest.raises(SettingsError, match="Not saved"):
        store.update(lambda s: s.copy(max_parallel=99))
    assert store.current is new and _on_disk(paths)["max_parallel"] == 7 and len(heard) == 1
    # apply() replaces with a given object; unsubscribe stops the calls.
    unsubscribe = store.subscribe(lambda old, new: heard.append(("second", new)))
    store.apply(new.copy(sounds=False))
    assert [h[0] for h in heard[1:]] == [new, "second"]
    unsubscribe()
    store.apply(store.current.copy(sounds=True))
    assert len(heard) == 4 and heard[-1][0] is not None
    assert SettingsStore(paths).load().sounds is True


def test_custom_environment_without_its_address_is_not_production(paths):
    _write(paths, '{"environment": "custom", "custom_url": "https://api.examp')  # cut inside the address
    s = SettingsStore(paths).load()
    assert s.environment == "custom" and s.environment_unconfirmed and s.environment_problem


def test_environment_written_by_hand_in_capitals_is_understood(paths):
    _write(paths, {"environment": " Sandbox "})
    s = SettingsStore(paths).load()
    assert s.environment == "sandbox" and not s.environment_unconfirmed


# ---------------------------------------------------------------- state.json kept apart, edited by hand

def test_state_file_with_hand_edited_group_lists_keeps_what_is_sound(paths):
    from despatch_desk.state import StateStore

    paths.data_dir.mkdir(parents=True)
    paths.state_file.write_text(json.dumps({
        "version": 1, "last_group": "heavy", "printer_tray": 2,  # a newer app's key: kept
        "known_groups": {
            "https://api.electioapp.com": {"fetched_at": "2026-11-30T09:00:00+00:00",
                                           "groups": [{"code": "nextDay", "name": "Next day"}, {"code": ""}, 7,
                                                      {"code": "heavy"}]},
            "https://apisandbox.electioapp.com": "garbage",
            "https://broken.example": {"groups": []},  # no time: not trusted
        }}))
    store = SettingsStore(paths)
    assert store.load().last_group == "heavy"
    state = StateStore(paths.state_file).load()
    assert list(state.known_groups) == ["https://api.electioapp.com"]
    assert state.known_groups["https://api.electioapp.com"].groups == [("nextDay", "Next day"), ("heavy", "")]
    store.update(lambda s: setattr(s, "last_group", "nextDay"))  # a group choice rewrites only last_group
    on_disk = json.loads(paths.state_file.read_text())
    assert on_disk["last_group"] == "nextDay" and on_disk["printer_tray"] == 2
    assert [g["code"] for g in on_disk["known_groups"]["https://api.electioapp.com"]["groups"]] == ["nextDay", "heavy"]


def test_environment_problem_words_name_both_ways_to_confirm(paths):
    _write(paths, {"environment": "Produktion"})
    problem = SettingsStore(paths).load().environment_problem
    assert "open Settings" in problem and "despatch-desk config set environment production" in problem
    assert Settings().environment_problem is None  # a fresh desk: production, confirmed
