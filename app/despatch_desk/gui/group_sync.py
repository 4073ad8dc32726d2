"""The window's service groups without a manual step: fetched in the background, shown in the account's order.

:class:`GroupSyncer` runs :func:`despatch_desk.service_groups.sync_groups` on the MISC lane of the desk's
job runner (never the GUI thread) at start, whenever the key or the API address changes, and when
Settings saves. Before the answer is in, the dropdown shows this origin's last known list (or the
manual list): read on a worker too. Only the latest request's answer is used (a generation number), so
a slow answer for the old address never overwrites the new one.

The listing doubles as the key check: a 401 from ``GET /servicegroups`` means SortedPRO refused the key
(``key_refused``); a 403/404 only means this key may not list groups, and the manual list is used.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from .. import api, service_groups
from ..credentials import ENV_API_KEY
from ..desk import Desk
from ..errors import explain
from ..service_groups import GroupSync, OfferedGroup
from .jobs import JobRunner, Lane

log = logging.getLogger("despatch_desk.gui.groups")


class _WatchedClient:
    """The desk's client, but remembers what the group listing raised (is the key refused, or only the list?)."""

    def __init__(self, client: api.SortedProClient) -> None:
        self._client = client
        self.error: BaseException | None = None

    def list_service_groups(self, *, cancel: Any = None) -> list[api.ServiceGroup]:
        try:
            return self._client.list_service_groups(cancel=cancel)
        except BaseException as exc:
            self.error = exc
            raise


class _WatchedDesk:
    """What ``sync_groups`` needs of a desk (``client()``, ``closing``, ``origin``), with a watched client."""

    def __init__(self, desk: Desk) -> None:
        self._desk = desk
        self.closing = desk.closing
        self.origin = desk.origin
        self.watched: _WatchedClient | None = None

    def client(self) -> _WatchedClient:
        self.watched = _WatchedClient(self._desk.client())
        return self.watched


def key_source_words() -> str:
    """Where a refused key came from, so the next step is the right one."""
    if os.environ.get(ENV_API_KEY, "").strip():
        return (f"The key comes from the {ENV_API_KEY} environment variable: set a working key there "
                "(or unset it to use the key in Settings), then restart the desk.")
    return "Paste a working key in Settings (Ctrl+,)."


class GroupSyncer(QObject):
    """``start()`` fetches; ``changed`` when ``groups`` (what the dropdown offers) or ``key_refused`` changed."""

    changed = Signal()

    def __init__(self, desk: Desk, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.runner = runner
        self.groups: list[OfferedGroup] = []
        self.last: GroupSync | None = None       # the last answer of the account (or why not)
        self.key_refused: str | None = None      # plain words when SortedPRO refused the key itself
        self.syncing = False
        self.synced_once = False
        self._generation = 0
        self._answered = -1        # the generation whose account answer is in
        self._known_in = -1        # the generation whose known list is in
        self._asked_for: tuple | None = None

    # ------------------------------------------------------------------ reading
    @property
    def note(self) -> str | None:
        return self.last.note if self.last is not None else None

    @property
    def missing(self) -> list[str]:
        return list(self.last.missing) if self.last is not None else []

    @property
    def has_answer(self) -> bool:
        """The known list or the account's answer is in (before that the window shows the Settings list)."""
        return self._answered == self._generation or self._known_in == self._generation

    def _fingerprint(self) -> tuple:
        s = self.desk.settings
        return (self.desk.base_url, tuple((g.code, g.name) for g in s.service_groups), os.environ.get(ENV_API_KEY))

    # ------------------------------------------------------------------ asking
    def start(self, *, force: bool = False) -> bool:
        """Known list at once (from disk, on a worker), then the account's answer.

        Not again for the same address and manual list unless ``force`` (Settings saved: perhaps a new key),
        so choosing another group (which saves the settings) does not ask the account each time."""
        fingerprint = self._fingerprint()
        if not force and fingerprint == self._asked_for:
            return False
        self._asked_for = fingerprint
        self._generation += 1
        generation = self._generation
        desk = self.desk
        settings, store = desk.settings, desk.settings_store
        origin = desk.origin
        self.syncing = True
        self.runner.run(lambda _t: service_groups.effective_groups(settings, store, origin=origin),
                        lambda groups: self._known(generation, groups), lambda exc: log.warning(
                            "last known groups not read: %s", explain(exc)), receiver=self, name="groups-known")
        job = self.runner.run(lambda _t: self._sync(desk), lambda result: self._synced(generation, result),
                              lambda exc: self._failed(generation, exc), receiver=self, name="groups-sync",
                              lane=Lane.MISC)
        if job is None:
            self.syncing = False
        return job is not None

    @staticmethod
    def _sync(desk: Desk) -> tuple[GroupSync, str | None]:  # worker thread
        watched = _WatchedDesk(desk)
        result = service_groups.sync_groups(watched, desk.settings, desk.settings_store)
        error = watched.watched.error if watched.watched is not None else None
        refused = None
        if isinstance(error, api.Unauthorized) and error.status == 401:
            refused = f"SortedPRO refused the API key for {desk.origin}. {key_source_words()}"
        return result, refused

    def _known(self, generation: int, groups: list[OfferedGroup]) -> None:
        if generation == self._generation and self._answered != generation:  # the account's answer wins
            self._known_in = generation
            self.groups = list(groups)
            self.changed.emit()

    def _synced(self, generation: int, result: tuple[GroupSync, str | None]) -> None:
        if generation != self._generation:
            return  # an answer for an address or key that is no longer used
        sync, refused = result
        self._answered = generation
        self.syncing = False
        self.synced_once = True
        self.last = sync
        self.key_refused = refused
        self.groups = list(sync.groups)
        log.info("service groups from %s: %d%s", sync.source, len(sync.groups), f" ({sync.note})" if sync.note else "")
        self.changed.emit()

    def _failed(self, generation: int, exc: BaseException) -> None:  # sync_groups never raises: a bug
        if generation != self._generation:
            return
        log.error("group sync failed: %s", explain(exc))
        self._answered = generation
        self.syncing = False
        self.changed.emit()


CHECKING = "Checking the API key and fetching the service groups from SortedPRO… (a moment)"


def attach(window: Any) -> GroupSyncer:
    """The window's syncer: its answers refill the group row, the shortcuts and the readiness words."""
    syncer = GroupSyncer(window.desk, window.runner, window)
    syncer.changed.connect(lambda: _answered(window, syncer))
    syncer.start()  # now, not after the first event-loop turn: whoever waits for the desk's jobs sees it
    return syncer


def _answered(window: Any, syncer: GroupSyncer) -> None:
    controller = window.controller
    controller.checking_words = CHECKING if syncer.syncing else None
    if syncer.key_refused:
        controller.set_key_problem(syncer.key_refused, refused=True)
    elif syncer.last is not None and syncer.last.reason in ("ok", "refused"):  # SortedPRO took the key
        controller.set_key_problem(None, refused=True)
    show_groups(window)


def show_groups(window: Any) -> None:
    """Fill the group row from what the account offers (the Settings list until that is known)."""
    settings = window.desk.settings
    syncer: GroupSyncer = window.group_sync
    groups: list[Any] = syncer.groups if syncer.has_answer else list(settings.service_groups)
    flagged = _not_in_account(settings, groups) if syncer.has_answer else []
    if syncer.syncing and not syncer.synced_once:
        window.controller.checking_words = CHECKING
    chosen = settings.last_group
    groups = [*groups, *flagged]
    window.group_row.set_groups(groups, chosen, empty_words=_short_empty_words(syncer))
    window.group_row.set_warning(" ".join(_flag_words(syncer, flagged)))
    from . import menus

    menus.group_shortcuts(window, groups)
    window.controller.no_group_words = _empty_words(syncer)
    if groups and window.current_group() != chosen:
        window._remember_group(window.current_group())
    window._readiness_changed()


@dataclass(frozen=True, slots=True)
class FlaggedGroup:
    """A group in Settings that the account does not list: still offered (last, marked), never hidden."""

    code: str
    name: str

    @property
    def display(self) -> str:
        return f"⚠ {self.name or self.code} ({self.code}): not in the account"


def _not_in_account(settings: Any, offered: list[Any]) -> list[FlaggedGroup]:
    if not offered or all(getattr(g, "source", "") == service_groups.SETTINGS for g in offered):
        return []  # the list is the Settings list itself
    have = {g.code.lower() for g in offered}  # SortedPRO matches group codes case-insensitively
    return [FlaggedGroup(g.code, g.name) for g in settings.service_groups if g.code and g.code.lower() not in have]


def _flag_words(syncer: GroupSyncer, flagged: list[FlaggedGroup]) -> list[str]:
    words = []
    for group in flagged:
        said = [w for w in syncer.missing if f"'{group.code}'" in w]
        words.append(said[0] if said else
                     f"Group '{group.code}' is not in this SortedPRO account: scans with it will be refused.")
    return words


def _short_empty_words(syncer: GroupSyncer) -> str:  # the dropdown's own line: the panel says the rest
    if syncer.syncing and not syncer.synced_once:
        return "Fetching service groups…"
    return "No service groups yet"


def _empty_words(syncer: GroupSyncer) -> str:
    if syncer.syncing and not syncer.synced_once:
        return CHECKING
    if syncer.key_refused:
        return "No service groups: SortedPRO refused the API key. " + key_source_words()
    if syncer.last is not None and syncer.last.reason == "not-asked":  # no key, a bad address: say which
        why = (syncer.last.note or "").removeprefix("The account was not asked: ").split(" Using the groups")[0]
        return f"{why} The service groups are then fetched by themselves." if why else (
            "Add the API key in Settings (Ctrl+,): the service groups are then fetched by themselves.")
    if syncer.last is not None and syncer.last.reason == "offline":
        return "No service groups: SortedPRO could not be reached and none are known yet. Add them in Settings (Ctrl+,)."
    return "No service groups yet: add them in Settings (Ctrl+,)."


def announce_group(window: Any) -> None:
    """The operator changed the group: a distinct sound and the panel says so until the next scan.

    A stray Ctrl+2 must never silently send every following parcel with another carrier. A problem on
    the panel is not lost: it moves to the problem stack above (it stays until Esc)."""
    from .theme import GROUP_CHANGED, Tone

    display = window.group_row.current_display()
    window.sounds.play(Tone.GROUP.value)
    window.statusBar().showMessage(f"Service group: {display}", 4000)
    if not window.controller.readiness().ready:
        return  # NOT READY stays: it says the next step
    window.result_panel.show_message(
        GROUP_CHANGED, f"GROUP → {display}", "Every scan from now on uses this service group",
        "Scan the next consignment, or switch back with Ctrl+1…9 or Ctrl+↑/↓.")
    window._show_problems()
