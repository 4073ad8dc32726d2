"""The window's menus and their shortcuts (every action also works from the keyboard alone)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from .. import APP_NAME
from ..settings import ServiceGroupConfig
from . import batch_window, command_dispatch

if TYPE_CHECKING:
    from .main_window import MainWindow


def build(w: MainWindow) -> None:
    """Menus on ``w``; the actions it needs later become its attributes."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    w.settings_action = _action(w, "&Settings…", "Ctrl+,", w.open_settings, file_menu)
    w.history_action = _action(w, "&History…", "Ctrl+H", w.open_history, file_menu)
    w.batch_action = _action(w, "&Batch…", "Ctrl+B", lambda: batch_window.open_batch(w), file_menu)
    file_menu.addSeparator()
    w.quit_action = _action(w, "&Quit", "Ctrl+Q", w.close, file_menu)
    w.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
    scan_menu = bar.addMenu("&Scan")
    _action(w, "&Acknowledge result", "Esc", w.acknowledge, scan_menu)
    w.recheck_action = _action(w, "&Re-check in-doubt scans", "Ctrl+R", w.recheck_in_doubt, scan_menu)
    w.reprint_action = _action(w, "Reprin&t label", "Ctrl+P", lambda: w.labels.reprint(), scan_menu)
    _action(w, "Go to recent &list", "Ctrl+L", w.focus_recent, scan_menu)
    _action(w, "Choose service &group…", "Ctrl+G", w.focus_groups, scan_menu)
    _action(w, "Back to the scan &field", "F2", w.focus_scan, scan_menu)
    scan_menu.addSeparator()
    _action(w, "&Previous group", "Ctrl+Up", lambda: w.step_group(-1), scan_menu)
    _action(w, "&Next group", "Ctrl+Down", lambda: w.step_group(1), scan_menu)
    w.group_menu = scan_menu.addMenu("Service &groups")
    options = bar.addMenu("&Options")
    w.sounds_action = QAction("&Sounds", w)
    w.sounds_action.setCheckable(True)
    w.sounds_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
    options.addAction(w.sounds_action)
    w.addAction(w.sounds_action)
    help_menu = bar.addMenu("&Help")
    _action(w, "&Keyboard shortcuts", "F1", w.show_shortcuts, help_menu)
    w.command_sheet_action = _action(w, "Print &command sheet…", None, lambda: command_dispatch.save_command_sheet(w),
                                     help_menu)
    about = _action(w, f"&About {APP_NAME}", None, w.show_about, help_menu)
    about.setMenuRole(QAction.MenuRole.AboutRole)


def group_shortcuts(w: MainWindow, groups: Sequence[ServiceGroupConfig]) -> None:
    """Scan > Service groups: Ctrl+1…9 for the first nine."""
    w.group_menu.clear()
    for i, group in enumerate(groups[:9]):
        act = QAction(f"&{i + 1} {group.display}", w.group_menu)
        act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
        act.triggered.connect(lambda _c=False, n=i: w.select_group_index(n))
        w.group_menu.addAction(act)


def _action(w: MainWindow, text: str, shortcut: str | None, slot: Callable[[], Any], menu: Any) -> QAction:
    action = QAction(text, w)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(lambda _checked=False: slot())
    menu.addAction(action)
    w.addAction(action)
    return action
