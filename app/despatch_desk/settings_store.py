"""The settings store: load (user file over machine defaults over built-in defaults), save, update.

Split from :mod:`.settings` (which re-exports :class:`SettingsStore`); see that module's docstring.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import machine_defaults
from . import settings_file as sf
from .settings import (ENV_API_URL, ENV_PROXY, SETTING_NAMES, SETTINGS_VERSION, Paths, Settings, SettingsError,
                       _note, environment_known)
from .state import DeskState, StateStore

log = logging.getLogger("despatch_desk.settings")

Listener = Callable[[Settings, Settings], None]
# Written to settings.json even at their built-in value: an environment (and the workstation name,
# which defaults to the host name) must not change because a defaults file appeared later.
_ALWAYS_WRITTEN = frozenset({"environment", "custom_url", "workstation"})


def _field_json(settings: Settings, name: str) -> Any:
    return settings.to_json().get(name)


def _check_machine_fields(defaults: machine_defaults.MachineDefaults) -> dict[str, Any]:
    """The defaults file's values that load cleanly; each one that does not is reported and dropped."""
    good: dict[str, Any] = {}
    for name, value in defaults.data.items():
        if name == "custom_url":
            continue  # checked with the environment
        one = {name: value}
        if name == "environment":
            one["custom_url"] = defaults.data.get("custom_url", "")
        problems: list[str] = []
        probe = Settings.from_json(one, problems)
        if probe.environment_unconfirmed:
            problems.append("environment: custom, but the custom address is missing")
        if problems:
            words = (f"In the machine-wide defaults file {defaults.path}: {'; '.join(problems)}. "
                     f"That value is ignored.")
            log.warning(words)
            defaults.notes.append(words)
            continue
        good.update(one)
    if "custom_url" in defaults.data and "environment" not in good:
        value = defaults.data["custom_url"]
        if isinstance(value, str):
            good["custom_url"] = value
    return good


class SettingsStore:
    """Loads and saves settings; :meth:`update` is the one atomic change with listeners.

    ``current`` is the settings object in force. :meth:`update` / :meth:`apply` validate, save,
    swap in a *new* object and call every listener with (old, new) in the calling thread (a
    listener that raises is logged and the others still run). :meth:`save` is the older path:
    it persists and records what it saved, without notifying.
    """

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.load_warning: str | None = None
        self.load_notes: list[str] = []
        self.newer_version: int | None = None  # the file's version when a newer app wrote it
        self.damaged_copy: Path | None = None
        self.state_store = StateStore(paths.state_file)
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._current: Settings | None = None
        self._saved_config: dict[str, Any] | None = None
        self._state = DeskState()
        self._saved_state: dict[str, Any] | None = None
        self._unreadable = False  # the file exists but could not be read: never write over it
        self._machine: dict[str, Any] = {}  # settings.json-shaped values the machine defaults gave
        self._machine_json: dict[str, Any] = {}  # the same, as they would be written (for comparing)
        self._user_fields: set[str] = set()  # fields the user's own file (or a save) holds
        self.machine_defaults_file: Path | None = None

    # -- reading
    @property
    def current(self) -> Settings:
        with self._lock:
            if self._current is None:
                self.load()
            assert self._current is not None
            return self._current

    def load(self) -> Settings:
        """Never raises: anything wrong with the file becomes ``load_warning`` (plain words)."""
        with self._lock:
            notes: list[str] = []
            self.newer_version = self.damaged_copy = None
            self._unreadable = False
            defaults = machine_defaults.load(set(SETTING_NAMES))
            self._machine = _check_machine_fields(defaults)
            self._machine_json = Settings.from_json(self._machine).to_json()
            self.machine_defaults_file = defaults.path if self._machine else None
            notes.extend(defaults.notes)
            settings, config_on_disk, moved_state = self._read(notes)
            if config_on_disk is not None:
                config_on_disk = self._config_for_disk(settings)
            self._state = self.state_store.load()
            self._saved_state = self._state.to_json() if self.state_store.exists_on_disk else None
            if not self.state_store.exists_on_disk and moved_state.get("last_group"):
                # An older settings file kept the last group: move it to state.json once.
                self._state.last_group = str(moved_state["last_group"])[:200]
                try:
                    self._save_state(self._state)
                except SettingsError as exc:
                    notes.append(exc.message)
            settings.last_group = self._state.last_group
            self._saved_config = config_on_disk
            self._current = settings  # the object in force until the next update() swaps in a new one
            self.load_notes = notes
            self.load_warning = " ".join(notes) if notes else None
            return settings

    def _read(self, notes: list[str]) -> tuple[Settings, dict[str, Any] | None, dict[str, Any]]:
        path = self.paths.settings_file
        self._user_fields = set()
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return Settings.from_json(dict(self._machine)), None, {}
        except OSError as exc:
            settings = Settings(environment_unconfirmed=True)
            self._unreadable = True
            notes.append(f"Could not read the settings file {path} ({exc.strerror or exc}); using defaults "
                         "until it can be read, and it is not saved over.")
            log.warning(notes[-1])
            return settings, settings.to_json(), {}
        decoded = sf.decode(raw)
        if decoded.note:
            _note(notes, decoded.note)
        parsed = sf.parse(decoded.text)
        data, moved_state, version = sf.upgrade(parsed.data)
        if version > SETTINGS_VERSION:
            self.newer_version = version
            _note(notes, f"The settings file was written by a newer Despatch Desk (settings version {version}); "
                         "this one reads what it understands and will not save over it.")
        field_notes: list[str] = []
        self._user_fields = {name for name in data if name in SETTING_NAMES}
        settings = Settings.from_json(self._with_machine(data, damaged=parsed.damaged), field_notes)
        if not parsed.damaged:
            notes.extend(field_notes)
            # What is on disk differs from what was loaded (clamped, older, another encoding):
            # the next save rewrites it. A newer file is never rewritten, so it counts as saved.
            differs = bool(field_notes or decoded.note or version < SETTINGS_VERSION) and version <= SETTINGS_VERSION
            return settings, None if differs else settings.to_json(), moved_state
        if not environment_known(data):
            settings.environment_unconfirmed = True
        self.damaged_copy = self._keep_damaged(raw)
        kept = f" It was kept as {self.damaged_copy.name}." if self.damaged_copy else ""
        recovered = [n for n in parsed.salvaged if n in {f.name for f in fields(Settings)}]
        what = (f" These settings were read back from it: {', '.join(recovered)}; the rest are defaults."
                if recovered else " Nothing could be read back from it; the rest are defaults.")
        unconfirmed = " The environment must be confirmed before the desk allocates." \
            if settings.environment_unconfirmed else ""
        _note(notes, f"The settings file was damaged.{kept}{what}{unconfirmed}")
        notes.extend(field_notes)
        if version <= SETTINGS_VERSION:
            try:  # write the repaired file now, so the next start does not guess again
                self._write_config(self._config_for_disk(settings))
                return settings, settings.to_json(), moved_state
            except SettingsError as exc:
                notes.append(exc.message)
        return settings, None, moved_state

    def _with_machine(self, data: dict[str, Any], *, damaged: bool) -> dict[str, Any]:
        """The user's fields over the machine defaults' (field by field: a user value always wins).

        A damaged file that lost its environment never takes the machine's: this desk had its own,
        so it stays unconfirmed until a person confirms it."""
        merged = dict(data)
        for name, value in self._machine.items():
            if name in merged:
                continue
            if damaged and name in ("environment", "custom_url"):
                continue
            if name == "custom_url" and "environment" in data:
                continue  # an address belongs with the environment that chose it
            merged[name] = value
        return merged

    def _config_for_disk(self, settings: Settings) -> dict[str, Any]:
        """What settings.json holds: the fields the user's own file held, and every value that differs
        from the layer below it (the machine defaults, else the built-in default). A value left to the
        layer below follows it, so IT can change it later for every desk. The environment is always
        written unless the machine defaults chose it: a desk never changes environment by itself."""
        config = settings.to_json()
        builtin = Settings(workstation=settings.workstation).to_json()
        for name in SETTING_NAMES:
            if name in self._user_fields or name not in config:
                continue
            below = self._machine_json[name] if name in self._machine else builtin.get(name)
            if config[name] != below:
                continue
            if name in _ALWAYS_WRITTEN and name not in self._machine:
                continue
            del config[name]
        return config

    def sources(self, settings: Settings | None = None) -> dict[str, str]:
        """Where each setting's value comes from: ``user``, ``machine``, ``default`` or ``env``."""
        with self._lock:
            settings = settings or self.current
            result = {}
            for name in SETTING_NAMES:
                if name in self._user_fields:
                    result[name] = "user"
                elif name in self._machine and _field_json(settings, name) == self._machine_json.get(name):
                    result[name] = "machine"
                elif _field_json(settings, name) != _field_json(Settings(workstation=settings.workstation), name):
                    result[name] = "user"
                else:
                    result[name] = "default"
            if os.environ.get(ENV_API_URL):
                result["environment"] = result["custom_url"] = "env"
            if os.environ.get(ENV_PROXY, "").strip():
                result["proxy"] = "env"
            return result

    def _keep_damaged(self, raw: bytes) -> Path | None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.paths.settings_file.with_name(f"settings.damaged-{stamp}.json")
        try:
            target.write_bytes(raw)
            return target
        except OSError as exc:
            log.error("could not keep the damaged settings file: %s", exc)
            return None

    # -- writing
    def save(self, settings: Settings) -> None:
        """Write what changed: settings.json atomically with fsync, state.json atomically and cheaply.

        A state-only change (the last group chosen) does not rewrite settings.json."""
        with self._lock:
            config = self._config_for_disk(settings)
            if config != self._saved_config or not self.paths.settings_file.exists():
                if self._unreadable and self.paths.settings_file.exists():
                    raise SettingsError(f"Not saved: the settings file {self.paths.settings_file} could not be "
                                        "read, so it is not written over. Check it, then start the desk again.")
                self._refuse_newer_file()
                self._write_config(config)
                self._saved_config = config
                self._user_fields = {name for name in config if name in SETTING_NAMES}
            if self._saved_state is None or settings.last_group != self._state.last_group:
                self._save_state(DeskState(last_group=settings.last_group))
            self._current = settings.copy()

    def update(self, change: Callable[[Settings], Settings | None]) -> Settings:
        """Apply ``change`` to a copy of the current settings, validate, save, swap in, notify."""
        with self._lock:
            old = self.current
            draft = old.copy()
            result = change(draft)
            new = result if isinstance(result, Settings) else draft
            problems = new.validate()
            if problems:
                raise SettingsError("Not saved: " + " ".join(problems))
            self.save(new)
            new = self._current  # the stored copy: nobody else holds a reference to it
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(old, new)
            except Exception:  # one broken listener must not stop the desk hearing about it
                log.exception("settings listener %r failed", listener)
        return new

    def apply(self, new: Settings) -> Settings:
        """Replace the settings with ``new`` (validated, saved, listeners told)."""
        return self.update(lambda _old: new.copy())

    def confirm_environment(self, environment: str, custom_url: str | None = None) -> Settings:
        """A person chose the environment: save it and lift :attr:`Settings.environment_unconfirmed`."""
        def confirm(s: Settings) -> None:
            s.environment = environment
            if custom_url is not None:
                s.custom_url = custom_url
            s.environment_unconfirmed = False
        return self.update(confirm)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """``listener(old, new)`` after every :meth:`update`; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe

    def _refuse_newer_file(self) -> None:
        path = self.paths.settings_file
        try:
            data = sf.parse(sf.decode(path.read_bytes()).text).data
        except OSError:
            return
        version = sf.file_version(data)
        if version > SETTINGS_VERSION:
            raise SettingsError(
                f"Not saved: the settings file {path} was written by a newer Despatch Desk (settings version "
                f"{version}; this one knows up to {SETTINGS_VERSION}), and saving here would lose its newer "
                "settings. Use the newer Despatch Desk, or remove the file to start again.")

    def _write_config(self, config: dict[str, Any]) -> None:
        """Atomic write (temp file + fsync + replace): a full disk or a kill never leaves half a file."""
        path = self.paths.settings_file
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(config, fh, indent=2, ensure_ascii=False, allow_nan=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            sf.fsync_folder(path.parent)
        except (OSError, ValueError) as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            words = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise SettingsError(f"Could not save settings to {path}: {words}.") from None

    def _save_state(self, state: DeskState) -> None:
        """Only the last group changes: the rest of state.json (the groups lists) stays as it is on disk."""
        def set_last_group(on_disk: DeskState) -> None:
            on_disk.last_group = state.last_group
        try:
            saved = self.state_store.update(set_last_group)
        except OSError as exc:
            raise SettingsError(f"Could not save the desk state to {self.state_store.path}: "
                                f"{exc.strerror or exc}.") from None
        self._state = saved
        self._saved_state = saved.to_json()


