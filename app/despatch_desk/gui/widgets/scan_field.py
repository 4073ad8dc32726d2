"""The one big scan field. A USB scanner types like a keyboard and ends with Enter, Tab, a Linefeed or nothing.

* Enter, keypad Enter, Tab **and** Linefeed (LF, also sent as Ctrl+J) end a scan: the text is handed
  on, the field is cleared at once. Tab is caught in :meth:`event` so it never moves the focus away.
* A scanner set to send no terminator: once the text is a complete reference and the keys pause
  for ``auto_submit_ms`` (300 ms by default), it is a scan, but only if every key of the text came
  at scanner speed (at most ``SCANNER_GAP_MS`` after the previous one, by the keys' own timestamps):
  a person typing a reference by hand is never cut off by a pause. An incomplete or foreign text is
  never submitted this way: it waits for Enter or Tab.
* Several references pasted at once (spaces, commas, new lines between them) are not one too-long
  scan: ``several_scanned`` offers them as a batch (:func:`offer_batch`).
* Esc acknowledges the result on screen (``acknowledge``).
* Ctrl+1…9 choose a service group, Ctrl+Up / Ctrl+Down (and Ctrl+PgUp / Ctrl+PgDown) step
  through them: plain arrows stay the field's own. The field accepts these keys before any
  window shortcut so a scanner-speed burst is never split between widgets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import QLineEdit, QMessageBox, QWidget

from ...references import REFERENCE_RE, normalise_scan

_TERMINATORS = {Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab, Qt.Key.Key_Backtab}
_DIGITS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(1, 10)}
_STEP = {Qt.Key.Key_Up: -1, Qt.Key.Key_PageUp: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_PageDown: 1}
_LINE_ENDS = ("\n", "\r")          # a Linefeed key (or Ctrl+J / Ctrl+M) carries these as its text
SCANNER_GAP_MS = 30                 # keys further apart than this were typed by a person
_SEPARATORS = re.compile(r"[\s,;]+")


def several_references(text: str) -> list[str]:
    """The pieces of ``text`` when it holds more than one reference (pasted), else []."""
    pieces = [p for p in _SEPARATORS.split(text) if p]
    if len(pieces) < 2 or sum(1 for p in pieces if REFERENCE_RE.fullmatch(normalise_scan(p))) < 2:
        return []
    return pieces


def _ctrl_only(event: QKeyEvent) -> bool:
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return mods == Qt.KeyboardModifier.ControlModifier


class ScanField(QLineEdit):
    scanned = Signal(str)              # the raw text of one scan (never empty)
    acknowledge = Signal()             # Esc
    group_index_requested = Signal(int)  # Ctrl+1..9 -> 0..8
    group_step_requested = Signal(int)   # Ctrl+Up/Down -> -1/+1
    several_scanned = Signal(list)       # several references at once (a paste): offered as a batch

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scanField")
        self.setAccessibleName("Scan field")
        self.setAccessibleDescription(
            "Scan or type a consignment reference such as EC-000-05B-MMA, then Enter or Tab.")
        self.setPlaceholderText("Scan a consignment barcode (EC-xxx-xxx-xxx)")
        self.setClearButtonEnabled(False)
        self.setMaxLength(400)
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * 2.2)
        font.setBold(True)
        self.setFont(font)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.scans_ended = 0
        self._last_key_ms = 0          # the previous key's timestamp (0: none yet in this text)
        self._by_hand = False          # a key of this text came slower than scanner speed
        self._pause = QTimer(self)
        self._pause.setSingleShot(True)
        self._pause.timeout.connect(self._pause_ended)
        self.set_auto_submit_ms(300)
        self.textEdited.connect(self._text_edited)

    def set_auto_submit_ms(self, ms: int) -> None:
        """0 turns auto-submit off; otherwise the pause after a complete reference that ends a scan."""
        self.auto_submit_ms = max(0, int(ms))
        self._pause.stop()
        if self.auto_submit_ms:
            self._pause.setInterval(self.auto_submit_ms)

    @property
    def typed_by_hand(self) -> bool:
        """Some key of the current text came more than SCANNER_GAP_MS after the previous one."""
        return self._by_hand

    def _text_edited(self, text: str) -> None:
        several = several_references(text)
        if several:
            self._pause.stop()
            self._reset_speed()
            self.clear()
            self.several_scanned.emit(several)
            return
        if not text:
            self._reset_speed()
        # Every keystroke restarts the pause, so a scanner burst is never cut in the middle.
        if self.auto_submit_ms and not self._by_hand and REFERENCE_RE.fullmatch(normalise_scan(text)):
            self._pause.start()
        else:
            self._pause.stop()

    def _pause_ended(self) -> None:
        if not self._by_hand and REFERENCE_RE.fullmatch(normalise_scan(self.text())):
            self._end_scan()

    # Tab never reaches QWidget's focus chain: it ends a scan.
    def event(self, event: QEvent) -> bool:
        etype = event.type()
        if etype == QEvent.Type.KeyPress:
            key_event: QKeyEvent = event  # type: ignore[assignment]
            if key_event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
                self._end_scan()
                return True
        elif etype == QEvent.Type.ShortcutOverride:
            key_event = event  # type: ignore[assignment]
            key = key_event.key()
            if key in _TERMINATORS or key == Qt.Key.Key_Escape or (
                    _ctrl_only(key_event) and (key in _DIGITS or key in _STEP)):
                event.accept()  # handled here, not by a window shortcut
                return True
        return super().event(event)

    def _note_key_time(self, event: QKeyEvent) -> None:
        # The key's own timestamp (window-system ms), not when we got round to it: a busy GUI thread
        # must not turn a scanner into a person. Synthetic events (timestamp 0) say nothing: ignored.
        stamp = int(event.timestamp())
        if not stamp:
            return
        if self._last_key_ms and self.text() and stamp - self._last_key_ms > SCANNER_GAP_MS:
            self._by_hand = True
        self._last_key_ms = stamp

    def _reset_speed(self) -> None:
        self._last_key_ms = 0
        self._by_hand = False

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in _TERMINATORS or (event.text() in _LINE_ENDS and event.text()):
            self._end_scan()
            return
        if event.text() and event.text().isprintable():
            self._note_key_time(event)
        if key == Qt.Key.Key_Escape:
            self.acknowledge.emit()
            return
        if _ctrl_only(event):
            if key in _DIGITS:
                self.group_index_requested.emit(_DIGITS[key] - 1)
                return
            if key in _STEP:
                self.group_step_requested.emit(_STEP[key])
                return
        super().keyPressEvent(event)

    def _end_scan(self) -> None:
        self._pause.stop()
        text = self.text()
        self.clear()  # ready for the next scan at once
        self._reset_speed()
        several = several_references(text)
        if several:
            self.several_scanned.emit(several)
            return
        if text.strip():
            self.scans_ended += 1
            self.scanned.emit(text)


def offer_batch(window: Any, texts: list[str], *, confirm: Callable[[Any, int], bool] | None = None) -> str | None:
    """Several references at once: "N references pasted — allocate them as a batch?". Yes: the Batch window
    pre-filled (its preview counts them, Run sends them), or without one a quiet batch at once.
    Returns the batch id when one was started here."""
    ask = confirm or getattr(window, "confirm_batch", None) or _ask_batch
    if not ask(window, len(texts)):
        window.focus_scan()
        return None
    try:
        from .. import batch_window
    except ImportError:  # a build without the Batch window
        batch_window = None
    opener = getattr(batch_window, "open_batch", None)
    if callable(opener):
        opener(window).set_text("\n".join(texts))
        window.statusBar().showMessage(f"{len(texts)} references in the Batch window: check them, then Run.", 8000)
        return None
    batch = window.controller.submit_batch(texts)
    window.statusBar().showMessage(f"{len(texts)} references sent as a batch.", 8000)
    window.focus_scan()
    return batch


def _ask_batch(window: Any, count: int) -> bool:
    answer = QMessageBox.question(window, "Several references", f"{count} references pasted — allocate them as a "
                                  "batch?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes
