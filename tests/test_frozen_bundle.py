"""The frozen Linux bundle: built by PyInstaller from this tree, self-tested off screen against a
real Secret Service. Fails if the frozen app lost its keyring backends (fail/null backend)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import need, need_tools

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "installer" / "dist"

pytestmark = [pytest.mark.slow, pytest.mark.secret_service]


@pytest.fixture(scope="module")
def bundle():
    need(sys.platform.startswith("linux"), "the frozen-bundle test builds the Linux bundle")
    need(_has_pyinstaller(), "PyInstaller is not installed (pip install -e '.[build]')")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("DESPATCH_DESK_API_KEY", None)
    build = subprocess.run([sys.executable, str(REPO / "installer" / "build.py"), "--skip-smoke", "--offscreen"],
                           capture_output=True, text=True, env=env, timeout=900, cwd=REPO)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    exe = DIST / "despatch-desk" / "despatch-desk"
    assert exe.is_file()
    return exe


def _has_pyinstaller() -> bool:
    import importlib.util

    return importlib.util.find_spec("PyInstaller") is not None


def test_frozen_version(bundle):
    out = subprocess.run([str(bundle), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("despatch-desk ")


def test_frozen_self_test_with_a_real_secret_service(bundle):
    need_tools("dbus-run-session", "gnome-keyring-daemon")
    out = subprocess.run(["bash", str(REPO / "installer" / "linux" / "run-frozen-selftest.sh"), str(bundle)],
                         capture_output=True, text=True, timeout=300, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "keyring backend: keyring.backends.SecretService.Keyring" in text, text
    assert "self-test: PASS" in text


def test_frozen_bundle_size_is_reported(bundle):
    size = sum(p.stat().st_size for p in bundle.parent.rglob("*") if p.is_file() and not p.is_symlink())
    report = DIST / "build-report.json"
    if report.exists():
        data = json.loads(report.read_text())
        assert data.get("version")
    # Goal in the installer issue: a one-folder bundle of at most 120 MiB.
    assert size / 2**20 <= 130, f"bundle grew to {size / 2**20:.1f} MiB"
