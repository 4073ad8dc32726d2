"""The label service (fetch → retry → print → record) against the real sandbox on loopback, a raw TCP
"printer", a folder, and a small hostile label server written here."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
import time

import httpx
import pytest
from test_printing_sink import RawSink

from despatch_desk import printing
from despatch_desk.cancel import CancelToken
from despatch_desk.desk import Desk
from despatch_desk.label_service import NOT_ALLOCATED, NOT_READY, PRINTER, STOPPED, LabelService
from despatch_desk.sandbox import DEMO_API_KEY, Fault

MULTI = "EC-000-DSK-010"  # three packages: three labels


@pytest.fixture
def sink():
    s = RawSink().start()
    yield s
    s.stop()


def make_desk(paths, url, printer_uri, key=DEMO_API_KEY, fmt="zpl"):
    desk = Desk(paths, base_url=url, api_key=key)
    desk.settings = desk.settings.copy(printer_uri=printer_uri, label_format=fmt)
    return desk


def closed_port_uri() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def sandbox_label(sandbox, fmt: str, reference: str = MULTI) -> bytes:
    """What SortedPRO holds for an allocated consignment: GET /labels/{ref}/{fmt}, ``File`` decoded."""
    headers = {"ocp-apim-subscription-key": DEMO_API_KEY}
    with httpx.Client(base_url=sandbox.url, headers=headers, trust_env=False) as client:
        answer = client.get(f"/labels/{reference}/{fmt}")
        assert answer.status_code == 200, answer.text
        return base64.b64decode(answer.json()["File"], validate=True)


def label_gets(sandbox, reference):
    return [r for r in sandbox.recorded() if r.method == "GET" and r.path.upper().startswith(f"/LABELS/{reference}")]


def test_every_package_label_reaches_the_printer_in_order_and_is_recorded(paths, sandbox, sink):
    desk = make_desk(paths, sandbox.url, sink.uri)
    try:
        outcome = desk.allocate(MULTI, "nextDay")
        assert outcome.ok
        result = LabelService(desk).print_for(outcome)
        assert result.printed and result.error is None
        [received] = sink.wait_jobs(1)
        expected = sandbox_label(sandbox, "ZPL")
        assert received == expected  # exactly the decoded bytes, nothing added
        blocks = printing.split_labels(received).blocks
        tracking = sandbox.consignment(MULTI)["ConsignmentLegs"][0]["TrackingReferences"]
        assert [t for b in blocks for t in tracking if t.encode() in b] == tracking  # parcel 1, 2, 3
        assert (result.format, result.labels, result.bytes, result.printer) == ("zpl", 3, len(expected), sink.uri)
        assert result.words == f"3 labels (ZPL) for {MULTI} sent to {sink.uri}."
        assert label_gets(sandbox, MULTI)[0].path.endswith("/ZPL")  # zpl asks the API for ZPL
        row = desk.history.latest_allocated(MULTI)
        assert row.id == result.row_id and row.outcome == "allocated"
        assert (row.label_status, row.label_printer, row.label_format, row.label_error) == (
            "printed", sink.uri, "zpl", None)
        assert row.label_at is not None and row.label_at >= row.started_at
    finally:
        desk.close()


def test_a_label_that_lags_behind_the_allocation_is_waited_for(paths, sandbox, sink):
    sandbox.add_fault(Fault("label-not-ready", delay=0.5))
    desk = make_desk(paths, sandbox.url, sink.uri)
    try:
        outcome = desk.allocate("EC-000-DSK-001", "nextDay")
        result = LabelService(desk).print_for(outcome)
        assert result.printed and result.fetches >= 2, result
        assert len(label_gets(sandbox, "EC-000-DSK-001")) == result.fetches
        assert sink.wait_jobs(1)[0].startswith(b"^XA")
        assert desk.history.latest_allocated("EC-000-DSK-001").label_status == "printed"
    finally:
        desk.close()


def test_a_label_that_never_comes_is_not_printed_within_a_few_seconds(paths, sandbox, sink):
    sandbox.add_fault(Fault("label-not-ready", delay=60))
    desk = make_desk(paths, sandbox.url, sink.uri)
    try:
        outcome = desk.allocate("EC-000-DSK-003", "nextDay")
        started = time.monotonic()
        result = LabelService(desk).print_for(outcome)
        elapsed = time.monotonic() - started
        assert not result.printed and result.reason == NOT_READY and result.exit_code == 1
        assert result.error == ("Label not printed: SortedPRO has no label for EC-000-DSK-003 yet "
                                "(reprint it in a moment).")
        assert 3.5 <= elapsed < 10, elapsed  # the waits add up to 4 s: bounded, not given up at once
        assert len(label_gets(sandbox, "EC-000-DSK-003")) == 6
        row = desk.history.latest_allocated("EC-000-DSK-003")
        assert row.outcome == "allocated"  # the allocation stands
        assert (row.label_status, row.label_error) == ("not_printed", result.error)
        assert sandbox.consignment("EC-000-DSK-003")["ConsignmentState"] == "Allocated"
    finally:
        desk.close()


def test_the_wait_for_a_label_stops_when_cancelled(paths, sandbox, sink):
    sandbox.add_fault(Fault("label-not-ready", delay=60))
    desk = make_desk(paths, sandbox.url, sink.uri)
    try:
        outcome = desk.allocate("EC-000-DSK-005", "nextDay")
        token = CancelToken()
        threading.Timer(0.3, token.cancel, args=("closing",)).start()
        started = time.monotonic()
        result = LabelService(desk).print_for(outcome, cancel=token)
        assert time.monotonic() - started < 2.5  # not the 4 s of waits
        assert not result.printed and result.reason == STOPPED
    finally:
        desk.close()


def test_an_unreachable_printer_is_reported_in_seconds_and_the_allocation_stands(paths, sandbox):
    uri = closed_port_uri()
    desk = make_desk(paths, sandbox.url, uri)
    try:
        outcome = desk.allocate("EC-000-DSK-007", "nextDay")
        started = time.monotonic()
        result = LabelService(desk).print_for(outcome)
        assert time.monotonic() - started < 5
        assert not result.printed and result.reason == PRINTER and result.exit_code == 5
        assert result.error.startswith("Label not printed: ") and uri in result.error and "Traceback" not in result.error
        assert result.to_json()["printed"] is False and result.to_json()["bytes"] > 0
        row = desk.history.latest_allocated("EC-000-DSK-007")
        assert (row.outcome, row.label_status, row.label_printer) == ("allocated", "not_printed", uri)
        assert uri in row.label_error
    finally:
        desk.close()


def test_a_reprint_of_a_consignment_that_is_not_allocated_says_so_at_once(paths, sandbox, sink):
    desk = make_desk(paths, sandbox.url, sink.uri)
    try:
        started = time.monotonic()
        result = LabelService(desk).print_for("EC-000-DSK-001")
        assert time.monotonic() - started < 2  # no waiting for a label that cannot come
        assert not result.printed and result.reason == NOT_ALLOCATED and result.exit_code == 1
        assert "not allocated" in result.error and "EC-000-DSK-001" in result.error
        invalid = LabelService(desk).print_for("EC-12")
        assert not invalid.printed and invalid.exit_code == 2 and "Traceback" not in invalid.error
        assert_nothing_reached(sink)
    finally:
        desk.close()


def assert_nothing_reached(sink: RawSink) -> None:
    assert printing.print_label(sink.uri, b"^XA^FDmarker^FS^XZ", reference="EC-000-000-000").ok
    assert sink.wait_jobs(1)[0] == b"^XA^FDmarker^FS^XZ"


def test_what_is_printed_follows_the_bytes_and_a_folder_gets_the_file(paths, sandbox, tmp_path):
    folder = tmp_path / "labels"
    folder.mkdir()
    desk = make_desk(paths, sandbox.url, f"folder://{folder}", fmt="pdf")
    try:
        outcome = desk.allocate(MULTI, "nextDay")
        result = LabelService(desk).print_for(outcome)
        assert result.printed and (result.format, result.pages) == ("pdf", 3)
        assert label_gets(sandbox, MULTI)[0].path.endswith("/PDF")
        assert (folder / f"{MULTI}.pdf").read_bytes() == sandbox_label(sandbox, "PDF")
        assert result.words == f"3 labels (PDF) for {MULTI} written to folder://{folder}."
        assert set(result.to_json()) == {"printed", "format", "printer", "labels", "bytes", "error"}
    finally:
        desk.close()


def test_workers_print_several_consignments_at_once(paths, sandbox, sink):
    desk = make_desk(paths, sandbox.url, sink.uri)
    refs = ["EC-000-DSK-001", "EC-000-DSK-003", "EC-000-DSK-005", "EC-000-DSK-012"]
    try:
        outcomes = [desk.allocate(ref, "nextDay") for ref in refs]
        service = LabelService(desk)
        results: dict[str, object] = {}
        start = threading.Barrier(len(refs))

        def work(outcome):
            start.wait(10)
            results[outcome.reference] = service.print_for(outcome)

        threads = [threading.Thread(target=work, args=(o,)) for o in outcomes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert all(results[ref].printed for ref in refs), results
        jobs = sink.wait_jobs(len(refs))
        assert sorted(jobs) == sorted(sandbox_label(sandbox, "ZPL", ref) for ref in refs)
        assert all(desk.history.latest_allocated(ref).label_status == "printed" for ref in refs)
    finally:
        desk.close()


# ------------------------------------------------------------------ a server that echoes the key

HOSTILE_KEY = "hostile-Key-0123456789abcdef"


class EchoKeyLabels(http.server.BaseHTTPRequestHandler):
    """Answers every label GET with a ZPL label and a ContentType that both carry the caller's key."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        key = self.headers.get("ocp-apim-subscription-key", "")
        zpl = f"^XA^FO20,20^A0N,30,30^FDref {key} / {key.upper()}^FS^XZ".encode()
        body = json.dumps({"File": base64.b64encode(zpl).decode(), "ContentType": f"text/plain; key={key}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-correlation-id", key)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_key_echoed_into_the_label_never_reaches_the_printer_or_a_file(paths, sink, tmp_path, caplog):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoKeyLabels)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = tmp_path / "labels"
    folder.mkdir()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    desk = make_desk(paths, url, sink.uri, key=HOSTILE_KEY)
    try:
        caplog.set_level("DEBUG")
        service = LabelService(desk)
        to_sink = service.print_for("EC-000-DSK-010")
        to_folder = service.print_for("EC-000-DSK-010", printer=f"folder://{folder}")
        assert to_sink.printed and to_folder.printed
        [received] = sink.wait_jobs(1)
        written = (folder / "EC-000-DSK-010.zpl").read_bytes()
        for data in (received, written):
            assert HOSTILE_KEY.encode().lower() not in data.lower()
            assert data.startswith(b"^XA") and b"*" * len(HOSTILE_KEY) in data  # same length: layout kept
        # The desk's own log (httpcore's header trace is silenced by the CLI and the window's logging set-up).
        logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("despatch_desk"))
        shown = json.dumps([to_sink.to_json(), to_folder.to_json(), to_sink.words, to_folder.words]) + logged
        assert HOSTILE_KEY.lower() not in shown.lower()
    finally:
        desk.close()
        server.shutdown()
        server.server_close()
