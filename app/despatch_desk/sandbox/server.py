"""The sandbox HTTP server: SortedPRO's Consignments API on loopback, with injectable faults."""

from __future__ import annotations

import base64
import os
import selectors
import socket
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import unquote

from ..api import is_loopback
from .catalogue import Quote
from . import hostile
from .faults import Fault
from .wire import JSON, _apim, _error, _json, _Reply, _resolve, _Route
from .store import Allocation, ApiError, SandboxStore, parse_iso

__all__ = ["SandboxServer", "RecordedRequest", "DEMO_API_KEY", "is_loopback_host"]

DEMO_API_KEY = "demo-0000-sandbox-key"

APIM_MISSING_KEY = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
APIM_INVALID_KEY = (
    "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription."
)
HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head>\r\n"
    b"<body><h1>502 Bad Gateway</h1>\r\n"
    b"<p>The proxy server received an invalid response from an upstream server.</p>\r\n"
    b"<hr><center>sandbox-proxy</center></body></html>\r\n"
)
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    raw_path: str  # exactly as received (still percent-encoded, with any query string)
    path: str  # percent-decoded path, without the query string
    headers: dict[str, str]  # lower-cased names
    body: bytes
    time: float  # time.time() when received


def _shipping_text(shipping_iso: str) -> str:
    dt = parse_iso(shipping_iso)
    offset = dt.isoformat()[-6:] if dt.utcoffset() is not None else "+00:00"
    return dt.strftime("%d/%m/%Y %H:%M:%S ") + offset


def is_loopback_host(host: str) -> bool:
    return is_loopback(host)


# -- the HTTP server ------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = os.name != "nt"
    request_queue_size = 128
    sandbox: "SandboxServer"

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can do a slow reverse DNS look-up.
        import socketserver

        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def handle_error(self, request: Any, client_address: Any) -> None:  # silent
        self.sandbox._note_error(traceback.format_exc())


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SortedPRO-Sandbox/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stalls on keep-alive connections
    server: _HTTPServer

    # Silence http.server's stderr logging.
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        self.server.sandbox._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.sandbox._track(self.connection, False)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed requests, unknown methods: a JSON error instead of http.server's HTML page.
        try:
            reply = _error(code, "BadRequest" if code < 500 else "NotImplemented", message or "Bad request")
            self.close_connection = True
            if self.request_version == "HTTP/0.9":  # unparsable request line: answer in HTTP/1.0
                self.request_version = "HTTP/1.0"
            self.send_response(code, message)
            self.send_header("Content-Type", JSON)
            self.send_header("Content-Length", str(len(reply.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(reply.body)
        except OSError:
            pass

    def _dispatch(self) -> None:
        try:
            self.server.sandbox._handle(self)
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    # -- helpers used by SandboxServer._handle --
    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ConnectionError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ConnectionError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def send(self, reply: _Reply) -> None:
        if reply.drop:
            self.drop()
            return
        if reply.writer is not None:
            reply.writer(self)
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.content_type and (reply.body or reply.status != 200):
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD" and reply.body:
            self.wfile.write(reply.body)

    def drop(self) -> None:
        """Close the connection without sending a single byte."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class SandboxServer:
    """SortedPRO's Consignments API, emulated on loopback (see the package docstring)."""

    allocations_in_flight = 0       # allocation PUTs being handled now, any reference (set per instance on use)
    most_allocations_in_flight = 0  # the most at one moment (batch concurrency tests; a test may reset it)

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEMO_API_KEY,
        latency_ms: float = 0,
        faults: Iterable[Fault | str] = (),
        seed: bool = True,
        *,
        failed_allocation_style: str = "summary",
        allow_remote: bool = False,
        record_limit: int | None = 100_000,
    ) -> None:
        if not allow_remote and not is_loopback_host(host):
            raise ValueError(
                f"refusing to serve on non-loopback host {host!r}: the sandbox has no real security "
                "(pass allow_remote=True to override)"
            )
        self.host = host
        self.port = port
        self.api_key = api_key
        self.latency_ms = latency_ms
        self.failed_allocation_style = failed_allocation_style
        self.store = SandboxStore(seed=seed)
        self._seed = seed
        self._faults: list[Fault] = []
        self._allocated_at: dict[str, float] = {}  # reference -> time.monotonic() of its allocation (label-not-ready)
        self._fault_lock = threading.Lock()
        for f in faults:
            self.add_fault(f)
        # Tests read every request; a demo desk runs for a whole shift, so the record is bounded (oldest dropped).
        self._requests: deque[RecordedRequest] = deque(maxlen=record_limit)
        # What tests assert about allocation PUTs: how many per reference, how many at once.
        self._puts: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}
        self._flapping: dict[str, int] = {}  # reference -> status polls seen while a flapping-202 runs
        #: Tests: called with each request as it arrives, before it is handled (to change the world mid-scan).
        self.on_request: Callable[[RecordedRequest], None] | None = None
        self._req_lock = threading.Lock()
        self.errors: list[str] = []  # tracebacks of unexpected handler errors (should stay empty)
        self._stop_event = threading.Event()
        self._life_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._conn_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}

    # -- settings -------------------------------------------------------------------------------
    @property
    def latency_ms(self) -> float:
        return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if value is None or value < 0:
            raise ValueError("latency_ms must be >= 0")
        self._latency_ms = float(value)

    @property
    def failed_allocation_style(self) -> str:
        return self._failed_style

    @failed_allocation_style.setter
    def failed_allocation_style(self, value: str) -> None:
        if value not in ("summary", "error"):
            raise ValueError("failed_allocation_style must be 'summary' or 'error'")
        self._failed_style = value

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "SandboxServer":
        with self._life_lock:
            if self._stopped:
                raise RuntimeError("a stopped SandboxServer cannot be restarted; make a new one")
            if self._httpd is not None:
                return self
            cls = _HTTPServer6 if ":" in self.host.strip("[]") else _HTTPServer
            httpd = cls((self.host.strip("[]"), self.port), _Handler, bind_and_activate=True)
            httpd.sandbox = self
            self._httpd = httpd
            self.port = httpd.server_address[1]
            self._wake_r, self._wake_w = socket.socketpair()
            self._thread = threading.Thread(
                target=self._serve,
                args=(httpd, self._wake_r),
                name=f"sortedpro-sandbox:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def _serve(self, httpd: _HTTPServer, wake: socket.socket) -> None:
        # Like serve_forever(), but woken at once by stop() instead of polling.
        with selectors.DefaultSelector() as selector:
            selector.register(httpd, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self._stop_event.is_set():
                for key, _ in selector.select():
                    if self._stop_event.is_set():
                        break
                    if key.fileobj is httpd:
                        httpd._handle_request_noblock()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not started")
        host = self.host.strip("[]")
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None and not self._stopped

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving, drop open connections, join threads. Idempotent."""
        with self._life_lock:
            if self._stopped:
                return
            self._stopped = True
            httpd, thread = self._httpd, self._thread
        self._stop_event.set()
        self.store.cancel_timers()
        if httpd is None:
            return
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if thread is not None:
            thread.join(timeout)
        with self._conn_lock:
            conns = dict(self._connections)
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        for sock in (self._wake_r, self._wake_w):
            sock.close()
        deadline = time.monotonic() + timeout
        for t in conns.values():
            if t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else f"{self.host}:{self.port}"
        state = "stopped" if self._stopped else ("running" if self._httpd else "not started")
        return f"<SandboxServer {where} {state}>"

    # -- faults ---------------------------------------------------------------------------------
    def add_fault(self, fault: Fault | str) -> None:
        f = Fault.parse(fault) if isinstance(fault, str) else fault.copy()
        with self._fault_lock:
            self._faults.append(f)

    def clear_faults(self) -> None:
        with self._fault_lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """Snapshot of the active faults (``times`` shows what is left)."""
        with self._fault_lock:
            return [f.copy() for f in self._faults]

    def _take_fault(self, kind: str, path: str) -> Fault | None:
        low = path.lower()
        with self._fault_lock:
            for i, f in enumerate(self._faults):
                if f.scope not in ("any", kind):
                    continue
                if f.match is not None and f.match.lower() not in low:
                    continue
                taken = f.copy()
                if f.times is not None:
                    f.times -= 1
                    if f.times <= 0:
                        del self._faults[i]
                return taken
        return None

    # -- recorded requests ----------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        return self.recorded()

    def recorded(self) -> list[RecordedRequest]:
        with self._req_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._req_lock:
            self._requests.clear()

    # -- data helpers (tests, GUI) --------------------------------------------------------------
    def consignment(self, reference: str) -> dict:
        """Deep copy of the stored consignment JSON. KeyError if unknown."""
        return self.store.consignment(reference)

    def add_consignment(self, reference: str | None = None, **kwargs: Any) -> str:
        """Create a consignment (see SandboxStore.add_consignment); returns its reference."""
        return self.store.add_consignment(reference, **kwargs)

    def set_state(self, reference: str, state: str, group: str | None = None) -> None:
        self.store.set_state(reference, state, group)

    def quote(self, reference: str, group: str) -> list[Quote]:
        """How each service of ``group`` fares for ``reference`` (eligible, net price, reason)."""
        return self.store.quote(reference, group)

    def reset(self) -> None:
        """Reload the demo data (or empty the store if constructed with seed=False)."""
        self.store.reset(self._seed)

    def _note_error(self, text: str) -> None:
        if len(self.errors) < 100:
            self.errors.append(text)

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections[sock] = threading.current_thread()
                if self._stop_event.is_set():  # accepted just as stop() ran
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            else:
                self._connections.pop(sock, None)

    # -- request handling -----------------------------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        body = h.read_body()
        raw_path = h.path
        method = h.command
        decoded = unquote(raw_path.split("?", 1)[0], errors="replace")
        headers = {k.lower(): v for k, v in h.headers.items()}
        recorded = RecordedRequest(method, raw_path, decoded, headers, body, time.time())
        with self._req_lock:
            self._requests.append(recorded)
        if self.on_request is not None:
            self.on_request(recorded)
        if self._latency_ms > 0:
            self._stop_event.wait(self._latency_ms / 1000.0)
        if self._stop_event.is_set():
            h.drop()
            return
        key = headers.get("ocp-apim-subscription-key")
        if not key:
            h.send(_apim(401, APIM_MISSING_KEY, [("WWW-Authenticate", _www_auth())]))
            return
        if key != self.api_key:
            h.send(_apim(401, APIM_INVALID_KEY, [("WWW-Authenticate", _www_auth())]))
            return
        route = _resolve(method, raw_path)
        fault = self._take_fault("label" if route.handler == "label" else route.kind, decoded)
        ref = route.params[0].upper() if route.handler == "allocate" else None
        if ref is not None:
            self._count_put(ref, +1)
        try:
            reply = self._with_fault(fault, route, method)
            if reply is not None:
                h.send(reply)
        finally:
            if ref is not None:
                self._count_put(ref, -1)

    # -- what the allocation PUTs did ------------------------------------------------------------
    def _count_put(self, ref: str, step: int) -> None:
        with self._req_lock:
            if step > 0:
                self._puts[ref] = self._puts.get(ref, 0) + 1
            now = self._in_flight.get(ref, 0) + step
            self._in_flight[ref] = now
            self._max_in_flight[ref] = max(self._max_in_flight.get(ref, 0), now)
            self.allocations_in_flight += step  # all references together (batch concurrency tests)
            self.most_allocations_in_flight = max(self.most_allocations_in_flight, self.allocations_in_flight)

    def puts_for(self, reference: str) -> int:
        """Allocation PUTs received for ``reference`` (whatever became of them)."""
        with self._req_lock:
            return self._puts.get(reference.upper(), 0)

    def deallocate_puts_for(self, reference: str) -> int:
        """``PUT /consignments/{ref}/deallocate`` requests received for ``reference`` (whatever became of them).
        Deallocate faults: ``Fault(name, any_request=True, match="/deallocate")`` with drop-after-commit,
        server-error-after-commit (done, answer lost), server-error, html-502, drop-before-commit (not done)."""
        ref = reference.upper()
        return sum(1 for r in self.recorded() if r.method == "PUT"
                   and [p.upper() for p in r.path.strip("/").split("/")] == ["CONSIGNMENTS", ref, "DEALLOCATE"])

    def deallocations_for(self, reference: str) -> int:
        """Deallocations the sandbox performed for ``reference``."""
        with self.store.lock:
            return self.store.deallocations.get(reference.upper(), 0)

    def most_puts_in_flight(self, reference: str) -> int:
        """The most allocation PUTs for ``reference`` that were being handled at the same moment."""
        with self._req_lock:
            return self._max_in_flight.get(reference.upper(), 0)

    def calls_for(self, reference: str) -> list[str]:
        """The order of calls about ``reference``: "PUT" (allocate), "GET" (consignment) and "STATUS"."""
        ref = reference.upper()
        calls = []
        for r in self.recorded():
            parts = [p.upper() for p in r.path.strip("/").split("/")]
            if len(parts) >= 2 and parts[1] == ref:
                if parts[0] == "ALLOCATION":
                    calls.append("PUT")
                elif parts[0] == "CONSIGNMENTS" and len(parts) == 2:
                    calls.append("GET")
                elif parts[0] == "CONSIGNMENTS" and parts[-1] == "STATUS":
                    calls.append("STATUS")
        return calls

    def _with_fault(self, fault: Fault | None, route: _Route, method: str) -> _Reply | None:
        name = fault.name if fault else None
        if name is None:
            return self._answer(route, method)
        assert fault is not None
        if name == "rate-limit":
            return _apim(
                429,
                f"Rate limit is exceeded. Try again in {fault.retry_after} seconds.",
                [("Retry-After", str(fault.retry_after))],
            )
        if name == "unauthorized":
            return _apim(401, APIM_INVALID_KEY, [("WWW-Authenticate", _www_auth())])
        if name == "servicegroups-forbidden":
            return _error(403, "Forbidden", "This API key is not allowed to list carrier service groups")
        if name == "server-error":
            return _error(500, "InternalServerError", "An unexpected error occurred. Please try again later.")
        if name == "html-502":
            return _Reply(502, HTML_502, "text/html")
        if name == "label-not-ready":
            since = self._allocated_at.get(route.params[0].upper()) if route.params else None
            if since is not None and time.monotonic() - since < fault.effective_delay:
                return _error(404, "LabelNotFound", f"The label for consignment {route.params[0]} is not ready yet")
            return self._answer(route, method)
        if name == "drop-before-commit":
            return _Reply(0, drop=True)
        hostile_reply = hostile.reply(self, fault, route, method)
        if hostile_reply is not None:
            return hostile_reply
        if name == "accepted-202":
            if route.handler == "allocate":
                return self._allocate_async(route, fault.effective_delay)
            return self._answer(route, method)
        # The "-after-commit" faults: do the work, then spoil the answer.
        reply = self._answer(route, method)
        if name == "server-error-after-commit":
            return _error(500, "InternalServerError", "An unexpected error occurred. Please try again later.")
        if name == "drop-after-commit":
            return _Reply(0, drop=True)
        if name == "garbage-200":
            return _Reply(200, b"<html>OK</html>", "text/html")
        if name == "slow-after-commit":
            if self._stop_event.wait(fault.effective_delay):
                return _Reply(0, drop=True)
            return reply
        return reply

    def _answer(self, route: _Route, method: str) -> _Reply:
        if route.handler is None:
            if route.allowed:
                reply = _error(405, "MethodNotAllowed", f"Method {method} is not allowed on this resource")
                reply.headers.append(("Allow", ", ".join(route.allowed)))
                return reply
            return _error(404, "ResourceNotFound", "The requested resource was not found")
        try:
            return getattr(self, "_api_" + route.handler)(*route.params)
        except ApiError as e:
            return _error(e.status, e.code, e.message, e.details)
        except Exception:  # a sandbox bug: answer like a server would, and keep the traceback
            self._note_error(traceback.format_exc())
            return _error(500, "InternalServerError", "An unexpected error occurred.")

    # -- API endpoints ---------------------------------------------------------------------------
    def _api_consignment(self, ref: str) -> _Reply:
        return _Reply(200, _json(self.store.get_consignment(ref)))

    def _api_status(self, ref: str) -> _Reply:
        status = self.store.get_status(ref, self.url)
        with self._req_lock:
            polls = self._flapping.get(ref.upper())
            if polls is not None:
                self._flapping[ref.upper()] = polls + 1
        if polls is not None:  # a flapping-202 is still running: the status lags, and flaps
            status = dict(status, Status="Allocating" if polls % 2 else "Unallocated")
        return _Reply(200, _json(status))

    def _api_deallocate(self, ref: str) -> _Reply:
        self.store.deallocate(ref)
        return _Reply(200, b"", None)

    def _api_allocate(self, ref: str, group: str) -> _Reply:
        return self._allocation_reply(self.store.allocate(ref, group))

    def _allocation_reply(self, a: Allocation) -> _Reply:
        base = self.url
        detail = {"Rel": "detail", "Href": f"{base}/consignments/{a.reference}"}
        if a.allocated:
            assert a.service is not None
            self._allocated_at[a.reference.upper()] = time.monotonic()
            summary = {
                "StatusCode": 200,
                "ApiLinks": [detail, {"Rel": "label", "Href": f"{base}/labels/{a.reference}"}],
                "Description": (
                    f"Consignment {a.reference} has been successfully allocated with "
                    f"{a.carrier_name} {a.service.name} for shipping on {_shipping_text(a.shipping_date)}"
                ),
                "ConsignmentLegs": [
                    {
                        "Leg": 1,
                        "TrackingReferences": list(a.tracking),
                        "CarrierReference": a.carrier_reference,
                        "CarrierServiceReference": None,
                        "CarrierName": a.carrier_name,
                    }
                ],
                "CarrierReference": a.carrier_reference,
                "CarrierName": a.carrier_name,
                "CarrierServiceReference": a.service.reference,
                "CarrierServiceName": a.service.name,
            }
            return _Reply(200, _json([summary]))
        if self._failed_style == "error":
            details = [
                {"Code": "NoEligibleService", "Target": q.service, "Message": q.reason or ""}
                for q in a.quotes
                if not q.eligible
            ]
            return _error(400, "AllocationFailed", a.reason, details)
        summary = {
            "StatusCode": 400,
            "ApiLinks": [detail],
            "Description": a.reason,
            "ConsignmentLegs": [],
            "CarrierReference": None,
            "CarrierName": None,
            "CarrierServiceReference": None,
            "CarrierServiceName": None,
        }
        return _Reply(200, _json([summary]))

    def _allocate_async(self, route: _Route, delay: float) -> _Reply:
        ref, group = route.params
        try:
            token = self.store.begin_allocation(ref, group)
        except ApiError as e:
            return _error(e.status, e.code, e.message, e.details)
        self.store.schedule(delay, lambda: self.store.finish_allocation(ref, group, token))
        base = self.url
        summary = {
            "StatusCode": 202,
            "ApiLinks": [
                {"Rel": "detail", "Href": f"{base}/consignments/{ref}"},
                {"Rel": "status", "Href": f"{base}/consignments/{ref}/status"},
            ],
            "Description": f"Consignment {ref} has been accepted for allocation",
            "ConsignmentLegs": [],
            "CarrierReference": None,
            "CarrierName": None,
            "CarrierServiceReference": None,
            "CarrierServiceName": None,
        }
        return _Reply(202, _json([summary]))

    def _api_label(self, ref: str, fmt: str = "PDF", dpi_text: str | None = None) -> _Reply:
        dpi: int | None = None
        if dpi_text is not None:
            try:
                dpi = int(dpi_text)
            except ValueError:
                dpi = -1
            if not 72 <= dpi <= 1200:
                raise ApiError(400, "InvalidRequest", f"Label resolution '{dpi_text}' is not a valid dpi (72-1200)")
        data, content_type = self.store.label(ref, fmt, dpi)
        return _Reply(200, _json({"File": base64.b64encode(data).decode("ascii"), "ContentType": content_type}))

    def _api_servicegroups(self) -> _Reply:
        cat = self.store.catalogue
        return _Reply(
            200,
            _json(
                [
                    {
                        "Reference": g.reference,
                        "Name": g.name,
                        "IsEnabled": g.enabled,
                        "MpdCarrierServices": list(g.services),
                    }
                    for g in cat.groups.values()
                ]
            ),
        )

    def _api_carrierservices(self) -> _Reply:
        cat = self.store.catalogue
        return _Reply(
            200,
            _json(
                {
                    "MpdCarrierServices": [
                        {
                            "Reference": s.reference,
                            "Name": s.name,
                            "CarrierReference": s.carrier_reference,
                            "CarrierName": cat.carriers[s.carrier_reference].name,
                            "IsEnabled": s.enabled,
                        }
                        for s in cat.services.values()
                    ]
                }
            ),
        )


def _www_auth() -> str:
    return 'AzureApiManagementKey realm="sandbox",name="Ocp-Apim-Subscription-Key",type="header"'

