"""Desk: the shared scan path (history before sending, outcome after), key and address problems."""

import threading

from despatch_desk.core import OutcomeKind, RetryPolicy
from despatch_desk.desk import Desk
from despatch_desk.sandbox import DEMO_API_KEY, Fault


def test_attempt_is_recorded_pending_before_the_answer(paths, sandbox):
    desk = Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY)
    sandbox.latency_ms = 400
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("o", desk.allocate("EC-000-DSK-001", "nextDay")))
    worker.start()
    seen_pending = False
    for _ in range(200):
        rows = desk.history.search()
        if rows and rows[0].outcome == "pending":
            seen_pending = True
            break
        threading.Event().wait(0.005)
    worker.join(10)
    assert seen_pending
    row = desk.history.search()[0]
    assert row.outcome == "allocated" and row.service_name and row.tracking
    assert row.environment == sandbox.url and row.workstation == desk.settings.workstation
    desk.close()


def test_no_key_gives_unauthorized_outcome_in_plain_words(paths, sandbox):
    desk = Desk(paths, base_url=sandbox.url)
    outcome = desk.allocate("EC-000-DSK-001", "nextDay")
    assert outcome.kind is OutcomeKind.UNAUTHORIZED
    assert "No API key is stored" in outcome.message
    assert desk.history.search()[0].outcome == "unauthorized"
    assert sandbox.recorded() == []


def test_key_from_keyring_per_origin(paths, sandbox, memory_keyring):
    desk = Desk(paths, base_url=sandbox.url)
    desk.keystore.set(desk.origin, DEMO_API_KEY)
    assert desk.allocate("EC-000-DSK-001", "nextDay").ok
    desk.close()


def test_invalid_scan_recorded_without_network(paths, sandbox):
    desk = Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY)
    outcome = desk.allocate("hello", "nextDay")
    assert outcome.kind is OutcomeKind.INVALID_REFERENCE
    [row] = desk.history.search()
    assert row.raw_scan == "hello" and row.outcome == "invalid_reference"
    assert sandbox.recorded() == []


def test_recheck_resolves_history_row(paths, sandbox):
    desk = Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY,
                policy=RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.02))
    sandbox.add_fault(Fault("drop-after-commit", times=1))
    sandbox.add_fault(Fault("server-error", any_request=True, match="/consignments/"))
    assert desk.allocate("EC-000-DSK-001", "nextDay").kind is OutcomeKind.IN_DOUBT
    [row] = desk.history.in_doubt()
    assert desk.recheck(row.id).kind is OutcomeKind.IN_DOUBT  # still cannot look: stays in doubt
    assert desk.history.in_doubt()
    sandbox.clear_faults()
    outcome = desk.recheck(row.id)
    assert outcome.kind is OutcomeKind.ALLOCATED
    assert desk.history.in_doubt() == []
    assert desk.history.get(row.id).resolution


def test_a7_history_unwritable_sends_nothing(paths, sandbox):
    """Record, then send: a pending row that cannot be written means no PUT at all."""
    desk = Desk(paths, base_url=sandbox.url, api_key=DEMO_API_KEY)
    db = desk.history._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    for size in (150, 20, 0):  # fill the last page to the brim: the disk is now "full"
        try:
            for _ in range(1000):
                db.execute("INSERT INTO attempts (started_at, outcome, raw_scan) VALUES ('x', 'x', ?)", ("x" * size,))
        except Exception:
            pass
    for i in range(1, 4):
        outcome = desk.allocate(f"EC-000-DSK-00{i}", "nextDay")
        assert outcome.kind is OutcomeKind.NOT_RECORDED, outcome
        assert "nothing was sent" in outcome.message and "in-doubt" not in outcome.message
    assert [r for r in sandbox.recorded() if r.method == "PUT"] == []
    assert sandbox.consignment("EC-000-DSK-001")["ConsignmentState"] == "Unallocated"
    assert "disk is full" in (desk.last_history_error or "")
    desk.close()


def test_environment_label_follows_the_url_in_use(paths, monkeypatch):
    desk = Desk(paths)
    assert desk.environment_label == "production"
    desk.settings.environment = "sandbox"
    assert desk.environment_label == "sandbox"
    desk.set_overrides(base_url="http://127.0.0.1:9", api_key="k")
    assert desk.environment_label == "custom"  # demo mode or tests: never shown as production


def test_malformed_key_from_the_environment_is_a_key_problem(paths, sandbox, monkeypatch):
    monkeypatch.setenv("DESPATCH_DESK_API_KEY", "two words")
    desk = Desk(paths, base_url=sandbox.url)
    outcome = desk.allocate("EC-000-DSK-001", "nextDay")
    assert outcome.kind is OutcomeKind.UNAUTHORIZED and "space" in outcome.message
    assert sandbox.recorded() == []


def test_an_unconfirmed_environment_sends_nothing_from_any_desk(paths, sandbox, monkeypatch):
    """A damaged settings file left the environment unconfirmed: the window and every other Desk user refuse too,
    not only the command line (never guess production or sandbox)."""
    from despatch_desk.settings import Settings

    monkeypatch.setenv("DESPATCH_DESK_API_KEY", DEMO_API_KEY)
    monkeypatch.delenv("DESPATCH_DESK_API_URL", raising=False)
    settings = Settings(environment="custom", custom_url=sandbox.url, environment_unconfirmed=True)
    desk = Desk(paths, settings=settings)
    try:
        assert desk.environment_problem
        outcome = desk.allocate("EC-000-DSK-001", "nextDay")
        assert outcome.kind is OutcomeKind.NOT_RECORDED and "Nothing was sent" in outcome.message
        assert sandbox.recorded() == [] and desk.history.search() == []
    finally:
        desk.close()
    explicit = Desk(paths, settings=settings, base_url=sandbox.url, api_key=DEMO_API_KEY)  # demo mode, --base-url
    try:
        assert explicit.environment_problem is None
        assert explicit.allocate("EC-000-DSK-001", "nextDay").kind is OutcomeKind.ALLOCATED
    finally:
        explicit.close()
