"""Issue 7 part F and D13: the window never hides a problem and never renders server or scan text as HTML."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from gui_support import scan, wait_state
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from despatch_desk.sandbox import DEMO_API_KEY, Fault

HTML = "<h1 style='color:green'>ALLOCATED — ship it</h1><b>fine</b>"


def puts(sandbox, reference=None):
    return [r for r in sandbox.recorded() if r.method == "PUT" and "/allocation/" in r.path.lower()
            and (reference is None or reference.lower() in r.path.lower())]


@pytest.fixture
def html_server():
    """A SortedPRO that refuses every allocation with HTML in every message it sends."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_args):
            pass

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self):  # noqa: N802
            seen.append("PUT " + self.path)
            self._send(400, {"Code": "<i>OperationFailed</i>", "Message": HTML, "CorrelationId": "<b>c-1</b>"})

        def do_GET(self):  # noqa: N802
            seen.append("GET " + self.path)
            ref = self.path.rstrip("/").split("/")[-1]
            self._send(200, {"Reference": ref, "ConsignmentState": "AllocationFailed",
                             "FailedAllocation": {"CarrierServiceGroupReference": "nextDay", "Message": HTML}})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def _labels_showing(window, needle: str) -> list[QLabel]:
    return [label for label in window.findChildren(QLabel) if needle in label.text()]


def test_issue13_server_html_is_shown_as_plain_text(qtbot, make_window, html_server):
    url, seen = html_server
    w = make_window(base_url=url, api_key=DEMO_API_KEY)
    scan(qtbot, w, "EC-000-DSK-001")
    wait_state(qtbot, w, "not_allocated")
    assert any(s.startswith("PUT") for s in seen)
    # The words arrive literally, tags and all: nothing was rendered as a green headline.
    assert "<h1 style='color:green'>" in w.result_panel.text()
    showing = _labels_showing(w, "<h1")
    assert showing and all(label.textFormat() == Qt.TextFormat.PlainText for label in showing)
    # The red panel is the only big word: no "ALLOCATED" headline painted from the server's markup.
    assert w.result_panel.text().splitlines()[0] == "✕ NOT ALLOCATED"
    # The same message as a later, older problem in the stack, and in the recent list's tooltip.
    scan(qtbot, w, "<b>ALLOCATED</b>")  # a scan that is markup is shown as typed, too
    assert w.result_panel.state == "invalid_reference"
    assert "'<b>ALLOCATED</b>'" in w.result_panel.text()
    assert w.attention.isVisible() and "<h1" in w.attention.text()
    for label in _labels_showing(w, "<"):
        assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()
    model = w.recent_model
    tip = model.data(model.index(1, 6), Qt.ItemDataRole.ToolTipRole)
    assert "<h1" not in tip and "&lt;h1" in tip  # escaped: Qt shows the tags as text
    # The history view: table cells are plain, tooltips escaped, details in a plain-text editor.
    qtbot.waitUntil(lambda: len(w.desk.history.search()) == 2, timeout=5000)  # the invalid scan is written
    w.history_action.trigger()
    view = w.history_view
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    tips = [view.model.index(r, c).data(Qt.ItemDataRole.ToolTipRole) for r in range(2) for c in range(10)]
    assert all("<h1" not in (t or "") for t in tips) and any("&lt;h1" in (t or "") for t in tips)
    for label in _labels_showing(view, "<"):
        assert label.textFormat() == Qt.TextFormat.PlainText
    view.close()


def test_issue17_a_problem_stays_visible_while_later_scans_go_on(qtbot, demo_window, sandbox):
    w = demo_window
    scan(qtbot, w, "EC-000-DSK-021")  # nobody delivers there: not allocated
    wait_state(qtbot, w, "not_allocated")
    assert w.attention.isHidden()  # the panel itself shows it: not twice
    scan(qtbot, w, "EC-000-DSK-001")
    wait_state(qtbot, w, "allocated")
    # The green is readable in the panel, and the red is still on screen above it, with a count.
    assert "✓ ALLOCATED" in w.result_panel.text()
    assert w.attention.isVisible() and w.attention.count == 1
    assert "1 earlier problem not yet acknowledged" in w.attention.text()
    assert "✕ NOT ALLOCATED EC-000-DSK-021" in w.attention.text()
    scan(qtbot, w, "nonsense")        # a second problem ...
    scan(qtbot, w, "EC-000-DSK-003")  # ... and another green after it
    wait_state(qtbot, w, "allocated")
    assert w.attention.count == 2 and "2 earlier problems" in w.attention.text()
    assert w.sounds.played == ["failure", "success", "failure", "success"]
    # Esc acknowledges one at a time, newest first; the green panel is left alone.
    QTest.keyClick(w.scan_field, Qt.Key.Key_Escape)
    assert w.attention.count == 1 and "EC-000-DSK-021" in w.attention.text()
    assert w.result_panel.state == "allocated"
    QTest.keyClick(w.scan_field, Qt.Key.Key_Escape)
    assert w.attention.isHidden() and w.attention.count == 0
    assert [t.acknowledged for t in w.controller.tickets() if t.is_problem] == [True, True]


@pytest.mark.parametrize("how", ["window", "history view"])
def test_issue18_a_resolved_scan_is_updated_everywhere_at_once(qtbot, demo_window, sandbox, how):
    w = demo_window
    sandbox.add_fault(Fault("drop-after-commit", any_request=True))  # applied, answer lost, looks fail too
    scan(qtbot, w, "EC-000-DSK-003")
    wait_state(qtbot, w, "in_doubt")
    scan(qtbot, w, "EC-000-DSK-005")  # a later scan: the in-doubt one moves to the problem stack
    qtbot.waitUntil(lambda: w.recent_model.rows()[0].state not in ("queued", "allocating"), timeout=8000)
    sandbox.clear_faults()
    qtbot.waitUntil(lambda: w.in_doubt_bar.isVisible(), timeout=5000)
    assert "IN DOUBT" in w.attention.text() or w.result_panel.state == "in_doubt"
    w.history_action.trigger()
    view = w.history_view
    if how == "window":
        w.recheck_button.click()
    else:
        qtbot.waitUntil(lambda: view.recheck_button.isEnabled(), timeout=5000)
        view.recheck_button.click()
    qtbot.waitUntil(lambda: w.in_doubt_bar.isHidden(), timeout=8000)
    doubted = next(t for t in w.controller.tickets() if t.reference == "EC-000-DSK-003")
    assert doubted.state == "allocated" and doubted.rechecked
    row = next(r for r in w.recent_model.rows() if r.reference == "EC-000-DSK-003")
    assert row is doubted and w.recent_model.data(
        w.recent_model.index(w.recent_model.rows().index(row), 3)).startswith("✓ allocated")
    assert "IN DOUBT" not in w.attention.text() and "EC-000-DSK-003" not in w.attention.text()
    position = view.model.position_of(next(r.id for r in w.desk.history.search("EC-000-DSK-003")))
    assert view.model.index(position, 4).data() == "✓ Allocated (re-checked)"
    assert len(puts(sandbox, "EC-000-DSK-003")) == 1  # resolved by looking, never by sending again
    view.close()


def test_issue18_the_panel_follows_a_resolution_of_the_scan_it_shows(qtbot, demo_window, sandbox):
    w = demo_window
    sandbox.add_fault(Fault("drop-after-commit", any_request=True))
    scan(qtbot, w, "EC-000-DSK-007")
    wait_state(qtbot, w, "in_doubt")
    sandbox.clear_faults()
    w.recheck_in_doubt()
    wait_state(qtbot, w, "allocated")
    assert "Resolved by a re-check" in w.result_panel.text() and "IN DOUBT" not in w.result_panel.text()
    assert w.recent_model.rows()[0].state == "allocated"


def test_issue19_no_group_chosen_is_not_ready_and_not_recorded_as_invalid(qtbot, make_window, sandbox):
    sandbox.add_fault("servicegroups-forbidden")  # the account will not list its groups, and Settings has none
    w = make_window(base_url=sandbox.url, api_key=DEMO_API_KEY, groups=False)
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0, timeout=10000)  # the group sync has answered
    assert w.current_group() == ""
    assert w.result_panel.text().startswith("NOT READY") and "READY" not in w.result_panel.text().replace(
        "NOT READY", "")
    scan(qtbot, w, "EC-000-DSK-001")
    assert w.result_panel.state == "not_ready"
    text = w.result_panel.text()
    assert "NOT READY" in text and "INVALID" not in text and "EC-000-DSK-001 was not sent" in text
    assert w.recent_model.rows()[0].state == "not_ready"
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0)
    assert puts(sandbox) == []
    assert w.desk.history.search() == []  # not recorded at all, least of all as an invalid reference
    # A scan that is not a reference is still an invalid scan (and recorded as one).
    scan(qtbot, w, "nonsense")
    assert w.result_panel.state == "invalid_reference"
    qtbot.waitUntil(lambda: [r.outcome for r in w.desk.history.search()] == ["invalid_reference"], timeout=5000)


def test_issue19_a_refused_key_makes_the_idle_panel_say_not_ready(qtbot, make_window, sandbox):
    w = make_window(base_url=sandbox.url, api_key="not-the-key")
    # The start-up group listing finds the key refused: NOT READY before anyone scans.
    qtbot.waitUntil(lambda: w.result_panel.text().startswith("NOT READY"), timeout=10000)
    assert "refused" in w.result_panel.text()
    scan(qtbot, w, "EC-000-DSK-001")
    wait_state(qtbot, w, "unauthorized")
    QTest.keyClick(w.scan_field, Qt.Key.Key_Escape)
    assert w.result_panel.state == "not_ready" and w.result_panel.text().startswith("NOT READY")
    assert "refused the API key" in w.result_panel.text()


def test_not_recorded_says_not_ready_and_stays(qtbot, demo_window, sandbox, monkeypatch):
    from despatch_desk.history import HistoryError

    w = demo_window

    def refuse(*_args, **_kw):
        raise HistoryError("the disk is full")

    monkeypatch.setattr(w.desk.history, "begin", refuse)  # the history cannot be written: nothing may be sent
    scan(qtbot, w, "EC-000-DSK-001")
    wait_state(qtbot, w, "not_recorded")
    text = w.result_panel.text()
    assert text.startswith("■ NOT READY") and "the disk is full" in text and "nothing was sent" in text
    assert puts(sandbox) == []
    monkeypatch.undo()
    scan(qtbot, w, "EC-000-DSK-003")
    wait_state(qtbot, w, "allocated")
    assert w.attention.isVisible() and "NOT READY" in w.attention.text() and "EC-000-DSK-001" in w.attention.text()


def test_a_shift_that_never_presses_esc_folds_old_problems_into_one_notice(qtbot, demo_window):
    """Memory stays bounded without hiding anything: the oldest unacknowledged problems become one
    notice that says how many and where they are (the History keeps every one of them)."""
    controller = demo_window.controller
    controller.max_problems_held, controller.max_kept = 5, 3
    for i in range(12):
        scan(qtbot, demo_window, f"nonsense {i}")  # refused on the spot: a problem that stays
    qtbot.waitUntil(lambda: controller.folded_problems == 6, timeout=5000)  # the newest one is the panel's
    assert len(controller.problems()) == 6
    assert any("6 older problem(s)" in n for n in controller.notices)
    assert "6 older problem(s)" in demo_window.attention.text()
    for _ in range(6):  # Esc takes the newest visible problems first ...
        assert not isinstance(controller.acknowledge(), str)
    assert controller.folded_problems == 6
    folded = controller.acknowledge()  # ... and the folded ones last, all together
    assert isinstance(folded, str) and "6 older problem(s)" in folded
    assert controller.folded_problems == 0 and not controller.notices and not controller.problems()
    assert controller.acknowledge() is None


def test_an_unconfirmed_environment_is_not_ready_and_sends_nothing(qtbot, make_window, sandbox):
    w = make_window(base_url=sandbox.url, api_key=DEMO_API_KEY)
    w.desk._base_url_override = None  # as if the address came from a damaged settings file
    w.desk.settings = w.desk.settings.copy(environment="custom", custom_url=sandbox.url, environment_unconfirmed=True)
    w.controller.readiness_changed.emit()
    assert w.result_panel.text().startswith("NOT READY") and "confirm" in w.result_panel.text().lower()
    scan(qtbot, w, "EC-000-DSK-001")
    assert w.result_panel.state == "not_ready"
    qtbot.waitUntil(lambda: w.runner.active_count(lane=None) == 0)
    assert puts(sandbox) == [] and w.desk.history.search() == []
