"""The one job runner: lanes, keys, GUI-thread delivery, cancelling queued and running jobs."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread
from PySide6.QtWidgets import QApplication

from despatch_desk.cancel import CancelToken
from despatch_desk.gui.jobs import Job, JobRunner, JobState, Lane


def _runner(**kw) -> JobRunner:
    return JobRunner(**kw)


def test_results_arrive_on_the_gui_thread_and_keys_deduplicate(qtbot):
    runner = _runner(max_parallel=2)
    release = threading.Event()
    seen: dict[str, tuple[object, QThread, str]] = {}

    def deliver(name):
        return lambda value: seen.__setitem__(name, (value, QThread.currentThread(), threading.current_thread().name))

    first = runner.submit(Job(fn=lambda _t: release.wait(5) and "one", lane=Lane.SCAN, keys=("EC-1",),
                              on_result=deliver("first")))
    assert runner.submit(Job(fn=lambda _t: "dup", lane=Lane.SCAN, keys=("EC-1",))) is None
    assert runner.find("EC-1") == first
    runner.submit(Job(fn=lambda _t: threading.current_thread().name, on_result=deliver("misc")))
    release.set()
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert seen["first"][0] == "one"
    assert seen["misc"][0].startswith("desk-job")          # it ran on a worker ...
    main = QApplication.instance().thread()
    assert all(thread is main for _v, thread, _n in seen.values())  # ... and was delivered in the GUI thread
    assert runner.find("EC-1") is None and runner.active_count(lane=None) == 0


def test_an_error_goes_to_on_error_and_a_closed_runner_refuses(qtbot):
    runner = _runner()
    errors: list[BaseException] = []
    runner.submit(Job(fn=lambda _t: 1 / 0, keys=("EC-2",), on_error=errors.append))
    qtbot.waitUntil(lambda: bool(errors), timeout=3000)
    assert isinstance(errors[0], ZeroDivisionError)
    assert runner.find("EC-2") is None
    runner.stop_accepting()
    assert runner.submit(Job(fn=lambda _t: None)) is None


def test_a_deleted_receiver_gets_no_callback(qtbot):
    runner = _runner()
    gate = threading.Event()
    called: list[object] = []
    receiver = QObject()
    job = runner.run(lambda _t: gate.wait(3) and "late", called.append, receiver=receiver)
    receiver.deleteLater()
    QApplication.processEvents()
    QApplication.sendPostedEvents(None, 0)  # DeferredDelete
    gate.set()
    qtbot.waitUntil(lambda: runner.active_count(lane=None) == 0, timeout=3000)
    assert called == [] and job.state is JobState.DONE


def test_lanes_have_their_own_width(qtbot):
    runner = _runner(max_parallel=1)
    gate = threading.Event()
    running = []
    for n in range(3):
        runner.submit(Job(fn=lambda _t, n=n: running.append(n) or gate.wait(5), lane=Lane.SCAN))
    misc_done = []
    runner.run(lambda _t: "misc", misc_done.append)  # a history read never waits for a scan slot
    qtbot.waitUntil(lambda: misc_done == ["misc"], timeout=3000)
    assert running == [0] and runner.running_count(Lane.SCAN) == 1
    gate.set()
    qtbot.waitUntil(lambda: runner.active_count(lane=None) == 0, timeout=5000)
    assert running == [0, 1, 2]


def test_cancel_drops_a_queued_job_and_cancels_a_running_one(qtbot):
    parent = CancelToken()
    runner = _runner(max_parallel=1, token_source=lambda: parent)
    started = threading.Event()
    ran: list[str] = []
    outcome: dict[str, object] = {}

    def long_job(token: CancelToken) -> str:
        started.set()
        ran.append("running")
        return "cancelled honestly" if token.wait(10) else "ran to the end"

    running = runner.submit(Job(fn=long_job, lane=Lane.SCAN, keys=("EC-R",),
                                on_result=lambda v: outcome.__setitem__("running", v)))
    queued = runner.submit(Job(fn=lambda _t: ran.append("queued"), lane=Lane.SCAN, keys=("EC-Q",),
                               on_dropped=lambda: outcome.__setitem__("queued", "dropped")))
    assert started.wait(5)
    assert runner.cancel(queued)
    assert outcome["queued"] == "dropped" and runner.find("EC-Q") is None  # dropped at once, never ran
    assert runner.cancel(running, "operator")
    qtbot.waitUntil(lambda: "running" in outcome, timeout=5000)
    assert outcome["running"] == "cancelled honestly"
    assert ran == ["running"]
    assert not parent.cancelled  # cancelling one job leaves the desk's token alone
    assert not runner.cancel(running)  # already over


def test_cancel_group_reaches_every_job_of_a_batch(qtbot):
    runner = _runner(max_parallel=1)
    gate = threading.Event()
    dropped: list[int] = []
    [runner.submit(Job(fn=lambda t: t.wait(5), lane=Lane.SCAN, group="batch-1",
                        on_dropped=lambda n=n: dropped.append(n))) for n in range(3)]
    other = runner.submit(Job(fn=lambda _t: gate.wait(5), lane=Lane.MISC, group="batch-2"))
    qtbot.waitUntil(lambda: runner.running_count(Lane.SCAN) == 1, timeout=3000)
    assert runner.cancel_group("batch-1") == 3
    assert dropped == [1, 2]
    assert runner.job(other) is not None and not runner.job(other).token.cancelled
    gate.set()
    qtbot.waitUntil(lambda: runner.active_count(lane=None) == 0, timeout=5000)
