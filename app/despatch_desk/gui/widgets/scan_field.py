"""The one big scan field. A USB scanner types like a keyboard and ends with Enter, Tab or nothing.

* Enter, keypad Enter **and** Tab end a scan: the text is handed on, the field is cleared at once.
  Tab is caught in :meth:`event` so it never moves the focus away.
* A scanner set to send no terminator: once the text is a complete reference and the keys pause
  for ``auto_submit_ms`` (300 ms by default; scanners type a character every few ms), it is a scan.
  An incomplete or foreign text is never submitted this way: it waits for Enter or Tab.
* Esc acknowledges the result on screen (``acknowledge``).
* Ctrl+1…9 choose a service group, Ctrl+Up / Ctrl+Down (and Ctrl+PgUp / Ctrl+PgDown) step
  through them: plain arrows stay the field's own. The field accepts these keys before any
  window shortcut so a scanner-speed burst is never split between widgets.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from ...references import REFERENCE_RE, normalise_scan

_TERMINATORS = {Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab, Qt.Key.Key_Backtab}
_DIGITS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(1, 10)}
_STEP = {Qt.Key.Key_Up: -1, Qt.Key.Key_PageUp: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_PageDown: 1}


def _ctrl_only(event: QKeyEvent) -> bool:
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return mods == Qt.KeyboardModifier.ControlModifier


class ScanField(QLineEdit):
    scanned = Signal(str)              # the raw text of one scan (never empty)
    acknowledge = Signal()             # Esc
    group_index_requested = Signal(int)  # Ctrl+1..9 -> 0..8
    group_step_requested = Signal(int)   # Ctrl+Up/Down -> -1/+1

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

    def _text_edited(self, text: str) -> None:
        # Every keystroke restarts the pause, so a scanner burst is never cut in the middle.
        if self.auto_submit_ms and REFERENCE_RE.fullmatch(normalise_scan(text)):
            self._pause.start()
        else:
            self._pause.stop()

    def _pause_ended(self) -> None:
        if REFERENCE_RE.fullmatch(normalise_scan(self.text())):
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

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in _TERMINATORS:
            self._end_scan()
            return
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
        if text.strip():
            self.scans_ended += 1
            self.scanned.emit(text)
