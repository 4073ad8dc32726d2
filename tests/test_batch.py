"""Batch input parsing, the batch runner against the real sandbox, and the shared 429 back-off."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from despatch_desk import api
from despatch_desk.batch import BatchInputError, BatchRunner, parse_batch_text
from despatch_desk.cancel import Cancelled, CancelToken
from despatch_desk.desk import Desk
from despatch_desk.rate_gate import RateGate
from despatch_desk.sandbox import DEMO_API_KEY, Fault


def test_plain_lines_clean_like_scans_and_keep_the_first_of_duplicates():
    parsed = parse_batch_text("\ufeffec-000-dsk-001\r\n\r\n EC000DSK002 \nEC-000-DSK-001\nhello\n\x1dEC-000-DSK-003\x1d\n")
    assert parsed.references == ["EC-000-DSK-001", "EC-000-DSK-002", "EC-000-DSK-003"]
    assert [(d.line, d.duplicate_of) for d in parsed.duplicates] == [(4, 1)]
    assert [(b.line, b.raw) for b in parsed.invalid] == [(5, "hello")]
    assert parsed.blanks == 1 and parsed.column is None
    assert parsed.words() == "3 to send, 1 duplicate (sent once), 1 invalid line (not sent), 1 blank."


@pytest.mark.parametrize("text, column", [
    ("order;Consignment;qty\n1;EC-000-DSK-001;2\n2;EC-000-DSK-002;1\n", 1),           # header names it
    ("id,ref_code,x\n7,EC-000-DSK-001,a\n8,EC-000-DSK-002,b\n", 1),                   # "ref" in the name
    ("name,where,what\nAnn,Leeds,EC-000-DSK-001\nBo,York,EC-000-DSK-002\n", 2),         # first column with refs
    ("EC-000-DSK-001,1\nEC-000-DSK-002,2\n", 0),                                       # no header at all
])
def test_csv_column_and_header(text, column):
    parsed = parse_batch_text(text)
    assert parsed.column == column
    assert parsed.references == ["EC-000-DSK-001", "EC-000-DSK-002"]
    assert parsed.invalid == []


def test_binary_or_huge_input_is_refused_in_plain_words():
    with pytest.raises(BatchInputError, match="not text"):
        parse_batch_text("PK\x03\x04\x00\x00")
    with pytest.raises(BatchInputError, match="at most"):
        parse_batch_text("x\n" * 100_001)


def test_rate_gate_holds_bounded_and_wakes_on_cancel():
    gate = RateGate(min_s=1.0, max_s=5.0)
    assert gate.hold(0) == 1.0 and gate.hold(3600) == 5.0 and gate.holds == 2
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        gate.wait(token)
    assert time.monotonic() - started < 2.0


def test_one_429_closes_the_gate_for_every_put_of_the_client(sandbox):
    sandbox.add_fault(Fault("rate-limit", times=1, retry_after=1, match="EC-000-DSK-001"))
    with api.SortedProClient(sandbox.url, DEMO_API_KEY) as client:
        with pytest.raises(api.RateLimited):
            client.allocate_with_service_group("EC-000-DSK-001", "nextDay")
        limited = time.time()
        client.get_consignment("EC-000-DSK-002")        # a look is not held (it decides what happened)
        client.allocate_with_service_group("EC-000-DSK-002", "nextDay")  # another reference: held
    puts = [r.time for r in sandbox.recorded() if r.method == "PUT"]
    gets = [r.time for r in sandbox.recorded() if r.method == "GET"]
    assert gets[0] - limited < 0.5
    assert puts[1] - limited >= 0.9


def test_runner_sends_each_once_and_stop_leaves_the_rest_not_sent(sandbox, paths):
    refs = [sandbox.add_consignment() for _ in range(12)]
    sandbox.add_fault(Fault("slow-after-commit", delay=0.2))
    desk = Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY)
    parsed = parse_batch_text("\n".join(refs))
    first_done = threading.Event()
    runner = BatchRunner(desk, "nextDay", parallel=3, on_result=lambda r: first_done.set())
    threading.Thread(target=lambda: (first_done.wait(30), runner.stop("stopped by the test"))).start()
    try:
        results = runner.run(parsed.valid)
    finally:
        desk.close()
    assert sorted(r.line.reference for r in results) == sorted(refs)
    assert runner.most_in_flight <= 3 and sandbox.most_allocations_in_flight <= 3
    sent = {r.line.reference for r in results if r.sent}
    assert sent == {r.path.split("/")[2] for r in sandbox.recorded() if r.method == "PUT"}
    assert {r.outcome.kind.value for r in results if r.sent} == {"allocated"}
    not_sent = [r for r in results if not r.sent]
    assert not_sent and all(r.not_sent_reason == "stopped by the test" for r in not_sent)
