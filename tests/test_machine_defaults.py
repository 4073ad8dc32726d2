"""Machine-wide defaults.json (many identical desks) and the Windows installer that places it."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from despatch_desk import machine_defaults
from despatch_desk.settings import Settings, SettingsStore

ISS = Path(__file__).resolve().parents[1] / "installer" / "windows" / "despatch-desk.iss"

IT_DEFAULTS = {
    "environment": "sandbox",
    "service_groups": [{"code": "nextDay", "name": "Next day"}, {"code": "heavy", "name": "Heavy"}],
    "printer_uri": "tcp://10.0.0.5:9100", "label_format": "pdf", "auto_print": False,
    "scan_deadline_s": 45, "max_parallel": 2, "sounds": False,
}


@pytest.fixture
def defaults_file(tmp_path, monkeypatch):
    path = tmp_path / "it" / "defaults.json"
    path.parent.mkdir()
    monkeypatch.setenv("DESPATCH_DESK_DEFAULTS", str(path))

    def write(data):
        path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
        return path
    return write


def _user_file(paths, data):
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())


def test_a_fresh_desk_takes_everything_from_the_machine_defaults_and_is_confirmed(paths, defaults_file):
    path = defaults_file(IT_DEFAULTS)
    store = SettingsStore(paths)
    s = store.load()
    assert s.environment == "sandbox" and s.environment_problem is None  # the IT department chose it
    assert [g.code for g in s.service_groups] == ["nextDay", "heavy"]
    assert (s.printer_uri, s.label_format, s.auto_print, s.scan_deadline_s, s.max_parallel, s.sounds) == (
        "tcp://10.0.0.5:9100", "pdf", False, 45.0, 2, False)
    assert store.load_warning is None and store.machine_defaults_file == path
    sources = store.sources()
    assert sources["environment"] == sources["printer_uri"] == "machine" and sources["read_timeout_s"] == "default"


def test_a_user_value_always_wins_field_by_field(paths, defaults_file):
    defaults_file(IT_DEFAULTS)
    _user_file(paths, {"version": 2, "environment": "production", "sounds": True, "label_format": "zpl"})
    store = SettingsStore(paths)
    s = store.load()
    assert (s.environment, s.sounds, s.label_format) == ("production", True, "zpl")
    assert (s.max_parallel, s.printer_uri) == (2, "tcp://10.0.0.5:9100")  # what the user's file lacks
    assert store.sources()["sounds"] == "user" and store.sources()["max_parallel"] == "machine"


def test_a_save_leaves_machine_values_to_the_machine_so_it_can_change_them_later(paths, defaults_file):
    defaults_file(IT_DEFAULTS)
    store = SettingsStore(paths)
    store.load()
    store.update(lambda s: setattr(s, "read_timeout_s", 20.0))
    on_disk = json.loads(paths.settings_file.read_text())
    assert on_disk["read_timeout_s"] == 20.0 and "max_parallel" not in on_disk and "environment" not in on_disk
    defaults_file({**IT_DEFAULTS, "max_parallel": 6})  # IT changes it for every desk
    s = SettingsStore(paths).load()
    assert (s.max_parallel, s.read_timeout_s, s.environment) == (6, 20.0, "sandbox")


def test_without_machine_defaults_the_environment_is_still_written_so_a_later_file_cannot_switch_it(paths,
                                                                                                   defaults_file):
    store = SettingsStore(paths)
    store.load()
    store.update(lambda s: setattr(s, "sounds", False))
    assert json.loads(paths.settings_file.read_text())["environment"] == "production"
    defaults_file(IT_DEFAULTS)
    assert SettingsStore(paths).load().environment == "production"


@pytest.mark.parametrize("content", [b'{"environment": "sandbox", "sounds": fa', b"\x00\xff\xfe garbage", b"[1, 2]",
                                     b""])
def test_a_damaged_defaults_file_is_reported_and_ignored(paths, defaults_file, content, caplog):
    path = defaults_file(content)
    _user_file(paths, {"version": 2, "environment": "sandbox"})
    store = SettingsStore(paths)
    with caplog.at_level(logging.WARNING):
        s = store.load()
    assert s.environment == "sandbox" and s.environment_problem is None and s.sounds is True
    assert store.load_warning and f"machine-wide defaults file {path} was ignored" in store.load_warning
    assert "not a valid JSON object" in store.load_warning and "ignored" in caplog.text


def test_a_damaged_defaults_file_never_switches_a_fresh_desk_away_from_the_default(paths, defaults_file):
    defaults_file(b'{"environment": "sandbox", "max_parallel": ')
    s = SettingsStore(paths).load()
    assert s.environment == "production" and s.max_parallel == 4  # nothing half-read is used


def test_a_damaged_user_file_never_takes_its_environment_from_the_machine(paths, defaults_file):
    defaults_file(IT_DEFAULTS)
    _user_file(paths, b'{"envir\xff\x00nment": "production", "sounds": true')
    s = SettingsStore(paths).load()
    assert s.environment_unconfirmed and s.environment_problem  # a person must confirm, as before
    assert s.sounds is True and s.max_parallel == 2  # other fields are still filled field by field


def test_bad_values_and_keys_in_the_defaults_file_are_ignored_one_by_one(paths, defaults_file, caplog):
    path = defaults_file({"environment": "staging", "max_parallel": "lots", "label_format": "pdf",
                          "api_key": "secret-abcdef-123456", "sounds": False})
    store = SettingsStore(paths)
    with caplog.at_level(logging.DEBUG):
        s = store.load()
    assert (s.environment, s.max_parallel, s.label_format, s.sounds) == ("production", 4, "pdf", False)
    words = store.load_warning
    assert "unknown environment" in words and "max_parallel" in words and "looks like an API key" in words
    assert str(path) in words
    assert "secret-abcdef-123456" not in words and "secret-abcdef-123456" not in caplog.text
    assert "secret-abcdef-123456" not in json.dumps(s.to_json())


def test_an_explicit_defaults_path_that_does_not_exist_is_said(paths, monkeypatch, tmp_path):
    monkeypatch.setenv("DESPATCH_DESK_DEFAULTS", str(tmp_path / "nowhere.json"))
    store = SettingsStore(paths)
    assert store.load() == Settings(workstation=store.current.workstation)
    assert "there is no such file" in store.load_warning


def test_where_the_file_is_looked_for(monkeypatch, tmp_path):
    monkeypatch.delenv("DESPATCH_DESK_DEFAULTS", raising=False)
    monkeypatch.delenv("XDG_CONFIG_DIRS", raising=False)
    monkeypatch.delattr(sys, "frozen", raising=False)
    if sys.platform.startswith("linux"):
        assert machine_defaults.candidate_paths() == [Path("/etc/xdg/despatch-desk/defaults.json")]
    exe = tmp_path / "Despatch Desk" / "despatch-desk.exe"
    exe.parent.mkdir()
    exe.write_bytes(b"")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    paths = machine_defaults.candidate_paths()
    assert paths[0] == machine_defaults.site_config_dir() / "defaults.json"
    assert paths[-1] == exe.parent.resolve() / "defaults.json"  # beside the program: a per-user install


def test_beside_the_frozen_program_is_read_when_the_machine_folder_has_none(paths, monkeypatch, tmp_path):
    monkeypatch.delenv("DESPATCH_DESK_DEFAULTS", raising=False)
    site = tmp_path / "site"  # stands in for ProgramData: empty
    monkeypatch.setattr(machine_defaults, "site_config_dir", lambda: site)
    exe = tmp_path / "app" / "despatch-desk.exe"
    exe.parent.mkdir()
    (exe.parent / "defaults.json").write_text(json.dumps({"environment": "sandbox", "sounds": False}))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    s = SettingsStore(paths).load()
    assert s.environment == "sandbox" and s.sounds is False and s.environment_problem is None
    site.mkdir()
    (site / "defaults.json").write_text(json.dumps({"environment": "production"}))  # the machine folder first
    assert SettingsStore(paths).load().environment == "production"


# ---------------------------------------------------------------- the installer (static checks of the .iss)

def _iss() -> str:
    return ISS.read_text(encoding="utf-8")


def _section(name: str) -> str:
    match = re.search(rf"^\[{name}\]\s*$(.*?)(?=^\[\w+\]\s*$|\Z)", _iss(), re.M | re.S)
    assert match, name
    return match.group(1)


def test_installer_places_defaults_from_the_command_line_beside_the_program_and_in_programdata():
    files = [line for line in _section("Files").splitlines() if line.strip() and not line.startswith(";")]
    placed = [line for line in files if "DestName: \"defaults.json\"" in line]
    assert len(placed) == 2
    beside, common = placed
    for line in placed:
        assert 'Source: "{code:DefaultsSource}"' in line and "external" in line and "Check: DefaultsGiven" in line
    assert 'DestDir: "{app}"' in beside and "IsAdminInstallMode" not in beside  # per user: no admin needed
    assert 'DestDir: "{commonappdata}\\{#AppName}"' in common and "IsAdminInstallMode" in common
    assert "uninsneveruninstall" in common  # IT's machine-wide file outlives an uninstall
    code = _section("Code")
    assert "ExpandConstant('{param:DEFAULTS|}')" in code
    assert re.search(r"function DefaultsSource\(Param: String\): String;", code)


def test_installer_asks_nothing_when_very_silent():
    iss = _iss()
    code = _section("Code")
    # Every dialog in the script is behind "not WizardSilent".
    for match in re.finditer(r"\bMsgBox\(", code):
        before = code[:match.start()]
        assert before.rstrip().endswith("then") and "if not WizardSilent() then" in before.splitlines()[-1] + \
            before.splitlines()[-2], "a MsgBox outside 'if not WizardSilent()'"
    assert "TaskDialogMsgBox" not in code and "CreateInputQueryPage" not in code and "CreateInputDirPage" not in code
    for line in _section("Run").splitlines():
        if line.strip() and not line.startswith(";") and "postinstall" in line:
            assert "skipifsilent" in line
    assert not re.search(r"^Password=", iss, re.M)
    assert not re.search(r"^PrivilegesRequiredOverridesAllowed=.*dialog", iss, re.M)  # no "for whom?" question
    assert not re.search(r"^(AlwaysRestart|RestartIfNeededByRun)=yes", iss, re.M)
    assert not re.search(r"^LicenseFile=|^InfoBeforeFile=|^InfoAfterFile=", iss, re.M)
    # A missing /DEFAULTS file stops the setup (InitializeSetup returns False): exit code 1, reason in the log.
    assert re.search(r"Log\('The /DEFAULTS file", code) and "Result := False" in code


def test_installer_documents_the_silent_command():
    head = _iss().split("#ifndef AppVersion")[0]
    assert "/VERYSILENT /SUPPRESSMSGBOXES /NORESTART [/DEFAULTS=" in head
