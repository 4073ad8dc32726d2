"""Where files live, and the settings file (JSON in the user config folder).

``DESPATCH_DESK_HOME`` puts config, data and logs into one folder (portable installs, tests);
``DESPATCH_DESK_API_URL`` overrides the API base URL. The API key is never stored here.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import APP_ID
from .errors import EXIT_USAGE, DeskError
from .api import PRODUCTION_URL, SANDBOX_URL, Timeouts, validate_base_url

log = logging.getLogger("despatch_desk.settings")

ENV_HOME = "DESPATCH_DESK_HOME"
ENV_API_URL = "DESPATCH_DESK_API_URL"
ENVIRONMENTS = ("production", "sandbox", "custom")


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


@dataclass(slots=True)
class Settings:
    environment: str = "production"
    custom_url: str = ""
    service_groups: list[ServiceGroupConfig] = field(default_factory=_default_groups)
    last_group: str = ""
    workstation: str = field(default_factory=lambda: socket.gethostname().split(".")[0] or "desk")
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
    def timeouts(self) -> Timeouts:
        return Timeouts(connect=self.connect_timeout_s, read=self.read_timeout_s)

    def group(self, code: str) -> ServiceGroupConfig | None:
        return next((g for g in self.service_groups if g.code == code), None)

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
        if not self.workstation.strip() or len(self.workstation) > 64:
            problems.append("The workstation name must be 1 to 64 characters.")
        return problems

    # -- (de)serialisation
    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = 1
        return data

    @classmethod
    def from_json(cls, data: Any) -> Settings:
        """Tolerant: unknown keys ignored, wrong types replaced by defaults."""
        settings = cls()
        if not isinstance(data, dict):
            return settings
        defaults = {f.name: getattr(settings, f.name) for f in fields(cls)}
        for name, default in defaults.items():
            if name not in data or name == "service_groups":
                continue
            value = data[name]
            if isinstance(default, bool):
                if isinstance(value, bool):
                    setattr(settings, name, value)
            elif isinstance(default, (int, float)) and not isinstance(default, bool):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    setattr(settings, name, type(default)(value))
            elif isinstance(default, str) and isinstance(value, str):
                setattr(settings, name, value)
        groups = []
        for item in data.get("service_groups") or []:
            if isinstance(item, dict) and isinstance(item.get("code"), str) and item["code"].strip():
                groups.append(ServiceGroupConfig(item["code"].strip(), str(item.get("name") or "").strip()))
        settings.service_groups = groups
        return settings


class SettingsStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.load_warning: str | None = None

    def load(self) -> Settings:
        path = self.paths.settings_file
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Settings()
        except OSError as exc:
            self.load_warning = f"Could not read the settings file {path} ({exc.strerror}); using defaults."
            return Settings()
        try:
            return Settings.from_json(json.loads(text))
        except ValueError:
            # Keep the damaged file for inspection rather than overwrite it silently.
            backup = path.with_suffix(".damaged.json")
            try:
                os.replace(path, backup)
                kept = f" It was kept as {backup.name}."
            except OSError:
                kept = ""
            self.load_warning = f"The settings file was damaged and has been reset.{kept}"
            log.warning(self.load_warning)
            return Settings()

    def save(self, settings: Settings) -> None:
        """Atomic write (temp file + replace): a full disk or a kill never leaves half a file."""
        path = self.paths.settings_file
        tmp = path.with_suffix(".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(settings.to_json(), fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            raise SettingsError(f"Could not save settings to {path}: {exc.strerror or exc}.") from None


def resources_dir() -> Path:
    """Icons and sounds: inside a frozen bundle, or the repository's ``resources/``."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"
