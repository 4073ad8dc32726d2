"""The service-group row: the big group choice, its shortcuts hint, the PRODUCTION tag, the sounds switch.

Below it, a warning line when a group configured in Settings is not in the SortedPRO account: it is
flagged before anyone scans with it. The choice is large (readable from the bench) and always shown.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...service_groups import OfferedGroup
from ...settings import ServiceGroupConfig
from .. import theme
from .banner import button
from .result_panel import scaled_font


class GroupRow(QWidget):
    group_changed = Signal(str)   # the chosen group's code ("" when there is none)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Service &group:", self)
        self.label.setFont(scaled_font(self.label.font(), 1.35))
        big = scaled_font(self.label.font(), 1.6, bold=True)  # the active group: read from the bench
        self.combo = QComboBox(self)
        self.combo.setObjectName("groupCombo")
        self.combo.setFont(big)
        self.combo.setAccessibleName("Service group")
        self.combo.setAccessibleDescription("The carrier service group scans are allocated with. "
                                            "Ctrl+1 to Ctrl+9, or Ctrl+Up and Ctrl+Down, switch it.")
        self.combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setMinimumContentsLength(18)
        self.label.setBuddy(self.combo)
        # The chosen group is never cut: the combo keeps its size, the shortcut hint gives way first.
        self.combo.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        hint = QLabel("Ctrl+1…9 · Ctrl+↑/↓", self)
        hint.setStyleSheet("color: #455A64;")
        self.hint = hint
        self.env_tag = QLabel(" PRODUCTION ", self)
        self.env_tag.setObjectName("environmentTag")
        bg, fg, _ = theme.PRODUCTION_TAG
        self.env_tag.setStyleSheet(f"background: {bg}; color: {fg}; font-weight: bold; border-radius: 3px;"
                                   " padding: 2px 6px;")
        self.env_tag.setAccessibleName("Production environment")
        self.env_tag.hide()
        self.sounds_button = button("", "Sounds on or off", self)
        self.sounds_button.setCheckable(True)
        self.sounds_button.setToolTip("Ctrl+Shift+S switches sounds on and off")
        self.warning = QLabel(self)
        self.warning.setObjectName("groupWarning")
        self.warning.setTextFormat(Qt.TextFormat.PlainText)  # group codes come from the settings and the server
        self.warning.setWordWrap(True)
        bg, fg, _ = theme.GROUP_WARNING
        self.warning.setStyleSheet(f"background: {bg}; color: {fg}; font-weight: bold; padding: 4px 8px;"
                                   " border-radius: 3px;")
        self.warning.hide()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        layout = QHBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.combo, hint):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.env_tag)
        layout.addWidget(self.sounds_button)
        outer.addLayout(layout)
        outer.addWidget(self.warning)
        self._count = 0
        self.combo.currentIndexChanged.connect(lambda _i: self.group_changed.emit(self.current()))

    def set_groups(self, groups: Sequence[ServiceGroupConfig | OfferedGroup], chosen: str | None, *,
                   empty_words: str = "No service groups: add them in Settings (Ctrl+,)") -> None:
        """Fill the choice (numbered 1…9 for the Ctrl+digit shortcuts) without announcing a change."""
        combo = self.combo
        combo.blockSignals(True)
        combo.clear()
        for i, group in enumerate(groups):
            combo.addItem(f"{f'{i + 1}  ' if i < 9 else '    '}{group.display}", group.code)
        if not groups:
            combo.addItem(empty_words, "")
        combo.setEnabled(bool(groups))
        index = combo.findData(chosen) if chosen else -1
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)
        self._count = len(groups)
        self._fit_hint()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_hint()

    def _fit_hint(self) -> None:
        """Show the shortcut hint only where it fits whole (the group itself always does)."""
        others = [w for w in (self.label, self.combo, self.env_tag, self.sounds_button) if not w.isHidden()]
        spacing = self.layout().spacing() if self.layout() else 6
        needed = sum(w.sizeHint().width() for w in others) + self.hint.sizeHint().width() + spacing * (len(others) + 2)
        self.hint.setVisible(needed <= self.width())

    def set_warning(self, text: str) -> None:
        """A configured group the account lacks ("" hides the line)."""
        self.warning.setText(f"⚠ {text}" if text else "")
        self.warning.setVisible(bool(text))

    def current_display(self) -> str:
        """The chosen group as the operator reads it (without its 1…9 number)."""
        text = self.combo.currentText() if self.current() else ""
        return text[3:].strip() if text[:1].isdigit() else text.strip()

    def current(self) -> str:
        return self.combo.currentData() or ""

    def select_index(self, index: int) -> None:
        if 0 <= index < self._count:
            self.combo.setCurrentIndex(index)

    def step(self, step: int) -> None:
        if self._count:
            self.combo.setCurrentIndex((self.combo.currentIndex() + step) % self._count)

    def set_sounds(self, on: bool) -> None:
        self.sounds_button.blockSignals(True)
        self.sounds_button.setChecked(on)
        self.sounds_button.blockSignals(False)
        self.sounds_button.setText("♪ Sounds on" if on else "Sounds off")
