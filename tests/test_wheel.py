"""`pip wheel .` gives a wheel that carries the window icon and the sounds, and the window finds them.

The wheel is built from this checkout and unpacked into a folder of its own, which is the only place
``despatch_desk`` is imported from (not the source tree), so a missing package-data entry fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "--disable-pip-version-check", "-q", "-w", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = out.glob("despatch_desk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("despatch_desk/assets/icon/despatch-desk-256.png", "despatch_desk/assets/icon/despatch-desk.svg",
                   "despatch_desk/assets/sounds/success.wav", "despatch_desk/assets/sounds/failure.wav",
                   "despatch_desk/assets/sounds/warning.wav", "despatch_desk/assets/sounds/group.wav"):
        assert needed in names, f"the wheel lacks {needed}"
    site = out / "site"
    zipfile.ZipFile(wheel).extractall(site)
    return site


def test_a_wheel_runs_the_window_with_its_icon_and_sounds(unpacked_wheel, tmp_path):
    probe = (
        "import sys, despatch_desk\n"
        f"assert despatch_desk.__file__.startswith({str(unpacked_wheel)!r}), despatch_desk.__file__\n"
        "from despatch_desk.gui.app import make_qapplication\n"
        "from despatch_desk.gui.sounds import SoundPlayer\n"
        "from despatch_desk.gui.main_window import MainWindow, Mode\n"
        "from despatch_desk.desk import Desk\n"
        "from despatch_desk.settings import Paths\n"
        "from pathlib import Path\n"
        "app = make_qapplication([])\n"
        "assert not app.windowIcon().isNull(), 'no window icon'\n"
        "player = SoundPlayer(enabled=True)\n"
        "missing = [n for n in ('success', 'warning', 'failure', 'group') if not player.path(n).is_file()]\n"
        "assert not missing, missing\n"
        f"home = Path({str(tmp_path)!r})\n"
        "desk = Desk(Paths(home / 'c', home / 'd', home / 'l'))\n"
        "window = MainWindow(desk, mode=Mode.NORMAL, sounds=player)\n"
        "window.show(); app.processEvents()\n"
        "assert not window.windowIcon().isNull()\n"
        "window.close_now(); desk.close()\n"
        "print('ok', player.path('success'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(PYTHONPATH=str(unpacked_wheel), QT_QPA_PLATFORM="offscreen", DESPATCH_DESK_HOME=str(tmp_path / "home"),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    # -I would also drop site-packages (PySide6, httpx); -P keeps the checkout's app/ off sys.path.
    run = subprocess.run([sys.executable, "-P", "-c", probe], capture_output=True, text=True, env=env, timeout=120,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert run.stdout.startswith("ok ") and str(unpacked_wheel) in run.stdout
