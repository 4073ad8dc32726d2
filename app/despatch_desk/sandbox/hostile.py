"""The hostile faults of the sandbox (issue 7): answers that attack the client's rules of trust.

Each function turns a normal reply into the hostile one; the ones that must control the bytes on the
wire (drip, huge body, desync) return a *writer* that the handler runs instead of its own send.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from .store import ApiError
from .wire import Writer, _apim, _error, _json, _Reply, _Route


OTHER_REFERENCE = "EC-999-999-999"
NEVER_ISSUED = "TRK-NEVER-ISSUED"
BOMB_SIZE = 1 << 30  # what the gzip bomb inflates to

_bomb_lock = threading.Lock()
_bomb: bytes | None = None


def gzip_bomb() -> bytes:
    """~1 MB of gzip that inflates to 1 GiB of spaces (made once per process).

    Each 1 MiB block is deflated after a full flush, so every block's bytes are the same: one block
    is compressed and repeated, which takes milliseconds instead of seconds."""
    global _bomb
    with _bomb_lock:
        if _bomb is None:
            block = b" " * (1 << 20)
            packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
            packed = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
            count = BOMB_SIZE // len(block)
            crc = 0
            for _ in range(count):
                crc = zlib.crc32(block, crc)
            header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
            trailer = struct.pack("<II", crc, BOMB_SIZE & 0xFFFFFFFF)
            _bomb = header + packed * count + packer.flush() + trailer
        return _bomb


def raw_response(status: int, body: bytes, headers: list[tuple[str, str]] | None = None,
                 content_type: str = "application/json; charset=utf-8") -> tuple[bytes, bytes]:
    """(header block, body) of an HTTP/1.1 answer, as bytes."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body


def drip_writer(head: bytes, body: bytes, every: float, stop: threading.Event, part: str) -> Writer:
    """Send ``part`` ("headers" or "body") one byte every ``every`` seconds, the rest at once."""

    def write(h: Any) -> None:
        h.close_connection = True
        dripped, rest_first, rest_after = (head, b"", body) if part == "headers" else (body, head, b"")
        if rest_first:
            h.wfile.write(rest_first)
        for i in range(len(dripped)):
            h.wfile.write(dripped[i:i + 1])
            if stop.wait(every):
                return
        if rest_after:
            h.wfile.write(rest_after)

    return write


def huge_writer(size: int, stop: threading.Event) -> Writer:
    """A 200 of ``size`` bytes (a JSON array padded with spaces), streamed in 64 KiB writes."""

    def write(h: Any) -> None:
        h.close_connection = True
        head, _ = raw_response(200, b"")
        h.wfile.write(head.replace(b"Content-Length: 0", f"Content-Length: {size}".encode()))
        h.wfile.write(b"[")
        block = b" " * 65536
        left = size - 2
        while left > 0 and not stop.is_set():
            piece = block[: min(left, len(block))]
            h.wfile.write(piece)
            left -= len(piece)
        h.wfile.write(b"]")

    return write


def desync_writer(head: bytes, body: bytes, extra: bytes) -> Writer:
    """The real answer and, in the same write, a second answer nobody asked for (keep-alive stays on)."""

    def write(h: Any) -> None:
        h.wfile.write(head + body + extra)

    return write


def echo_key_summary(summary: dict[str, Any], key: str) -> dict[str, Any]:
    """An allocation summary that echoes the key in every string a client might show or store."""
    echoed = dict(summary)
    echoed["CarrierName"] = f"{summary.get('CarrierName')} {key}"
    echoed["Description"] = f"{summary.get('Description')} (request key {key}, {key.upper()}, {quote(key)})"
    legs = [dict(leg) for leg in summary.get("ConsignmentLegs") or []]
    for leg in legs:
        leg["TrackingReferences"] = [*leg.get("TrackingReferences", []), key]
        leg["CarrierName"] = f"{leg.get('CarrierName')} {key.upper()}"
    echoed["ConsignmentLegs"] = legs
    return echoed


def echo_key_error(key: str) -> tuple[int, bytes, list[tuple[str, str]]]:
    body = {
        "Code": "InvalidRequest",
        "Message": f"The request with subscription key {key} was not valid",
        "CorrelationId": key.upper(),
        "Details": [{"Code": "Echo", "Target": quote(key), "Message": f"key={quote(key)}"}],
    }
    return 400, json.dumps(body).encode(), [("x-correlation-id", key)]


def other_consignment_summary(summary: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The answer for another consignment: its detail link, description and tracking."""
    other = dict(summary)
    other["ApiLinks"] = [{"Rel": "detail", "Href": f"{base_url}/consignments/{OTHER_REFERENCE}"},
                         {"Rel": "label", "Href": f"{base_url}/labels/{OTHER_REFERENCE}"}]
    other["Description"] = (f"Consignment {OTHER_REFERENCE} has been successfully allocated with "
                            f"{summary.get('CarrierName')} {summary.get('CarrierServiceName')}")
    other["ConsignmentLegs"] = [{"Leg": 1, "TrackingReferences": [NEVER_ISSUED],
                                 "CarrierReference": summary.get("CarrierReference"), "CarrierServiceReference": None,
                                 "CarrierName": summary.get("CarrierName")}]
    return other


def unasked_answer(base_url: str) -> bytes:
    """The bytes a desynchronised connection carries after a complete answer."""
    summary = {
        "StatusCode": 200,
        "ApiLinks": [{"Rel": "detail", "Href": f"{base_url}/consignments/{OTHER_REFERENCE}"}],
        "Description": f"Consignment {OTHER_REFERENCE} has been successfully allocated with Ghost Express",
        "ConsignmentLegs": [{"Leg": 1, "TrackingReferences": [NEVER_ISSUED], "CarrierReference": "GHOST",
                             "CarrierServiceReference": None, "CarrierName": "Ghost Express"}],
        "CarrierReference": "GHOST", "CarrierName": "Ghost Express",
        "CarrierServiceReference": "GHOST_24", "CarrierServiceName": "Ghost 24",
    }
    head, body = raw_response(200, json.dumps([summary]).encode())
    return head + body


WRONG_TYPES_SUMMARY = [{
    "StatusCode": 200,
    "ApiLinks": "not a list",
    "Description": 12345,
    "ConsignmentLegs": {"Leg": "one"},
    "CarrierReference": ["CARRIER_X"],
    "CarrierName": {"Name": "Carrier X"},
    "CarrierServiceReference": 42,
    "CarrierServiceName": True,
}]


# --------------------------------------------------------------------------- the faults as replies
# (a friend of SandboxServer: uses its answer, stop event and request lock)


def reply(server: Any, fault: Any, route: _Route, method: str) -> _Reply | None:
    """The issue-7 faults (see faults.py); None for a fault that is not one of them."""
    name = fault.name
    if name == "slow-commit":
        if server._stop_event.wait(fault.effective_delay):  # nothing happens before the delay
            return _Reply(0, drop=True)
        return server._answer(route, method)
    if name == "flapping-202" and route.handler == "allocate":
        return _allocate_flapping(server, route, fault.effective_delay)
    if name == "echo-key-error":
        status, body, headers = echo_key_error(server.api_key)
        return _Reply(status, body, headers=headers)
    if name == "gzip-bomb":
        return _Reply(200, gzip_bomb(), headers=[("Content-Encoding", "gzip")])
    if name == "huge-body":
        return _Reply(200, writer=huge_writer(fault.size, server._stop_event))
    if name not in ("rate-limit-after-commit", "echo-key", "drip-headers", "drip-body", "desync",
                    "other-consignment", "empty-200", "status-only-200", "wrong-types-200"):
        return None
    reply = server._answer(route, method)  # the work is done; the answer is spoiled
    if name == "rate-limit-after-commit":
        return _apim(429, f"Rate limit is exceeded. Try again in {fault.retry_after} seconds.",
                     [("Retry-After", str(fault.retry_after))])
    if name in ("drip-headers", "drip-body"):
        head, body = raw_response(reply.status, reply.body, reply.headers)
        return _Reply(reply.status, writer=drip_writer(head, body, fault.effective_delay,
                                                               server._stop_event, name[5:]))
    if name == "desync":
        head, body = raw_response(reply.status, reply.body, reply.headers)
        return _Reply(reply.status, writer=desync_writer(head, body, unasked_answer(server.url)))
    if name == "empty-200":
        return _Reply(200, b"{}")
    if name == "status-only-200":
        return _Reply(200, b'[{"StatusCode":200}]')
    if name == "wrong-types-200":
        return _Reply(200, _json(WRONG_TYPES_SUMMARY))
    if reply.status != 200:
        return reply
    summary = json.loads(reply.body)[0]
    if name == "echo-key":
        echoed = echo_key_summary(summary, server.api_key)
        return _Reply(200, _json([echoed]), headers=[("x-correlation-id", server.api_key)])
    return _Reply(200, _json([other_consignment_summary(summary, server.url)]))  # other-consignment

def _allocate_flapping(server: Any, route: _Route, delay: float) -> _Reply:
    """202; the status says Unallocated and Allocating in turn until the allocation lands."""
    ref, group = route.params
    try:
        with server.store.lock:
            server.store._check_allocatable(ref, group)
    except ApiError as e:
        return _error(e.status, e.code, e.message, e.details)
    key = ref.upper()
    with server._req_lock:
        server._flapping[key] = 0

    def land() -> None:
        try:
            server.store.allocate(ref, group)
        except ApiError:
            pass
        with server._req_lock:
            server._flapping.pop(key, None)

    server.store.schedule(delay, land)
    base = server.url
    summary = {"StatusCode": 202, "ApiLinks": [{"Rel": "detail", "Href": f"{base}/consignments/{ref}"}],
               "Description": f"Consignment {ref} has been accepted for allocation", "ConsignmentLegs": [],
               "CarrierReference": None, "CarrierName": None, "CarrierServiceReference": None,
               "CarrierServiceName": None}
    return _Reply(202, _json([summary]))
