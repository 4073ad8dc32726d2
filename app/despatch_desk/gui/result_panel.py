"""The large result panel: the latest scan's result, readable from two metres.

Colour plus a big symbol and word for every state (✓ ALLOCATED, ! ALREADY ALLOCATED,
✕ NOT ALLOCATED, ? IN DOUBT — DO NOT SHIP ...). Errors stay until acknowledged (Esc) or replaced
by the next scan: nothing here ever dismisses itself. ``extra_lines`` takes whatever later
features add beside a result (label printed, expected delivery date, price).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core import Outcome, OutcomeKind
from . import theme
from .theme import Look


def _font(base: QFont, scale: float, bold: bool = False) -> QFont:
    font = QFont(base)
    font.setPointSizeF(max(base.pointSizeF(), 9.0) * scale)
    font.setBold(bold)
    return font


class ResultPanel(QFrame):
    painted = Signal()  # after each paint (benchmarks: Enter -> result on screen)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultPanel")
        self.setAccessibleName("Result of the latest scan")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        base = self.font()
        self._word = QLabel(self)
        self._word.setFont(_font(base, 3.0, bold=True))
        self._headline = QLabel(self)
        self._headline.setFont(_font(base, 2.3, bold=True))
        self._headline.setWordWrap(True)
        self._reference = QLabel(self)
        self._reference.setFont(_font(base, 1.5, bold=True))
        self._reference.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self._tracking = QLabel(self)
        self._tracking.setFont(_font(base, 1.4))
        self._message = QLabel(self)
        self._message.setFont(_font(base, 1.15))
        self._message.setWordWrap(True)
        self._extra = QLabel(self)
        self._extra.setFont(_font(base, 1.15))
        self._extra.setWordWrap(True)
        self._hint = QLabel(self)
        self._hint.setFont(_font(base, 1.0))
        self._labels = (self._word, self._headline, self._reference, self._tracking, self._message,
                        self._extra, self._hint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.setSpacing(6)
        for label in self._labels:
            label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
            layout.addWidget(label)
        layout.addStretch(1)
        self._look: Look = theme.IDLE
        self._palette_look: Look | None = None
        self.outcome: Outcome | None = None
        self.reference: str | None = None
        self.job_id: int | None = None
        self.paint_count = 0
        self.last_paint_at = 0.0
        self.show_idle()

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> str:
        return self._look.key

    @property
    def look(self) -> Look:
        return self._look

    @property
    def needs_acknowledgement(self) -> bool:
        return self._look.sound in ("failure", "warning") or self._look is theme.CRASHED

    def text(self) -> str:
        """Everything the panel says, as plain text (tests, screen readers)."""
        return "\n".join(label.text() for label in self._labels if label.text())

    # ------------------------------------------------------------------ showing things
    def show_idle(self, hint: str = "Scan a consignment barcode. Enter or Tab ends a scan.", *,
                  word: str = "READY") -> None:
        self._set(theme.IDLE, word=word, headline="", reference="", tracking="", message=hint,
                  extra=(), job_id=None, outcome=None, reference_value=None)

    def show_allocating(self, reference: str, group: str, job_id: int | None = None, queued: bool = False) -> None:
        look = theme.QUEUED if queued else theme.ALLOCATING
        self._set(look, word=f"{look.symbol} {'Waiting to allocate' if queued else 'Allocating'} {reference}",
                  headline="", reference=f"Service group: {group}", tracking="",
                  message="The field is ready: you can scan the next consignment.",
                  extra=(), job_id=job_id, outcome=None, reference_value=reference)

    def show_duplicate(self, reference: str, job_id: int | None) -> None:
        self._set(theme.DUPLICATE, word=f"… {reference}", headline="Already being allocated",
                  reference="", tracking="", message="That consignment was just scanned: its result will show here.",
                  extra=(), job_id=job_id, outcome=None, reference_value=reference)

    def show_outcome(self, outcome: Outcome, job_id: int | None = None, extra_lines: Sequence[str] = ()) -> None:
        look = theme.look_for(outcome.kind)
        ref = outcome.reference or _shown_raw(outcome.raw_scan)
        group_bit = f" · group {outcome.group}" if outcome.group else ""
        if outcome.kind in (OutcomeKind.ALLOCATED, OutcomeKind.ALREADY_ALLOCATED):
            headline = outcome.service_text or "a carrier service"
            if outcome.kind is OutcomeKind.ALREADY_ALLOCATED:
                headline = f"to {headline}"
            tracking = ("Tracking " + ", ".join(outcome.tracking_references)) if outcome.tracking_references else ""
            message = outcome.message if outcome.kind is OutcomeKind.ALREADY_ALLOCATED or outcome.recovered else ""
        else:
            headline = _headline_for(outcome)
            tracking = ""
            message = outcome.message
        extra = list(extra_lines)
        if outcome.server_message and outcome.kind not in (OutcomeKind.ALLOCATED,) and \
                outcome.server_message not in (outcome.message or ""):
            extra.append(f"SortedPRO said: {outcome.server_message}")
        if outcome.correlation_id and outcome.kind is not OutcomeKind.ALLOCATED:
            extra.append(f"Correlation id: {outcome.correlation_id}")
        self._set(look, word=f"{look.symbol} {look.word}", headline=headline,
                  reference=f"{ref}{group_bit}" if ref else group_bit.strip(" ·"), tracking=tracking,
                  message=message, extra=extra, job_id=job_id, outcome=outcome, reference_value=outcome.reference)

    def show_message(self, look: Look, word: str, headline: str = "", message: str = "") -> None:
        self._set(look, word=word, headline=headline, reference="", tracking="", message=message, extra=(),
                  job_id=None, outcome=None, reference_value=None)

    def set_extra_lines(self, lines: Sequence[str]) -> None:
        self._extra.setText("\n".join(lines))
        self._extra.setVisible(bool(lines))

    def acknowledge(self) -> bool:
        """Esc: clear a shown result (error or not). Returns True if something was cleared."""
        if self._look in (theme.IDLE, theme.ALLOCATING, theme.QUEUED, theme.DUPLICATE):
            return False
        self.show_idle()
        return True

    # ------------------------------------------------------------------ internals
    def _set(self, look: Look, *, word: str, headline: str, reference: str, tracking: str, message: str,
             extra: Sequence[str], job_id: int | None, outcome: Outcome | None, reference_value: str | None) -> None:
        self._look = look
        self.outcome = outcome
        self.job_id = job_id
        self.reference = reference_value
        hint = "Esc: acknowledge" if self.needs_acknowledgement else ""
        for label, text in ((self._word, word), (self._headline, headline), (self._reference, reference),
                            (self._tracking, tracking), (self._message, message), (self._hint, hint)):
            label.setText(text)
            label.setVisible(bool(text))
        self.set_extra_lines(extra)
        if look is not self._palette_look:  # children inherit the text colour (cheaper than style sheets)
            palette = self.palette()
            palette.setColor(QPalette.ColorRole.WindowText, QColor(look.foreground))
            self.setPalette(palette)
            self._palette_look = look
        self.setAccessibleDescription(" ".join(t for t in (word, headline, reference, tracking, message) if t))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect())
        painter.fillRect(rect, QColor(self._look.background))
        if self._look.stripes:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            pen = QPen(QColor(self._look.stripes))
            width = max(8.0, self.height() / 14)
            pen.setWidthF(width)
            painter.setPen(pen)
            h = rect.height()
            x = -h
            while x < rect.width():
                painter.drawLine(int(x), int(h), int(x + h), 0)
                x += width * 3
        if self._look is theme.IDLE:
            painter.setPen(QPen(QColor("#B0BEC5"), 2))
            painter.drawRect(rect.adjusted(1, 1, -1, -1))
        painter.end()
        super().paintEvent(event)
        self.paint_count += 1
        self.last_paint_at = time.perf_counter()
        self.painted.emit()


def _headline_for(outcome: Outcome) -> str:
    return {
        OutcomeKind.NOT_ALLOCATED: "Do not ship this consignment",
        OutcomeKind.INVALID_REFERENCE: "Not a consignment reference",
        OutcomeKind.UNAUTHORIZED: "SortedPRO refused the API key",
        OutcomeKind.UNREACHABLE: "SortedPRO could not be reached",
        OutcomeKind.IN_DOUBT: "Answer lost: kept in the in-doubt list to re-check",
    }.get(outcome.kind, "")


def _shown_raw(raw: str) -> str:
    raw = "".join(ch if ch.isprintable() else "·" for ch in raw.strip())
    return f"'{raw[:40]}'" if raw else ""
