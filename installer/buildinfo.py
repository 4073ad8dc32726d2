"""Facts shared by the spec, build.py and the tests: names, paths and the version.

Stdlib only. The version is read from app/despatch_desk/__init__.py as text (not imported), so
this works before the package's dependencies are installed.
"""

from __future__ import annotations

import re
from pathlib import Path

INSTALLER_DIR = Path(__file__).resolve().parent
ROOT = INSTALLER_DIR.parent
APP_SRC = ROOT / "app"
RESOURCES = ROOT / "resources"
DIST = INSTALLER_DIR / "dist"
WORK = INSTALLER_DIR / "build"

APP_NAME = "Despatch Desk"
EXE_NAME = "despatch-desk"  # executable and one-folder directory name
BUNDLE_ID = "com.despatchdesk.app"
PUBLISHER = "Despatch Desk"
# Inno Setup AppId: fixed forever, so every version upgrades the same installation in place.
WINDOWS_APP_ID = "{6F1C2B7A-3E4D-4C59-9A8E-2D7B5E1F0C34}"

_VERSION_RE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def read_version(init_py: Path = APP_SRC / "despatch_desk" / "__init__.py") -> str:
    match = _VERSION_RE.search(init_py.read_text(encoding="utf-8"))
    if not match:
        raise RuntimeError(f"no __version__ = '...' line in {init_py}")
    return match.group(1)


def numeric_version(version: str, parts: int = 4) -> tuple[int, ...]:
    """'1.2.3rc1' -> (1, 2, 3, 0): the leading dotted numbers, padded (Windows VERSIONINFO,
    CFBundleVersion and Inno Setup VersionInfoVersion accept digits only)."""
    numbers = [int(n) for n in re.findall(r"\d+", re.match(r"[\d.]*", version).group(0))][:parts]
    if not numbers:
        raise ValueError(f"version {version!r} does not start with a number")
    return tuple(numbers + [0] * (parts - len(numbers)))
