"""Bounded HTTP for the SortedPRO client: one deadline and one cancel token per call, enforced at the
socket, capped bodies, and no reuse of a connection that carried bytes beyond its answer.

Why at the socket: httpx's timeouts are per read, so a server that drips a byte every few seconds
never trips them, and a blocked ``recv`` cannot be interrupted from another thread. Here every
connect, read and write runs in slices of :data:`SLICE_S` and, before each slice, consults the
*current call* of its thread (set by :func:`call_scope`): cancelled → :class:`CallCancelled`;
deadline passed → the matching httpcore timeout (which the client maps to "not sent" or "in doubt").

Why the byte count: h11 keeps bytes that arrive after a complete answer and reads them as the *next*
answer on the same keep-alive connection (a desynchronised connection then reports another scan's
result). :class:`SlicedStream` counts what it received per request; the client tells it where the
answer ended (:meth:`SlicedStream.answer_done`), and a stream with bytes left over reports itself
readable, which httpcore's pool treats as "server closed it": the connection is dropped, never reused.

Through a company proxy (:mod:`despatch_desk.proxy`) the pool is httpcore's ``HTTPProxy`` on the same
backend, so the CONNECT, the TLS handshake inside the tunnel and the request are all sliced alike. Bytes
written to the proxy itself (the CONNECT) do not count as sent: only after the tunnel's TLS handshake can a
byte reach SortedPRO, so a proxy that refuses, stalls or drops the CONNECT is "not sent", never "in doubt".
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from .cancel import CancelToken

SLICE_S = 0.25  # the longest any socket operation blocks before the call's token is consulted again
_HEAD_MAX = 65536


class CallCancelled(Exception):
    """The call's token was cancelled; ``sent`` says whether any request byte had been written."""

    def __init__(self, sent: bool) -> None:
        super().__init__("the request was cancelled")
        self.sent = sent


class BodyTooLarge(Exception):
    """An answer's decoded body went past its cap."""


class UnsupportedEncoding(Exception):
    """An answer in a content encoding the desk does not decode (it asks for gzip/deflate only)."""


class CallState:
    """What the sockets of one thread's current call consult."""

    __slots__ = ("token", "sent")

    def __init__(self, token: CancelToken | None) -> None:
        self.token = token
        self.sent = False


_local = threading.local()


@contextmanager
def call_scope(token: CancelToken | None) -> Iterator[CallState]:
    """Run one HTTP call under ``token`` (its deadline and cancel) on this thread."""
    state = CallState(token)
    previous = getattr(_local, "state", None)
    _local.state = state
    try:
        yield state
    finally:
        _local.state = previous


_TIMEOUTS = {"connect": httpcore.ConnectTimeout, "read": httpcore.ReadTimeout, "write": httpcore.WriteTimeout}


def _slice(phase: str, end: float | None) -> float:
    """How long the next blocking slice may take; raises if the call is cancelled or out of time."""
    state: CallState | None = getattr(_local, "state", None)
    wait = SLICE_S
    if state is not None and state.token is not None:
        token = state.token
        if token.cancelled:
            raise CallCancelled(state.sent)
        left = token.remaining()
        if left is not None:
            if left <= 0:
                raise _TIMEOUTS[phase]("the scan's deadline passed")
            wait = min(wait, left)
    if end is not None:
        left = end - time.monotonic()
        if left <= 0:
            raise _TIMEOUTS[phase]("timed out")
        wait = min(wait, left)
    return max(wait, 0.001)


def _mark_sent() -> None:
    state: CallState | None = getattr(_local, "state", None)
    if state is not None:
        state.sent = True


def _end(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


class SlicedStream(httpcore.NetworkStream):
    def __init__(self, sock: socket.socket, *, to_origin: bool = True) -> None:
        self._sock = sock
        self._to_origin = to_origin  # False: the plain connection to a proxy (its CONNECT reaches no server)
        self._reading = False
        self._received = 0        # bytes received since this request was written
        self._head = bytearray()  # the start of the answer, until its blank line is seen
        self._head_len: int | None = None
        self._spoiled = False     # bytes beyond an answer: never reuse this connection

    # -- byte accounting per request/answer cycle
    def _note(self, data: bytes) -> None:
        self._received += len(data)
        if self._head_len is None and len(self._head) < _HEAD_MAX:
            self._head += data[:_HEAD_MAX]
            end = self._head.find(b"\r\n\r\n")
            if end >= 0:
                self._head_len = end + 4

    def answer_done(self, body_bytes: int, *, exact: bool) -> None:
        """The client read a whole answer whose body had ``body_bytes`` on the wire. ``exact`` is
        False when that count cannot be checked (chunked, interim answers): then never reuse."""
        if not exact or self._head_len is None or self._received != self._head_len + body_bytes:
            self._spoiled = True

    # -- NetworkStream
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        end = _end(timeout)
        self._reading = True
        while True:
            wait = _slice("read", end)
            try:
                self._sock.settimeout(wait)
                data = self._sock.recv(max_bytes)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except OSError as exc:
                raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc
            self._note(data)
            return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._reading:  # a new request on a kept-alive connection: a new cycle
            self._reading, self._received, self._head, self._head_len = False, 0, bytearray(), None
        end = _end(timeout)
        view = memoryview(buffer)
        while view:
            wait = _slice("write", end)
            try:
                self._sock.settimeout(wait)
                if self._to_origin:
                    _mark_sent()  # from the first send on, the request may have reached the server
                sent = self._sock.send(view)
            except (TimeoutError, ssl.SSLWantWriteError):
                continue
            except OSError as exc:
                raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc
            view = view[sent:]

    def close(self) -> None:
        self._sock.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        end = _end(timeout)
        try:
            tls = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname, do_handshake_on_connect=False)
            while True:
                wait = _slice("connect", end)
                tls.settimeout(wait)
                try:
                    tls.do_handshake()
                    break
                except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
        except (httpcore.ConnectTimeout, CallCancelled):
            self._sock.close()
            raise
        except OSError as exc:  # ssl.SSLError is an OSError: a certificate problem lands here
            self._sock.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return SlicedStream(tls)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]  # what httpcore's own stream returns
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            # httpcore's pool drops an idle connection that is readable: leftover bytes count as that.
            return self._spoiled or _readable(self._sock)
        return None


def _readable(sock: socket.socket) -> bool:
    try:
        if sock.fileno() < 0:
            return True
        ready, _, _ = select.select([sock], [], [], 0)
        return bool(ready)
    except (OSError, ValueError):
        return True


class SlicedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, with connects, reads and writes in slices (see the module doc).

    ``to_proxy``: every TCP connection goes to a proxy; only the TLS tunnel inside it reaches the origin."""

    def __init__(self, *, to_proxy: bool = False) -> None:
        self._to_proxy = to_proxy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        end = _end(timeout)
        _slice("connect", end)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception = httpcore.ConnectError(f"no address for {host}")
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                if local_address:
                    sock.bind((local_address, 0))
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                error = sock.connect_ex(address)
                while error in _IN_PROGRESS:
                    wait = _slice("connect", end)
                    _, writable, failed = select.select([], [sock], [sock], wait)
                    if writable or failed:
                        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise httpcore.ConnectError(_strerror(error))
                sock.setblocking(True)
                return SlicedStream(sock, to_origin=not self._to_proxy)
            except (httpcore.ConnectTimeout, CallCancelled):
                sock.close()
                raise
            except httpcore.ConnectError as exc:
                sock.close()
                last = exc
            except OSError as exc:
                sock.close()
                last = httpcore.ConnectError(str(exc))
        raise last

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)  # httpcore's connect retries; the client configures none


_IN_PROGRESS = {0x7FFFFFFF}  # filled below: "still connecting" errno values of this OS
for _name in ("EINPROGRESS", "EWOULDBLOCK", "EALREADY", "EAGAIN", "WSAEWOULDBLOCK", "WSAEINPROGRESS"):
    import errno as _errno

    if hasattr(_errno, _name):
        _IN_PROGRESS.add(getattr(_errno, _name))
_IN_PROGRESS.discard(0x7FFFFFFF)


def _strerror(error: int) -> str:
    import os

    try:
        return os.strerror(error)
    except ValueError:
        return f"error {error}"


class BoundedTransport(httpx.HTTPTransport):
    """httpx's transport on :class:`SlicedBackend` (HTTP/1.1 only). No proxy from the environment (the
    client trusts no env): ``proxy_url`` (``http://host:port``, credentials apart in ``proxy_auth``) is the
    one the desk chose; HTTPS then goes through it as a CONNECT tunnel (see the module doc)."""

    def __init__(self, *, verify: ssl.SSLContext | bool, limits: httpx.Limits, proxy_url: str | None = None,
                 proxy_auth: tuple[str, str] | None = None) -> None:
        super().__init__(verify=verify, limits=limits, trust_env=False)
        old = self._pool
        pool: dict[str, Any] = dict(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
        )
        if proxy_url is None:
            self._pool = httpcore.ConnectionPool(**pool, network_backend=SlicedBackend())
        else:
            self._pool = httpcore.HTTPProxy(proxy_url=proxy_url, proxy_auth=proxy_auth, **pool,
                                            network_backend=SlicedBackend(to_proxy=True))
        old.close()


# --------------------------------------------------------------------------- capped bodies

ACCEPT_ENCODING = "gzip, deflate"


def read_body(response: httpx.Response, cap: int) -> tuple[bytes, bool, int]:
    """(decoded body of at most ``cap`` bytes, True when it was longer, raw bytes on the wire or -1).

    Reads raw bytes and inflates them with a bounded ``decompressobj``: httpx's own decoder
    inflates a whole chunk at once, which is how a 1 MB gzip answer once became gigabytes.
    The response is *not* closed here; the caller closes it after :func:`note_answer_end`."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        inflater = None
    elif encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflater = _Deflate()
    else:
        raise UnsupportedEncoding(encoding[:40])
    out = bytearray()
    raw_total = 0
    for raw in response.stream:  # type: ignore[union-attr]  # the raw wire bytes, de-chunked only
        raw_total += len(raw)
        if inflater is None:
            out += raw[: cap + 1 - len(out)]
        else:
            data = raw
            while data and len(out) <= cap:
                out += inflater.decompress(data, cap + 1 - len(out))
                data = inflater.unconsumed_tail
        if len(out) > cap or raw_total > cap:
            return bytes(out[:cap]), True, -1
    return bytes(out), False, raw_total


class _Deflate:
    """HTTP "deflate" is zlib-wrapped by the standard, raw deflate in practice: accept both."""

    def __init__(self) -> None:
        self._inner: Any = None
        self.unconsumed_tail = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._inner is None:
            first = data[:1]
            zlib_header = bool(first) and (first[0] & 0x0F) == 8 and len(data) > 1 and (first[0] << 8 | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        piece = self._inner.decompress(data, max_length)
        self.unconsumed_tail = self._inner.unconsumed_tail
        return piece


def note_answer_end(response: httpx.Response, raw_bytes: int) -> None:
    """Tell the connection where the answer ended, before it goes back to the pool (see module doc)."""
    stream = response.extensions.get("network_stream")
    if not isinstance(stream, SlicedStream):
        return
    chunked = "chunked" in response.headers.get("transfer-encoding", "").lower()
    stream.answer_done(raw_bytes, exact=raw_bytes >= 0 and not chunked)
