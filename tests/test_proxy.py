"""Issue 11 §3: inside a company network. The client runs through a real forward proxy on loopback
(written here: threaded, stdlib sockets, it records what it saw) to the real sandbox behind a TLS front
whose self-signed certificate is trusted through the OS trust store (``SSL_CERT_FILE``, which truststore
reads on Linux; httpx's own certifi bundle would refuse it)."""

from __future__ import annotations

import base64
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from despatch_desk import api, proxy
from despatch_desk.cancel import CancelToken
from despatch_desk.credentials import ProxyPasswords
from despatch_desk.sandbox import Fault
from support import need

HOST = "api.sortedpro.test"  # never resolved by the client when proxied: the proxy maps it to the TLS front
BASE = f"https://{HOST}"
REF = "EC-000-DSK-001"
STEP = 0.05  # select() slice of the helpers' loops: every loop also checks its stop event


# ------------------------------------------------------------------ helpers: TLS front and forward proxy


def _relay(a: socket.socket, b: socket.socket, stop: threading.Event, seen_up: bytearray | None = None,
           first_up: threading.Event | None = None) -> None:
    """Copy bytes both ways until either side closes or ``stop`` is set (bounded by the stop event)."""
    try:
        while not stop.is_set():
            ready, _, _ = select.select([a, b], [], [], STEP)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is a:
                    if seen_up is not None:
                        seen_up += data
                    if first_up is not None:
                        first_up.set()
                (b if sock is a else a).sendall(data)
    except (OSError, ssl.SSLError):
        return
    finally:
        for sock in (a, b):
            try:
                sock.close()
            except OSError:
                pass


class Server:
    """Accept loop on loopback in a daemon thread; ``handle(conn)`` per connection in its own thread."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(STEP)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        conn.close()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(5)


class TlsFront(Server):
    """TLS termination in front of the plain-HTTP sandbox (what SortedPRO's HTTPS endpoint is to us)."""

    def __init__(self, context: ssl.SSLContext, upstream_port: int) -> None:
        super().__init__()
        self.context, self.upstream_port = context, upstream_port
        self.request_arrived = threading.Event()  # decrypted request bytes reached the sandbox

    def handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            tls = self.context.wrap_socket(conn, server_side=True)
            tls.settimeout(None)
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except (OSError, ssl.SSLError):
            conn.close()
            return
        _relay(tls, upstream, self.stop, first_up=self.request_arrived)


class ForwardProxy(Server):
    """A CONNECT + plain-HTTP forward proxy. ``heads``: every request head it read (line and headers);
    ``tunnelled``: the bytes it carried client→server inside tunnels. Optional Basic auth; ``hold``:
    never answer a CONNECT (a stalled proxy); ``echo_auth``: a hostile 407 reason repeating the credentials."""

    def __init__(self, routes: dict[str, int], *, auth: tuple[str, str] | None = None, hold: bool = False,
                 echo_auth: bool = False) -> None:
        super().__init__()
        self.routes, self.auth, self.hold, self.echo_auth = routes, auth, hold, echo_auth
        self.heads: list[bytes] = []
        self.tunnelled = bytearray()
        self.connect_seen = threading.Event()
        self._lock = threading.Lock()

    def handle(self, conn: socket.socket) -> None:
        head = bytearray()
        conn.settimeout(10)
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536 and not self.stop.is_set():
                data = conn.recv(65536)
                if not data:
                    conn.close()
                    return
                head += data
        except OSError:
            conn.close()
            return
        head_bytes, _, rest = bytes(head).partition(b"\r\n\r\n")
        with self._lock:
            self.heads.append(head_bytes)
        lines = head_bytes.decode("latin-1").split("\r\n")
        method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if method == "CONNECT":
            self.connect_seen.set()
        if self.hold:
            self.stop.wait(30)
            conn.close()
            return
        if self.auth is not None:
            expected = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            given = headers.get("proxy-authorization", "")
            if given != expected:
                reason = f"Proxy Authentication Required {given}" if self.echo_auth else "Proxy Authentication Required"
                conn.sendall(f"HTTP/1.1 407 {reason}\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n".encode("latin-1"))
                conn.close()
                return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream_port = self.routes.get(host)
            if upstream_port is None:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                conn.close()
                return
            upstream = socket.create_connection(("127.0.0.1", upstream_port), timeout=5)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            conn.settimeout(None)
            _relay(conn, upstream, self.stop, seen_up=self.tunnelled)
            return
        # Plain HTTP forward (absolute-form target): one request, then close.
        from urllib.parse import urlsplit

        parts = urlsplit(target)
        upstream_port = self.routes.get(parts.hostname or "") or parts.port
        upstream = socket.create_connection(("127.0.0.1", upstream_port), timeout=5)
        origin_form = f"{method} {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1"
        upstream.sendall("\r\n".join([origin_form, *lines[1:], "Connection: close"]).encode("latin-1")
                         + b"\r\n\r\n" + rest)
        _relay(conn, upstream, self.stop)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    need(shutil.which("openssl") is not None, "openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def front(sandbox, certificate, monkeypatch):
    """The sandbox behind TLS, trusted through the OS trust store only; no proxy in the environment."""
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                "NO_PROXY", "no_proxy", proxy.ENV_PROXY):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    server = TlsFront(context, sandbox.port).start()
    yield server
    server.close()


@pytest.fixture
def make_proxy(front):
    made = []

    def make(**kw):
        server = ForwardProxy({HOST: front.port}, **kw).start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def client(sandbox, setting, base=BASE, **kw):
    timeouts = kw.pop("timeouts", api.Timeouts(connect=5, read=10))
    return api.SortedProClient(base, sandbox.api_key, timeouts=timeouts, proxy=setting, **kw)


def assert_no_key_in_heads(corp: ForwardProxy, key: str) -> None:
    for head in corp.heads:
        assert key.encode() not in head and key.lower().encode() not in head.lower()
        assert b"ocp-apim-subscription-key" not in head.lower()


# ------------------------------------------------------------------ through the proxy


def test_explicit_proxy_tunnels_https_and_sees_only_connect(sandbox, make_proxy, caplog):
    corp = make_proxy()
    caplog.set_level("DEBUG", logger="despatch_desk")
    with client(sandbox, f"http://127.0.0.1:{corp.port}") as c:
        assert c.proxy.describe() == f"Proxy: http://127.0.0.1:{corp.port}"
        summary = c.allocate_with_service_group(REF, "nextDay")
        assert summary.succeeded
        assert c.get_consignment(REF).state == "Allocated"
    assert sandbox.puts_for(REF) == 1
    # One tunnel, kept alive for both calls; its CONNECT names only host and port.
    assert [h.split(b"\r\n")[0] for h in corp.heads] == [f"CONNECT {HOST}:443 HTTP/1.1".encode()]
    assert_no_key_in_heads(corp, sandbox.api_key)
    # Inside the tunnel only ciphertext: the key (and the request line) is not readable by the proxy.
    assert len(corp.tunnelled) > 500
    assert sandbox.api_key.encode() not in corp.tunnelled and b"allocatewithservicegroup" not in corp.tunnelled
    # What the sandbox received did come through the tunnel, with the key in its header.
    put = [r for r in sandbox.requests if r.method == "PUT"][0]
    assert put.headers["ocp-apim-subscription-key"] == sandbox.api_key and put.headers["host"] == HOST
    assert f"Proxy: http://127.0.0.1:{corp.port}" in caplog.text and sandbox.api_key not in caplog.text


def test_tls_through_the_tunnel_is_checked_against_the_os_trust_store(sandbox, make_proxy, monkeypatch, tmp_path):
    """truststore through the tunnel: the front's certificate is trusted only via the OS store; without it
    the handshake fails, which is "not sent" (nothing reached the sandbox)."""
    import truststore

    corp = make_proxy()
    with client(sandbox, f"http://127.0.0.1:{corp.port}") as c:
        assert isinstance(c._http._transport._pool._ssl_context, truststore.SSLContext)
        assert c.get_consignment(REF).reference == REF
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(other)], check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    before = len(sandbox.requests)
    with client(sandbox, f"http://127.0.0.1:{corp.port}") as c, pytest.raises(api.NotSent) as caught:
        c.allocate_with_service_group(REF, "nextDay")
    assert "certificate" in caught.value.message.lower() and caught.value.reached_server is False
    assert len(sandbox.requests) == before


def test_system_uses_https_proxy_from_the_environment(sandbox, make_proxy, monkeypatch):
    corp = make_proxy()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{corp.port}")
    with client(sandbox, "system") as c:
        assert c.proxy.describe() == f"Proxy: system (http://127.0.0.1:{corp.port})"
        assert c.get_consignment(REF).reference == REF
    assert corp.heads and corp.heads[0].startswith(f"CONNECT {HOST}:443 ".encode())


def test_system_with_no_proxy_covering_the_host_goes_direct(sandbox, make_proxy, monkeypatch):
    corp = make_proxy()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{corp.port}")
    monkeypatch.setenv("NO_PROXY", f"localhost,.sortedpro.test")
    with client(sandbox, "system") as c:
        assert c.proxy.url is None and "NO_PROXY" in c.proxy.describe()
        with pytest.raises(api.NotSent) as caught:  # direct: the test name does not resolve on its own
            c.get_consignment(REF)
    assert "through the proxy" not in caught.value.message
    assert corp.heads == [] and sandbox.requests == []


def test_none_ignores_the_environment(sandbox, make_proxy, monkeypatch):
    corp = make_proxy()
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{corp.port}")
    with client(sandbox, "none") as c:
        assert c.proxy.describe() == "Proxy: none" and c.proxy.url is None
        with pytest.raises(api.NotSent):
            c.get_consignment(REF)
    assert corp.heads == []


def test_despatch_desk_proxy_overrides_the_setting(sandbox, make_proxy, monkeypatch):
    corp = make_proxy()
    monkeypatch.setenv(proxy.ENV_PROXY, f"http://127.0.0.1:{corp.port}")
    with client(sandbox, "none") as c:
        assert c.proxy.describe() == f"Proxy: DESPATCH_DESK_PROXY=http://127.0.0.1:{corp.port}"
        assert c.get_consignment(REF).reference == REF
    assert len(corp.heads) == 1
    assert proxy.describe_setting("none") == f"Proxy: DESPATCH_DESK_PROXY=http://127.0.0.1:{corp.port}"


@pytest.mark.parametrize("how", ["explicit", "system", "env"])
def test_loopback_is_never_proxied(sandbox, make_proxy, monkeypatch, how):
    corp = make_proxy()
    address = f"http://127.0.0.1:{corp.port}"
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, address)
    if how == "env":
        monkeypatch.setenv(proxy.ENV_PROXY, address)
    setting = address if how == "explicit" else "system"
    with client(sandbox, setting, base=sandbox.url) as c:
        assert c.proxy.url is None and "loopback is never proxied" in c.proxy.describe()
        assert c.allocate_with_service_group(REF, "nextDay").succeeded
    assert corp.heads == [] and sandbox.puts_for(REF) == 1


# ------------------------------------------------------------------ failures in plain words


def test_proxy_down_is_not_sent(sandbox, front):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with client(sandbox, f"http://127.0.0.1:{port}") as c, pytest.raises(api.NotSent) as caught:
        c.allocate_with_service_group(REF, "nextDay")
    err = caught.value
    assert err.reached_server is False and not err.cancelled
    assert err.message.startswith(f"Could not connect to {BASE} through the proxy http://127.0.0.1:{port} (")
    assert err.message.endswith("Nothing was sent.") and "Traceback" not in err.message
    assert sandbox.requests == []


def test_proxy_407_in_plain_words_and_credentials_from_the_keyring(sandbox, make_proxy, caplog):
    password = "Corp-Pa55word!x"
    corp = make_proxy(auth=("alice", password), echo_auth=True)
    address = f"http://127.0.0.1:{corp.port}"
    with client(sandbox, address) as c, pytest.raises(api.NotSent) as caught:
        c.allocate_with_service_group(REF, "nextDay")
    assert proxy.REFUSED_407 in caught.value.message and "(HTTP 407)" in caught.value.message
    assert sandbox.requests == []

    user_address = f"http://alice@127.0.0.1:{corp.port}"
    with client(sandbox, user_address) as c, pytest.raises(api.NotSent) as caught:
        c.get_consignment(REF)
    assert "No password is stored in the keyring for " + user_address in caught.value.message

    ProxyPasswords().set(user_address, "wrong-one")
    with client(sandbox, user_address) as c, pytest.raises(api.NotSent) as caught:
        c.get_consignment(REF)
    assert proxy.REFUSED_407 in caught.value.message
    assert "wrong-one" not in caught.value.message  # the hostile proxy echoed it in its reason phrase
    assert base64.b64encode(b"alice:wrong-one").decode() not in caught.value.message

    caplog.set_level("DEBUG")
    ProxyPasswords().set(user_address, password)
    with client(sandbox, user_address) as c:
        assert c.proxy.describe() == f"Proxy: {user_address}" and password not in repr(c.proxy)
        assert c.allocate_with_service_group(REF, "nextDay").succeeded
    assert sandbox.puts_for(REF) == 1
    assert all("proxy-authorization" not in r.headers for r in sandbox.requests)  # for the proxy only
    assert password not in caplog.text and base64.b64encode(f"alice:{password}".encode()).decode() not in caplog.text


def test_a_password_in_the_setting_is_refused_without_repeating_it(sandbox):
    with pytest.raises(api.ConfigurationError) as caught:
        client(sandbox, "http://alice:s3cret-word@proxy.corp:3128")
    assert "s3cret-word" not in caught.value.message and "keyring" in caught.value.message


@pytest.mark.parametrize("address, words", [("socks5://proxy.corp:1080", "SOCKS"),
                                            ("https://proxy.corp:443", "over http://"),
                                            ("http://proxy.corp:3128/path?x=1", "not usable")])
def test_unusable_proxy_addresses_get_plain_words(sandbox, monkeypatch, address, words):
    monkeypatch.setenv("HTTPS_PROXY", address)
    for setting in ("system", address):
        with pytest.raises(api.ConfigurationError) as caught:
            client(sandbox, setting)
        assert words in caught.value.message


# ------------------------------------------------------------------ deadline and cancel through the proxy


def test_deadline_while_the_proxy_holds_the_connect_is_not_sent(sandbox, make_proxy):
    corp = make_proxy(hold=True)
    token = CancelToken(timeout=1.0)
    started = time.monotonic()
    with client(sandbox, f"http://127.0.0.1:{corp.port}") as c, pytest.raises(api.NotSent) as caught:
        c.allocate_with_service_group(REF, "nextDay", cancel=token)
    elapsed = time.monotonic() - started
    assert corp.connect_seen.is_set() and 0.9 <= elapsed < 5, elapsed
    assert caught.value.reached_server is False and "through the proxy" in caught.value.message
    assert sandbox.requests == []


def test_cancel_while_the_proxy_holds_the_connect_is_not_sent(sandbox, make_proxy):
    corp = make_proxy(hold=True)
    token = CancelToken()
    threading.Thread(target=lambda: corp.connect_seen.wait(10) and token.cancel("closing"), daemon=True).start()
    started = time.monotonic()
    with client(sandbox, f"http://127.0.0.1:{corp.port}") as c, pytest.raises(api.NotSent) as caught:
        c.get_consignment(REF, cancel=token)
    assert caught.value.cancelled and time.monotonic() - started < 5
    assert sandbox.requests == []


def test_cancel_and_deadline_inside_the_tunnel_are_in_doubt(sandbox, front, make_proxy):
    """Once the request went into the tunnel it may have reached SortedPRO: in doubt, within the slices."""
    corp = make_proxy()
    sandbox.add_fault(Fault("slow-after-commit", delay=30, times=2))
    token = CancelToken()
    threading.Thread(target=lambda: front.request_arrived.wait(10) and token.cancel("closing"), daemon=True).start()
    started = time.monotonic()
    with client(sandbox, f"http://127.0.0.1:{corp.port}") as c:
        with pytest.raises(api.InDoubt) as caught:
            c.allocate_with_service_group(REF, "nextDay", cancel=token)
        assert caught.value.cancelled and caught.value.reached_server is None
        assert time.monotonic() - started < 5
        started = time.monotonic()
        with pytest.raises(api.InDoubt) as caught:
            c.allocate_with_service_group("EC-000-DSK-002", "nextDay", cancel=CancelToken(timeout=1.0))
        assert not caught.value.cancelled and 0.9 <= time.monotonic() - started < 5
    assert sandbox.puts_for(REF) == 1 and corp.heads


# ------------------------------------------------------------------ what the Settings page shows


def test_describe_setting_for_the_settings_page(monkeypatch):
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", proxy.ENV_PROXY):
        monkeypatch.delenv(var, raising=False)
    assert proxy.describe_setting("none") == "Proxy: none"
    assert proxy.describe_setting("http://bob@proxy.corp:3128") == "Proxy: http://bob@proxy.corp:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://u:hidden@proxy.corp:3128")
    assert proxy.describe_setting("system") == "Proxy: system (http://u@proxy.corp:3128)"
    route = proxy.route_for("https://api.electioapp.com", "system")
    assert route.auth == ("u", "hidden") and "hidden" not in route.describe() + repr(route)
    assert route.describe() == "Proxy: system (http://u@proxy.corp:3128)"
    monkeypatch.setenv(proxy.ENV_PROXY, "system")
    assert proxy.describe_setting("none") == "Proxy: DESPATCH_DESK_PROXY=system (http://u@proxy.corp:3128)"
    assert proxy.route_for("https://api.electioapp.com", "none").describe() == \
        "Proxy: DESPATCH_DESK_PROXY=system (http://u@proxy.corp:3128)"
    monkeypatch.setenv(proxy.ENV_PROXY, "none")
    assert proxy.describe_setting("system") == "Proxy: DESPATCH_DESK_PROXY=none"
    assert proxy.route_for("https://api.electioapp.com", "system").url is None


def test_settings_page_shows_the_proxy_and_test_connection_goes_through_it(sandbox, make_proxy, tmp_path, qtbot):
    from despatch_desk.credentials import SERVICE, KeyStore
    from despatch_desk.desk import Desk
    from despatch_desk.gui import jobs
    from despatch_desk.gui.settings_dialog import SettingsDialog
    from despatch_desk.settings import Paths, Settings
    from support import MemoryKeyring

    corp = make_proxy()
    address = f"http://127.0.0.1:{corp.port}"
    backend = MemoryKeyring()
    backend.secrets[(SERVICE, BASE)] = sandbox.api_key
    settings = Settings(workstation="bench-1", environment="custom", custom_url=BASE, proxy=address)
    desk = Desk(Paths(tmp_path / "c", tmp_path / "d", tmp_path / "l"), settings=settings,
                keystore=KeyStore(backend=backend))
    try:
        dialog = SettingsDialog(desk)
        qtbot.addWidget(dialog)
        assert dialog.proxy_label.text() == f"Proxy: {address}"
        dialog.test_connection()
        qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=15000)
        text = dialog.test_result_label.text()
        assert text.startswith(f"✓ Connected to {BASE}: ") and text.endswith(f"Proxy: {address}."), text
        assert corp.heads and corp.heads[0].startswith(f"CONNECT {HOST}:443 ".encode())
        assert_no_key_in_heads(corp, sandbox.api_key)
    finally:
        qtbot.waitUntil(lambda: jobs.active_jobs() == 0, timeout=15000)
        desk.close()


def test_the_desk_allocates_through_its_proxy_setting_and_refuses_an_unusable_one(sandbox, make_proxy, tmp_path):
    from despatch_desk.core import OutcomeKind
    from despatch_desk.desk import Desk
    from despatch_desk.settings import Paths, Settings

    corp = make_proxy()
    paths = Paths(tmp_path / "c", tmp_path / "d", tmp_path / "l")
    desk = Desk(paths, settings=Settings(workstation="bench-1", proxy=f"http://127.0.0.1:{corp.port}"),
                base_url=BASE, api_key=sandbox.api_key)
    try:
        assert desk.allocate(REF, "nextDay").kind is OutcomeKind.ALLOCATED
        assert desk.client().proxy.url == f"http://127.0.0.1:{corp.port}" and len(corp.heads) == 1
        desk.settings.proxy = "socks5://proxy.corp:1080"
        desk.reconfigure()
        outcome = desk.allocate("EC-000-DSK-002", "nextDay")
        assert outcome.kind is OutcomeKind.UNREACHABLE and "SOCKS" in outcome.message
    finally:
        desk.close()
    assert sandbox.puts_for(REF) == 1 and sandbox.puts_for("EC-000-DSK-002") == 0


def test_a_desynchronised_tunnel_is_not_reused(sandbox, make_proxy):
    """Bytes after an answer inside the tunnel: that tunnel is dropped, the next call opens a new one."""
    from despatch_desk.core import AllocationWorkflow, OutcomeKind, RetryPolicy

    corp = make_proxy()
    sandbox.add_fault(Fault("desync", times=1))
    with client(sandbox, f"http://127.0.0.1:{corp.port}") as c:
        wf = AllocationWorkflow(c, RetryPolicy(backoff_initial_s=0.01, poll_interval_s=0.05, scan_deadline_s=20))
        first, second = wf.allocate(REF, "nextDay"), wf.allocate("EC-000-DSK-002", "nextDay")
    assert first.kind is OutcomeKind.ALLOCATED and second.kind is OutcomeKind.ALLOCATED
    legs = sandbox.consignment("EC-000-DSK-002")["ConsignmentLegs"]
    assert second.tracking_references == tuple(legs[0]["TrackingReferences"])
    assert len(corp.heads) == 2 and sandbox.puts_for(REF) == 1 and sandbox.puts_for("EC-000-DSK-002") == 1


def test_proxy_password_command_stores_where_the_client_looks(sandbox, make_proxy, monkeypatch, capsys):
    """`despatch-desk proxy-password set` (hidden prompt or stdin, never argv) puts the password where the
    client finds it; `delete` removes it; an address without a user is refused in plain words."""
    import io
    import sys

    from despatch_desk.cli import main

    password = "Bench-Pa55!"
    corp = make_proxy(auth=("bob", password))
    address = f"http://bob@127.0.0.1:{corp.port}"
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    assert main(["proxy-password", "set", "--proxy", address]) == 0
    printed = capsys.readouterr()
    assert password not in printed.out + printed.err and "Stored the password" in printed.out
    with client(sandbox, address) as c:
        assert c.allocate_with_service_group(REF, "nextDay").succeeded
    assert main(["proxy-password", "delete", "--proxy", address]) == 0
    with client(sandbox, address) as c, pytest.raises(api.NotSent) as caught:
        c.get_consignment(REF)
    assert "No password is stored" in caught.value.message
    assert main(["proxy-password", "set", "--proxy", f"http://127.0.0.1:{corp.port}"]) == 2
    assert "names no user" in capsys.readouterr().err
