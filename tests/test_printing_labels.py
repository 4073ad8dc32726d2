"""Printer URIs, what a label file holds (judged from its bytes), the desk's own test labels, and the
sandbox's label-not-ready fault."""

from __future__ import annotations

import base64
import threading
import time
import zlib
from datetime import datetime

import httpx
import pytest
from test_printing_sink import MULTI, sandbox_label

from despatch_desk import printing
from despatch_desk.errors import EXIT_PRINTER, DeskError
from despatch_desk.printing import PrinterTarget, parse_printer_uri, split_labels
from despatch_desk.sandbox import DEMO_API_KEY, SandboxServer
from despatch_desk.sandbox.faults import Fault

# ------------------------------------------------------------------ URIs


@pytest.mark.parametrize("text, target, shown", [
    ("tcp://192.0.2.10", PrinterTarget("tcp", host="192.0.2.10", port=9100), "tcp://192.0.2.10:9100"),
    ("TCP://Zebra-1.local:9101", PrinterTarget("tcp", host="zebra-1.local", port=9101), "tcp://zebra-1.local:9101"),
    ("tcp://[::1]:9100", PrinterTarget("tcp", host="::1", port=9100), "tcp://[::1]:9100"),
    ("cups://zebra", PrinterTarget("cups", name="zebra"), "cups://zebra"),
    ("windows://Zebra GK420d", PrinterTarget("windows", name="Zebra GK420d"), "windows://Zebra GK420d"),
    ("windows://Zebra%20GK420d%20%28bench%29", PrinterTarget("windows", name="Zebra GK420d (bench)"),
     "windows://Zebra GK420d (bench)"),
    (r"windows://\\PRINTSRV\Zebra 3", PrinterTarget("windows", name=r"\\PRINTSRV\Zebra 3"), r"windows://\\PRINTSRV\Zebra 3"),
    ("system://Office Printer 100%25", PrinterTarget("system", name="Office Printer 100%"), "system://Office Printer 100%25"),
    ("folder:///srv/labels", PrinterTarget("folder", path="/srv/labels"), "folder:///srv/labels"),
    ("folder:///srv/label%20drop/", PrinterTarget("folder", path="/srv/label drop"), "folder:///srv/label drop"),
    ("folder:///C:/Labels", PrinterTarget("folder", path="C:\\Labels"), "folder:///C:/Labels"),
])
def test_printer_uris(text, target, shown):
    parsed = parse_printer_uri(text)
    assert parsed == target and str(parsed) == shown
    assert parse_printer_uri(str(parsed)) == parsed  # what is shown reads back as the same printer


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("   ", "empty"), (None, "empty"), ("zebra", "does not start with a printer kind"),
    ("lpt://1", "'lpt://' is not a kind"), ("tcp://", "needs a host"), ("tcp://host:", "port after ':' is missing"),
    ("tcp://host:0", "1 to 65535"), ("tcp://host:99999", "1 to 65535"), ("tcp://host:9100/x", "no path"),
    ("tcp://bad host", "malformed"), ("tcp://[::1", "not closed"), ("tcp://[nope]:9100", "not an IPv6"),
    ("cups://", "needs a printer name"), ("cups://two words", "no spaces"), ("system://%FF%FE", "not UTF-8"),
    ("windows://a\x07b", "control characters"), ("folder://relative/path", "absolute path"),
    ("system://" + "x" * 300, "longer than 255"),
])
def test_bad_printer_uris_in_plain_words(text, words):
    with pytest.raises(printing.PrinterError) as e:
        parse_printer_uri(text)
    assert isinstance(e.value, DeskError) and e.value.exit_code == EXIT_PRINTER
    assert words in e.value.message and "tcp://" in e.value.message  # says what would work


def test_credentials_and_options_in_a_uri_are_never_shown():
    secret = "s3cr3t-KEY"
    target = parse_printer_uri(f"tcp://admin:{secret}@zebra.local:9100")
    assert str(target) == "tcp://zebra.local:9100" and secret not in repr(target)
    with pytest.raises(printing.PrinterError) as e:
        parse_printer_uri(f"tcp://zebra.local:9100/?apikey={secret}")
    assert secret not in e.value.message
    with pytest.raises(printing.PrinterError) as e:
        parse_printer_uri(f"{secret}://x")
    assert secret not in e.value.message
    result = printing.print_label(f"tcp://admin:{secret}@127.0.0.1:1", b"^XA^XZ", reference=MULTI)
    assert secret not in result.printer and secret not in result.error


# ------------------------------------------------------------------ label files


def test_zpl_blocks_are_split_from_the_bytes(sandbox):
    zpl = sandbox_label(sandbox, "ZPL")
    doc = split_labels(zpl)
    assert (doc.kind, doc.count, doc.complete) == ("zpl", 3, True)
    assert all(b.startswith(b"^XA") and b.endswith(b"^XZ") for b in doc.blocks)
    assert b"\r\n".join(doc.blocks) + b"\r\n" == zpl  # blocks and separators are the whole file
    assert doc.describe == "ZPL, 3 labels"


def test_the_kind_comes_from_the_bytes_not_the_format_asked_for(sandbox):
    with httpx.Client(base_url=sandbox.url, headers={"ocp-apim-subscription-key": DEMO_API_KEY}) as client:
        client.put(f"/allocation/{MULTI}/allocatewithservicegroup/nextDay")
        asked_zpl = client.get(f"/labels/{MULTI}/ZPL").json()["File"]
        asked_pdf = client.get(f"/labels/{MULTI}/PDF").json()["File"]
    # A carrier that only makes PDF answers a ZPL request with a PDF: what is printed follows the bytes.
    assert split_labels(base64.b64decode(asked_pdf)).kind == "pdf"
    assert split_labels(base64.b64decode(asked_zpl)).kind == "zpl"


@pytest.mark.parametrize("data, kind, count", [
    (b"^xa^fdlower case^fs^xz", "zpl", 1),
    (b"\xef\xbb\xbf\r\n~DGR:LOGO.GRF,4,1,FFFF\r\n^XA^XGR:LOGO.GRF^FS^XZ\r\n^XA^XZ", "zpl", 2),
    (b"^XA^FDno end", "zpl", 0),
    (b"junk before the header\n%PDF-1.7\n1 0 obj << /Type /Page >> endobj", "pdf", 1),
    (b"\x89PNG\r\n\x1a\n", "unknown", 0),
    (b"N\r\nq812\r\nA50,0,0,1,1,1,N,\"EPL\"\r\nP1\r\n", "unknown", 0),
    (b"", "unknown", 0),
])
def test_label_kinds(data, kind, count):
    doc = split_labels(data)
    assert (doc.kind, doc.count) == (kind, count)
    assert doc.complete == (data != b"^XA^FDno end")


def test_pdf_pages_inside_compressed_object_streams_are_counted():
    pages = b"<< /Type /Page /Parent 2 0 R >> << /Type /Page /Parent 2 0 R >>"
    packed = zlib.compress(b"3 0 4 32 " + pages)
    pdf = (b"%%PDF-1.5\n5 0 obj\n<< /Type /ObjStm /N 2 /First 9 /Filter /FlateDecode /Length %d >>\nstream\n"
           % len(packed)) + packed + b"\nendstream\nendobj\n<< /Type /Pages /MediaBox [0 0 288 432] >>\n%%EOF\n"
    doc = split_labels(pdf)
    assert (doc.kind, doc.count, doc.page_size_pt) == ("pdf", 2, (288.0, 432.0))


def test_a_compressed_bomb_is_not_inflated_without_bound():
    from despatch_desk.printing.labels import MAX_INFLATED

    def objstm(payload: bytes) -> bytes:
        packed = zlib.compress(payload, 9)
        return (b"%%PDF-1.5\n1 0 obj\n<< /Type /ObjStm /Filter /FlateDecode /Length %d >>\nstream\n" % len(packed)
                + packed + b"\nendstream\nendobj\n")

    page = b"<< /Type /Page >>"
    assert split_labels(objstm(b"\0" * 1000 + page)).count == 1
    started = time.monotonic()
    assert split_labels(objstm(b"\0" * (MAX_INFLATED + (1 << 20)) + page)).count == 0  # past the bound: not read
    assert time.monotonic() - started < 2


# ------------------------------------------------------------------ test labels


def test_zpl_test_label():
    zpl = printing.make_test_label("ZPL", desk_name="Bench ^3~ Zoë", when=datetime(2026, 12, 1, 9, 30))
    doc = split_labels(zpl)
    assert (doc.kind, doc.count, doc.complete) == ("zpl", 1, True)
    text = zpl.decode("utf-8")
    assert "^PW812" in text and "^LL1218" in text and "^GB812,1218," in text  # a frame on the 4 x 6 in edge
    assert "Desk: Bench  3  Zoë" in text and "2026-12-01 09:30" in text  # ^ and ~ kept out of field data
    assert text.count("^FO") == text.count("^FS") and "^CI28" in text


def test_pdf_test_label():
    pdf = printing.make_test_label("pdf", desk_name="Bench (3) — Zoë", when=datetime(2026, 12, 1, 9, 30))
    doc = split_labels(pdf)
    assert (doc.kind, doc.count, doc.page_size_pt) == ("pdf", 1, (288.0, 432.0))
    assert b"(Desk: Bench \\(3\\) \x97 Zo\xeb)" in pdf  # cp1252, parentheses escaped
    assert pdf.rstrip().endswith(b"%%EOF")


def test_test_label_format_in_plain_words():
    with pytest.raises(printing.PrinterError) as e:
        printing.make_test_label("png", desk_name="x", when=datetime.now())
    assert "ZPL or PDF" in e.value.message


def test_print_result_words():
    ok = printing.PrintResult(True, "zpl", "cups://zebra", 1, 10, job="zebra-4")
    assert ok.words == "1 label (ZPL) sent to cups://zebra (job zebra-4)."
    assert printing.PrintResult(False, "pdf", "system://x", 2, 9, "It broke.").words == "It broke."


# ------------------------------------------------------------------ sandbox: label-not-ready


def test_labels_lag_behind_the_allocation_with_the_fault():
    delay = 0.4
    with SandboxServer(faults=[Fault("label-not-ready", delay=delay)]) as sb, \
            httpx.Client(base_url=sb.url, headers={"ocp-apim-subscription-key": DEMO_API_KEY}) as client:
        assert client.get("/labels/EC-000-DSK-022/ZPL").status_code == 200  # allocated long ago: ready
        assert client.put(f"/allocation/{MULTI}/allocatewithservicegroup/nextDay").status_code == 200
        allocated_at = time.monotonic()
        first = client.get(f"/labels/{MULTI}/ZPL")
        assert first.status_code == 404 and first.json()["Code"] == "LabelNotFound"
        assert client.get(f"/consignments/{MULTI}").status_code == 200  # only labels lag
        pause, answer = threading.Event(), first
        while answer.status_code == 404 and time.monotonic() - allocated_at < 10:
            pause.wait(0.05)  # retry as a client would, until the label is ready
            answer = client.get(f"/labels/{MULTI}/ZPL")
        assert answer.status_code == 200 and time.monotonic() - allocated_at >= delay
        assert split_labels(base64.b64decode(answer.json()["File"])).count == 3
        assert "label-not-ready" in [f.name for f in sb.faults]  # stays for the next allocation
