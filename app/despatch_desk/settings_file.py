"""Reading a settings file that a person may have edited: any encoding, half-damaged, old or newer.

Pure functions, no file system: ``decode`` turns bytes into text (UTF-8 with or without a BOM,
UTF-16 from Notepad's "Unicode", Windows-1252/Latin-1 as a fallback); ``parse`` gives the JSON
object, or salvages the top-level fields that are still readable from a damaged one; ``upgrade``
applies the patch steps from the file's version to this app's; ``number`` and ``set_text``
bring each value within its rules (clamped, logged).
"""

from __future__ import annotations

import codecs
import json
import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("despatch_desk.settings")

SETTINGS_VERSION = 2
ENVIRONMENTS = ("production", "sandbox", "custom")


@dataclass(slots=True)
class Decoded:
    text: str
    encoding: str           # what it was read as
    note: str | None = None  # plain words when it was not plain UTF-8


def decode(data: bytes) -> Decoded:
    """Text from the file's bytes; never fails (Latin-1 reads any byte)."""
    if data.startswith(codecs.BOM_UTF8):
        return Decoded(data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Decoded(data.decode("utf-16", errors="replace"), "utf-16",
                       "The settings file was saved as UTF-16; it will be saved as UTF-8 next time.")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    for encoding, name in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return Decoded(text, encoding, f"The settings file was not UTF-8 (it was read as {name}, as Notepad "
                                       "writes it); it will be saved as UTF-8 next time.")
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


@dataclass(slots=True)
class Parsed:
    data: dict[str, Any]
    damaged: bool = False
    salvaged: list[str] = field(default_factory=list)  # field names read from a damaged file


_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*')


def parse(text: str) -> Parsed:
    """The settings object; for a damaged file, every top-level field whose value still parses."""
    try:
        data = json.loads(text, parse_constant=_keep_constant)
    except (ValueError, RecursionError):
        pass
    else:
        if isinstance(data, dict):
            return Parsed(data)
        return Parsed({}, damaged=True)
    salvaged: dict[str, Any] = {}
    decoder = json.JSONDecoder(parse_constant=_keep_constant)
    depth_zero = _top_level_positions(text)
    for match in _KEY.finditer(text):
        if match.start() not in depth_zero:
            continue  # a key inside a nested object (a service group's "code"), not a setting
        try:
            name = json.loads(f'"{match.group(1)}"')
        except ValueError:
            continue
        if name in salvaged:
            continue
        try:
            value, _end = decoder.raw_decode(text, match.end())
        except (ValueError, RecursionError):
            if name == "service_groups":
                value = _salvage_objects(text, match.end(), decoder)
            else:
                continue
        salvaged[name] = value
    return Parsed(salvaged, damaged=True, salvaged=sorted(salvaged))


def _keep_constant(name: str) -> float:
    # JSON has no NaN/Infinity, Python's json reads them anyway: keep them so clamping can see them.
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _top_level_positions(text: str) -> set[int]:
    """Offsets of string starts at nesting depth 1 (directly inside the outer object)."""
    positions: set[int] = set()
    depth, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            if depth == 1:
                positions.add(i)
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth = max(0, depth - 1)
        i += 1
    return positions


def _salvage_objects(text: str, start: int, decoder: json.JSONDecoder) -> list[Any]:
    """The complete ``{...}`` items of a list cut short (a truncated service-group list)."""
    items: list[Any] = []
    pos = text.find("[", start)
    if pos < 0:
        return items
    pos += 1
    while True:
        brace = text.find("{", pos)
        if brace < 0:
            return items
        try:
            value, pos = decoder.raw_decode(text, brace)
        except (ValueError, RecursionError):
            return items
        items.append(value)


# ----------------------------------------------------------------------------- versions

def _v1_to_v2(data: dict[str, Any], state: dict[str, Any]) -> None:
    # Version 2 keeps state (the last group chosen) in state.json, apart from configuration.
    if "last_group" in data:
        state.setdefault("last_group", data.pop("last_group"))


# _PATCHES[n] takes a settings object from version n to n + 1 (and may move state out).
_PATCHES: dict[int, Callable[[dict[str, Any], dict[str, Any]], None]] = {1: _v1_to_v2}


def file_version(data: dict[str, Any]) -> int:
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, (int, float)) or not math.isfinite(version):
        return 1
    return max(1, int(version))


def upgrade(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Apply the patch steps; returns (settings data, state moved out of it, the file's version)."""
    version = file_version(data)
    data = dict(data)
    state: dict[str, Any] = {}
    for step in range(version, SETTINGS_VERSION):
        _PATCHES[step](data, state)
    if version > SETTINGS_VERSION and "last_group" in data:  # a newer file's state, if it kept it there
        state.setdefault("last_group", data.pop("last_group"))
    return data, state, version


# ----------------------------------------------------------------------------- values

@dataclass(frozen=True, slots=True)
class NumberRule:
    low: float
    high: float
    integer: bool = False
    zero_allowed: bool = False  # 0 means "off" and is allowed below ``low``


NUMBER_RULES: dict[str, NumberRule] = {
    "connect_timeout_s": NumberRule(0.5, 120),
    "read_timeout_s": NumberRule(1, 300),
    "max_parallel": NumberRule(1, 16, integer=True),
    "auto_submit_ms": NumberRule(100, 5000, integer=True, zero_allowed=True),
    "scan_deadline_s": NumberRule(5, 600),
}

CHOICES: dict[str, tuple[str, ...]] = {"label_format": ("zpl", "pdf")}


def environment_known(data: dict[str, Any]) -> bool:
    value = data.get("environment")
    return isinstance(value, str) and value.strip().lower() in ENVIRONMENTS


def set_text(settings: Any, name: str, value: Any, default: str) -> str | None:
    """Set a text setting from a file's value; plain words when it was not usable as it was."""
    if not isinstance(value, str):
        return f"{name}: {repr(value)[:40]} is not text; using {default!r}"
    text = value.strip() if name != "custom_url" else value
    if name == "workstation":
        if not text:
            return f"workstation: empty; using {default!r}"
        if len(text) > 64:
            settings.workstation = text[:64]
            return "workstation: longer than 64 characters; cut to 64"
    choices = CHOICES.get(name)
    if choices and text.lower() not in choices:
        return f"{name}: {value[:40]!r} is not one of {', '.join(choices)}; using {default!r}"
    if choices or name == "environment":
        text = text.lower()
    if name == "environment" and text not in ENVIRONMENTS:
        return f"environment: {value[:40]!r} is not production, sandbox or custom; it must be confirmed"
    setattr(settings, name, text[:2000])
    return None


def note(notes: list[str], text: str) -> None:
    """Every value changed on load is logged and kept for the operator."""
    log.warning("settings: %s", text)
    notes.append(text)


def number(name: str, value: Any, default: float) -> tuple[float | int, str | None]:
    """A number within its rule, and what was changed in plain words (None when it was fine)."""
    rule = NUMBER_RULES.get(name)
    shown = repr(value)[:40]
    was_text = isinstance(value, str)
    if was_text:
        try:
            value = float(value.strip())
        except ValueError:
            return default, f"{name}: {shown} is not a number; using {default}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default, f"{name}: {shown} is not a number; using {default}"
    if math.isnan(value):
        return default, f"{name}: {shown} is not a number; using {default}"
    result: float = value
    note = None
    if rule is not None:
        if rule.zero_allowed and value <= 0:
            result = 0
        elif value < rule.low:
            result = rule.low
        elif value > rule.high:
            result = rule.high
    if rule is not None and rule.integer:
        result = int(round(result))
    elif isinstance(default, float):
        result = float(result)
    if result != value or isinstance(value, float) and math.isinf(value):
        note = f"{name}: {shown} is outside {_range(rule)}; using {result}"
    elif was_text:
        note = f"{name}: {shown} was written as text; read it as the number {result}"
    return result, note


def _range(rule: NumberRule | None) -> str:
    if rule is None:
        return "the allowed range"
    low, high = _fmt(rule.low), _fmt(rule.high)
    return f"{low} to {high}" + (" (or 0 for off)" if rule.zero_allowed else "")


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def url_port_problem(url: str) -> str | None:
    """Plain words for an address whose port is not a number from 1 to 65535 (``:99999``, ``:abc``)."""
    try:
        port = urlsplit(url.strip()).port
    except ValueError:
        return f"The port in '{url}' must be a number from 1 to 65535."
    if port == 0:
        return f"The port in '{url}' must be a number from 1 to 65535."
    return None


def fsync_folder(folder: Path) -> None:
    # POSIX: the rename itself is on disk only once the folder is synced. Windows has no such call.
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
