"""GUI test fixtures: a real window on the offscreen platform, talking to a real in-process sandbox.

The root conftest gives every test its own DESPATCH_DESK_HOME and an in-memory keyring; here we
add a window factory that drains its background work before the desk is closed.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import pytest  # noqa: E402

from gui_support import FAST_POLICY_KW, SilentSounds  # noqa: E402


@pytest.fixture
def make_desk(paths):
    """Desk factory: pointed at a server and key, with the sandbox's groups configured."""
    from despatch_desk.core import RetryPolicy
    from despatch_desk.desk import Desk
    from despatch_desk.settings import ServiceGroupConfig

    desks = []

    def factory(base_url: str | None = None, api_key: str | None = None, *, groups=True, last_group="nextDay",
                max_parallel: int = 4, environment: str = "production", read_timeout_s: float = 10.0):
        desk = Desk(paths, policy=RetryPolicy(**FAST_POLICY_KW))
        settings = desk.settings
        if groups:
            settings.service_groups = [ServiceGroupConfig("nextDay", "Next day"),
                                       ServiceGroupConfig("economy", "Economy 2-3 day"),
                                       ServiceGroupConfig("international", "International"),
                                       ServiceGroupConfig("valuableGoods", "Valuable goods"),
                                       ServiceGroupConfig("heavy", "Heavy & bulky")]
            settings.last_group = last_group
        settings.max_parallel = max_parallel
        settings.environment = environment
        settings.read_timeout_s = read_timeout_s
        settings.connect_timeout_s = 2.0
        desk.settings_store.save(settings)
        if base_url is not None or api_key is not None:
            desk.set_overrides(base_url=base_url, api_key=api_key)
        desks.append(desk)
        return desk

    yield factory
    for desk in desks:
        desk.close()


@pytest.fixture
def make_window(qtbot, make_desk):
    """Window factory; teardown waits for every background job, then closes the desk."""
    from despatch_desk.gui.main_window import MainWindow, Mode

    windows = []

    def factory(desk=None, *, mode=Mode.NORMAL, wait_ready=True, **desk_kw):
        desk = desk or make_desk(**desk_kw)
        window = MainWindow(desk, mode=mode, sounds=SilentSounds())
        window.show()  # not qtbot.addWidget: pytest-qt would delete it before the drain below
        qtbot.waitExposed(window)
        window.activateWindow()
        window.focus_scan()
        if wait_ready:  # the start-up checks (client build, in-doubt count) have come back
            qtbot.waitUntil(lambda: window.runner.active_count(lane=None) == 0, timeout=5000)
        windows.append(window)
        return window

    yield factory
    for window in windows:
        qtbot.waitUntil(lambda w=window: w.runner.active_count(lane=None) == 0, timeout=15000)
        window.close_now()
        window.deleteLater()


@pytest.fixture
def demo_window(make_window, sandbox):
    from despatch_desk.sandbox import DEMO_API_KEY

    return make_window(base_url=sandbox.url, api_key=DEMO_API_KEY)
