"""Desk state that changes while working (the last service group chosen; later printer and batch state).

Kept apart from the configuration in ``state.json``: it is written on every Ctrl+1, so it is
written atomically (temporary file + rename: never half a file) but without fsync. Losing the
last second of state in a power cut costs a group choice, never a setting.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("despatch_desk.state")

STATE_VERSION = 1


@dataclass(slots=True)
class DeskState:
    last_group: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer app wrote: kept, not lost

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "version": STATE_VERSION, "last_group": self.last_group}

    @classmethod
    def from_json(cls, data: Any) -> DeskState:
        if not isinstance(data, dict):
            return cls()
        last = data.get("last_group")
        extra = {k: v for k, v in data.items() if k not in ("version", "last_group")}
        return cls(last_group=last.strip()[:200] if isinstance(last, str) else "", extra=extra)


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
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
