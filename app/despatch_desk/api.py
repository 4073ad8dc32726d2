"""SortedPRO Consignments API client: one ``httpx.Client``, tolerant parsing, typed errors.

Every error says what happened *and* whether the request could have reached the server
(:attr:`ApiError.reached_server`): ``False`` means it never left this machine and a retry is
safe; ``True`` means the server answered; ``None`` means *in doubt* (sent, answer lost).
The allocation workflow in :mod:`despatch_desk.core` builds its safety rules on that.
"""

from __future__ import annotations

import logging
import ssl
import time
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from . import bounded, proxy as proxies
from .proxy import is_loopback  # noqa: F401  (re-exported: api.is_loopback)
from .cancel import Cancelled, CancelToken
from .rate_gate import RateGate
from .errors import EXIT_KEY, EXIT_NOT_DONE, EXIT_UNREACHABLE, EXIT_USAGE, DeskError
from .sanitize import KeyMask, clean_text, load_json

log = logging.getLogger("despatch_desk.api")

PRODUCTION_URL = "https://api.electioapp.com"
SANDBOX_URL = "https://apisandbox.electioapp.com"
API_VERSION = "1.1"
KEY_HEADER = "ocp-apim-subscription-key"
LABEL_FORMATS = ("PDF", "ZPL", "ZPLII")


# --------------------------------------------------------------------------- errors


class ApiError(DeskError):
    """Base of every client error. ``str(err)`` is a plain sentence for an operator.

    ``cancelled``: the desk itself stopped the call (its token was cancelled or the client closed)."""

    reached_server: bool | None = True
    exit_code = EXIT_UNREACHABLE

    def __init__(self, message: str, *, cancelled: bool = False) -> None:
        super().__init__(message)
        self.cancelled = cancelled


class ConfigurationError(ApiError):
    """The request cannot be made as configured (bad URL, plain HTTP to a remote host)."""

    reached_server = False
    exit_code = EXIT_USAGE


class ProxyConfigurationError(ConfigurationError):
    """The proxy setting cannot be used (a password in the file, a SOCKS proxy, ...): see proxy.py."""


class NotSent(ApiError):
    """Could not connect: the request never reached SortedPRO, so a retry is safe."""

    reached_server = False


class InDoubt(ApiError):
    """The request was sent but the answer was lost (timeout, dropped connection)."""

    reached_server = None


class ApiResponseError(ApiError):
    """SortedPRO (or something in between) answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        server_message: str | None = None,
        details: tuple[dict[str, Any], ...] = (),
        correlation_id: str | None = None,
        body_excerpt: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.server_message = server_message
        self.details = details
        self.correlation_id = correlation_id
        self.body_excerpt = body_excerpt


class Refused(ApiResponseError):
    """A 4xx: SortedPRO understood and refused (wrong state, unknown group, ...)."""

    exit_code = EXIT_NOT_DONE


class NotFound(Refused):
    """404: no such consignment (or route) for this account."""


class Unauthorized(ApiResponseError):
    """401/403: the API key is missing, wrong or not allowed to do this."""

    exit_code = EXIT_KEY


class RateLimited(ApiResponseError):
    """429: too many requests. The request was not processed."""

    def __init__(self, message: str, *, retry_after: float | None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(ApiResponseError):
    """5xx: the server failed. For a write, it may or may not have been applied."""

    reached_server = None


class UnexpectedAnswer(ApiResponseError):
    """An answer that is not SortedPRO JSON (HTML from a proxy, garbage, wrong shape)."""

    reached_server = None


# --------------------------------------------------------------------------- models and parsing
from .answers import (  # noqa: E402, F401  (re-exported: callers use api.Consignment, api.parse_status, ...)
    Allocation, AllocationSummary, CarrierService, Consignment, ConsignmentStatus, FailedAllocation, Label, Leg,
    Money, ServiceGroup, normalise_state, parse_allocation_summary, parse_carrier_services, parse_consignment,
    parse_retry_after, parse_service_groups, parse_status, _get, _list, _str,
)


# --------------------------------------------------------------------------- client


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0
    write: float = 10.0
    pool: float = 5.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


def segment(value: str) -> str:
    """Percent-encode one path segment: a scanned ``../`` or ``?`` can never change the URL."""
    # "." stays literal in quote(), and httpx would resolve a "." or ".." segment away.
    return quote(value, safe="").replace(".", "%2E")


def validate_base_url(base_url: str) -> str:
    """Return the normalised base URL or raise :class:`ConfigurationError` in plain words."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"'{base_url}' is not a web address (it must start with https://).")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"'{base_url}' uses plain http: the API key would travel unencrypted. Use https://."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(f"'{base_url}' must be a plain address without ?, # or user name.")
    return url


def api_origin(base_url: str) -> str:
    """``scheme://host[:port]``: the keyring user name under which this API's key is kept."""
    parts = urlsplit(base_url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def _ssl_context() -> ssl.SSLContext | bool:
    # The OS trust store, so corporate TLS-inspecting proxies trusted by IT keep working;
    # certificate checks stay on either way.
    try:
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except Exception:  # pragma: no cover - truststore unavailable on this OS
        return True


def mask_secret(text: str, secret: str | None) -> str:
    """The key (whole, URL-encoded, any case, any 8-character piece) masked in ``text``."""
    return KeyMask(secret)(text)


JSON_CAP = 1 << 20      # SortedPRO's answers are kilobytes: 1 MiB is generous
LABEL_CAP = 16 << 20    # a label file (base64 in JSON) for many packages
_LABEL_DATA = frozenset({"file"})


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, read in full within its cap and already decoded."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class SortedProClient:
    """Thread-safe: one ``httpx.Client`` (connection pool) shared by every worker thread.

    Every call takes ``cancel``: a :class:`CancelToken` whose deadline and cancel reach down to the
    socket (see :mod:`despatch_desk.bounded`); without one a call is bounded by its timeouts only."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeouts: Timeouts | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str | None = None,
        max_connections: int = 8,
        proxy: str | None = None,  # the proxy setting: "system" (None), "none" or http://…; see proxy.py
    ) -> None:
        from . import __version__

        self.base_url = validate_base_url(base_url)
        if not api_key or any(ch.isspace() for ch in api_key):
            raise ConfigurationError("The API key is empty or contains spaces.")
        self._api_key = api_key
        self._mask = KeyMask(api_key)
        self.rate_gate = RateGate()  # one back-off for every request of this client (a 429 slows them all)
        self.timeouts = timeouts or Timeouts()
        headers = {
            KEY_HEADER: api_key,
            "electio-api-version": API_VERSION,
            "Accept": "application/json",
            "Accept-Encoding": bounded.ACCEPT_ENCODING,  # only what read_body can inflate, bounded
            "User-Agent": user_agent or f"DespatchDesk/{__version__}",
        }
        secure = urlsplit(self.base_url).scheme == "https"
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        verify = _ssl_context() if secure and transport is None else True
        try:
            self.proxy = proxies.route_for(self.base_url, proxy) if transport is None else proxies.ProxyRoute("none")
        except proxies.ProxyProblem as exc:
            raise ProxyConfigurationError(exc.message) from None
        if transport is None:
            log.info("%s: %s", self.origin, self.proxy.describe())  # which proxy is in use, never its password
            transport = bounded.BoundedTransport(verify=verify, limits=limits, proxy_url=self.proxy.url,
                                                 proxy_auth=self.proxy.auth)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=self.timeouts.to_httpx(),
            verify=verify,
            transport=transport,
            limits=limits,
            follow_redirects=False,
            trust_env=False,  # no proxy or .netrc from the environment can see the key unannounced
        )

    # -- lifecycle
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SortedProClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def origin(self) -> str:
        return api_origin(self.base_url)

    def clean(self, text: str) -> str:
        """Server text as it may be shown or stored: the key masked, controls gone, cut."""
        return clean_text(text, self._mask)

    # -- calls
    def allocate_with_service_group(self, reference: str, group_code: str, *,
                                    cancel: CancelToken | None = None) -> AllocationSummary:
        path = f"/allocation/{segment(reference)}/allocatewithservicegroup/{segment(group_code)}"
        answer = self._request("PUT", path, cancel=cancel)
        try:
            return parse_allocation_summary(self._json(answer, allow_empty=answer.status_code == 202),
                                            answer.status_code)
        except ValueError as exc:
            raise self._unexpected(answer, f"SortedPRO's answer to the allocation was not understood ({exc}).")

    def get_consignment(self, reference: str, *, cancel: CancelToken | None = None) -> Consignment:
        answer = self._request("GET", f"/consignments/{segment(reference)}", cancel=cancel)
        try:
            return parse_consignment(self._json(answer), reference)
        except ValueError as exc:
            raise self._unexpected(answer, f"SortedPRO's consignment answer was not understood ({exc}).")

    def get_status(self, reference: str, *, cancel: CancelToken | None = None) -> ConsignmentStatus:
        answer = self._request("GET", f"/consignments/{segment(reference)}/status", cancel=cancel)
        try:
            return parse_status(self._json(answer))
        except ValueError as exc:
            raise self._unexpected(answer, f"SortedPRO's status answer was not understood ({exc}).")

    def deallocate(self, reference: str, *, cancel: CancelToken | None = None) -> None:
        self._request("PUT", f"/consignments/{segment(reference)}/deallocate", cancel=cancel)

    def get_label(self, reference: str, fmt: str = "PDF", dpi: int | None = None, *,
                  cancel: CancelToken | None = None) -> Label:
        import base64
        import binascii

        fmt = fmt.upper()
        if fmt not in LABEL_FORMATS:
            raise ConfigurationError(f"Label format must be one of {', '.join(LABEL_FORMATS)}.")
        path = f"/labels/{segment(reference)}/{segment(fmt)}"
        if dpi is not None:
            path += f"/{int(dpi)}"
        answer = self._request("GET", path, cancel=cancel, cap=LABEL_CAP)
        data = self._json(answer, keep=_LABEL_DATA)  # the base64 file is data: never cut, masked or shown
        file_value = _get(data, "File")
        encoded = file_value.strip() if isinstance(file_value, str) else None
        if not encoded:
            raise self._unexpected(answer, "SortedPRO answered without a label file.")
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise self._unexpected(answer, "The label SortedPRO sent is not valid base64.") from None
        content_type = self.clean(_str(_get(data, "ContentType")) or "")[:100] or (
            "application/pdf" if fmt == "PDF" else "text/plain")
        return Label(reference, fmt, content_type, content)

    def list_service_groups(self, *, cancel: CancelToken | None = None) -> list[ServiceGroup]:
        answer = self._request("GET", "/servicegroups", cancel=cancel)
        return parse_service_groups(self._json(answer))

    def list_carrier_services(self, *, cancel: CancelToken | None = None) -> list[CarrierService]:
        answer = self._request("GET", "/carrierservices", cancel=cancel)
        return parse_carrier_services(self._json(answer))

    # -- plumbing
    def _request(self, method: str, path: str, *, cancel: CancelToken | None = None, cap: int = JSON_CAP) -> Answer:
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:8]
        if log.isEnabledFor(logging.DEBUG):
            log.debug("→ %s %s%s [%s] %s: ••••", method, self.base_url, path, request_id, KEY_HEADER)
        with bounded.call_scope(cancel) as call:
            try:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                if method == "PUT":  # after a 429 no allocation leaves until the gate opens (looks may)
                    self.rate_gate.wait(cancel)
                response = self._http.send(self._http.build_request(method, path), stream=True)
                try:
                    content, truncated, raw_bytes = bounded.read_body(response, cap)
                    bounded.note_answer_end(response, raw_bytes)
                finally:
                    response.close()
            except (Cancelled, bounded.CallCancelled):
                if call.sent:
                    raise InDoubt(f"The desk stopped waiting for {self.origin}'s answer.", cancelled=True) from None
                raise NotSent(f"The desk stopped before the request to {self.origin} was sent.", cancelled=True) from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise self._not_sent(exc) from None
            except httpx.ProxyError as exc:  # the proxy would not open the tunnel: nothing reached SortedPRO
                raise NotSent(self.proxy.refused_words(str(exc), self.origin)) from None
            except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
                if not call.sent:  # a proxy stalled on the CONNECT: no byte went into the tunnel
                    raise self._not_sent(exc) from None
                raise InDoubt(f"{self.origin} did not answer in time ({self._reason(exc)}).") from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError) as exc:
                if not call.sent:  # a proxy dropped the CONNECT
                    raise self._not_sent(exc) from None
                raise InDoubt(f"The connection to {self.origin} dropped before the answer arrived "
                              f"({self._reason(exc)}).") from None
            except httpx.UnsupportedProtocol:
                raise ConfigurationError(f"'{self.base_url}' is not a usable web address.") from None
            except bounded.UnsupportedEncoding as exc:
                raise UnexpectedAnswer(f"{self.origin} answered in an encoding the desk does not read "
                                       f"({self.clean(str(exc))}).", status=response.status_code) from None
            except (httpx.HTTPError, zlib.error) as exc:  # anything else mid-request, or a broken gzip
                raise InDoubt(f"The request to {self.origin} failed ({self._reason(exc)}).") from None
            except RuntimeError as exc:  # the client was closed under this call (the desk is closing)
                if call.sent:
                    raise InDoubt(f"The desk closed the connection to {self.origin} before the answer arrived.",
                                  cancelled=True) from None
                raise NotSent(f"The desk closed before the request to {self.origin} was sent ({exc}).",
                              cancelled=True) from None
        answer = Answer(response.status_code, response.headers, content, truncated)
        elapsed = (time.perf_counter() - started) * 1000
        if log.isEnabledFor(logging.DEBUG):
            # A label's base64 file is never logged: a key echoed inside it would survive masking encoded.
            shown = (f"({len(content)} bytes of label answer)" if cap == LABEL_CAP
                     else clean_text(answer.text[:2000], self._mask, 2000))
            log.debug("← %s %s [%s] %.0f ms %s", answer.status_code, path, request_id, elapsed, shown)
        if answer.status_code >= 300:
            raise self._error(answer)
        if truncated:
            raise self._unexpected(answer, f"{self.origin} sent an answer larger than {cap >> 20} MiB; "
                                           "it was not read.")
        return answer

    def _not_sent(self, exc: BaseException) -> NotSent:
        return NotSent(f"Could not connect to {self.origin}{self.proxy.via} ({self._reason(exc)}). Nothing was sent.")

    def _reason(self, exc: BaseException) -> str:
        text = str(exc).strip().rstrip(".") or type(exc).__name__  # it goes inside our own sentence
        return self.clean(text)[:200]

    def _json(self, answer: Answer, *, allow_empty: bool = False, keep: frozenset[str] = frozenset()) -> Any:
        if allow_empty and not answer.content.strip():
            return None
        try:
            return load_json(answer.content, self._mask, keep)
        except ValueError:
            raise self._unexpected(answer, _not_json_message(answer, self.origin)) from None

    def _unexpected(self, answer: Answer, message: str) -> UnexpectedAnswer:
        return UnexpectedAnswer(message, status=answer.status_code, body_excerpt=self._excerpt(answer))

    def _excerpt(self, answer: Answer) -> str:
        return clean_text(answer.text[:2000], self._mask, 500) if answer.content else ""

    def _error(self, answer: Answer) -> ApiResponseError:
        status = answer.status_code
        body: Any = None
        try:
            body = load_json(answer.content, self._mask) if answer.content.strip() and not answer.truncated else None
        except ValueError:
            body = None
        code = _str(_get(body, "Code"))
        server_message = _str(_get(body, "Message", "message", "Description"))
        details = tuple(d for d in _list(_get(body, "Details")) if isinstance(d, Mapping))
        if details and not server_message:
            server_message = _str(_get(details[0], "Message"))
        header_id = answer.headers.get("x-correlation-id")
        correlation_id = _str(_get(body, "CorrelationId")) or (self.clean(header_id)[:200] or None if header_id else None)
        kw: dict[str, Any] = dict(
            status=status, code=code, server_message=server_message, details=details,
            correlation_id=correlation_id, body_excerpt=self._excerpt(answer),
        )
        said = f": {server_message}" if server_message else ""
        if status == 429:
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            self.rate_gate.hold(retry_after)
            wait = f" Try again in {retry_after:.0f} s." if retry_after is not None else ""
            return RateLimited(f"SortedPRO is limiting requests (HTTP 429).{wait}", retry_after=retry_after, **kw)
        if status in (401, 403):
            what = "rejected the API key" if status == 401 else "refused access for this API key"
            return Unauthorized(f"SortedPRO {what} (HTTP {status}){said}", **kw)
        if body is None and answer.content.strip():
            # Not JSON: a proxy or gateway page, not SortedPRO's own words.
            message = _not_json_message(answer, self.origin)
            return UnexpectedAnswer(message, **kw)
        if status >= 500:
            return ServerError(f"SortedPRO had a server error (HTTP {status}){said}", **kw)
        if status == 404:
            return NotFound(f"SortedPRO does not know that (HTTP 404){said}", **kw)
        if 300 <= status < 400:
            return UnexpectedAnswer(f"{self.origin} redirected the request (HTTP {status}); check the API address.", **kw)
        return Refused(f"SortedPRO refused (HTTP {status}){said}", **kw)


def _not_json_message(response: Answer, origin: str) -> str:
    content_type = clean_text(response.headers.get("content-type", "").split(";")[0], limit=60) or "no content type"
    if "html" in content_type or response.content.lstrip()[:1] == b"<":
        return (
            f"Something between this desk and SortedPRO answered with a web page instead of data "
            f"(HTTP {response.status_code}, {content_type}): a proxy or gateway problem."
        )
    return f"{origin} answered with something that is not SortedPRO data (HTTP {response.status_code}, {content_type})."
