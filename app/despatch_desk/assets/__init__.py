"""What the desk shows and plays, shipped inside the package: the window icon and the sounds.

Loaded with :mod:`importlib.resources`, so a wheel, an editable install and the frozen bundle all
carry them (the sources and installer icons are in the repository's ``resources/``).
"""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

_files = contextlib.ExitStack()
atexit.register(_files.close)
_cache: dict[str, Path] = {}


def path(*parts: str) -> Path:
    """A real file for ``assets/<parts>`` (extracted once if the package is zipped); may not exist."""
    key = "/".join(parts)
    if key not in _cache:
        _cache[key] = _files.enter_context(resources.as_file(resources.files(__name__).joinpath(*parts)))
    return _cache[key]


def sound(name: str) -> Path:
    """``success``, ``warning``, ``failure`` or ``group`` as a WAV file."""
    return path("sounds", f"{name}.wav")


def sounds_dir() -> Path:
    return path("sounds")


def window_icon() -> Path:
    return path("icon", "despatch-desk-256.png")


def window_icon_svg() -> Path:
    return path("icon", "despatch-desk.svg")
