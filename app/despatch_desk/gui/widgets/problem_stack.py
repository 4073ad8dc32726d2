"""Problems nobody has acknowledged yet, kept on screen while later scans go on.

A problem (not allocated, in doubt, key refused, unreachable, invalid, not ready, not recorded)
never disappears because a later scan came back green: it moves from the result panel into this
stack, above the panel, in its own colour, with a count. Esc acknowledges the newest one, one at a
time. Each card is plain text (server words may contain HTML).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...present import local_time, shown_reference
from .. import theme
from ..theme import Look
from .result_panel import plain_label, scaled_font

if TYPE_CHECKING:
    from ..tickets import Ticket

MAX_CARDS = 3


class ProblemCard(QFrame):
    """One problem: a coloured strip with the big word, the reference and the reason."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("problemCard")
        self._look: Look = theme.NOT_ALLOCATED
        base = self.font()
        self.word = plain_label(self)
        self.word.setFont(scaled_font(base, 1.7, bold=True))
        self.reference = plain_label(self)
        self.reference.setFont(scaled_font(base, 1.7, bold=True))
        self.message = plain_label(self, wrap=True)
        self.message.setFont(scaled_font(base, 1.05))
        top = QHBoxLayout()
        top.setSpacing(18)
        top.addWidget(self.word)
        top.addWidget(self.reference)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 6, 16, 8)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.message)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)

    def show_problem(self, look: Look, word: str, reference: str, message: str) -> None:
        self._look = look
        self.word.setText(word)
        self.reference.setText(reference)
        self.reference.setVisible(bool(reference))
        self.message.setText(message)
        self.message.setVisible(bool(message))
        for label in (self.word, self.reference, self.message):
            label.setStyleSheet(f"color: {look.foreground}; background: transparent;")
        self.setAccessibleName(" ".join(t for t in (word, reference, message) if t))
        self.update()

    def text(self) -> str:
        return " ".join(t for t in (self.word.text(), self.reference.text(), self.message.text()) if t)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(self._look.background))
        if self._look.stripes:  # in doubt: a stripe at the left edge keeps it apart from a plain red
            painter.fillRect(0, 0, 10, self.height(), QColor(self._look.stripes))
        painter.end()
        super().paintEvent(event)


class ProblemStack(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("problemStack")
        self.setAccessibleName("Problems not yet acknowledged")
        self.setStyleSheet("#problemStack { background: #FFEBEE; border: 3px solid #8E0000; }")
        self.header = QLabel(self)
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.header.setFont(scaled_font(self.font(), 1.25, bold=True))
        self.header.setStyleSheet(f"color: {theme.ATTENTION[1]};")
        self.more = QLabel(self)
        self.more.setTextFormat(Qt.TextFormat.PlainText)
        self.more.setStyleSheet(f"color: {theme.ATTENTION[1]}; font-weight: bold;")
        self.cards = [ProblemCard(self) for _ in range(MAX_CARDS)]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.header)
        for card in self.cards:
            layout.addWidget(card)
        layout.addWidget(self.more)
        self.count = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.hide()

    def show_problems(self, tickets: Sequence[Ticket], notices: Sequence[str] = ()) -> None:
        """``tickets`` oldest first (the panel's own problem is left out by the caller). Only the top cards
        are worded: a shift that never presses Esc must not make every scan slower."""
        entries: list[tuple[Look, str, str, str]] = []
        for text in list(notices)[-MAX_CARDS:][::-1]:
            entries.append((theme.NOT_READY, f"{theme.NOT_READY.symbol} PROBLEM", "", text))
        for ticket in list(tickets[-MAX_CARDS:])[::-1]:  # newest first: the one Esc acknowledges is on top
            if len(entries) >= MAX_CARDS:
                break
            look = ticket.look
            message = ticket.outcome.message if ticket.outcome is not None else ticket.message
            follow_up = ticket.follow_up_problem  # LABEL NOT PRINTED: the allocation stands, the parcel lacks a label
            if follow_up is not None:
                look, message = follow_up.look or look, follow_up.problem or message
            when = local_time(ticket.scanned_at)
            entries.append((look, f"{look.symbol} {look.word}", shown_reference(ticket.reference, ticket.raw),
                            f"{when} · {message}" if when else message))
        shown = (tuple(entries), len(notices) + len(tickets))
        if shown == getattr(self, "_shown", None):  # problems_changed fires several times per scan: nothing new
            return
        self._shown = shown
        self.count = len(notices) + len(tickets)
        for card, entry in zip(self.cards, entries, strict=False):
            card.show_problem(*entry)
        for i, card in enumerate(self.cards):
            card.setVisible(i < len(entries))
        hidden = self.count - len(entries)
        self.more.setText(f"… and {hidden} older problem{'s' if hidden != 1 else ''} below these" if hidden > 0 else "")
        self.more.setVisible(hidden > 0)
        if self.count:
            n = self.count
            self.header.setText(f"⚠ {n} earlier problem{'s' if n != 1 else ''} not yet acknowledged — "
                                "do not ship until dealt with · Esc acknowledges the top one")
        self.setVisible(bool(self.count))

    def text(self) -> str:
        """What the stack says (tests, screen readers)."""
        if not self.count:
            return ""
        lines = [self.header.text(), *(c.text() for c in self.cards if not c.isHidden())]
        if self.more.text():
            lines.append(self.more.text())
        return "\n".join(lines)
