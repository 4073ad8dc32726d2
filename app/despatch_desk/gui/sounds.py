"""Distinct success / warning / failure sounds, never blocking the GUI thread.

Windows: ``winsound.PlaySound(..., SND_FILENAME | SND_ASYNC)`` (a new sound replaces the old);
macOS: ``afplay``; Linux: ``paplay`` or ``aplay`` if installed. Otherwise ``QApplication.beep()``
for warnings and failures, silence for success. At most one player process at a time: the newest
sound wins, an older one still playing is stopped. No QtMultimedia (not in PySide6-Essentials).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

from .. import assets

log = logging.getLogger("despatch_desk.gui.sounds")

SOUNDS = ("success", "warning", "failure", "group")  # group: the service group was changed


class SoundPlayer:
    def __init__(self, enabled: bool = True, sounds_dir: Path | None = None) -> None:
        self.enabled = enabled
        self.sounds_dir = sounds_dir or assets.sounds_dir()
        self._proc: subprocess.Popen | None = None
        self._command: list[str] | None = None
        self._method = self._choose()
        self.played: list[str] = []  # what was asked for (tests, self-test); bounded

    @property
    def method(self) -> str:
        return self._method

    def _choose(self) -> str:
        if sys.platform == "win32":
            return "winsound"
        if sys.platform == "darwin" and shutil.which("afplay"):
            self._command = ["afplay"]
            return "afplay"
        for tool in ("paplay", "aplay"):
            path = shutil.which(tool)
            if path:
                self._command = [path] if tool == "paplay" else [path, "-q"]
                return tool
        return "beep"

    def path(self, name: str) -> Path:
        return self.sounds_dir / f"{name}.wav"

    def play(self, name: str | None) -> None:
        """Start ``name`` (success, warning, failure) and return at once."""
        if not name or not self.enabled:
            return
        self.played.append(name)
        del self.played[:-50]
        try:
            if self._method == "winsound":
                import winsound  # type: ignore[import-not-found]

                winsound.PlaySound(str(self.path(name)), winsound.SND_FILENAME | winsound.SND_ASYNC
                                   | winsound.SND_NODEFAULT)
            elif self._command is not None:
                self._stop_current()
                wav = self.path(name)
                if wav.is_file():
                    self._proc = subprocess.Popen([*self._command, str(wav)], stdin=subprocess.DEVNULL,
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            elif name != "success":
                from PySide6.QtWidgets import QApplication

                QApplication.beep()
        except Exception as exc:  # a missing sound device must never stop a scan
            log.warning("sound %s could not be played: %s", name, exc)

    def _stop_current(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.terminate()
            except OSError:
                pass

    def close(self) -> None:
        self._stop_current()
