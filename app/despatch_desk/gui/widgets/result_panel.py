"""The large result panel: the latest scan's result, readable from two metres.

Colour plus a big symbol and word for every state (✓ ALLOCATED, ! ALREADY ALLOCATED,
✕ NOT ALLOCATED, ? IN DOUBT — DO NOT SHIP, ■ NOT READY ...). It shows what it is given (a
:class:`~despatch_desk.gui.scan_controller.Ticket`, or the idle state) and never dismisses itself.
Every label is plain text: server and scan text may contain HTML and must never be rendered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontInfo, QFontMetrics, QPainter, QPaintEvent, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...core import Outcome, OutcomeKind
from ...present import plain_tooltip, service_text, shown_scan
from .. import theme
from ..theme import Look, Shown

if TYPE_CHECKING:
    from ..tickets import Ticket

IDLE_HINT = "Scan a consignment barcode. Enter or Tab ends a scan."

# The big word and the carrier/service grow with the panel (read from the bench, two metres away):
# their pixel size is a share of the panel's height, never below the fixed size they had before, and
# shrunk to fit the width; at the floor a text that still does not fit is elided, in full in its tooltip.
WORD_HEIGHT_SHARE = 0.165
SERVICE_OF_WORD = 0.78
MAX_WORD_PX = 140
MIN_FIT_PX = 14


def scaled_font(base: QFont, scale: float, bold: bool = False) -> QFont:
    font = QFont(base)
    font.setPointSizeF(max(base.pointSizeF(), 9.0) * scale)
    font.setBold(bold)
    return font


def plain_label(parent: QWidget, *, wrap: bool = False) -> QLabel:
    """A label that never interprets its text as HTML."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return label


class ResultPanel(QFrame):
    painted = Signal()  # after each paint (benchmarks: Enter -> result on screen)

    def __init__(self, parent: QWidget | None = None, *, scale: float = 1.0) -> None:
        super().__init__(parent)
        self.setObjectName("resultPanel")
        self.setAccessibleName("Result of the latest scan")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        base = self.font()
        self._word = plain_label(self, wrap=True)
        self._word.setFont(scaled_font(base, 3.0 * scale, bold=True))
        self._headline = plain_label(self, wrap=True)
        self._headline.setFont(scaled_font(base, 2.3 * scale, bold=True))
        self._reference = plain_label(self)
        self._reference.setFont(scaled_font(base, 1.5 * scale, bold=True))
        self._tracking = plain_label(self)
        self._tracking.setFont(scaled_font(base, 1.4 * scale))
        self._message = plain_label(self, wrap=True)
        self._message.setFont(scaled_font(base, 1.15 * scale))
        self._extra = plain_label(self, wrap=True)
        self._extra.setFont(scaled_font(base, 1.15 * scale))
        self._hint = plain_label(self)
        self._hint.setFont(scaled_font(base, 1.0 * scale))
        self._labels = (self._word, self._headline, self._reference, self._tracking, self._message,
                        self._extra, self._hint)
        self._word.setWordWrap(False)  # one line, sized to fit (see _fit_fonts)
        self._word_base_px = QFontInfo(self._word.font()).pixelSize()
        self._headline_base_px = QFontInfo(self._headline.font()).pixelSize()
        self._full_texts: dict[int, str] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.setSpacing(6)
        for label in self._labels:
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
            layout.addWidget(label)
        layout.addStretch(1)
        self._look: Look = theme.IDLE
        self._palette_look: Look | None = None
        self.outcome: Outcome | None = None
        self.reference: str | None = None
        self.ticket_id: int | None = None
        self.paint_count = 0
        self.last_paint_at = 0.0
        self.show_idle()

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> Shown:
        return self._look.key

    @property
    def look(self) -> Look:
        return self._look

    @property
    def needs_acknowledgement(self) -> bool:
        return self._look.is_problem

    def text(self) -> str:
        """Everything the panel says, as plain text (tests, screen readers)."""
        return "\n".join(label.text() for label in self._labels if label.text())

    # ------------------------------------------------------------------ showing things
    def show_idle(self, hint: str = IDLE_HINT, *, ready: bool = True) -> None:
        """READY, or NOT READY with the reason (no group chosen, the key refused): the desk's state."""
        if ready:
            self._set(theme.IDLE, word="READY", message=hint)
        else:
            self._set(theme.NOT_READY, word="NOT READY", headline="Scans cannot be allocated yet", message=hint,
                      hint="")

    def show_ticket(self, ticket: Ticket) -> None:
        state = ticket.state
        ref = ticket.reference or ""
        if ticket.outcome is not None:
            self.show_outcome(ticket.outcome, ticket.id, rechecked=ticket.rechecked,
                              extra_lines=_follow_up_lines(ticket))
        elif state in (Shown.QUEUED, Shown.ALLOCATING):  # the list tells queued from running; the panel need not
            look = theme.ALLOCATING
            self._set(look, word=f"{look.symbol} Allocating {ref}", reference=f"Service group: {ticket.group}",
                      message="The field is ready: you can scan the next consignment.", ticket=ticket)
        elif state is Shown.DUPLICATE:
            self._set(theme.DUPLICATE, word=f"… {ref}", headline="Already being allocated",
                      message="That consignment was just scanned: its result will show here.", ticket=ticket)
        elif state is Shown.NOT_READY:
            look = theme.NOT_READY
            self._set(look, word=f"{look.symbol} NOT READY", headline=f"{ref} was not sent",
                      reference=f"Service group: {ticket.group}" if ticket.group else "No service group chosen",
                      message=ticket.message, ticket=ticket)
        else:  # cancelled, closing, crashed
            look = ticket.look
            self._set(look, word=f"{look.symbol} {look.word}".strip(), headline=ref or shown_scan(ticket.raw),
                      message=ticket.message, ticket=ticket)

    def show_outcome(self, outcome: Outcome, ticket_id: int | None = None, extra_lines: Sequence[str] = (), *,
                     rechecked: bool = False) -> None:
        look = theme.look_for(outcome.kind)
        ref = outcome.reference or shown_scan(outcome.raw_scan)
        group_bit = f" · group {outcome.group}" if outcome.group else ""
        service = service_text(outcome.carrier_name or outcome.carrier_reference,
                               outcome.service_name or outcome.service_reference)
        if outcome.kind in (OutcomeKind.ALLOCATED, OutcomeKind.ALREADY_ALLOCATED):
            headline = service or "a carrier service"
            if outcome.kind is OutcomeKind.ALREADY_ALLOCATED:
                headline = f"to {headline}"
            tracking = ("Tracking " + ", ".join(outcome.tracking_references)) if outcome.tracking_references else ""
            message = outcome.message if outcome.kind is OutcomeKind.ALREADY_ALLOCATED or outcome.recovered else ""
        else:
            headline = _headline_for(outcome)
            tracking = ""
            message = outcome.message
        extra = list(extra_lines)
        if rechecked:
            extra.insert(0, "Resolved by a re-check with SortedPRO.")
        if outcome.server_message and outcome.kind is not OutcomeKind.ALLOCATED and \
                outcome.server_message not in (outcome.message or ""):
            extra.append(f"SortedPRO said: {outcome.server_message}")
        if outcome.correlation_id and outcome.kind is not OutcomeKind.ALLOCATED:
            extra.append(f"Correlation id: {outcome.correlation_id}")
        self._set(look, word=f"{look.symbol} {look.word}", headline=headline,
                  reference=f"{ref}{group_bit}" if ref else group_bit.strip(" ·"), tracking=tracking,
                  message=message, extra=extra, outcome=outcome, reference_value=outcome.reference,
                  ticket_id=ticket_id)

    def show_message(self, look: Look, word: str, headline: str = "", message: str = "") -> None:
        self._set(look, word=word, headline=headline, message=message)

    def set_extra_lines(self, lines: Sequence[str]) -> None:
        self._extra.setText("\n".join(lines))
        self._extra.setVisible(bool(lines))

    def add_extra_line(self, line: str) -> None:
        """One more line under the result (an offer such as "Ctrl+P reprints its label")."""
        lines = [t for t in self._extra.text().split("\n") if t]
        if line not in lines:
            self.set_extra_lines([*lines, line])

    # ------------------------------------------------------------------ internals
    def _set(self, look: Look, *, word: str, headline: str = "", reference: str = "", tracking: str = "",
             message: str = "", extra: Sequence[str] = (), outcome: Outcome | None = None,
             reference_value: str | None = None, ticket: Ticket | None = None, ticket_id: int | None = None,
             hint: str | None = None) -> None:
        self._look = look
        self.outcome = outcome
        self.ticket_id = ticket.id if ticket is not None else ticket_id
        self.reference = ticket.reference if ticket is not None else reference_value
        if hint is None:
            hint = "Esc: acknowledge" if look.is_problem else ""
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
        self._full_texts = {id(self._word): word, id(self._headline): headline}
        self._fit_fonts()
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_fonts()

    def _fit_fonts(self) -> None:
        """Size the word and the service to the panel; shrink a text that would not fit the width."""
        margins = self.layout().contentsMargins()
        width = max(1, self.contentsRect().width() - margins.left() - margins.right())
        word_px = max(self._word_base_px, min(MAX_WORD_PX, round(self.height() * WORD_HEIGHT_SHARE)))
        service_px = max(self._headline_base_px, round(word_px * SERVICE_OF_WORD))
        self._fit(self._word, word_px, width, wraps=False)
        self._fit(self._headline, service_px, width, wraps=True)

    def _fit(self, label: QLabel, px: int, width: int, *, wraps: bool) -> None:
        text = self._full_texts.get(id(label), label.text())
        font = QFont(label.font())
        font.setPixelSize(px)
        longest = text if not wraps else max(text.split(), key=lambda w: QFontMetrics(font).horizontalAdvance(w),
                                             default="")
        advance = QFontMetrics(font).horizontalAdvance(longest)
        if not wraps and advance > width:  # one line: shrink until it fits (a wrapped text wraps at words)
            while px > MIN_FIT_PX and QFontMetrics(font).horizontalAdvance(text) > width:
                px = max(MIN_FIT_PX, min(px - 1, int(px * width / max(1, QFontMetrics(font).horizontalAdvance(text)))))
                font.setPixelSize(px)
        elif wraps and advance > width:  # a single word longer than the line: shrink so no word is cut
            while px > MIN_FIT_PX and QFontMetrics(font).horizontalAdvance(longest) > width:
                px -= 1
                font.setPixelSize(px)
        if label.font() != font:
            label.setFont(font)
        metrics = QFontMetrics(font)
        shown = text if wraps else metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
        if shown != label.text():
            label.setText(shown)
        label.setToolTip((plain_tooltip(text) or "") if shown != text else "")

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
        OutcomeKind.NOT_RECORDED: "Nothing was sent: the scan history cannot be written",
    }.get(outcome.kind, "")


def _follow_up_lines(ticket: Ticket) -> list[str]:
    lines = []
    for result in ticket.follow_ups.values():
        if result.words:  # the follow-up's own line: "Printing label…", "… sent to cups://zebra"
            lines.append(result.words)
        elif result.error:
            lines.append(f"{result.name}: {result.error}")
        elif result.value is not None:
            lines.append(f"{result.name}: {result.value}")
    return lines
