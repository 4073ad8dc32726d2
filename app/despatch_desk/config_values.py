"""Setting values typed by a person or read from a config file, checked strictly (no Qt).

The tolerant reader for settings.json (clamp, log, carry on) is :mod:`.settings_file`; this module is for
the other direction: ``despatch-desk config set NAME VALUE`` and ``config import FILE`` refuse anything
out of range or of the wrong kind, with the allowed values in the words, and change nothing. A config
file (``config export``) holds every setting but the key, marked ``"despatch_desk_config": 1``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from . import settings_file as sf
from .errors import EXIT_USAGE, DeskError
from .settings import ENVIRONMENTS, MAX_GROUPS, SETTING_NAMES, ServiceGroupConfig, Settings

CONFIG_MARKER = "despatch_desk_config"
CONFIG_FORMAT = 1
MAX_CONFIG_BYTES = 1 << 20
_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}
_KEYISH = {"api_key", "key", "apikey", "subscription_key", "ocp-apim-subscription-key"}
_FIELD_DEFAULTS = {f.name: getattr(Settings(), f.name) for f in fields(Settings)}


class ConfigValueError(DeskError):
    """A value or a config file that cannot be used; nothing was changed (exit code 2)."""

    exit_code = EXIT_USAGE


def setting_name(text: str) -> str:
    """The setting's name (``scan-deadline-s`` and ``Scan_Deadline_S`` are understood), or refused."""
    name = text.strip().lower().replace("-", "_")
    if name in SETTING_NAMES:
        return name
    if name in _KEYISH:
        raise ConfigValueError("The API key is not a setting: it goes into the keyring with "
                               "'despatch-desk key set' (it reads the key from a hidden prompt or stdin).")
    raise ConfigValueError(f"There is no setting called '{text.strip()[:60]}'. The settings are: "
                           f"{', '.join(SETTING_NAMES)}.")


def parse_value(name: str, value: Any) -> Any:
    """The value for setting ``name`` from text (the command line) or JSON (a config file).

    Raises :class:`ConfigValueError` in plain words; the words never repeat a long value in full."""
    shown = repr(value)[:60]
    default = _FIELD_DEFAULTS[name]
    if name == "service_groups":
        return _groups(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigValueError(f"{name} must be on or off (true/false, yes/no, 1/0), not {shown}.")
    if isinstance(default, (int, float)):
        return _number(name, value, shown, integer=isinstance(default, int))
    if not isinstance(value, str):
        raise ConfigValueError(f"{name} must be text, not {shown}.")
    return _text(name, value, shown)


def _number(name: str, value: Any, shown: str, *, integer: bool) -> float | int:
    rule = sf.NUMBER_RULES[name]
    allowed = f"{_fmt(rule.low)} to {_fmt(rule.high)}" + (" (or 0 for off)" if rule.zero_allowed else "")
    number: float
    if isinstance(value, bool):
        raise ConfigValueError(f"{name} must be a number from {allowed}, not {shown}.")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", ".") if value.count(",") == 1 and "." not in value
                           else value.strip())
        except ValueError:
            raise ConfigValueError(f"{name} must be a number from {allowed}, not {shown}.") from None
    else:
        raise ConfigValueError(f"{name} must be a number from {allowed}, not {shown}.")
    if not math.isfinite(number):
        raise ConfigValueError(f"{name} must be a number from {allowed}, not {shown}.")
    if integer and not number.is_integer():
        raise ConfigValueError(f"{name} must be a whole number from {allowed}, not {shown}.")
    if not (rule.low <= number <= rule.high or rule.zero_allowed and number == 0):
        raise ConfigValueError(f"{name} must be from {allowed}; {shown} is outside that range.")
    return int(number) if integer else number


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _text(name: str, value: str, shown: str) -> str:
    text = value.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ConfigValueError(f"{name} must be one line of text without control characters.")
    if len(text) > 2000:
        raise ConfigValueError(f"{name} is too long ({len(text)} characters; at most 2000).")
    if name == "environment":
        if text.lower() not in ENVIRONMENTS:
            raise ConfigValueError(f"environment must be one of {', '.join(ENVIRONMENTS)}, not {shown}.")
        return text.lower()
    choices = sf.CHOICES.get(name)
    if choices:
        if text.lower() not in choices:
            raise ConfigValueError(f"{name} must be one of {', '.join(choices)}, not {shown}.")
        return text.lower()
    if name == "proxy":
        return _proxy(text, shown)
    if name == "custom_url" and text:
        from .api import ConfigurationError, validate_base_url

        try:
            text = validate_base_url(text)
        except ConfigurationError as exc:
            raise ConfigValueError(f"custom_url: {exc.message}") from None
        problem = sf.url_port_problem(text)
        if problem:
            raise ConfigValueError(f"custom_url: {problem}")
    if name == "workstation" and not 1 <= len(text) <= 64:
        raise ConfigValueError("workstation must be 1 to 64 characters.")
    return text


def _proxy(text: str, shown: str) -> str:
    """``system``, ``none`` or an http:// proxy address, checked by the proxy module's own rules."""
    lowered = text.lower()
    if lowered in ("system", "none"):
        return lowered
    from .proxy import ProxyProblem, _parse

    try:
        _parse(text, in_file=True)  # in_file: a password is refused (it belongs in the keyring)
    except ProxyProblem as exc:
        raise ConfigValueError(f"proxy: {exc.message} (or 'system', or 'none')") from None
    return text


def _groups(value: Any) -> list[ServiceGroupConfig]:
    """``code=Name,code2=Name2`` (the command line) or ``[{"code": ..., "name": ...}]`` (a config file)."""
    groups: list[ServiceGroupConfig] = []
    if isinstance(value, str):
        for part in value.split(","):
            if not part.strip():
                continue
            code, _, name = part.partition("=")
            groups.append(ServiceGroupConfig(code.strip(), name.strip()))
    elif isinstance(value, list):
        for item in value:
            if not (isinstance(item, Mapping) and isinstance(item.get("code"), str)
                    and isinstance(item.get("name", ""), str)):
                raise ConfigValueError('service_groups must be a list of {"code": ..., "name": ...} entries.')
            groups.append(ServiceGroupConfig(item["code"].strip(), str(item.get("name", "")).strip()))
    else:
        raise ConfigValueError("service_groups must be written as code=Name,code2=Name2.")
    if len(groups) > MAX_GROUPS:
        raise ConfigValueError(f"At most {MAX_GROUPS} service groups.")
    for g in groups:
        if not g.code or any(ch.isspace() or ch in "/?#%=," for ch in g.code) or len(g.code) > 100:
            raise ConfigValueError(f"Service group code '{g.code[:60]}' must be one word (at most 100 characters) "
                                   "without spaces, / ? # % = or commas.")
        if len(g.name) > 200 or any(ord(ch) < 32 for ch in g.name):
            raise ConfigValueError(f"The name of service group '{g.code}' must be one line of at most 200 characters.")
    return groups


def show_value(settings: Settings, name: str) -> Any:
    """A setting as JSON (what export writes and ``show --json`` prints)."""
    value = getattr(settings, name)
    if name == "service_groups":
        return [{"code": g.code, "name": g.name} for g in value]
    return value


def text_value(settings: Settings, name: str) -> str:
    """A setting as a person types it for ``config set``."""
    value = getattr(settings, name)
    if name == "service_groups":
        return ",".join(f"{g.code}={g.name}" if g.name else g.code for g in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def apply_values(settings: Settings, values: Mapping[str, Any]) -> Settings:
    """A copy of ``settings`` with ``values`` (already parsed) set; an environment set is confirmed.

    Raises :class:`ConfigValueError` with every problem the result has (nothing is saved here)."""
    new = settings.copy(**dict(values))
    if "environment" in values or "custom_url" in values and new.environment == "custom":
        new.environment_unconfirmed = False  # a person (or their config file) chose it
    problems = new.validate()
    if new.environment == "custom" and not new.custom_url.strip() and not problems:
        problems.append("environment custom needs custom_url (the API address, https://...).")
    if problems:
        raise ConfigValueError("Nothing was changed: " + " ".join(problems))
    return new


def export_document(settings: Settings) -> dict[str, Any]:
    """Every setting but the key (the key is never in settings), with the format marker."""
    return {CONFIG_MARKER: CONFIG_FORMAT,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": {name: show_value(settings, name) for name in SETTING_NAMES}}


def read_document(raw: bytes, where: str) -> dict[str, Any]:
    """Every value of a config file, parsed; the whole file is refused at its first problem."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigValueError(f"{where} is larger than 1 MiB: it is not a Despatch Desk config file.")
    try:
        data = json.loads(sf.decode(raw).text)
    except (ValueError, RecursionError):
        raise ConfigValueError(f"{where} is not valid JSON (damaged, or not a config file). Nothing was changed.") \
            from None
    if not isinstance(data, dict) or data.get(CONFIG_MARKER) is None:
        raise ConfigValueError(f"{where} is not a Despatch Desk config file (it lacks \"{CONFIG_MARKER}\": 1; "
                               "make one with 'despatch-desk config export FILE'). Nothing was changed.")
    marker = data.get(CONFIG_MARKER)
    if marker != CONFIG_FORMAT or isinstance(marker, bool):
        raise ConfigValueError(f"{where} is a config file of format {str(marker)[:20]}; this Despatch Desk reads "
                               f"format {CONFIG_FORMAT}. Nothing was changed.")
    values = data.get("settings")
    if not isinstance(values, dict):
        raise ConfigValueError(f"{where} has no \"settings\" object. Nothing was changed.")
    parsed: dict[str, Any] = {}
    for raw_name, value in values.items():
        try:
            name = setting_name(str(raw_name))
            parsed[name] = parse_value(name, value)
        except ConfigValueError as exc:
            raise ConfigValueError(f"{where}: {exc.message} Nothing was changed.") from None
    return parsed
