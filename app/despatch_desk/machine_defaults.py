"""Machine-wide defaults: one ``defaults.json`` an IT department places once for every desk on a machine.

Where it is looked for, first found wins: ``DESPATCH_DESK_DEFAULTS`` (a path: tests, odd roll-outs),
the machine-wide configuration folder (``C:\\ProgramData\\Despatch Desk`` on Windows,
``/Library/Application Support/Despatch Desk`` on macOS, ``/etc/xdg/despatch-desk`` on Linux), then
beside the program (the frozen executable's folder: a per-user install can put it there without admin).

It has the same fields as ``settings.json``; it fills only what a desk's own settings lack (field by
field, a desk's own value always wins). It never holds a key. A damaged or unreadable file is reported in
plain words and ignored as a whole: a half-read defaults file must not decide anything.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import APP_ID, APP_NAME
from . import settings_file as sf

log = logging.getLogger("despatch_desk.settings")

ENV_DEFAULTS = "DESPATCH_DESK_DEFAULTS"
DEFAULTS_NAME = "defaults.json"
MAX_DEFAULTS_BYTES = 1 << 20
# Never taken from a defaults file: state, flags of the desk's own file, and anything that looks like a key.
_NOT_DEFAULTS = {"version", "last_group", "environment_unconfirmed", "environment_confirmed"}
_KEY_NAMES = {"api_key", "key", "apikey", "subscription_key", "ocp-apim-subscription-key"}


@dataclass(slots=True)
class MachineDefaults:
    path: Path | None = None                          # the file that was read (None: none found)
    data: dict[str, Any] = field(default_factory=dict)  # settings fields, as in settings.json
    notes: list[str] = field(default_factory=list)    # plain words: what was wrong with it


def site_config_dir() -> Path:
    """The machine-wide configuration folder for this platform."""
    import platformdirs

    if sys.platform.startswith("win") or sys.platform == "darwin":
        # ProgramData\Despatch Desk, /Library/Application Support/Despatch Desk: the product's name.
        return Path(platformdirs.site_config_dir(APP_NAME, appauthor=False))
    # /etc/xdg/despatch-desk (platformdirs takes the first of XDG_CONFIG_DIRS).
    return Path(platformdirs.site_config_dir(APP_ID, appauthor=False))


def program_dir() -> Path | None:
    """The folder of the frozen executable (PyInstaller), where the installer can place the file."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return None


def candidate_paths() -> list[Path]:
    explicit = os.environ.get(ENV_DEFAULTS, "").strip()
    if explicit:
        return [Path(explicit).expanduser()]
    paths = [site_config_dir() / DEFAULTS_NAME]
    beside = program_dir()
    if beside is not None:
        paths.append(beside / DEFAULTS_NAME)
    return paths


def load(setting_names: set[str]) -> MachineDefaults:
    """Never raises. ``setting_names``: the fields a defaults file may set."""
    explicit = bool(os.environ.get(ENV_DEFAULTS, "").strip())
    for path in candidate_paths():
        try:
            if path.is_dir():
                return _ignored(path, "it is a folder, not a file")
            with open(path, "rb") as fh:
                raw = fh.read(MAX_DEFAULTS_BYTES + 1)
        except FileNotFoundError:
            if explicit:
                return _ignored(path, "there is no such file", path_used=False)
            continue
        except OSError as exc:
            return _ignored(path, f"it cannot be read ({exc.strerror or exc})")
        if len(raw) > MAX_DEFAULTS_BYTES:
            return _ignored(path, "it is larger than 1 MiB, which no settings file is")
        parsed = sf.parse(sf.decode(raw).text)
        if parsed.damaged:
            return _ignored(path, "it is not a valid JSON object (damaged, or edited by hand)")
        return _fields(path, parsed.data, setting_names)
    return MachineDefaults()


def _ignored(path: Path, why: str, *, path_used: bool = True) -> MachineDefaults:
    words = (f"The machine-wide defaults file {path} was ignored: {why}. This desk uses its own settings and the "
             "built-in defaults.")
    log.warning(words)
    return MachineDefaults(path if path_used else None, {}, [words])


def _fields(path: Path, data: dict[str, Any], setting_names: set[str]) -> MachineDefaults:
    result = MachineDefaults(path)
    for name, value in data.items():
        lowered = str(name).strip().lower()
        if lowered in _KEY_NAMES or "key" in lowered and lowered not in setting_names:
            # Said without the value: a key in a shared file is already a leak, the log must not add one.
            result.notes.append(f"The machine-wide defaults file {path} has a field '{str(name)[:40]}' that looks "
                                "like an API key: it is ignored (keys go only into the keyring, with "
                                "'despatch-desk key set'). Remove it from the file.")
            continue
        if name in _NOT_DEFAULTS or name not in setting_names:
            continue
        if name == "environment" and not sf.environment_known(data):
            result.notes.append(f"The machine-wide defaults file {path} names an unknown environment "
                                f"({str(value)[:40]!r}); it is ignored.")
            continue
        result.data[name] = value
    for note in result.notes:
        log.warning(note)
    return result
