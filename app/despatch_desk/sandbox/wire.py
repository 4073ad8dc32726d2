"""The sandbox's wire helpers: replies, error bodies and routing (shared by the server and its hostile faults)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote

Writer = Callable[[Any], None]  # writes an answer's raw bytes itself (takes the request handler)

JSON = "application/json; charset=utf-8"


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str | None = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    writer: Writer | None = None  # writes the raw bytes itself (drip, huge body, desync)


@dataclass
class _Route:
    kind: str  # "allocate", "servicegroups", "other"
    handler: str | None  # method name on _Api, None if not found / not allowed
    params: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _error(status: int, code: str, message: str, details: list[dict] | None = None) -> _Reply:
    correlation = str(uuid.uuid4())
    body: dict[str, Any] = {"Code": code, "Message": message, "CorrelationId": correlation}
    if details:
        body["Details"] = details
    return _Reply(status, _json(body), headers=[("x-correlation-id", correlation)])


def _apim(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(status, _json({"statusCode": status, "message": message}), headers=list(extra or []))


# -- routing ------------------------------------------------------------------------------------

_GET = ("GET", "HEAD")


def _resolve(method: str, raw_path: str) -> _Route:
    """Route on the raw (still encoded) segments, then decode each segment on its own.

    A decoded "/", "?" or ".." therefore stays inside its segment and can never reach
    another route.
    """
    path = raw_path.split("?", 1)[0].split("#", 1)[0]
    if path.startswith(("http://", "https://")):  # absolute-form request target
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    raw = path.split("/")
    if raw and raw[0] == "":
        raw = raw[1:]
    if raw and raw[-1] == "":
        raw = raw[:-1]
    seg = [unquote(s, errors="replace") for s in raw]
    low = [s.lower() for s in seg]
    n = len(seg)

    def pick(kind: str, handler: str, allowed: tuple[str, ...], *params: str) -> _Route:
        if method in allowed:
            return _Route(kind, handler, params, allowed)
        return _Route(kind, None, params, allowed)

    if n >= 1 and "" not in seg:
        head = low[0]
        if head == "allocation" and n == 4 and low[2] == "allocatewithservicegroup":
            return pick("allocate", "allocate", ("PUT",), seg[1], seg[3])
        if head == "consignments":
            if n == 2:
                return pick("other", "consignment", _GET, seg[1])
            if n == 3 and low[2] == "status":
                return pick("other", "status", _GET, seg[1])
            if n == 3 and low[2] == "deallocate":
                return pick("other", "deallocate", ("PUT",), seg[1])
        if head == "labels" and 2 <= n <= 4:
            return pick("other", "label", _GET, *seg[1:])
        if head == "servicegroups" and n == 1:
            return pick("servicegroups", "servicegroups", _GET)
        if head == "carrierservices" and n == 1:
            return pick("other", "carrierservices", _GET)
    return _Route("other", None)
