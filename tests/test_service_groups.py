"""Service groups from the account without a manual step: sync against the real sandbox over loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from despatch_desk.api import SortedProClient, Timeouts
from despatch_desk.credentials import KeyStore
from despatch_desk.desk import Desk
from despatch_desk.sandbox import DEMO_API_KEY, Fault, SandboxServer
from despatch_desk.sandbox.catalogue import ServiceGroup as SandboxGroup
from despatch_desk.service_groups import effective_groups, sync_groups
from despatch_desk.settings import ServiceGroupConfig, SettingsStore

SANDBOX_ORDER = ["nextDay", "economy", "international", "valuableGoods", "heavy"]


@pytest.fixture
def desk(paths, sandbox, monkeypatch):
    monkeypatch.setenv("DESPATCH_DESK_API_URL", sandbox.url)
    KeyStore().set(sandbox.url, DEMO_API_KEY)  # the keyring's user name is the origin
    desk = Desk(paths)
    yield desk
    desk.close()


def _codes(result):
    return [g.code for g in result.groups]


def _group_lists_asked(sandbox):
    return [r for r in sandbox.recorded() if r.method == "GET" and r.path.lower() == "/servicegroups"]


def test_fresh_desk_with_a_working_key_gets_the_account_groups_in_order(desk, sandbox):
    store = desk.settings_store
    assert effective_groups(desk.settings, store) == []  # a fresh desk knows nothing yet
    result = sync_groups(desk, desk.settings, store)
    assert result.source == "account" and result.note is None and result.missing == []
    assert _codes(result) == SANDBOX_ORDER  # Ctrl+1 is the account's first group
    assert result.groups[0].name == "Next day" and result.fetched_at is not None
    asked = _group_lists_asked(sandbox)
    assert len(asked) == 1 and asked[0].headers["ocp-apim-subscription-key"] == DEMO_API_KEY
    # Kept for the next start, offline, under this API origin, with when it was fetched.
    state = json.loads(store.paths.state_file.read_text())
    kept = state["known_groups"][sandbox.url]
    assert [g["code"] for g in kept["groups"]] == SANDBOX_ORDER and kept["fetched_at"]
    offline = effective_groups(desk.settings, SettingsStore(store.paths))
    assert [g.code for g in offline] == SANDBOX_ORDER and {g.source for g in offline} == {"last-known"}


def test_a_group_added_to_the_account_appears_on_the_next_sync_and_disabled_ones_are_not_offered(desk, sandbox):
    first = sync_groups(desk, desk.settings, desk.settings_store)
    assert "pallets" not in _codes(first)
    groups = sandbox.store.catalogue.groups
    groups["pallets"] = SandboxGroup("pallets", "Pallets", ("NWF_PLT",))
    groups["economy"] = SandboxGroup("economy", "Economy 2-3 day", ("ALB_TRK48",), enabled=False)
    second = sync_groups(desk, desk.settings, desk.settings_store)
    assert _codes(second) == ["nextDay", "international", "valuableGoods", "heavy", "pallets"]
    assert [g.code for g in effective_groups(desk.settings, desk.settings_store)] == _codes(second)


def test_refused_listing_uses_the_manual_list_and_says_why(desk, sandbox):
    sync_groups(desk, desk.settings, desk.settings_store)  # a list from when listing still worked
    desk.settings_store.update(lambda s: setattr(s, "service_groups", [ServiceGroupConfig("nextDay", "Next")]))
    sandbox.add_fault(Fault("servicegroups-forbidden"))
    result = sync_groups(desk, desk.settings_store.current, desk.settings_store)
    assert result.source == "settings" and _codes(result) == ["nextDay"]
    assert "does not list its service groups" in result.note and "HTTP 403" in result.note
    assert DEMO_API_KEY not in result.note
    # Offline afterwards: still the manual list, never the older account list.
    offline = effective_groups(desk.settings_store.current, desk.settings_store)
    assert [(g.code, g.source) for g in offline] == [("nextDay", "settings")]


def test_refused_listing_with_no_manual_groups_says_what_to_do(desk, sandbox):
    sandbox.add_fault(Fault("servicegroups-forbidden"))
    result = sync_groups(desk, desk.settings, desk.settings_store)
    assert result.groups == [] and "add them in Settings" in result.note


def test_offline_gives_the_last_known_list_and_says_so(paths):
    server = SandboxServer().start()
    url = server.url
    try:
        with SortedProClient(url, DEMO_API_KEY) as client:
            online = sync_groups(client, SettingsStore(paths).load(), SettingsStore(paths))
        assert online.source == "account"
    finally:
        server.stop()
    store = SettingsStore(paths)
    with SortedProClient(url, DEMO_API_KEY, timeouts=Timeouts(connect=2)) as client:  # nothing listens now
        result = sync_groups(client, store.load(), store)
    assert result.source == "last-known" and _codes(result) == SANDBOX_ORDER
    assert "could not be reached" in result.note and "Showing the groups this account listed on" in result.note
    assert result.fetched_at == online.fetched_at  # when the account listed them, not now


def test_configured_group_missing_from_the_account_is_flagged_before_scanning(desk, sandbox):
    desk.settings_store.update(lambda s: setattr(s, "service_groups", [
        ServiceGroupConfig("NEXTDAY"), ServiceGroupConfig("overnight"), ServiceGroupConfig("pallets")]))
    sandbox.store.catalogue.groups["pallets"] = SandboxGroup("pallets", "Pallets", ("NWF_PLT",), enabled=False)
    result = sync_groups(desk, desk.settings_store.current, desk.settings_store)
    # NEXTDAY matches nextDay: the server matches codes case-insensitively.
    assert result.missing == [
        "Group 'overnight' is not in this SortedPRO account: scans with it will be refused.",
        "Group 'pallets' is switched off in this SortedPRO account: scans with it will be refused."]
    assert not any(r.method == "PUT" for r in sandbox.recorded())  # found before anyone scanned


def test_another_api_origins_last_known_list_is_never_used(paths, sandbox, monkeypatch):
    store = SettingsStore(paths)
    with SortedProClient(sandbox.url, DEMO_API_KEY) as client:
        sync_groups(client, store.load(), store)
    other = SandboxServer().start()
    other_url = other.url
    other.stop()
    monkeypatch.setenv("DESPATCH_DESK_API_URL", other_url)
    settings = SettingsStore(paths).load()
    settings.service_groups = [ServiceGroupConfig("mine", "Mine")]
    assert [(g.code, g.source) for g in effective_groups(settings, store)] == [("mine", "settings")]
    with SortedProClient(other_url, DEMO_API_KEY, timeouts=Timeouts(connect=2)) as client:
        result = sync_groups(client, settings, store)
    assert result.source == "settings" and _codes(result) == ["mine"] and "could not be reached" in result.note
    monkeypatch.delenv("DESPATCH_DESK_API_URL")  # and the first origin still has its own
    assert [g.code for g in effective_groups(settings, store, origin=sandbox.url)] == SANDBOX_ORDER


def test_wrong_key_and_missing_key_never_raise(paths, sandbox, monkeypatch):
    store = SettingsStore(paths)
    with SortedProClient(sandbox.url, "wrong-key-123") as client:
        result = sync_groups(client, store.load(), store)
    assert result.source == "settings" and "HTTP 401" in result.note and "wrong-key-123" not in result.note
    monkeypatch.setenv("DESPATCH_DESK_API_URL", sandbox.url)
    desk = Desk(paths)  # no key stored for this origin
    try:
        result = sync_groups(desk, desk.settings, desk.settings_store)
    finally:
        desk.close()
    assert "The account was not asked" in result.note and "key set" in result.note


class _Html502(BaseHTTPRequestHandler):
    def do_GET(self):  # a proxy's error page, as gateways send them
        body = b"<html><body>502 Bad Gateway</body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_proxy_error_page_is_offline_not_a_refusal(paths):
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Html502)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    store = SettingsStore(paths)
    try:
        url = f"http://127.0.0.1:{proxy.server_address[1]}"
        with SortedProClient(url, DEMO_API_KEY) as client:
            result = sync_groups(client, store.load(), store)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert result.source == "settings" and "could not be reached" in result.note and "web page" in result.note
    assert "does not list" not in result.note
    assert not store.paths.state_file.exists() or "refused" not in store.paths.state_file.read_text()


def test_choosing_a_group_keeps_the_account_list_in_state(desk):
    store = desk.settings_store
    sync_groups(desk, desk.settings, store)
    store.update(lambda s: setattr(s, "last_group", "heavy"))  # Ctrl+5: writes state.json
    state = json.loads(store.paths.state_file.read_text())
    assert state["last_group"] == "heavy" and state["known_groups"]  # the list is not written over
    sync_groups(desk, store.current, store)
    assert json.loads(store.paths.state_file.read_text())["last_group"] == "heavy"


class _EchoKey403(BaseHTTPRequestHandler):
    def do_GET(self):
        key = self.headers.get("ocp-apim-subscription-key", "")
        body = json.dumps({"Code": "Forbidden", "Message": f"key {key} may not list groups"}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_server_echoing_the_key_never_puts_it_in_the_words_or_the_state(paths):
    secret = "EchoedGroupKey987654321"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoKey403)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store = SettingsStore(paths)
    try:
        with SortedProClient(f"http://127.0.0.1:{server.server_address[1]}", secret) as client:
            result = sync_groups(client, store.load(), store)
    finally:
        server.shutdown()
        server.server_close()
    assert result.reason == "refused" and "may not list groups" in result.note
    assert secret not in result.note and secret[:8] not in result.note
    assert secret not in store.paths.state_file.read_text() and secret[:8] not in store.paths.state_file.read_text()
