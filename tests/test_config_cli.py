"""``despatch-desk config show/set/export/import/groups`` and ``key set`` checking the key, run in process
against the real sandbox on loopback with an in-memory keyring."""

from __future__ import annotations

import io
import json
import sys

import pytest

from despatch_desk.cli import main
from despatch_desk.sandbox import DEMO_API_KEY, Fault, SandboxServer
from despatch_desk.settings import SettingsStore


@pytest.fixture
def cli(capsys, monkeypatch):
    def run(*args, stdin=""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        return code, captured.out, captured.err
    return run


def _file(paths):
    return paths.settings_file.read_bytes() if paths.settings_file.exists() else None


def _saved(paths):
    return SettingsStore(paths).load()


# ---------------------------------------------------------------- config set

def test_set_parses_values_by_type(cli, paths):
    assert cli("config", "set", "sounds", "off")[0] == 0
    assert cli("config", "set", "auto-print", "NO")[0] == 0  # dashes and capitals are understood
    assert cli("config", "set", "max_parallel", "8")[0] == 0
    assert cli("config", "set", "scan_deadline_s", "90.5")[0] == 0
    assert cli("config", "set", "auto_submit_ms", "0")[0] == 0  # 0 = off, below the range on purpose
    assert cli("config", "set", "label_format", "PDF")[0] == 0
    assert cli("config", "set", "printer_uri", "tcp://10.0.0.5:9100")[0] == 0
    assert cli("config", "set", "proxy", "http://proxy.example:3128")[0] == 0
    code, out, _ = cli("config", "set", "service_groups", "nextDay=Next day, economy=Economy 2-3 day,heavy")
    assert code == 0 and "nextDay=Next day,economy=Economy 2-3 day,heavy" in out
    s = _saved(paths)
    assert (s.sounds, s.auto_print, s.max_parallel, s.scan_deadline_s, s.auto_submit_ms) == (False, False, 8, 90.5, 0)
    assert (s.label_format, s.printer_uri, s.proxy) == ("pdf", "tcp://10.0.0.5:9100", "http://proxy.example:3128")
    assert [(g.code, g.name) for g in s.service_groups] == [("nextDay", "Next day"), ("economy", "Economy 2-3 day"),
                                                            ("heavy", "")]


@pytest.mark.parametrize("name, value, words", [
    ("max_parallel", "99", "max_parallel must be from 1 to 16"),
    ("max_parallel", "2.5", "whole number from 1 to 16"),
    ("scan_deadline_s", "abc", "must be a number from 5 to 600"),
    ("scan_deadline_s", "nan", "must be a number from 5 to 600"),
    ("connect_timeout_s", "0.1", "from 0.5 to 120"),
    ("auto_submit_ms", "50", "100 to 5000 (or 0 for off)"),
    ("sounds", "maybe", "on or off"),
    ("label_format", "png", "one of zpl, pdf"),
    ("environment", "staging", "one of production, sandbox, custom"),
    ("service_groups", "next day=Next", "must be one word"),
    ("service_groups", "a=A,A=Again", "same code"),
    ("workstation", "x" * 65, "1 to 64 characters"),
    ("proxy", "ftp://nope", "proxy: The proxy address ftp://nope is not usable"),
    ("proxy", "socks5://proxy.example:1080", "SOCKS"),
    ("proxy", "http://alice:secret-1234@proxy.example:3128", "holds a password"),
    ("custom_url", "http://api.example.com", "plain http"),
    ("colour", "red", "There is no setting called 'colour'"),
    ("api_key", "secret-1234", "'despatch-desk key set'"),
])
def test_bad_names_and_values_are_refused_and_change_nothing(cli, paths, name, value, words):
    assert cli("config", "set", "sounds", "off")[0] == 0
    before = _file(paths)
    code, out, err = cli("config", "set", name, value)
    assert code == 2 and words in err, err
    assert _file(paths) == before
    assert "secret-1234" not in out + err


def test_set_environment_confirms_like_the_older_option(cli, paths):
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_bytes(b'{"envir\xff\x00nment": "sandbox", "sounds": false')  # damaged
    assert _saved(paths).environment_problem
    code, out, err = cli("config", "show")
    assert code == 2 and "NOT CONFIRMED" in out
    code, out, _ = cli("config", "set", "environment", "sandbox")
    assert code == 0 and "Environment confirmed: sandbox (https://apisandbox.electioapp.com)" in out
    s = _saved(paths)
    assert s.environment == "sandbox" and s.environment_problem is None and s.sounds is False
    paths.settings_file.write_text('{"environment": "Produktion"}')  # unknown: unconfirmed again
    code, out, _ = cli("config", "--environment", "production")  # the older spelling still works
    assert code == 0 and "Environment confirmed: production" in out and _saved(paths).environment_problem is None


def test_custom_environment_needs_its_address_first(cli, paths):
    code, _, err = cli("config", "set", "environment", "custom")
    assert code == 2 and "custom_url" in err and _file(paths) is None
    assert cli("config", "set", "custom_url", "https://api.example.com")[0] == 0
    code, out, _ = cli("config", "set", "environment", "custom")
    assert code == 0 and "https://api.example.com" in out


# ---------------------------------------------------------------- export / import

def _configure(cli):
    for name, value in [("environment", "sandbox"), ("service_groups", "nextDay=Next day,heavy=Heavy"),
                        ("printer_uri", "tcp://10.0.0.5:9100"), ("label_format", "pdf"), ("auto_print", "off"),
                        ("proxy", "none"), ("connect_timeout_s", "3"), ("read_timeout_s", "20"),
                        ("scan_deadline_s", "45"), ("sounds", "off"), ("max_parallel", "2"),
                        ("auto_submit_ms", "400"), ("workstation", "Bench 7")]:
        assert cli("config", "set", name, value)[0] == 0, name


def test_export_writes_every_setting_but_the_key_and_import_restores_them(cli, paths, tmp_path, monkeypatch,
                                                                          memory_keyring):
    _configure(cli)
    memory_keyring.set_password("despatch-desk", "https://apisandbox.electioapp.com", DEMO_API_KEY)
    target = tmp_path / "desk.json"
    code, out, _ = cli("config", "export", str(target))
    assert code == 0 and "but the key" in out
    raw = target.read_text()
    assert DEMO_API_KEY not in raw and "key" not in json.loads(raw)["settings"]
    doc = json.loads(raw)
    assert doc["despatch_desk_config"] == 1
    assert set(doc["settings"]) == {"environment", "custom_url", "service_groups", "printer_uri", "label_format",
                                    "auto_print", "proxy", "connect_timeout_s", "read_timeout_s", "scan_deadline_s",
                                    "sounds", "max_parallel", "auto_submit_ms", "workstation"}
    exported = SettingsStore(paths).load()
    monkeypatch.setenv("DESPATCH_DESK_HOME", str(tmp_path / "second-desk"))  # another, fresh desk
    code, out, _ = cli("config", "import", str(target))
    assert code == 0 and "environment is confirmed" in out
    from despatch_desk.settings import Paths

    second = SettingsStore(Paths.default()).load()
    assert second == exported and second.environment_problem is None


def test_import_checks_the_whole_file_first_and_changes_nothing_on_any_problem(cli, paths, tmp_path):
    _configure(cli)
    before = _file(paths)
    good = {"environment": "production", "sounds": True, "max_parallel": 4}
    cases = {
        "bad-value.json": {"despatch_desk_config": 1, "settings": {**good, "scan_deadline_s": 9999}},
        "unknown.json": {"despatch_desk_config": 1, "settings": {**good, "colour": "red"}},
        "key.json": {"despatch_desk_config": 1, "settings": {**good, "api_key": "secret-1234"}},
        "no-marker.json": {"settings": good},
        "newer.json": {"despatch_desk_config": 2, "settings": good},
        "wrong-type.json": {"despatch_desk_config": 1, "settings": {**good, "service_groups": "x=y", "sounds": "loud"}},
        "groups-clash.json": {"despatch_desk_config": 1, "settings": {**good, "service_groups": [
            {"code": "a", "name": "A"}, {"code": "A", "name": "B"}]}},
    }
    for name, doc in cases.items():
        path = tmp_path / name
        path.write_text(json.dumps(doc))
        code, out, err = cli("config", "import", str(path))
        assert code == 2 and "Nothing was changed" in err, (name, err)
        assert "secret-1234" not in out + err
        assert _file(paths) == before, name
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"despatch_desk_config": 1, "settings": {"sounds": tr')
    code, _, err = cli("config", "import", str(broken))
    assert code == 2 and "not valid JSON" in err and _file(paths) == before
    code, _, err = cli("config", "import", str(tmp_path / "absent.json"))
    assert code == 2 and "Could not read" in err and _file(paths) == before


def test_import_from_stdin_accepts_text_values_too(cli, paths):
    doc = {"despatch_desk_config": 1, "settings": {"sounds": "off", "max_parallel": "3", "environment": "sandbox"}}
    code, _, err = cli("config", "import", "-", stdin=json.dumps(doc))
    assert code == 0, err
    s = _saved(paths)
    assert (s.sounds, s.max_parallel, s.environment) == (False, 3, "sandbox")


# ---------------------------------------------------------------- show --json

def test_show_json_gives_every_setting_its_value_and_where_it_came_from(cli, paths, tmp_path, monkeypatch):
    defaults = tmp_path / "defaults.json"
    defaults.write_text(json.dumps({"sounds": False, "label_format": "pdf", "environment": "sandbox"}))
    monkeypatch.setenv("DESPATCH_DESK_DEFAULTS", str(defaults))
    assert cli("config", "set", "scan_deadline_s", "30")[0] == 0
    assert cli("config", "set", "label_format", "zpl")[0] == 0  # the user's value wins over the machine's
    monkeypatch.setenv("DESPATCH_DESK_PROXY", "http://alice:pw-from-env@proxy.example:8080")
    code, out, _ = cli("config", "show", "--json")
    assert code == 0
    doc = json.loads(out)
    values = doc["settings"]
    assert values["scan_deadline_s"] == {"value": 30.0, "source": "user"}
    assert values["label_format"] == {"value": "zpl", "source": "user"}
    assert values["sounds"] == {"value": False, "source": "machine"}
    assert values["environment"] == {"value": "sandbox", "source": "machine"}
    assert values["max_parallel"] == {"value": 4, "source": "default"}
    assert values["proxy"] == {"value": "http://alice@proxy.example:8080", "source": "env"}
    assert "pw-from-env" not in out + cli("config", "show")[1]  # a password is never shown
    assert doc["environment_confirmed"] is True and doc["files"]["machine_defaults"] == str(defaults)
    monkeypatch.setenv("DESPATCH_DESK_API_URL", "http://127.0.0.1:9")
    values = json.loads(cli("config", "show", "--json")[1])["settings"]
    assert values["environment"]["source"] == "env" and values["custom_url"]["value"] == "http://127.0.0.1:9"
    assert set(values) >= {"environment", "custom_url", "service_groups", "printer_uri", "label_format", "auto_print",
                           "proxy", "connect_timeout_s", "read_timeout_s", "scan_deadline_s", "sounds",
                           "max_parallel", "auto_submit_ms", "workstation"}


def test_config_groups_fetches_and_keeps_the_account_list(cli, sandbox, monkeypatch, memory_keyring, paths):
    monkeypatch.setenv("DESPATCH_DESK_API_URL", sandbox.url)
    memory_keyring.set_password("despatch-desk", sandbox.url, DEMO_API_KEY)
    assert cli("config", "set", "service_groups", "nextDay,overnight")[0] == 0
    code, out, err = cli("config", "groups", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["source"] == "account" and doc["groups"][0]["code"] == "nextDay"
    assert "Group 'overnight' is not in this SortedPRO account" in err
    sandbox.add_fault(Fault("servicegroups-forbidden"))
    code, out, err = cli("config", "groups")
    assert code == 1 and "does not list its service groups" in err and [line.split("\t")[0] for line in out.splitlines()] == ["nextDay", "overnight"]


# ---------------------------------------------------------------- key set checks the key

@pytest.fixture
def keyed(sandbox, monkeypatch):
    monkeypatch.setenv("DESPATCH_DESK_API_URL", sandbox.url)
    return sandbox


def _key_requests(sandbox):
    return [r for r in sandbox.recorded() if r.method == "GET"]


def test_key_set_stores_a_key_that_works(cli, keyed, memory_keyring):
    code, out, _ = cli("key", "set", stdin=DEMO_API_KEY + "\n")
    assert code == 0 and "SortedPRO accepted it" in out and DEMO_API_KEY not in out
    assert memory_keyring.secrets == {("despatch-desk", keyed.url): DEMO_API_KEY}
    asked = _key_requests(keyed)
    assert len(asked) == 1 and asked[0].path.lower() == "/servicegroups"
    assert asked[0].headers["ocp-apim-subscription-key"] == DEMO_API_KEY


def test_key_set_does_not_store_a_key_sortedpro_refuses(cli, keyed, memory_keyring):
    code, out, err = cli("key", "set", stdin="not-the-right-key-42\n")
    assert code == 3 and "NOT stored" in err and "refused this key" in err
    assert memory_keyring.secrets == {} and "not-the-right-key-42" not in out + err


def test_key_set_falls_back_to_carrier_services_when_listing_groups_is_forbidden(cli, keyed, memory_keyring):
    keyed.add_fault(Fault("servicegroups-forbidden"))
    code, out, _ = cli("key", "set", stdin=DEMO_API_KEY + "\n")
    assert code == 0 and "accepted" in out and memory_keyring.secrets
    assert [r.path.lower() for r in _key_requests(keyed)] == ["/servicegroups", "/carrierservices"]


def test_key_set_when_sortedpro_cannot_be_reached_stores_and_says_so(cli, monkeypatch, memory_keyring):
    server = SandboxServer().start()
    url = server.url
    server.stop()  # nothing listens there now
    monkeypatch.setenv("DESPATCH_DESK_API_URL", url)
    code, out, _ = cli("key", "set", stdin=DEMO_API_KEY + "\n")
    assert code == 0 and "could not be checked" in out and "could not be reached" in out
    assert memory_keyring.secrets == {("despatch-desk", url): DEMO_API_KEY}


def test_key_set_no_check_sends_nothing(cli, keyed, memory_keyring):
    code, out, _ = cli("key", "set", "--no-check", stdin="any-key-at-all\n")
    assert code == 0 and "not checked" in out and memory_keyring.secrets
    assert keyed.recorded() == []


class _EchoingServer:
    """A hostile API: answers every request with ``status`` and a body that echoes the key it was sent."""

    def __init__(self, status: int):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import threading

        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                key = self.headers.get("ocp-apim-subscription-key", "")
                seen.append((self.path, key))
                body = json.dumps({"Code": "Echo", "Message": f"the key {key} is {key}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("status, code, stored, words", [
    (401, 3, False, "NOT stored"),
    (500, 0, True, "could not be checked"),
    (403, 0, True, "could not be checked"),
])
def test_key_set_never_shows_a_key_the_server_echoes(cli, monkeypatch, memory_keyring, status, code, stored, words):
    secret = "EchoedSecret0123456789"
    with _EchoingServer(status) as server:
        monkeypatch.setenv("DESPATCH_DESK_API_URL", server.url)
        result, out, err = cli("key", "set", stdin=secret + "\n")
    assert result == code and words in out + err
    assert secret not in out + err and secret[:8] not in out + err
    assert server.seen and all(key == secret for _path, key in server.seen)  # it was sent, as a header only
    assert bool(memory_keyring.secrets) is stored
