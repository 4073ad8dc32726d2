"""SortedPRO Consignments API client: one ``httpx.Client``, tolerant parsing, typed errors.

Every error says what happened *and* whether the request could have reached the server
(:attr:`ApiError.reached_server`): ``False`` means it never left this machine and a retry is
safe; ``True`` means the server answered; ``None`` means *in doubt* (sent, answer lost).
The allocation workflow in :mod:`despatch_desk.core` builds its safety rules on that.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import ssl
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

log = logging.getLogger("despatch_desk.api")

PRODUCTION_URL = "https://api.electioapp.com"
SANDBOX_URL = "https://apisandbox.electioapp.com"
API_VERSION = "1.1"
KEY_HEADER = "ocp-apim-subscription-key"
LABEL_FORMATS = ("PDF", "ZPL", "ZPLII")


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """Base of every client error. ``str(err)`` is a plain sentence for an operator."""

    reached_server: bool | None = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(ApiError):
    """The request cannot be made as configured (bad URL, plain HTTP to a remote host)."""

    reached_server = False


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


class NotFound(Refused):
    """404: no such consignment (or route) for this account."""


class Unauthorized(ApiResponseError):
    """401/403: the API key is missing, wrong or not allowed to do this."""


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


# --------------------------------------------------------------------------- models


@dataclass(frozen=True, slots=True)
class Leg:
    number: int | None
    carrier_reference: str | None
    carrier_name: str | None
    carrier_service_reference: str | None
    tracking_references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllocationSummary:
    """The body of a 200 (or 202) from an allocation call."""

    http_status: int
    status_code: int | None
    description: str | None
    carrier_reference: str | None
    carrier_name: str | None
    carrier_service_reference: str | None
    carrier_service_name: str | None
    legs: tuple[Leg, ...]
    links: Mapping[str, str]
    consignment_reference: str | None

    @property
    def succeeded(self) -> bool:
        """True when the summary reports an allocation (not a refusal inside a 200)."""
        if self.http_status == 202:
            return False
        if self.status_code is not None and not 200 <= self.status_code < 300:
            return False
        return bool(self.carrier_service_reference or self.carrier_service_name or self.carrier_name)

    @property
    def tracking_references(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for leg in self.legs:
            for ref in leg.tracking_references:
                seen.setdefault(ref, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Money:
    net: float | None
    gross: float | None
    vat: float | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class Allocation:
    group_reference: str | None
    group_name: str | None
    service_reference: str | None
    service_name: str | None
    carrier_name: str | None
    carrier_reference: str | None
    allocated_at: datetime | None
    price: Money | None


@dataclass(frozen=True, slots=True)
class FailedAllocation:
    group_reference: str | None
    service_reference: str | None
    attempted_at: datetime | None
    message: str | None


@dataclass(frozen=True, slots=True)
class Consignment:
    reference: str
    state: str | None
    shipping_date: datetime | None
    allocation: Allocation | None
    failed_allocation: FailedAllocation | None
    tracking_references: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def state_key(self) -> str:
        """State without spaces or case, e.g. ``"allocationfailed"``."""
        return normalise_state(self.state)


@dataclass(frozen=True, slots=True)
class ConsignmentStatus:
    reference: str | None
    state: str | None
    expected_delivery: datetime | None

    @property
    def state_key(self) -> str:
        return normalise_state(self.state)


@dataclass(frozen=True, slots=True)
class Label:
    reference: str
    format: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ServiceGroup:
    reference: str
    name: str
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class CarrierService:
    reference: str
    name: str
    carrier_name: str | None
    carrier_reference: str | None


def normalise_state(state: str | None) -> str:
    return "".join((state or "").split()).replace("_", "").lower()


# --------------------------------------------------------------------------- parsing helpers
# Tolerant: missing fields become None, unknown fields are ignored, wrong types are not trusted.


def _get(obj: Any, *names: str) -> Any:
    """First present value among ``names``, matched case-insensitively."""
    if not isinstance(obj, Mapping):
        return None
    for name in names:
        if name in obj:
            return obj[name]
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _datetime(value: Any) -> datetime | None:
    text = _str(value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _tracking(obj: Any) -> tuple[str, ...]:
    refs = _get(obj, "TrackingReferences", "TrackingReference")
    if isinstance(refs, str):
        refs = [refs]
    return tuple(t for t in (_str(r) for r in _list(refs)) if t)


def _links(obj: Any) -> dict[str, str]:
    links: dict[str, str] = {}
    raw = _get(obj, "ApiLinks", "ApiLink")
    if isinstance(raw, Mapping):
        raw = [raw]
    for link in _list(raw):
        rel, href = _str(_get(link, "Rel")), _str(_get(link, "Href"))
        if rel and href:
            links.setdefault(rel.lower(), href)
    return links


def parse_allocation_summary(data: Any, http_status: int = 200) -> AllocationSummary:
    """Accept an array of one summary (as documented) or a bare object (as one spec models)."""
    if isinstance(data, list):
        data = next((item for item in data if isinstance(item, Mapping)), None)
    if not isinstance(data, Mapping):
        if http_status == 202:
            data = {}
        else:
            raise ValueError("allocation answer is neither an object nor an array of objects")
    legs = tuple(
        Leg(
            number=_int(_get(leg, "Leg")),
            carrier_reference=_str(_get(leg, "CarrierReference")),
            carrier_name=_str(_get(leg, "CarrierName")),
            carrier_service_reference=_str(_get(leg, "CarrierServiceReference")),
            tracking_references=_tracking(leg),
        )
        for leg in _list(_get(data, "ConsignmentLegs", "Legs"))
        if isinstance(leg, Mapping)
    )
    links = _links(data)
    first_leg = legs[0] if legs else None
    return AllocationSummary(
        http_status=http_status,
        status_code=_int(_get(data, "StatusCode")),
        description=_str(_get(data, "Description")),
        carrier_reference=_str(_get(data, "CarrierReference"))
        or (first_leg.carrier_reference if first_leg else None),
        carrier_name=_str(_get(data, "CarrierName")) or (first_leg.carrier_name if first_leg else None),
        carrier_service_reference=_str(_get(data, "CarrierServiceReference")),
        carrier_service_name=_str(_get(data, "CarrierServiceName")),
        legs=legs,
        links=links,
        consignment_reference=_tail(links.get("detail")),
    )


def _tail(href: str | None) -> str | None:
    if not href:
        return None
    path = urlsplit(href).path.rstrip("/")
    return path.rsplit("/", 1)[-1] or None


def parse_consignment(data: Any, reference: str) -> Consignment:
    if not isinstance(data, Mapping):
        raise ValueError("consignment answer is not an object")
    alloc_raw = _get(data, "Allocation")
    allocation = None
    if isinstance(alloc_raw, Mapping):
        price_raw = _get(alloc_raw, "Price")
        price = None
        if isinstance(price_raw, Mapping):
            price = Money(
                net=_float(_get(price_raw, "Net")),
                gross=_float(_get(price_raw, "Gross")),
                vat=_float(_get(price_raw, "VatAmount", "Vat")),
                currency=_str(_get(_get(price_raw, "Currency"), "IsoCode")) or _str(_get(price_raw, "Currency")),
            )
        allocation = Allocation(
            group_reference=_str(_get(alloc_raw, "CarrierServiceGroupReference", "MpdCarrierServiceGroupReference")),
            group_name=_str(_get(alloc_raw, "MpdCarrierServiceGroupName", "CarrierServiceGroupName")),
            service_reference=_str(_get(alloc_raw, "MpdCarrierServiceReference", "CarrierServiceReference")),
            service_name=_str(_get(alloc_raw, "MpdCarrierServiceName", "CarrierServiceName")),
            carrier_name=_str(_get(alloc_raw, "CarrierName", "MpdCarrierName")),
            carrier_reference=_str(_get(alloc_raw, "CarrierReference", "MpdCarrierReference")),
            allocated_at=_datetime(_get(alloc_raw, "AllocationDate")),
            price=price,
        )
    failed_raw = _get(data, "FailedAllocation")
    failed = None
    if isinstance(failed_raw, Mapping):
        failed = FailedAllocation(
            group_reference=_str(_get(failed_raw, "CarrierServiceGroupReference")),
            service_reference=_str(_get(failed_raw, "MpdCarrierServiceReference")),
            attempted_at=_datetime(_get(failed_raw, "AttemptedAllocationDate")),
            message=_str(_get(failed_raw, "Message")),
        )
    tracking: dict[str, None] = {}
    legs = [leg for leg in _list(_get(data, "ConsignmentLegs", "Legs")) if isinstance(leg, Mapping)]
    for leg in legs:
        for ref in _tracking(leg):
            tracking.setdefault(ref, None)
    if allocation is not None and not allocation.carrier_name and legs:
        # The allocation block may lack the carrier; the first leg often names it.
        allocation = replace(allocation, carrier_name=_str(_get(legs[0], "CarrierName")),
                             carrier_reference=allocation.carrier_reference or _str(_get(legs[0], "CarrierReference")))
    for package in _list(_get(data, "Packages")):
        for ref in _tracking(package):
            tracking.setdefault(ref, None)
    return Consignment(
        reference=_str(_get(data, "Reference", "ConsignmentReference")) or reference,
        state=_str(_get(data, "ConsignmentState", "State", "Status")),
        shipping_date=_datetime(_get(data, "ShippingDate")),
        allocation=allocation,
        failed_allocation=failed,
        tracking_references=tuple(tracking),
        raw=data,
    )


def parse_status(data: Any) -> ConsignmentStatus:
    if not isinstance(data, Mapping):
        raise ValueError("status answer is not an object")
    return ConsignmentStatus(
        reference=_str(_get(data, "ConsignmentReferenceForAllLegsAssignedByMpd", "Reference")),
        state=_str(_get(data, "Status", "ConsignmentState")),
        expected_delivery=_datetime(_get(data, "ExpectedDeliveryDate")),
    )


def parse_service_groups(data: Any) -> list[ServiceGroup]:
    items = data if isinstance(data, list) else _list(_get(data, "ServiceGroups", "CarrierServiceGroups", "Items"))
    groups = []
    for item in items:
        ref = _str(_get(item, "Reference", "Code", "MpdCarrierServiceGroupReference"))
        if ref:
            enabled = _get(item, "IsEnabled", "Enabled")
            groups.append(ServiceGroup(ref, _str(_get(item, "Name")) or ref, enabled is not False))
    return groups


def parse_carrier_services(data: Any) -> list[CarrierService]:
    items = data if isinstance(data, list) else _list(_get(data, "MpdCarrierServices", "CarrierServices"))
    services = []
    for item in items:
        ref = _str(_get(item, "Reference", "MpdCarrierServiceReference"))
        if ref:
            services.append(
                CarrierService(
                    reference=ref,
                    name=_str(_get(item, "Name", "MpdCarrierServiceName")) or ref,
                    carrier_name=_str(_get(item, "CarrierName", "MpdCarrierName")),
                    carrier_reference=_str(_get(item, "CarrierReference", "MpdCarrierReference")),
                )
            )
    return services


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


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    if secret and secret in text:
        text = text.replace(secret, "••••")
    return text


class SortedProClient:
    """Thread-safe: one ``httpx.Client`` (connection pool) shared by every worker thread."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeouts: Timeouts | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str | None = None,
        max_connections: int = 8,
    ) -> None:
        from . import __version__

        self.base_url = validate_base_url(base_url)
        if not api_key or any(ch.isspace() for ch in api_key):
            raise ConfigurationError("The API key is empty or contains spaces.")
        self._api_key = api_key
        self.timeouts = timeouts or Timeouts()
        headers = {
            KEY_HEADER: api_key,
            "electio-api-version": API_VERSION,
            "Accept": "application/json",
            "User-Agent": user_agent or f"DespatchDesk/{__version__}",
        }
        secure = urlsplit(self.base_url).scheme == "https"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=self.timeouts.to_httpx(),
            verify=_ssl_context() if secure and transport is None else True,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
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

    # -- calls
    def allocate_with_service_group(self, reference: str, group_code: str) -> AllocationSummary:
        path = f"/allocation/{segment(reference)}/allocatewithservicegroup/{segment(group_code)}"
        response = self._request("PUT", path)
        try:
            return parse_allocation_summary(self._json(response, allow_empty=response.status_code == 202),
                                            response.status_code)
        except ValueError as exc:
            raise self._unexpected(response, f"SortedPRO's answer to the allocation was not understood ({exc}).")

    def get_consignment(self, reference: str) -> Consignment:
        response = self._request("GET", f"/consignments/{segment(reference)}")
        try:
            return parse_consignment(self._json(response), reference)
        except ValueError as exc:
            raise self._unexpected(response, f"SortedPRO's consignment answer was not understood ({exc}).")

    def get_status(self, reference: str) -> ConsignmentStatus:
        response = self._request("GET", f"/consignments/{segment(reference)}/status")
        try:
            return parse_status(self._json(response))
        except ValueError as exc:
            raise self._unexpected(response, f"SortedPRO's status answer was not understood ({exc}).")

    def deallocate(self, reference: str) -> None:
        self._request("PUT", f"/consignments/{segment(reference)}/deallocate")

    def get_label(self, reference: str, fmt: str = "PDF", dpi: int | None = None) -> Label:
        import base64
        import binascii

        fmt = fmt.upper()
        if fmt not in LABEL_FORMATS:
            raise ConfigurationError(f"Label format must be one of {', '.join(LABEL_FORMATS)}.")
        path = f"/labels/{segment(reference)}/{segment(fmt)}"
        if dpi is not None:
            path += f"/{int(dpi)}"
        response = self._request("GET", path)
        data = self._json(response)
        encoded = _str(_get(data, "File"))
        if not encoded:
            raise self._unexpected(response, "SortedPRO answered without a label file.")
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise self._unexpected(response, "The label SortedPRO sent is not valid base64.") from None
        content_type = _str(_get(data, "ContentType")) or ("application/pdf" if fmt == "PDF" else "text/plain")
        return Label(reference, fmt, content_type, content)

    def list_service_groups(self) -> list[ServiceGroup]:
        response = self._request("GET", "/servicegroups")
        return parse_service_groups(self._json(response))

    def list_carrier_services(self) -> list[CarrierService]:
        response = self._request("GET", "/carrierservices")
        return parse_carrier_services(self._json(response))

    # -- plumbing
    def _request(self, method: str, path: str) -> httpx.Response:
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:8]
        if log.isEnabledFor(logging.DEBUG):
            log.debug("→ %s %s%s [%s] %s: ••••", method, self.base_url, path, request_id, KEY_HEADER)
        try:
            response = self._http.request(method, path)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(f"Could not connect to {self.origin} ({_reason(exc)}). Nothing was sent.") from None
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise InDoubt(f"{self.origin} did not answer in time ({_reason(exc)}).") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError) as exc:
            raise InDoubt(f"The connection to {self.origin} dropped before the answer arrived ({_reason(exc)}).") from None
        except httpx.UnsupportedProtocol:
            raise ConfigurationError(f"'{self.base_url}' is not a usable web address.") from None
        except httpx.HTTPError as exc:  # anything else httpx raises mid-request
            raise InDoubt(f"The request to {self.origin} failed ({_reason(exc)}).") from None
        elapsed = (time.perf_counter() - started) * 1000
        if log.isEnabledFor(logging.DEBUG):
            log.debug("← %s %s [%s] %.0f ms %s", response.status_code, path, request_id, elapsed,
                      mask_secret(response.text[:2000], self._api_key))
        if response.status_code >= 300:
            raise self._error(response)
        return response

    def _json(self, response: httpx.Response, *, allow_empty: bool = False) -> Any:
        if allow_empty and not response.content.strip():
            return None
        try:
            return json.loads(response.content)
        except ValueError:
            raise self._unexpected(response, _not_json_message(response, self.origin)) from None

    def _unexpected(self, response: httpx.Response, message: str) -> UnexpectedAnswer:
        return UnexpectedAnswer(message, status=response.status_code, body_excerpt=_excerpt(response))

    def _error(self, response: httpx.Response) -> ApiResponseError:
        status = response.status_code
        body: Any = None
        try:
            body = json.loads(response.content) if response.content.strip() else None
        except ValueError:
            body = None
        code = _str(_get(body, "Code"))
        server_message = _str(_get(body, "Message", "message", "Description"))
        details = tuple(d for d in _list(_get(body, "Details")) if isinstance(d, Mapping))
        if details and not server_message:
            server_message = _str(_get(details[0], "Message"))
        correlation_id = _str(_get(body, "CorrelationId")) or response.headers.get("x-correlation-id")
        kw: dict[str, Any] = dict(
            status=status, code=code, server_message=server_message, details=details,
            correlation_id=correlation_id, body_excerpt=_excerpt(response),
        )
        said = f": {server_message}" if server_message else ""
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = f" Try again in {retry_after:.0f} s." if retry_after is not None else ""
            return RateLimited(f"SortedPRO is limiting requests (HTTP 429).{wait}", retry_after=retry_after, **kw)
        if status in (401, 403):
            what = "rejected the API key" if status == 401 else "refused access for this API key"
            return Unauthorized(f"SortedPRO {what} (HTTP {status}){said}", **kw)
        if body is None and response.content.strip():
            # Not JSON: a proxy or gateway page, not SortedPRO's own words.
            message = _not_json_message(response, self.origin)
            return UnexpectedAnswer(message, **kw)
        if status >= 500:
            return ServerError(f"SortedPRO had a server error (HTTP {status}){said}", **kw)
        if status == 404:
            return NotFound(f"SortedPRO does not know that (HTTP 404){said}", **kw)
        if 300 <= status < 400:
            return UnexpectedAnswer(f"{self.origin} redirected the request (HTTP {status}); check the API address.", **kw)
        return Refused(f"SortedPRO refused (HTTP {status}){said}", **kw)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or odd."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (now if now is not None else time.time())
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, 24 * 3600.0))


def _reason(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".") or type(exc).__name__  # it goes inside our own sentence
    return text[:200]


def _excerpt(response: httpx.Response) -> str:
    return response.text[:500] if response.content else ""


def _not_json_message(response: httpx.Response, origin: str) -> str:
    content_type = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    if "html" in content_type or response.content.lstrip()[:1] == b"<":
        return (
            f"Something between this desk and SortedPRO answered with a web page instead of data "
            f"(HTTP {response.status_code}, {content_type}): a proxy or gateway problem."
        )
    return f"{origin} answered with something that is not SortedPRO data (HTTP {response.status_code}, {content_type})."
