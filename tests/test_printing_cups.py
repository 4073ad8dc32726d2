"""cups:// and system:// for real: a CUPS queue (``lpadmin -m raw``) pointed at a raw TCP sink on
loopback. cupsd is started here when it is not running (and stopped again); without cupsd/lp these
tests skip, and under CI=true they fail instead (see ``.ci/run``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid

import pytest
from support import need, need_tools
from test_printing_qt import qt_address
from test_printing_sink import MULTI, RawSink, sandbox_label

from despatch_desk import printing
from despatch_desk.sandbox import DEMO_API_KEY


def _scheduler_running() -> bool:
    done = subprocess.run(["lpstat", "-r"], capture_output=True, text=True, timeout=10,
                          env={**os.environ, "LC_ALL": "C"})
    return "is running" in done.stdout and "not running" not in done.stdout


@pytest.fixture(scope="module")
def cups_queue():
    """(queue name, sink): a fresh raw queue whose device is a RawSink on 127.0.0.1."""
    need_tools("cupsd", "lp", "lpstat", "lpadmin")
    started = None
    if not _scheduler_running():
        started = subprocess.Popen([shutil.which("cupsd"), "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        pause = threading.Event()
        while not _scheduler_running() and started.poll() is None and time.monotonic() < deadline:
            pause.wait(0.1)  # cupsd has no readiness signal: ask it, within a bound
        if not _scheduler_running():
            err = started.stderr.read().decode(errors="replace") if started.poll() is not None else "no answer in 30 s"
            started.kill()
            need(False, f"cupsd could not be started here ({err.strip()[:200]})")
    sink = RawSink().start()
    queue = f"dd-test-{uuid.uuid4().hex[:8]}"
    added = subprocess.run(["lpadmin", "-p", queue, "-E", "-v", f"socket://127.0.0.1:{sink.port}", "-m", "raw"],
                           capture_output=True, text=True, timeout=30)
    if added.returncode != 0:
        need(False, f"lpadmin could not add a queue: {added.stderr.strip()[:200]}")
    try:
        yield queue, sink
    finally:
        subprocess.run(["lpadmin", "-x", queue], capture_output=True, timeout=30)
        sink.stop()
        if started is not None:
            started.terminate()
            started.wait(30)


def test_cups_delivers_zpl_byte_for_byte(sandbox, cups_queue):
    queue, sink = cups_queue
    zpl = sandbox_label(sandbox, "ZPL")
    assert b"\r\n" in zpl and "É".encode() in zpl
    before = len(sink.jobs)
    result = printing.print_label(f"cups://{queue}", zpl, reference=MULTI)
    assert result.ok, result.error
    assert result.job and result.job.startswith(queue)
    assert result.words == f"3 labels (ZPL) sent to cups://{queue} (job {result.job})."  # "sent", not "printed"
    jobs = sink.wait_jobs(before + 1)
    assert jobs[before] == zpl


def test_cups_pdf_goes_as_a_document_at_label_size(sandbox, cups_queue):
    queue, sink = cups_queue
    pdf = sandbox_label(sandbox, "PDF")
    before = len(sink.jobs)
    result = printing.print_label(f"cups://{queue}", pdf, reference=MULTI)
    assert result.ok and (result.format, result.pages) == ("pdf", 3)
    assert sink.wait_jobs(before + 1)[before] == pdf  # a raw queue passes the document on untouched
    cmd = printing.cups.lp_command(queue, "t", raw=False, page_size_pt=printing.split_labels(pdf).page_size_pt)
    assert "media=Custom.288x432" in cmd and "raw" not in cmd


def test_job_name_is_the_reference_never_the_key(cups_queue):
    """Hold the queue so the job waits in the spooler, and read the name CUPS shows for it."""
    queue, _sink = cups_queue
    need_tools("cupsdisable", "cupsenable", "lpq", "cancel")
    subprocess.run(["cupsdisable", queue], check=True, timeout=30)
    try:
        result = printing.print_label(f"cups://{queue}", b"^XA^FDx^FS^XZ", reference=MULTI)
        shown = subprocess.run(["lpq", "-P", queue, "-l"], capture_output=True, text=True, timeout=30).stdout
    finally:
        subprocess.run(["cancel", "-a", queue], capture_output=True, timeout=30)
        subprocess.run(["cupsenable", queue], check=True, timeout=30)
    assert result.ok, result.error
    assert f"Despatch Desk label {MULTI}" in shown, shown
    assert DEMO_API_KEY not in shown


def test_unknown_queue_in_plain_words_quickly(cups_queue):
    started = time.monotonic()
    result = printing.print_label("cups://no-such-queue-here", b"^XA^XZ", reference=MULTI)
    assert time.monotonic() - started < 5
    assert not result.sent and "no printer queue named 'no-such-queue-here'" in result.error


def test_list_printers_finds_the_queue(cups_queue, qapp):
    queue, _sink = cups_queue
    found = printing.list_printers()
    assert printing.PrinterInfo(queue, f"cups://{queue}", False) in found
    assert any(p.uri == f"system://{queue}" for p in found)  # Qt sees CUPS queues too
    assert all(printing.parse_printer_uri(p.uri) for p in found)


def test_system_printer_renders_each_page_at_label_size(sandbox, cups_queue, qapp):
    """system:// through QtPrintSupport: Qt's own PDF of our render reaches the queue's device."""
    from despatch_desk.printing.qt_pdf import pdf_page_sizes

    queue, sink = cups_queue
    pdf = sandbox_label(sandbox, "PDF")
    before = len(sink.jobs)
    windows_before = {qt_address(w) for w in qapp.topLevelWidgets()}  # other tests may leave theirs behind
    result = printing.print_label(f"system://{queue}", pdf, reference=MULTI, timeout_s=30)
    assert result.ok, result.error
    assert (result.format, result.pages) == ("pdf", 3)
    received = sink.wait_jobs(before + 1)[before]
    assert received.startswith(b"%PDF") and received != pdf  # printed by Qt, not passed through
    assert pdf_page_sizes(received) == [(288.0, 432.0)] * 3
    assert [w for w in qapp.topLevelWidgets() if qt_address(w) not in windows_before] == []  # no print dialog


def test_zpl_on_a_system_printer_is_refused_in_plain_words(cups_queue):
    queue, sink = cups_queue
    before = len(sink.jobs)
    result = printing.print_label(f"system://{queue}", b"^XA^XZ", reference=MULTI)
    assert not result.sent and "ask SortedPRO for PDF labels" in result.error
    assert len(sink.jobs) == before


# ------------------------------------------------------------------ without a working CUPS (no cupsd needed)


def test_cups_not_running_in_plain_words(monkeypatch, tmp_path):
    need_tools("lp", "lpstat")
    monkeypatch.setenv("CUPS_SERVER", str(tmp_path / "no-cupsd.sock"))  # lp and lpstat talk to nobody
    started = time.monotonic()
    result = printing.print_label("cups://zebra", b"^XA^XZ", reference=MULTI)
    assert not result.sent and "CUPS (the print service) is not running" in result.error
    assert time.monotonic() - started < 5


def test_no_lp_command_in_plain_words(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = printing.print_label("cups://zebra", b"^XA^XZ", reference=MULTI)
    assert not result.sent and "the 'lp' command is missing" in result.error


def test_list_printers_without_cups_or_qt(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert printing.list_printers(include_qt=False) == []
    broken = tmp_path / "lpstat"  # an lpstat that fails or talks nonsense is "no CUPS printers"
    broken.write_text("#!/bin/sh\necho 'system default destination: ghost'\necho '\x01\x02 bad name' >&2\nexit 1\n")
    broken.chmod(0o755)
    assert printing.list_printers(include_qt=False) == []
    broken.write_text("#!/bin/sh\ncase \"$1\" in -e) printf 'zebra\\nbad name\\noffice\\n';; "
                      "-d) echo 'system default destination: office';; esac\n")
    assert printing.list_printers(include_qt=False) == [
        printing.PrinterInfo("office", "cups://office", True), printing.PrinterInfo("zebra", "cups://zebra", False)]
