"""The window's small message boxes: closing with scans in flight, shortcuts, about. Plain text only."""

from __future__ import annotations

import enum

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from .. import APP_NAME, __version__

HINT = ("Enter or Tab ends a scan  ·  Esc acknowledges  ·  Ctrl+1…9 or Ctrl+↑/↓ switch group  ·  "
        "Ctrl+P reprint  ·  Ctrl+Z undo  ·  Ctrl+B batch  ·  Ctrl+H history")


class CloseChoice(enum.StrEnum):
    WAIT = "wait"          # let every scan finish, then close
    STOP = "stop"          # stop waiting (retries, polling), record what is known, then close
    CANCEL = "cancel"      # keep working


def ask_close(parent: QWidget, n: int) -> CloseChoice:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(APP_NAME)
    box.setText(f"{n} scan{'s are' if n != 1 else ' is'} still being allocated.")
    box.setInformativeText("Wait for the results, or close now: a scan whose answer cannot be confirmed is "
                           "kept in the history as in doubt. Nothing is lost either way.")
    wait = box.addButton("&Wait, then close", QMessageBox.ButtonRole.AcceptRole)
    stop = box.addButton("&Close anyway", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("&Keep working", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(wait)
    box.setEscapeButton(keep)
    box.exec()
    clicked = box.clickedButton()
    return CloseChoice.WAIT if clicked is wait else CloseChoice.STOP if clicked is stop else CloseChoice.CANCEL


def show_shortcuts(parent: QWidget) -> None:
    QMessageBox.information(parent, "Keyboard shortcuts", HINT.replace("  ·  ", "\n") +
                            "\nCtrl+R re-check in-doubt scans\nCtrl+Shift+S sounds on/off\nF2 back to the "
                            "scan field\nCtrl+Q quit")


def show_about(parent: QWidget, base_url: str, workstation: str, history_file: object) -> None:
    box = QMessageBox(QMessageBox.Icon.Information, f"About {APP_NAME}",
                      f"{APP_NAME} {__version__}\nScan a SortedPRO consignment, allocate it to a carrier "
                      f"service.\n\nAPI: {base_url}\nWorkstation: {workstation}\nHistory: {history_file}",
                      QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # a workstation name or a path is not markup
    box.exec()
