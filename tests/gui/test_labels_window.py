"""Labels in the window (issue 8): auto-print once per allocation, LABEL NOT PRINTED until Esc, Reprint,
the printer page. Real window, real sandbox over HTTP, a raw TCP "printer" on loopback."""

from __future__ import annotations

import base64
import http.server
import os
import threading
from pathlib import Path

import httpx
import pytest
from gui_support import closed_port, scan, wait_state
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_printing_sink import RawSink

from despatch_desk.gui.jobs import Lane
from despatch_desk.gui.label_follow_up import LABEL_NOT_PRINTED, PRINTING, REPRINT_OFFER
from despatch_desk.sandbox import DEMO_API_KEY, Fault

ALREADY = "EC-000-DSK-022"  # the demo sandbox holds it allocated


@pytest.fixture
def sink():
    s = RawSink().start()
    yield s
    s.stop()


def printing_desk(make_desk, url, printer_uri, *, auto_print=True, fmt="zpl", **kw):
    desk = make_desk(url, DEMO_API_KEY, **kw)
    settings = desk.settings
    settings.printer_uri, settings.auto_print, settings.label_format = printer_uri, auto_print, fmt
    desk.settings_store.save(settings)
    return desk


def sandbox_label(sandbox, reference: str, fmt: str = "ZPL") -> bytes:
    """What SortedPRO holds for an allocated consignment (the bytes the printer must get, unchanged)."""
    with httpx.Client(base_url=sandbox.url, headers={"ocp-apim-subscription-key": DEMO_API_KEY},
                      trust_env=False) as client:
        answer = client.get(f"/labels/{reference}/{fmt}")
        assert answer.status_code == 200, answer.text
        return base64.b64decode(answer.json()["File"], validate=True)


def jobs_for(sink, reference: str) -> list[bytes]:
    return [job for job in list(sink.jobs) if reference.encode() in job]


def label_gets(sandbox, reference: str):
    return [r for r in sandbox.recorded() if r.method == "GET" and r.path.upper().startswith(f"/LABELS/{reference}")]


def idle(qtbot, w, timeout=15000):
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=timeout)


def label_result(ticket):
    result = ticket.follow_ups.get("label")
    return None if result is None or result.phase in ("waiting", "running") else result


class HoldingRelay:
    """A small HTTP relay in front of the sandbox that holds every label GET until the test releases it.

    A raw TCP sink cannot hold a sender of a few kilobytes (the kernel's buffers take them, accepted or
    not), so the slow part is put where a label job really waits: fetching the label."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.release = threading.Event()
        self.holding = threading.Event()
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "GET" and self.path.lower().startswith("/labels/"):
                    relay.holding.set()
                    relay.release.wait(30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection", "accept-encoding")}
                answer = httpx.request(self.command, relay.upstream + self.path, headers=headers, content=body,
                                       trust_env=False, timeout=30)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding",
                                           "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_PUT = do_POST = do_DELETE = _relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------ printed once


def test_each_allocation_prints_its_label_once_an_already_allocated_scan_offers_reprint(
        qtbot, make_window, make_desk, sandbox, sink):
    w = make_window(printing_desk(make_desk, sandbox.url, sink.uri))
    first, second = sandbox.add_consignment(), sandbox.add_consignment(packages=[1.0, 2.0])
    scan(qtbot, w, first)
    scan(qtbot, w, second)
    qtbot.waitUntil(lambda: all(label_result(t) for t in w.controller.tickets()), timeout=10000)
    scan(qtbot, w, ALREADY)
    wait_state(qtbot, w, "already_allocated")
    idle(qtbot, w)
    # Once per allocation, byte for byte what SortedPRO holds; none for the already-allocated scan.
    assert [len(jobs_for(sink, ref)) for ref in (first, second, ALREADY)] == [1, 1, 0]
    assert jobs_for(sink, first) == [sandbox_label(sandbox, first)]
    assert jobs_for(sink, second) == [sandbox_label(sandbox, second)]
    assert len(sink.jobs) == 2 and label_gets(sandbox, ALREADY) == []
    tickets = {t.reference: t for t in w.controller.tickets()}
    assert label_result(tickets[second]).words == f"2 labels (ZPL) for {second} sent to {sink.uri}."
    assert REPRINT_OFFER in w.result_panel.text()  # the already-allocated scan offers Reprint ...
    assert w.desk.history.latest_allocated(first).label_status == "printed"

    # ... and Ctrl+P prints it (the latest scan), through the label service, on the follow-up lane.
    QTest.keyClick(w.scan_field, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(jobs_for(sink, ALREADY)) == 1, timeout=10000)
    assert jobs_for(sink, ALREADY) == [sandbox_label(sandbox, ALREADY)]
    qtbot.waitUntil(lambda: label_result(tickets[ALREADY]) is not None, timeout=5000)
    assert f"sent to {sink.uri}" in w.result_panel.text()
    # The recent list's context menu reprints the row it was opened on.
    menu = w.labels.context_menu(tickets[first])
    [reprint] = menu.actions()
    assert reprint.isEnabled()
    reprint.trigger()
    qtbot.waitUntil(lambda: len(jobs_for(sink, first)) == 2, timeout=10000)
    idle(qtbot, w)
    assert [len(jobs_for(sink, ref)) for ref in (first, second, ALREADY)] == [2, 1, 1]
    row = w.recent_model.rows()[-1]
    assert row.reference == first and "sent to" in w.recent_model.index(len(w.recent_model.rows()) - 1, 6).data()
    # The key is nowhere: not in a label, the window's words, or any file the desk wrote.
    assert not any(DEMO_API_KEY.encode() in job for job in sink.jobs)
    assert DEMO_API_KEY not in w.result_panel.text() + w.attention.text()
    for path in Path(os.environ["DESPATCH_DESK_HOME"]).rglob("*"):
        if path.is_file():
            assert DEMO_API_KEY.encode() not in path.read_bytes(), path


def test_reprint_refuses_in_plain_words_when_there_is_nothing_to_print(qtbot, make_window, make_desk, sandbox):
    w = make_window(printing_desk(make_desk, sandbox.url, ""))
    assert not w.labels.reprint()
    assert w.labels.last_refusal == "Nothing to reprint: scan a consignment first."
    scan(qtbot, w, "EC-999-ZZZ-999")  # not in the sandbox: not allocated
    wait_state(qtbot, w, "not_allocated")
    assert not w.labels.reprint()
    assert w.labels.last_refusal == "Nothing to reprint: EC-999-ZZZ-999 is not allocated."
    ref = sandbox.add_consignment()
    scan(qtbot, w, ref)
    wait_state(qtbot, w, "allocated")
    idle(qtbot, w)
    assert "label" not in w.controller.latest.follow_ups  # no printer set: nothing tried
    assert not w.labels.reprint()
    assert "No label printer is set up" in w.labels.last_refusal
    assert label_gets(sandbox, ref) == []


def test_a_recovered_allocation_and_one_resolved_by_a_recheck_print_once(qtbot, make_window, make_desk, sandbox, sink):
    w = make_window(printing_desk(make_desk, sandbox.url, sink.uri))
    recovered, doubted = sandbox.add_consignment(), sandbox.add_consignment()
    sandbox.add_fault(Fault("drop-after-commit", times=1))  # applied, answer lost, found allocated on a look
    scan(qtbot, w, recovered)
    qtbot.waitUntil(lambda: len(jobs_for(sink, recovered)) == 1, timeout=10000)
    assert w.controller.latest.outcome.recovered
    sandbox.add_fault(Fault("drop-after-commit", any_request=True))  # nothing can be learnt: in doubt
    scan(qtbot, w, doubted)
    wait_state(qtbot, w, "in_doubt")
    idle(qtbot, w)
    sandbox.clear_faults()
    assert jobs_for(sink, doubted) == []  # in doubt: no label for a parcel that must not ship yet
    w.recheck_in_doubt()
    qtbot.waitUntil(lambda: len(jobs_for(sink, doubted)) == 1, timeout=10000)
    idle(qtbot, w)
    assert [len(jobs_for(sink, r)) for r in (recovered, doubted)] == [1, 1] and len(sink.jobs) == 2
    assert jobs_for(sink, doubted) == [sandbox_label(sandbox, doubted)]


# ------------------------------------------------------------------------------------ not printed


def test_printer_off_label_not_printed_stays_until_esc_and_the_allocation_stands(
        qtbot, make_window, make_desk, sandbox, sink):
    off = f"tcp://127.0.0.1:{closed_port()}"
    w = make_window(printing_desk(make_desk, sandbox.url, off))
    ref = sandbox.add_consignment()
    scan(qtbot, w, ref)
    qtbot.waitUntil(lambda: "LABEL NOT PRINTED" in w.attention.text(), timeout=10000)
    ticket = w.controller.latest
    assert w.result_panel.state == "allocated" and w.result_panel.ticket_id == ticket.id  # it stands
    assert f"✕ LABEL NOT PRINTED: The printer at {off} refused the connection" in w.result_panel.text()
    card = w.attention.cards[0]
    assert card.word.text() == f"{LABEL_NOT_PRINTED.symbol} {LABEL_NOT_PRINTED.word}" and card.reference.text() == ref
    assert card._look is LABEL_NOT_PRINTED
    assert "The allocation stands" in card.message.text()
    assert w.sounds.played[-1] == "failure"
    row = w.desk.history.latest_allocated(ref)
    assert (row.outcome, row.label_status) == ("allocated", "not_printed")
    assert sandbox.consignment(ref)["ConsignmentState"] == "Allocated"

    # A later good scan (printer back on) does not hide it: it stays until Esc.
    w.desk.settings.printer_uri = sink.uri
    later = sandbox.add_consignment()
    scan(qtbot, w, later)
    qtbot.waitUntil(lambda: len(sink.jobs) == 1, timeout=10000)
    idle(qtbot, w)
    assert w.result_panel.reference == later and w.result_panel.state == "allocated"
    assert "LABEL NOT PRINTED" in w.attention.text() and w.attention.count == 1
    QTest.keyClick(w.scan_field, Qt.Key.Key_Escape)
    assert w.attention.count == 0 and w.attention.isHidden()
    assert w.result_panel.state == "allocated" and w.result_panel.reference == later
    # Reprinted now that the printer is on: the parcel gets its label.
    w.labels.reprint(ticket)
    qtbot.waitUntil(lambda: len(jobs_for(sink, ref)) == 1, timeout=10000)
    assert jobs_for(sink, ref) == [sandbox_label(sandbox, ref)]


def test_a_label_not_ready_yet_is_printed_after_the_retry(qtbot, make_window, make_desk, sandbox, sink):
    sandbox.add_fault(Fault("label-not-ready", delay=0.6))
    w = make_window(printing_desk(make_desk, sandbox.url, sink.uri))
    ref = sandbox.add_consignment()
    scan(qtbot, w, ref)
    qtbot.waitUntil(lambda: len(jobs_for(sink, ref)) == 1, timeout=10000)
    idle(qtbot, w)
    assert jobs_for(sink, ref) == [sandbox_label(sandbox, ref)]
    gets = label_gets(sandbox, ref)
    assert len(gets) >= 3  # our check above is one; the label job asked again after a 404
    assert label_result(w.controller.latest).value.fetches == len(gets) - 1 >= 2
    assert w.attention.count == 0 and "sent to" in w.result_panel.text()


# ------------------------------------------------------------------------------------ never waits


def test_the_result_is_painted_before_the_label_job_ends(qtbot, make_window, make_desk, sandbox, sink):
    relay = HoldingRelay(sandbox.url)
    try:
        w = make_window(printing_desk(make_desk, relay.url, sink.uri))
        first, second = sandbox.add_consignment(), sandbox.add_consignment()
        painted_before = w.result_panel.paint_count
        scan(qtbot, w, first)
        qtbot.waitUntil(relay.holding.is_set, timeout=10000)  # the label job is fetching, and held
        wait_state(qtbot, w, "allocated")
        qtbot.waitUntil(lambda: w.result_panel.paint_count > painted_before, timeout=5000)
        assert w.result_panel.reference == first and PRINTING in w.result_panel.text()
        # (the price/delivery follow-up runs beside it and ends on its own: only the label is held)
        qtbot.waitUntil(lambda: w.runner.running_count(Lane.FOLLOW_UP) == 1, timeout=5000)
        assert sink.jobs == []
        # The next scan is not held up either.
        scan(qtbot, w, second)
        qtbot.waitUntil(lambda: w.result_panel.reference == second and w.result_panel.state == "allocated",
                        timeout=8000)
        assert sink.jobs == []
        relay.release.set()
        qtbot.waitUntil(lambda: len(sink.jobs) == 2, timeout=10000)
        idle(qtbot, w)
        assert PRINTING not in w.result_panel.text() and "sent to" in w.result_panel.text()
        assert jobs_for(sink, first) == [sandbox_label(sandbox, first)]
    finally:
        relay.stop()


# ------------------------------------------------------------------------------------ batches


def test_a_quiet_batch_prints_every_label_once_in_row_order(qtbot, make_window, make_desk, sandbox, sink):
    w = make_window(printing_desk(make_desk, sandbox.url, sink.uri, max_parallel=4))
    refs = [sandbox.add_consignment() for _ in range(4)]
    sandbox.add_fault(Fault("slow-after-commit", delay=0.6, match=refs[0]))  # the first row's answer comes last
    batch = w.controller.submit_batch(refs)
    qtbot.waitUntil(lambda: len(sink.jobs) == 4, timeout=15000)
    idle(qtbot, w)
    assert [t.state for t in w.controller.batch_tickets(batch)] == ["allocated"] * 4
    order = [next(r for r in refs if r.encode() in job) for job in sink.jobs]
    assert order == refs  # row order, although row 1 was allocated last
    assert all(jobs_for(sink, ref) == [sandbox_label(sandbox, ref)] for ref in refs)


# ------------------------------------------------------------------------------------ the printer page


def test_the_printer_page_saves_and_its_test_label_reaches_the_printer(qtbot, make_desk, sandbox, sink):
    from despatch_desk.gui.settings_dialog import SettingsDialog

    desk = make_desk(sandbox.url, DEMO_API_KEY)
    dialog = SettingsDialog(desk)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.tabs.setCurrentIndex(dialog.tabs.count() - 1)
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "La&bel printer"
    # A typed address that cannot be a printer: plain words, and nothing is saved.
    dialog.printer_uri_edit.setText("lpt1")
    assert any("printer" in p.lower() for p in dialog.problems())
    assert not dialog.save() and desk.settings_store.current.printer_uri == ""
    dialog.printer_uri_edit.setText(sink.uri)
    dialog.label_format_combo.setCurrentIndex(dialog.label_format_combo.findData("zpl"))
    dialog.print_test()  # off the GUI thread; the answer comes back in plain words
    qtbot.waitUntil(lambda: dialog.test_print_button.isEnabled(), timeout=10000)
    [job] = sink.wait_jobs(1)
    assert job.startswith(b"^XA") and job.rstrip().endswith(b"^XZ") and desk.settings.workstation.encode() in job
    assert dialog.test_print_label.text() == f"✓ Test label: 1 label (ZPL) sent to {sink.uri}."
    # Finding the OS printers never blocks the dialog and always ends in words.
    dialog.find_printers()
    qtbot.waitUntil(lambda: dialog.find_printers_button.isEnabled(), timeout=10000)
    assert "printer" in dialog.test_print_label.text().lower()
    dialog.label_format_combo.setCurrentIndex(dialog.label_format_combo.findData("pdf"))
    dialog.auto_print_check.setChecked(False)
    assert dialog.save()
    saved = desk.settings_store.load()
    assert (saved.printer_uri, saved.label_format, saved.auto_print) == (sink.uri, "pdf", False)
    again = SettingsDialog(desk)
    qtbot.addWidget(again)
    assert again.printer_uri_edit.text() == sink.uri and again.label_format_combo.currentData() == "pdf"
    assert not again.auto_print_check.isChecked()
    again.reject()
