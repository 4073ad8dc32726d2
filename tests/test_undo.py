"""Undo (deallocate) against the real sandbox: every case counts the deallocate PUTs the server received."""

from __future__ import annotations

import pytest

from despatch_desk.core import OutcomeKind, RetryPolicy
from despatch_desk.desk import Desk
from despatch_desk.sandbox import DEMO_API_KEY, Fault

FAST = RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02, poll_interval_s=0.05, commit_window_s=0.5,
                   scan_deadline_s=20.0)


@pytest.fixture
def desk(paths, sandbox):
    d = Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY, policy=FAST)
    yield d
    d.close()


def _allocated(desk, sandbox, ref="EC-000-DSK-001"):
    outcome = desk.allocate(ref, "nextDay")
    assert outcome.ok
    sandbox.clear_requests()
    return desk.history.latest_allocated(ref)


def test_undo_happy_path_one_put_and_linked_rows(desk, sandbox):
    allocation = _allocated(desk, sandbox)
    outcome = desk.undo("EC-000-DSK-001")
    assert outcome.kind is OutcomeKind.DEALLOCATED
    assert "void" in outcome.message
    assert sandbox.consignment("EC-000-DSK-001")["ConsignmentState"] == "Unallocated"
    assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 1
    # looked before sending
    assert [r.method for r in sandbox.recorded()] == ["GET", "PUT"]
    undo_row = desk.history.search(limit=1)[0]
    assert undo_row.action == "deallocate" and undo_row.outcome == "deallocated"
    assert undo_row.undoes_id == allocation.id
    assert desk.history.get(allocation.id).undone_by_id == undo_row.id
    assert desk.history.last_undoable() is None


def test_undo_of_unallocated_is_refused_without_a_put(desk, sandbox):
    outcome = desk.undo("EC-000-DSK-002")
    assert outcome.kind is OutcomeKind.NOT_DEALLOCATED
    assert "nothing to undo" in outcome.message
    assert sandbox.deallocate_puts_for("EC-000-DSK-002") == 0


def test_manifested_needs_consent(desk, sandbox):
    refused = desk.undo("EC-000-DSK-027")
    assert refused.kind is OutcomeKind.NOT_DEALLOCATED and "carrier has already been told" in refused.message
    assert sandbox.deallocate_puts_for("EC-000-DSK-027") == 0
    done = desk.undo("EC-000-DSK-027", include_manifested=True)
    assert done.kind is OutcomeKind.DEALLOCATED
    assert sandbox.deallocate_puts_for("EC-000-DSK-027") == 1


def test_answer_lost_after_the_server_deallocated_is_not_sent_again(desk, sandbox):
    _allocated(desk, sandbox)
    sandbox.add_fault(Fault("drop-after-commit", times=1, any_request=True, match="/deallocate"))
    outcome = desk.undo("EC-000-DSK-001")
    assert outcome.kind is OutcomeKind.DEALLOCATED and outcome.recovered
    assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 1
    assert sandbox.deallocations_for("EC-000-DSK-001") == 1


def test_5xx_after_the_server_deallocated_is_not_sent_again(desk, sandbox):
    _allocated(desk, sandbox)
    sandbox.add_fault(Fault("server-error-after-commit", times=1, any_request=True, match="/deallocate"))
    outcome = desk.undo("EC-000-DSK-001")
    assert outcome.kind is OutcomeKind.DEALLOCATED and outcome.recovered
    assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 1


def test_5xx_before_means_one_retry_after_a_look(desk, sandbox):
    _allocated(desk, sandbox)
    sandbox.add_fault(Fault("server-error", times=1, any_request=True, match="/deallocate"))
    outcome = desk.undo("EC-000-DSK-001")
    assert outcome.kind is OutcomeKind.DEALLOCATED
    # the first PUT did nothing (SortedPRO said so in its own words), the look said Allocated: one more
    assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 2
    assert sandbox.deallocations_for("EC-000-DSK-001") == 1
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in sandbox.recorded()]
    assert methods == [("GET", "EC-000-DSK-001"), ("PUT", "deallocate"), ("GET", "EC-000-DSK-001"),
                       ("PUT", "deallocate")]


def test_lost_answer_with_nothing_done_waits_out_the_commit_window(desk, sandbox):
    _allocated(desk, sandbox)
    sandbox.add_fault(Fault("drop-before-commit", times=1, any_request=True, match="/deallocate"))
    outcome = desk.undo("EC-000-DSK-001")
    assert outcome.kind is OutcomeKind.DEALLOCATED
    assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 2
    puts = [r.time for r in sandbox.recorded() if r.method == "PUT"]
    assert puts[1] - puts[0] >= FAST.commit_window_s * 0.9  # never a second PUT inside the window


def test_lost_answer_inside_the_window_stays_in_doubt_and_recheck_resolves(paths, sandbox):
    desk = Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY,
                policy=RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02, poll_interval_s=0.05,
                                   commit_window_s=600.0, scan_deadline_s=1.0))
    try:
        _allocated(desk, sandbox)
        sandbox.add_fault(Fault("drop-before-commit", times=1, any_request=True, match="/deallocate"))
        outcome = desk.undo("EC-000-DSK-001")
        assert outcome.kind is OutcomeKind.IN_DOUBT
        assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 1
        [row] = desk.history.in_doubt()
        assert row.action == "deallocate"
        # Meanwhile someone deallocates it: the re-check (a look, never a PUT) sees it done.
        sandbox.store.deallocate("EC-000-DSK-001")
        rechecked = desk.recheck(row.id)
        assert rechecked.kind is OutcomeKind.DEALLOCATED
        assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 1
        assert desk.history.get(row.undoes_id).undone_by_id == row.id
    finally:
        desk.close()


def test_server_gone_sends_nothing(paths, sandbox):
    url = sandbox.url
    sandbox.stop()
    desk = Desk(paths, base_url=url, api_key=DEMO_API_KEY, policy=FAST)
    try:
        outcome = desk.undo("EC-000-DSK-022")
        assert outcome.kind is OutcomeKind.UNREACHABLE
        assert "Nothing was sent" in outcome.message
    finally:
        desk.close()


def test_refusal_from_the_server_is_in_its_words(desk, sandbox):
    _allocated(desk, sandbox)
    sandbox.add_fault(Fault("echo-key-error", times=1, any_request=True, match="/deallocate"))
    outcome = desk.undo("EC-000-DSK-001")
    assert outcome.kind is OutcomeKind.NOT_DEALLOCATED
    assert DEMO_API_KEY not in outcome.message and DEMO_API_KEY not in str(outcome.to_dict())
    assert sandbox.deallocate_puts_for("EC-000-DSK-001") == 1


def test_invalid_reference_never_reaches_the_network(desk, sandbox):
    outcome = desk.undo("<b>EC-000</b>")
    assert outcome.kind is OutcomeKind.INVALID_REFERENCE
    assert sandbox.recorded() == []
