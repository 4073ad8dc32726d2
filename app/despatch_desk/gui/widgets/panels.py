"""The smaller panels of the window: first run (no key yet), the in-doubt bar, the environment marks."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ... import APP_NAME
from ...core import OutcomeKind
from ...present import plural
from .. import theme
from .banner import button


class FirstRunPanel(QFrame):
    """Shown while the desk cannot allocate: why, and the way out (Settings, or demo mode)."""

    settings_requested = Signal()
    demo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("firstRunPanel")
        self.setStyleSheet(
            f"#firstRunPanel {{ background: {theme.FIRST_RUN[0]}; border: 2px solid #FFB000; border-radius: 6px; }}"
            f" #firstRunPanel QLabel {{ color: {theme.FIRST_RUN[1]}; }}")
        layout = QVBoxLayout(self)
        self.title = QLabel("No API key yet", self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = QFont(self.title.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.text = QLabel(self)
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # the reason may quote a server or keyring
        self.text.setWordWrap(True)
        row = QHBoxLayout()
        self.settings_button = button("Open &settings…", "Open settings to add the API key", self)
        self.demo_button = button("Try &demo mode", "Try demo mode with the built-in sandbox", self)
        row.addWidget(self.settings_button)
        row.addWidget(self.demo_button)
        row.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addLayout(row)
        self.settings_button.clicked.connect(self.settings_requested)
        self.demo_button.clicked.connect(self.demo_requested)
        self.hide()

    def show_problem(self, kind: OutcomeKind, message: str, *, offer_demo: bool) -> None:
        if kind is OutcomeKind.UNAUTHORIZED:
            self.title.setText("No API key yet: scans cannot be allocated")
            self.text.setText(
                f"{message}\n\nA supervisor pastes the SortedPRO API key once in Settings; it is kept in this "
                "computer's secure keyring. Or try the desk first in demo mode: it runs a built-in sandbox "
                "with demo consignments, and nothing is shipped.")
        else:
            self.title.setText("The SortedPRO address is not usable")
            self.text.setText(message)
        self.demo_button.setVisible(offer_demo)
        self.show()


class InDoubtBar(QFrame):
    """"? 2 scans in doubt: do not ship them until re-checked." with the re-check button."""

    recheck_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inDoubtBar")
        self.setStyleSheet("#inDoubtBar { background: #EDE7F6; border: 2px solid #4A148C; }"
                           " #inDoubtBar QLabel { color: #311B92; font-weight: bold; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.button = button("&Re-check in-doubt scans", "Re-check every in-doubt scan with SortedPRO", self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.button.clicked.connect(self.recheck_requested)
        self.count = 0
        self.hide()

    def set_count(self, count: int) -> None:
        self.count = count
        if count:
            self.label.setText(f"? {plural(count, 'scan')} in doubt: do not ship "
                               f"{'them' if count != 1 else 'it'} until re-checked.")
        self.setVisible(bool(count))

    def set_busy(self, busy: bool) -> None:
        self.button.setEnabled(not busy)
        self.button.setText("Re-checking…" if busy else "&Re-check in-doubt scans")


def environment_mark(environment: str, base_url: str, demo: bool) -> tuple[str, tuple[str, str, str | None], str]:
    """(banner text or "" for production, banner colours, window title) for what the desk talks to."""
    if demo:
        return "DEMO — built-in sandbox, nothing is shipped", theme.DEMO_BANNER, f"{APP_NAME} — DEMO (built-in sandbox)"
    if environment == "sandbox":
        return ("SANDBOX — SortedPRO test account: nothing is sent to carriers", theme.SANDBOX_BANNER,
                f"{APP_NAME} — SANDBOX")
    if environment == "custom":
        host = urlsplit(base_url).netloc or base_url
        return f"CUSTOM API — {host}", theme.CUSTOM_BANNER, f"{APP_NAME} — {host}"
    return "", theme.PRODUCTION_TAG, APP_NAME
