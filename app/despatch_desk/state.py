"""Desk state that changes while working: the last service group chosen, and the last list of
service groups each API origin gave (so a desk starts offline with its groups).

Kept apart from the configuration in ``state.json``: it is written on every Ctrl+1, so it is
written atomically (temporary file + rename: never half a file) but without fsync. Losing the
last second of state in a power cut costs a group choice, never a setting. Writers change one
part with :meth:`StateStore.update` (read, change, write under a lock), so the group choice and
the group list never write over each other.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("despatch_desk.state")

STATE_VERSION = 1


MAX_KNOWN_GROUPS = 200


@dataclass(slots=True)
class KnownGroups:
    """What one API origin's ``GET /servicegroups`` gave last time (or that it refused listing)."""

    fetched_at: str                                # ISO 8601, UTC
    groups: list[tuple[str, str]] = field(default_factory=list)  # (code, name), the account's order
    refused: str | None = None                     # plain words: the account does not list its groups

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"fetched_at": self.fetched_at,
                                "groups": [{"code": c, "name": n} for c, n in self.groups]}
        if self.refused:
            data["refused"] = self.refused
        return data

    @classmethod
    def from_json(cls, data: Any) -> KnownGroups | None:
        """Tolerant: a hand-edited or damaged entry is dropped, never trusted half-read."""
        if not isinstance(data, dict) or not isinstance(data.get("fetched_at"), str):
            return None
        groups = []
        items = data.get("groups")
        for item in (items if isinstance(items, list) else [])[:MAX_KNOWN_GROUPS]:
            if isinstance(item, dict) and isinstance(item.get("code"), str) and item["code"].strip():
                name = item.get("name")
                groups.append((item["code"].strip()[:100], (name if isinstance(name, str) else "").strip()[:200]))
        refused = data.get("refused")
        return cls(data["fetched_at"][:40], groups, refused[:500] if isinstance(refused, str) else None)


@dataclass(slots=True)
class DeskState:
    last_group: str = ""
    known_groups: dict[str, KnownGroups] = field(default_factory=dict)  # API origin -> last list
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer app wrote: kept, not lost

    def to_json(self) -> dict[str, Any]:
        data = {**self.extra, "version": STATE_VERSION, "last_group": self.last_group}
        if self.known_groups:
            data["known_groups"] = {origin: k.to_json() for origin, k in self.known_groups.items()}
        return data

    @classmethod
    def from_json(cls, data: Any) -> DeskState:
        if not isinstance(data, dict):
            return cls()
        last = data.get("last_group")
        known: dict[str, KnownGroups] = {}
        raw_known = data.get("known_groups")
        for origin, entry in (raw_known.items() if isinstance(raw_known, dict) else ()):
            parsed = KnownGroups.from_json(entry)
            if isinstance(origin, str) and parsed is not None:
                known[origin] = parsed
        extra = {k: v for k, v in data.items() if k not in ("version", "last_group", "known_groups")}
        return cls(last_group=last.strip()[:200] if isinstance(last, str) else "", known_groups=known, extra=extra)


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._update_lock = threading.RLock()
        self.exists_on_disk = False

    def load(self) -> DeskState:
        """Never raises: an unreadable or damaged state file is only a forgotten group choice."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self.exists_on_disk = False
            return DeskState()
        except OSError as exc:
            log.warning("state file %s unreadable (%s); starting from defaults", self.path, exc.strerror)
            return DeskState()
        self.exists_on_disk = True
        try:
            return DeskState.from_json(json.loads(data.decode("utf-8-sig", errors="replace")))
        except (ValueError, RecursionError):
            log.warning("state file %s damaged; starting from defaults", self.path)
            return DeskState()

    def update(self, change: Callable[[DeskState], None]) -> DeskState:
        """Read what is on disk now, apply ``change``, write it back: one part changes, the rest stays.

        Raises OSError for the caller to report."""
        with self._update_lock:
            state = self.load()
            change(state)
            self.save(state)
            return state

    def save(self, state: DeskState) -> None:
        """Atomic, cheap (no fsync). Raises OSError for the caller to report."""
        text = json.dumps(state.to_json(), indent=2, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, self.path)
            except OSError:
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass
                raise
            self.exists_on_disk = True
