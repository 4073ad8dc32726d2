"""Which service groups the desk offers, without a manual step (no Qt).

:func:`sync_groups` asks the account (``GET /servicegroups``) and keeps the answer as the **last known
list** of that API origin in ``state.json``, so the next start offers the groups offline. The account's
order is kept (Ctrl+1 is the account's first group); disabled groups are not offered. Where the account
refuses listing (403, 404, 401, an answer that is not a list of groups) the manual list in the settings
is used, and the result says why. Network down: the last known list, and it says so. A configured group
the account does not have is flagged before anyone scans with it.

:func:`effective_groups` is what the dropdown shows right now, without the network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import api
from .cancel import CancelToken
from .errors import DeskError, explain
from .state import DeskState, KnownGroups, StateStore

log = logging.getLogger("despatch_desk.groups")

SYNC_TIMEOUT_S = 15.0  # a group list is a small answer: a desk that waits longer is better offline
ACCOUNT, LAST_KNOWN, SETTINGS = "account", "last-known", "settings"


@dataclass(frozen=True, slots=True)
class OfferedGroup:
    code: str
    name: str
    source: str  # account | last-known | settings

    @property
    def display(self) -> str:
        return f"{self.name} ({self.code})" if self.name and self.name != self.code else self.code


@dataclass(slots=True)
class GroupSync:
    groups: list[OfferedGroup]
    source: str                       # account | last-known | settings
    note: str | None = None           # plain words: why this list, when it is not the account's own
    missing: list[str] = field(default_factory=list)  # plain words, one per configured group not offered
    fetched_at: datetime | None = None  # when the account's list was fetched (None for the settings list)
    reason: str = "ok"  # ok | refused (the account does not list) | offline | not-asked (no key, bad address) | empty


def _state_store(state: Any) -> StateStore:
    """``state``: a StateStore, or a SettingsStore (which has one)."""
    store = getattr(state, "state_store", state)
    if not isinstance(store, StateStore):
        raise TypeError("state must be a StateStore or a SettingsStore")
    return store


def _origin_of(settings: Any, origin: str | None) -> str:
    return origin or api.api_origin(settings.api_base_url)


def _settings_groups(settings: Any) -> list[OfferedGroup]:
    return [OfferedGroup(g.code, g.name or g.code, SETTINGS) for g in settings.service_groups]


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _from_known(known: KnownGroups) -> list[OfferedGroup]:
    return [OfferedGroup(code, name or code, LAST_KNOWN) for code, name in known.groups]


def effective_groups(settings: Any, state: Any, *, origin: str | None = None) -> list[OfferedGroup]:
    """The groups to offer now, without the network: this origin's last known list, else the settings'.

    Another API origin's list is never used (the sandbox account's groups are not production's)."""
    return _offline(settings, _state_store(state).load(), _origin_of(settings, origin), None).groups


def _offline(settings: Any, desk_state: DeskState, origin: str, why: str | None, reason: str = "ok") -> GroupSync:
    known = desk_state.known_groups.get(origin)
    if known is not None and not known.refused and known.groups:
        when = _parse_time(known.fetched_at)
        note = None
        if why:
            stamp = when.astimezone().strftime("%d %b %Y %H:%M") if when else "earlier"
            note = f"{why} Showing the groups this account listed on {stamp}."
        groups = _from_known(known)
        return GroupSync(groups, LAST_KNOWN, note, _missing(settings, groups), when, reason)
    groups = _settings_groups(settings)
    note = why
    if known is not None and known.refused:
        refused = f"This account does not list its service groups ({known.refused}); using the groups in Settings."
        note = f"{why} {refused}" if why else refused
    elif why:
        note = f"{why} Using the groups in Settings."
    if not groups and note:
        note += " There are none yet: add them in Settings (Service groups)."
    return GroupSync(groups, SETTINGS, note, [], None, reason)


def _missing(settings: Any, offered: list[OfferedGroup], disabled: frozenset[str] = frozenset()) -> list[str]:
    # The server matches group codes case-insensitively, so the check does too.
    have = {g.code.lower() for g in offered}
    words = []
    for g in settings.service_groups:
        code = g.code.lower()
        if code in have:
            continue
        if code in disabled:
            words.append(f"Group '{g.code}' is switched off in this SortedPRO account: scans with it will be refused.")
        else:
            words.append(f"Group '{g.code}' is not in this SortedPRO account: scans with it will be refused.")
    return words


def _client_of(source: Any) -> tuple[api.SortedProClient, CancelToken | None]:
    """A Desk (its client and closing token) or a SortedProClient."""
    if isinstance(source, api.SortedProClient):
        return source, None
    return source.client(), getattr(source, "closing", None)


def sync_groups(desk_or_client: Any, settings: Any, state: Any, *,
                timeout: float = SYNC_TIMEOUT_S, now: datetime | None = None) -> GroupSync:
    """Fetch the account's groups, remember them for this API origin, and say what to offer.

    Never raises for anything the network, the account or the disk can do: the answer says it."""
    store = _state_store(state)
    origin = getattr(desk_or_client, "origin", None) or _origin_of(settings, None)
    try:
        client, closing = _client_of(desk_or_client)
        token = closing.child(timeout=timeout) if closing is not None else CancelToken(timeout=timeout)
        listed = client.list_service_groups(cancel=token)
    except api.Unauthorized as exc:
        return _refused(settings, store, origin, _short(exc, "SortedPRO refused this API key for listing groups"))
    except api.UnexpectedAnswer as exc:
        if exc.status >= 500:  # a proxy's or gateway's error page: SortedPRO itself was not heard
            return _unreachable(settings, store, origin, exc)
        return _refused(settings, store, origin, _short(exc, "SortedPRO's answer was not a group list"))
    except (api.NotFound, api.Refused) as exc:
        return _refused(settings, store, origin, _short(exc, "SortedPRO does not offer the group list to this key"))
    except (api.NotSent, api.InDoubt, api.ServerError, api.RateLimited) as exc:
        return _unreachable(settings, store, origin, exc)
    except DeskError as exc:  # no key yet, a bad address: the desk is not ready to ask
        return _offline(settings, store.load(), origin, f"The account was not asked: {exc.message}", "not-asked")
    except Exception as exc:  # a bug must not empty the dropdown
        log.exception("group sync failed")
        return _offline(settings, store.load(), origin, f"The account's groups could not be fetched ({explain(exc)}).",
                        "offline")
    offered = [OfferedGroup(g.reference, g.name or g.reference, ACCOUNT) for g in listed if g.enabled]
    disabled = frozenset(g.reference.lower() for g in listed if not g.enabled)
    if not offered:
        why = ("This SortedPRO account lists no service groups that are switched on."
               if listed else "This SortedPRO account lists no service groups.")
        return _offline(settings, DeskState(), origin, why, "empty")
    when = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)  # as kept in state.json
    note = _remember(store, origin, KnownGroups(when.isoformat(timespec="seconds"),
                                                [(g.code, g.name) for g in offered]))
    return GroupSync(offered, ACCOUNT, note, _missing(settings, offered, disabled), when)


def _unreachable(settings: Any, store: StateStore, origin: str, exc: BaseException) -> GroupSync:
    return _offline(settings, store.load(), origin, f"SortedPRO could not be reached ({_short(exc, 'offline')}).",
                    "offline")


def _refused(settings: Any, store: StateStore, origin: str, why: str) -> GroupSync:
    when = datetime.now(UTC).isoformat(timespec="seconds")
    # The last list is dropped: a key that may not list groups is not shown another time's list.
    _remember(store, origin, KnownGroups(when, [], refused=why))
    groups = _settings_groups(settings)
    note = f"This account does not list its service groups ({why}); using the groups in Settings."
    if not groups:
        note += " There are none yet: add them in Settings (Service groups)."
    return GroupSync(groups, SETTINGS, note, [], None, "refused")


def _remember(store: StateStore, origin: str, known: KnownGroups) -> str | None:
    def put(desk_state: DeskState) -> None:
        desk_state.known_groups[origin] = known
    try:
        store.update(put)
    except OSError as exc:
        words = (f"The group list could not be kept for the next start ({exc.strerror or exc}); "
                 "it is used for now.")
        log.warning(words)
        return words
    return None


def _short(exc: BaseException, fallback: str) -> str:
    text = str(exc).strip().rstrip(".") or fallback
    return text[:300]
