"""Coloured strips: the environment banner (DEMO, SANDBOX, CUSTOM API) and the button helper."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from .. import theme


class Banner(QFrame):
    """A coloured strip with plain text; optional diagonal stripes at both ends (DEMO)."""

    def __init__(self, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # a custom host name is not markup
        self.label.setWordWrap(True)
        font = QFont(self.label.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * 1.35)
        font.setBold(True)
        self.label.setFont(font)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setAutoFillBackground(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self.label, 1)
        self._colours: tuple[str, str, str | None] = theme.CUSTOM_BANNER

    def set(self, text: str, colours: tuple[str, str, str | None]) -> None:
        self._colours = colours
        self.label.setText(text)
        self.label.setStyleSheet(f"color: {colours[1]}; background: transparent;")
        self.setAccessibleName(text)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        bg, _fg, stripes = self._colours
        painter.fillRect(self.rect(), QColor(bg))
        if stripes:
            pen = QPen(QColor("#1A1A1A"))
            pen.setWidthF(6)
            painter.setPen(pen)
            h = self.height()
            x = -h
            while x < self.width():
                if x < 40 or x > self.width() - 60:  # stripes at both ends; the words stay readable
                    painter.drawLine(int(x), h, int(x + h), 0)
                x += 18
        painter.end()
        super().paintEvent(event)


def button(text: str, accessible: str, parent: QWidget) -> QPushButton:
    """A push button that never takes the focus from the scan field (menus and shortcuts reach it)."""
    widget = QPushButton(text, parent)
    widget.setAccessibleName(accessible)
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return widget
