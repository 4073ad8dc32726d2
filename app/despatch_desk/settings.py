"""Where files live, and the settings file (JSON in the user config folder).

``DESPATCH_DESK_HOME`` puts config, data and logs into one folder (portable installs, tests);
``DESPATCH_DESK_API_URL`` overrides the API base URL, ``DESPATCH_DESK_PROXY`` the proxy. The API key is
never stored here. A machine-wide ``defaults.json`` (:mod:`.machine_defaults`) fills every field the
user's own file lacks; :meth:`SettingsStore.sources` says where each value came from.

Configuration (``settings.json``, versioned, fsync'd) is apart from state (``state.json``: the
last group chosen, written cheaply). A file in another encoding is read; a damaged one is kept
aside and every field that can still be read is kept; values are clamped on load. A damaged file
never switches the environment: if the environment cannot be read back, the desk refuses to
allocate until someone confirms it (:attr:`Settings.environment_unconfirmed`); a desk whose
environment comes only from the machine defaults is confirmed (the IT department chose it).

Who must check it: anything that allocates. ``Settings.environment_problem`` is None when the desk
may allocate, else plain words to show; the command line refuses with it (``cli.common.open_desk``),
and ``Desk.allocate`` and the window must refuse the same way (not done yet: see desk.py's owner).
"""

from __future__ import annotations

import copy
import logging
import os
import socket
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import APP_ID
from . import settings_file as sf
from .api import PRODUCTION_URL, SANDBOX_URL, Timeouts, validate_base_url
from .errors import EXIT_USAGE, DeskError

log = logging.getLogger("despatch_desk.settings")

ENV_HOME = "DESPATCH_DESK_HOME"
ENV_API_URL = "DESPATCH_DESK_API_URL"
ENV_PROXY = "DESPATCH_DESK_PROXY"
ENVIRONMENTS = sf.ENVIRONMENTS
environment_known = sf.environment_known
_note = sf.note
_set_text = sf.set_text


class SettingsError(DeskError):
    """A settings problem in plain words (exit code 2)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class Paths:
    config_dir: Path
    data_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def history_file(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.json"

    @classmethod
    def default(cls) -> Paths:
        home = os.environ.get(ENV_HOME)
        if home:
            root = Path(home).expanduser()
            return cls(root / "config", root / "data", root / "logs")
        import platformdirs

        return cls(
            Path(platformdirs.user_config_dir(APP_ID, appauthor=False)),
            Path(platformdirs.user_data_dir(APP_ID, appauthor=False)),
            Path(platformdirs.user_log_dir(APP_ID, appauthor=False)),
        )


@dataclass(slots=True)
class ServiceGroupConfig:
    code: str
    name: str = ""

    @property
    def display(self) -> str:
        return f"{self.name} ({self.code})" if self.name and self.name != self.code else self.code


def _default_groups() -> list[ServiceGroupConfig]:
    return []


SETTINGS_VERSION = sf.SETTINGS_VERSION
MAX_GROUPS = 200


def _hostname() -> str:
    return socket.gethostname().split(".")[0] or "desk"


@dataclass(slots=True)
class Settings:
    environment: str = "production"
    custom_url: str = ""
    service_groups: list[ServiceGroupConfig] = field(default_factory=_default_groups)
    last_group: str = ""  # state: kept in state.json, not in settings.json
    workstation: str = field(default_factory=_hostname)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    sounds: bool = True
    max_parallel: int = 4
    # Scanners set to send no Enter/Tab: a complete reference followed by this pause is a scan.
    auto_submit_ms: int = 300  # 0 = only Enter or Tab end a scan
    scan_deadline_s: float = 60.0  # one deadline per scan: request, looks and polls together (5..600)
    printer_uri: str = ""
    label_format: str = "zpl"  # zpl | pdf
    auto_print: bool = True
    proxy: str = "system"
    # True when a damaged or unreadable file left the environment unknown: the desk must not
    # allocate until a person confirms it (the Settings dialog's Save, or `despatch-desk config`).
    environment_unconfirmed: bool = field(default=False, compare=False)

    # -- derived
    @property
    def api_base_url(self) -> str:
        override = os.environ.get(ENV_API_URL)
        if override:
            return override.strip().rstrip("/")
        if self.environment == "sandbox":
            return SANDBOX_URL
        if self.environment == "custom" and self.custom_url.strip():
            return self.custom_url.strip().rstrip("/")
        return PRODUCTION_URL

    @property
    def environment_label(self) -> str:
        if os.environ.get(ENV_API_URL):
            return "custom"
        return self.environment if self.environment in ENVIRONMENTS else "production"

    @property
    def proxy_in_use(self) -> str:
        """The proxy setting, unless ``DESPATCH_DESK_PROXY`` overrides it for this session."""
        override = os.environ.get(ENV_PROXY, "").strip()
        return override or self.proxy

    @property
    def environment_problem(self) -> str | None:
        """None when the desk may allocate; plain words while the environment is unconfirmed.

        Unconfirmed means a damaged, unreadable or hand-edited settings file left it unknown; an
        explicit ``DESPATCH_DESK_API_URL`` overrides it. Every path that allocates must check this
        first and refuse with these words (the CLI does; ``Desk.allocate`` and the window must)."""
        if not self.environment_unconfirmed or os.environ.get(ENV_API_URL):
            return None
        return ("The settings file does not say clearly which SortedPRO environment this desk uses (production "
                "or sandbox): it was damaged or edited by hand. Nothing is allocated until someone confirms it: "
                "open Settings, check the environment and save, or run "
                "'despatch-desk config set environment production' (or sandbox).")

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(connect=self.connect_timeout_s, read=self.read_timeout_s)

    def group(self, code: str) -> ServiceGroupConfig | None:
        return next((g for g in self.service_groups if g.code == code), None)

    def copy(self, **changes: Any) -> Settings:
        """A new, independent object (the live one is never edited in place by :class:`SettingsStore`)."""
        new = copy.deepcopy(self)
        for name, value in changes.items():
            setattr(new, name, value)
        return new

    def validate(self) -> list[str]:
        """Problems in plain words; empty when the settings can be saved."""
        problems = []
        if self.environment not in ENVIRONMENTS:
            problems.append(f"Unknown environment '{self.environment}'.")
        if self.environment == "custom":
            try:
                validate_base_url(self.custom_url)
            except Exception as exc:  # ConfigurationError: message is plain words
                problems.append(str(exc))
            else:
                port_problem = sf.url_port_problem(self.custom_url)
                if port_problem:
                    problems.append(port_problem)
        codes = [g.code.lower() for g in self.service_groups]  # the server matches codes case-insensitively
        if len(codes) != len(set(codes)):
            problems.append("Two service groups have the same code.")
        for g in self.service_groups:
            if not g.code.strip() or any(ch.isspace() or ch in "/?#%" for ch in g.code):
                problems.append(f"Service group code '{g.code}' must be one word without / ? # or %.")
        if not 0.5 <= self.connect_timeout_s <= 120 or not 1 <= self.read_timeout_s <= 300:
            problems.append("Timeouts must be between 0.5 s and 300 s.")
        if self.auto_submit_ms != 0 and not 100 <= self.auto_submit_ms <= 5000:
            problems.append("The pause that ends a scan without Enter must be 0 (off) or 100 to 5000 ms.")
        if not 1 <= self.max_parallel <= 16:
            problems.append("Parallel allocations must be between 1 and 16.")
        if not 5 <= self.scan_deadline_s <= 600:
            problems.append("The time allowed for one scan must be between 5 and 600 seconds.")
        if self.label_format not in sf.CHOICES["label_format"]:
            problems.append("The label format must be zpl or pdf.")
        if not self.workstation.strip() or len(self.workstation) > 64:
            problems.append("The workstation name must be 1 to 64 characters.")
        return problems

    # -- (de)serialisation
    def to_json(self) -> dict[str, Any]:
        """What goes into settings.json (configuration only: no state, no key)."""
        data = asdict(self)
        del data["last_group"], data["environment_unconfirmed"]
        if self.environment_unconfirmed:
            data["environment_confirmed"] = False  # survives a restart until someone confirms
        data["version"] = SETTINGS_VERSION
        return data

    @classmethod
    def from_json(cls, data: Any, problems: list[str] | None = None) -> Settings:
        """Tolerant: unknown keys ignored, wrong types replaced by defaults, numbers clamped.

        Each value changed on the way in is logged and added to ``problems`` (plain words)."""
        notes: list[str] = [] if problems is None else problems
        settings = cls()
        if not isinstance(data, dict):
            return settings
        defaults = {f.name: getattr(settings, f.name) for f in fields(cls)}
        for name, default in defaults.items():
            if name not in data or name in ("service_groups", "environment_unconfirmed"):
                continue
            value = data[name]
            note = None
            if isinstance(default, bool):
                if isinstance(value, bool):
                    setattr(settings, name, value)
                else:
                    note = f"{name}: {repr(value)[:40]} is not true or false; using {default}"
            elif isinstance(default, (int, float)):
                number, note = sf.number(name, value, default)
                setattr(settings, name, number)
            elif isinstance(default, str):
                note = _set_text(settings, name, value, default)
            if note:
                _note(notes, note)
        if data.get("environment_confirmed") is False:
            settings.environment_unconfirmed = True
        if "environment" in data and not environment_known(data):
            settings.environment_unconfirmed = True  # never guess between production and sandbox
        if settings.environment == "custom" and not settings.custom_url.strip():
            settings.environment_unconfirmed = True  # "custom" without its address would mean production
            _note(notes, "environment: custom, but the custom address is missing; it must be confirmed")
        groups = []
        items = data.get("service_groups")
        for item in (items if isinstance(items, list) else [])[:MAX_GROUPS]:
            if isinstance(item, dict) and isinstance(item.get("code"), str) and item["code"].strip():
                name = item.get("name")
                groups.append(ServiceGroupConfig(item["code"].strip()[:100],
                                                 (name if isinstance(name, str) else "").strip()[:200]))
        settings.service_groups = groups
        return settings


#: The settings a person (or a defaults/config file) sets: every field but state and flags.
SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Settings)
                                       if f.name not in ("last_group", "environment_unconfirmed"))
SOURCES = ("user", "machine", "default", "env")


def __getattr__(name: str) -> Any:
    # SettingsStore lives in settings_store.py (this module stays small); old imports keep working.
    if name in ("SettingsStore", "Listener"):
        from . import settings_store

        return getattr(settings_store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


