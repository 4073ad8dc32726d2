"""Start-up pieces: single instance, demo mode, log file, the self-test (the job runner: test_jobs.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from despatch_desk.gui.app import DeskApplication, SingleInstance, instance_name, setup_logging

APP_DIR = Path(__file__).resolve().parents[2] / "app"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(APP_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


# --------------------------------------------------------------------------- single instance


def test_second_instance_signals_the_first(qtbot):
    name = f"despatch-desk-test-{uuid.uuid4().hex[:12]}"
    first = SingleInstance(name)
    assert first.listen()
    try:
        second = SingleInstance(name)
        with qtbot.waitSignal(first.activation_requested, timeout=3000):
            assert second.signal_running()
    finally:
        first.close()
    assert not SingleInstance(name).signal_running(timeout_ms=200)  # nobody listening any more


def test_second_launch_in_a_subprocess_brings_the_first_forward_and_exits_0(qtbot, paths):
    first = SingleInstance(instance_name(paths))
    assert first.listen()
    try:
        with qtbot.waitSignal(first.activation_requested, timeout=20000):
            proc = subprocess.Popen([sys.executable, "-c", "from despatch_desk.gui.app import main; "
                                     "raise SystemExit(main())"], env=_env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
            qtbot.waitUntil(lambda: proc.poll() is not None, timeout=20000)
        out = proc.stdout.read().decode(errors="replace")
        assert proc.returncode == 0, out
        assert "Traceback" not in out
    finally:
        first.close()


def test_demo_has_its_own_instance_name(paths):
    assert instance_name(paths, demo=True) != instance_name(paths, demo=False)


# --------------------------------------------------------------------------- demo mode and first run


def test_demo_mode_runs_the_sandbox_apart_from_the_real_history(qtbot, paths):
    desk_app = DeskApplication(demo=True, paths=paths)
    session = desk_app.start()
    try:
        window = session.window
        assert "DEMO" in window.windowTitle() and window.env_banner.isVisible()
        assert [g.code for g in window.desk.settings.service_groups][:2] == ["nextDay", "economy"]
        assert window.desk.base_url == session.sandbox.url
        assert window.desk.paths.data_dir == paths.data_dir / "demo"
        qtbot.waitUntil(lambda: window.ready_checked, timeout=5000)
        assert window.first_run.isHidden()
        assert (paths.log_dir / "despatch-desk.log").parent.is_dir()
    finally:
        window.close_now()
        desk_app.shutdown()
    assert not paths.history_file.exists()


def test_try_demo_mode_from_the_first_run_panel(qtbot, paths):
    desk_app = DeskApplication(demo=False, paths=paths)
    session = desk_app.start()
    window = session.window
    try:
        qtbot.waitUntil(lambda: window.first_run.isVisible(), timeout=15000)
        window.try_demo_button.click()
        qtbot.waitUntil(lambda: desk_app.session is not session, timeout=15000)
        demo = desk_app.session
        assert demo.demo and demo.window.isVisible() and "DEMO" in demo.window.windowTitle()
        assert not window.isVisible()
    finally:
        if desk_app.session is not None:
            desk_app.session.window.close_now()
        desk_app.shutdown()


def test_log_file_rotates_in_the_log_folder(tmp_path):
    path = setup_logging(tmp_path / "logs")
    assert path == tmp_path / "logs" / "despatch-desk.log"
    import logging

    logging.getLogger("despatch_desk.test").warning("hello log")
    for handler in logging.getLogger("despatch_desk").handlers:
        handler.flush()
    assert "hello log" in path.read_text()


# --------------------------------------------------------------------------- self-test


def test_self_test_passes_in_process(qtbot, paths, capsys):
    from despatch_desk.gui import selftest

    code = selftest.main(["--offscreen"])
    out = capsys.readouterr().out
    assert code == 0, out
    for line in ("time to window: ", "scan to result: ", "keyring backend: ", "keyring round trip: ok",
                 "self-test: PASS"):
        assert line in out
    report = paths.log_dir / "self-test.txt"
    assert "self-test: PASS" in report.read_text()
    assert not paths.history_file.exists()  # the operator's history is never touched


def test_self_test_without_a_keyring_says_so_in_plain_words(tmp_path):
    env = _env(DESPATCH_DESK_HOME=str(tmp_path / "home"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    proc = subprocess.run([sys.executable, "-m", "despatch_desk.gui.selftest", "--offscreen"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "self-test: FAIL: keyring: " in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    proc = subprocess.run([sys.executable, "-m", "despatch_desk.gui.selftest", "--offscreen", "--skip-keyring"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test: PASS" in proc.stdout


@pytest.mark.parametrize("method", ["beep"])
def test_sound_player_never_raises(method, tmp_path):
    from despatch_desk.gui.sounds import SoundPlayer

    player = SoundPlayer(enabled=True, sounds_dir=tmp_path)
    player.play("failure")
    player.play("success")
    player.enabled = False
    player.play("warning")
    assert player.played == ["failure", "success"]
    player.close()


def test_first_run_panel_says_not_ready_until_a_key_is_stored(qtbot, paths):
    desk_app = DeskApplication(demo=False, paths=paths)
    session = desk_app.start()
    window = session.window
    try:
        qtbot.waitUntil(lambda: window.first_run.isVisible(), timeout=15000)
        assert window.result_panel.text().startswith("NOT READY")
    finally:
        window.close_now()
        desk_app.shutdown()
