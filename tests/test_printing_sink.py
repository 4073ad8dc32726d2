"""Label printing to real sinks on loopback: a raw TCP "printer", a folder, and the Windows spooler
sequence against a fake winspool (the real one cannot run here). ``RawSink`` is shared with the other
printing tests."""

from __future__ import annotations

import base64
import os
import socket
import stat
import threading
import time

import httpx
import pytest

from despatch_desk import printing
from despatch_desk.cancel import CancelToken
from despatch_desk.printing import windows
from despatch_desk.sandbox import DEMO_API_KEY

MULTI = "EC-000-DSK-010"  # three packages: three labels


class RawSink:
    """A raw-port label printer on 127.0.0.1: every connection's bytes, in order, until EOF."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytes] = []
        self.last_byte_at: list[float] = []  # time.perf_counter() of each job's last byte
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._stopped = False

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> RawSink:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        chunks, last = [], time.perf_counter()
        with conn:
            conn.settimeout(30)
            try:
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                    last = time.perf_counter()
            except OSError:
                pass
        with self._changed:
            self.jobs.append(b"".join(chunks))
            self.last_byte_at.append(last)
            self._changed.notify_all()

    def wait_jobs(self, count: int, timeout: float = 30.0) -> list[bytes]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.jobs) >= count, timeout), f"{len(self.jobs)} of {count} jobs"
            return list(self.jobs)

    def stop(self) -> None:
        self._stopped = True
        self.server.close()


def assert_nothing_reached(sink: RawSink) -> None:
    """Print a marker label: if it is the first job the sink saw, nothing came before it."""
    assert printing.print_label(sink.uri, b"^XA^FDmarker^FS^XZ", reference=MULTI).ok
    assert sink.wait_jobs(1)[0] == b"^XA^FDmarker^FS^XZ"


@pytest.fixture
def sink():
    s = RawSink().start()
    yield s
    s.stop()


def sandbox_label(sandbox, fmt: str, reference: str = MULTI) -> bytes:
    """A label as SortedPRO sends it: allocate, GET /labels/{ref}/{fmt}, base64-decode ``File``."""
    headers = {"ocp-apim-subscription-key": DEMO_API_KEY, "electio-api-version": "1.1"}
    with httpx.Client(base_url=sandbox.url, headers=headers, trust_env=False) as client:
        allocated = client.put(f"/allocation/{reference}/allocatewithservicegroup/nextDay")
        assert allocated.status_code == 200 or "already" in allocated.text, allocated.text
        answer = client.get(f"/labels/{reference}/{fmt}")
        assert answer.status_code == 200, answer.text
        return base64.b64decode(answer.json()["File"], validate=True)


# ------------------------------------------------------------------ tcp://


def test_zpl_reaches_the_raw_port_byte_for_byte(sandbox, sink):
    zpl = sandbox_label(sandbox, "ZPL")
    assert b"\r\n" in zpl and "É".encode() in zpl and b"^FH" in zpl  # what must survive untouched
    result = printing.print_label(sink.uri, zpl, reference=MULTI)
    assert result.ok and result.sent and result.error is None
    assert (result.format, result.labels, result.bytes) == ("zpl", 3, len(zpl))
    assert result.words == f"3 labels (ZPL) sent to {sink.uri}."
    [received] = sink.wait_jobs(1)
    assert received == zpl  # nothing added, nothing re-encoded: CRLF and UTF-8 kept


def test_several_labels_arrive_in_order(sandbox, sink):
    zpl = sandbox_label(sandbox, "ZPL")
    doc = printing.split_labels(zpl)
    tracking = sandbox.consignment(MULTI)["ConsignmentLegs"][0]["TrackingReferences"]
    assert printing.print_label(sink.uri, zpl, reference=MULTI).ok
    [received] = sink.wait_jobs(1)
    blocks = printing.split_labels(received).blocks
    assert blocks == doc.blocks and len(blocks) == 3
    assert [t for b in blocks for t in tracking if t.encode() in b] == tracking  # parcel 1, 2, 3


def test_a_pdf_is_not_fed_to_a_raw_port(sandbox, sink):
    pdf = sandbox_label(sandbox, "PDF")  # e.g. a carrier that gives PDF although ZPL was asked for
    result = printing.print_label(printing.parse_printer_uri(sink.uri), pdf, reference=MULTI)
    assert not result.sent and (result.format, result.pages) == ("pdf", 3)
    assert "ask SortedPRO for ZPL labels" in result.error and "Nothing was sent" in result.error
    assert_nothing_reached(sink)  # no label stock wasted on PDF source


def test_closed_port_answers_at_once_in_plain_words():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    started = time.monotonic()
    result = printing.print_label(f"tcp://127.0.0.1:{port}", b"^XA^XZ", reference=MULTI)
    assert time.monotonic() - started < 2
    assert not result.sent and "refused the connection" in result.error and "Nothing was sent" in result.error
    assert result.words == result.error


def test_a_printer_that_never_answers_gives_up_within_the_timeout():
    # A listener that never accepts, its backlog full: further SYNs go unanswered, like a switched-off printer.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = []
        try:
            for _ in range(4):
                f = socket.socket()
                f.setblocking(False)
                f.connect_ex(listener.getsockname())
                fillers.append(f)
            started = time.monotonic()
            result = printing.print_label(f"tcp://127.0.0.1:{listener.getsockname()[1]}", b"^XA^XZ",
                                          reference=MULTI, timeout_s=1.0)
            elapsed = time.monotonic() - started
        finally:
            for f in fillers:
                f.close()
    assert not result.sent and "did not answer within 1 s" in result.error, result.error
    assert 0.5 < elapsed < 3


def test_a_printer_that_stops_reading_is_cut_off_at_the_deadline():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        held = []
        threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
        big = b"^XA" + b"^FO0,0^GB10,10,1^FS" * 2_000_000 + b"^XZ"  # 38 MB: more than any socket buffer
        started = time.monotonic()
        result = printing.print_label(f"tcp://127.0.0.1:{listener.getsockname()[1]}", big,
                                      reference=MULTI, timeout_s=1.0)
        elapsed = time.monotonic() - started
        for conn in held:
            conn.close()
    assert not result.sent and "the time ran out" in result.error and "reprint" in result.error
    assert elapsed < 3


def test_cancel_stops_before_anything_is_sent(sink):
    token = CancelToken()
    token.cancel("desk closing")
    result = printing.print_label(sink.uri, b"^XA^XZ", reference=MULTI, cancel=token)
    assert not result.sent and "stopped" in result.error
    assert_nothing_reached(sink)


def test_bad_labels_are_refused_in_plain_words(sink):
    for data, words in ((b"", "empty"), (b"\x89PNG\r\n\x1a\n....", "neither PDF nor ZPL"),
                        (b"^XA^FDcut", "cut short")):
        result = printing.print_label(sink.uri, data, reference=MULTI)
        assert not result.sent and words in result.error
    result = printing.print_label("lpt://1", b"^XA^XZ", reference=MULTI)
    assert not result.sent and "not usable" in result.error
    assert_nothing_reached(sink)


# ------------------------------------------------------------------ folder://


@pytest.mark.parametrize("fmt, suffix", [("ZPL", "zpl"), ("PDF", "pdf")])
def test_folder_writes_the_label_as_received(sandbox, tmp_path, fmt, suffix):
    data = sandbox_label(sandbox, fmt)
    result = printing.print_label(f"folder://{tmp_path.as_posix()}", data, reference=MULTI)
    assert result.ok, result.error
    written = tmp_path / f"{MULTI}.{suffix}"
    assert written.read_bytes() == data and result.destination == str(written)
    assert result.words.endswith(f"written to {written}.")
    assert [p.name for p in tmp_path.iterdir()] == [written.name]  # no temporary file left behind
    if os.name == "posix":
        assert stat.S_IMODE(written.stat().st_mode) & 0o044  # a print agent under another user can read it


def test_folder_names_the_file_after_the_bytes_not_the_request(sandbox, tmp_path):
    pdf = sandbox_label(sandbox, "PDF")
    printing.print_label(f"folder://{tmp_path}", pdf, reference=MULTI)
    assert (tmp_path / f"{MULTI}.pdf").exists() and not (tmp_path / f"{MULTI}.zpl").exists()


def test_folder_failures_in_plain_words(tmp_path):
    missing = tmp_path / "no such folder"
    result = printing.print_label(f"folder://{missing}", b"^XA^XZ", reference=MULTI)
    assert not result.sent and "does not exist" in result.error
    result = printing.print_label(f"folder://{tmp_path}", b"^XA^XZ", reference="../../etc/passwd")
    assert not result.sent and "cannot be used as a file name" in result.error
    assert list(tmp_path.iterdir()) == []
    if os.name == "posix" and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = printing.print_label(f"folder://{locked}", b"^XA^XZ", reference=MULTI)
        assert not result.sent and "could not be written" in result.error


def test_unwritable_folder_in_plain_words(tmp_path):
    # Root writes anywhere, so "unwritable" is a folder path that is a file.
    blocker = tmp_path / "labels"
    blocker.write_text("not a folder")
    started = time.monotonic()
    result = printing.print_label(f"folder://{blocker}/sub", b"^XA^XZ", reference=MULTI)
    assert not result.sent and "does not exist (or is not a folder)" in result.error
    assert time.monotonic() - started < 1


# ------------------------------------------------------------------ windows:// (fake winspool)


class FakeWinspool:
    """The winspool calls as Windows makes them, recorded; ``fail`` makes one call fail like Windows does."""

    def __init__(self, fail: dict[str, int] | None = None, chunk: int = 1000) -> None:
        self.calls: list[tuple] = []
        self.fail = fail or {}
        self.chunk = chunk
        self.written = b""

    def _maybe_fail(self, call: str) -> None:
        if call in self.fail:
            raise windows.SpoolerFailure(call, self.fail[call])

    def open_printer(self, name):
        self.calls.append(("OpenPrinterW", name))
        self._maybe_fail("OpenPrinterW")
        return 42

    def start_doc(self, handle, doc_name, datatype):
        self.calls.append(("StartDocPrinterW", handle, doc_name, datatype))
        self._maybe_fail("StartDocPrinterW")
        return 7

    def start_page(self, handle):
        self.calls.append(("StartPagePrinter", handle))

    def write(self, handle, data):
        self.calls.append(("WritePrinter", handle, len(data)))
        self._maybe_fail("WritePrinter")
        self.written += data[: self.chunk]  # the spooler may take less than offered
        return min(len(data), self.chunk)

    def end_page(self, handle):
        self.calls.append(("EndPagePrinter", handle))

    def end_doc(self, handle):
        self.calls.append(("EndDocPrinter", handle))

    def close_printer(self, handle):
        self.calls.append(("ClosePrinter", handle))


def test_windows_raw_job_sends_the_bytes_unchanged(sandbox):
    zpl = sandbox_label(sandbox, "ZPL")
    fake = FakeWinspool(chunk=1000)
    title = printing.common.job_title(MULTI, None)
    job = windows.send_raw_job("Zebra GK420d", zpl, title=title, api=fake)
    assert job == 7 and fake.written == zpl
    names = [c[0] for c in fake.calls]
    assert names[:3] == ["OpenPrinterW", "StartDocPrinterW", "StartPagePrinter"]
    assert names[-3:] == ["EndPagePrinter", "EndDocPrinter", "ClosePrinter"]
    assert names.count("WritePrinter") == -(-len(zpl) // 1000)
    assert fake.calls[0] == ("OpenPrinterW", "Zebra GK420d")
    assert fake.calls[1][2:] == (f"Despatch Desk label {MULTI}", "RAW")
    assert DEMO_API_KEY not in fake.calls[1][2]


def test_windows_failures_in_plain_words_and_the_printer_always_closed():
    fake = FakeWinspool(fail={"OpenPrinterW": windows.ERROR_INVALID_PRINTER_NAME})
    with pytest.raises(printing.PrinterError) as e:
        windows.send_raw_job("Nope", b"^XA^XZ", title="t", api=fake)
    assert "no printer with that name" in e.value.message and e.value.exit_code == 5
    fake = FakeWinspool(fail={"WritePrinter": 1804})
    with pytest.raises(printing.PrinterError) as e:
        windows.send_raw_job("Office", b"^XA^XZ", title="t", api=fake)
    assert "does not accept raw data" in e.value.message and "print queue" in e.value.message
    assert fake.calls[-1] == ("ClosePrinter", 42)


@pytest.mark.skipif(os.name == "nt", reason="checks the message on machines without a spooler")
def test_windows_target_elsewhere_says_so():
    result = printing.print_label("windows://Zebra GK420d", b"^XA^XZ", reference=MULTI)
    assert not result.sent and "only on Windows" in result.error
    assert result.printer == "windows://Zebra GK420d"
