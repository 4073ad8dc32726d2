"""The operator window: layout, menus, focus and closing. Nothing else.

Scans go to the :class:`~despatch_desk.gui.scan_controller.ScanController` (the one door, the
latest-scan policy, problems, re-checks, batches, follow-ups); the window only connects its
signals to the widgets in ``gui/widgets/`` (result panel, problem stack, recent list, scan field,
banners). Background work runs on the desk's one :class:`~despatch_desk.gui.jobs.JobRunner`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from .. import APP_NAME
from ..desk import Desk
from ..present import plural
from . import demo_panel, dialogs, group_sync, label_follow_up, menus, theme
from .dialogs import HINT, CloseChoice
from . import details_follow_up, queue_view, undo as window_undo  # noqa: F401  (details registers on import)
from .jobs import runner_for
from .scan_controller import ScanController
from .sounds import SoundPlayer
from .startup import ReadinessCheck
from .theme import Shown
from .widgets.banner import Banner
from .widgets.group_row import GroupRow
from .widgets.panels import FirstRunPanel, InDoubtBar, environment_mark
from .widgets.problem_stack import ProblemStack
from .widgets.recent_scans import RecentScansModel, RecentScansView
from .widgets.result_panel import ResultPanel
from .widgets.scan_field import ScanField, offer_batch

log = logging.getLogger("despatch_desk.gui.window")

class Mode(enum.StrEnum):
    NORMAL = "normal"
    DEMO = "demo"


__all__ = ["HINT", "CloseChoice", "MainWindow", "Mode"]


class MainWindow(QMainWindow):
    demo_requested = Signal()          # "Try demo mode" on the first-run panel (the app restarts in demo)
    scan_result_shown = Signal(int)    # ticket id whose result the panel now shows (tests, benchmarks)

    def __init__(self, desk: Desk, *, mode: Mode | str = Mode.NORMAL, sounds: SoundPlayer | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.mode = Mode(mode)
        self.sounds = sounds or SoundPlayer(enabled=desk.settings.sounds)
        self.runner = runner_for(desk)
        self.controller = ScanController(desk, self.runner, self.current_group, parent=self)
        self.group_sync = group_sync.attach(self)  # the account's groups, fetched in the background
        self._closing: CloseChoice | None = None
        self._close_now = False
        self._close_deadline: QTimer | None = None
        self.history_view: QWidget | None = None
        self.ready_checked = False
        self.result_threads: list[QThread] = []    # where result slots ran (tests)
        self.ask_close: Callable[[int], CloseChoice] = lambda n: dialogs.ask_close(self, n)
        self.setObjectName("mainWindow")
        self.setAccessibleName(APP_NAME)
        self.setMinimumSize(720, 560)
        self._build()
        menus.build(self)
        self.demo = demo_panel.install(self) if self.mode is Mode.DEMO else None  # the consignments, a way out
        self._connect()
        self.labels = label_follow_up.WindowLabels(self)  # Reprint (Ctrl+P); registers auto-print on import
        self.undo = window_undo.WindowUndo(self)  # Ctrl+Z, after the labels: it adds to their context menu
        self.queue = queue_view.attach(self)  # the in-doubt queue's list and its background drain
        self.reload_settings()
        QTimer.singleShot(0, self.startup_checks)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.env_banner = Banner("environmentBanner", central)
        self.env_banner.hide()
        outer.addWidget(self.env_banner)
        body = QWidget(central)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        outer.addWidget(body, 1)

        self.first_run = FirstRunPanel(body)
        self.first_run_title, self.first_run_text = self.first_run.title, self.first_run.text
        self.open_settings_button, self.try_demo_button = self.first_run.settings_button, self.first_run.demo_button
        layout.addWidget(self.first_run)

        self.group_row = GroupRow(body)
        self.group_combo, self.env_tag = self.group_row.combo, self.group_row.env_tag
        self.sounds_button = self.group_row.sounds_button
        layout.addWidget(self.group_row)

        self.scan_field = ScanField(body)
        layout.addWidget(self.scan_field)
        hint = QLabel(HINT, body)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #455A64;")
        layout.addWidget(hint)

        self.attention = ProblemStack(body)   # earlier problems stay here, above the latest result
        layout.addWidget(self.attention)
        self.result_panel = ResultPanel(body)
        self.result_panel.setMinimumHeight(220)
        layout.addWidget(self.result_panel, 3)

        self.in_doubt_bar = InDoubtBar(body)
        self.in_doubt_label, self.recheck_button = self.in_doubt_bar.label, self.in_doubt_bar.button
        layout.addWidget(self.in_doubt_bar)

        layout.addWidget(QLabel("Recent scans (newest first)", body))
        self.recent_model = RecentScansModel(self)
        self.recent_view = RecentScansView(self.recent_model, body)
        self.recent_view.forward_to = self.scan_field
        layout.addWidget(self.recent_view, 2)

        self.setCentralWidget(central)
        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.in_flight_label = QLabel(status)
        self.workstation_label = QLabel(status)
        self.workstation_label.setTextFormat(Qt.TextFormat.PlainText)
        status.addPermanentWidget(self.in_flight_label)
        status.addPermanentWidget(self.workstation_label)
        self.setFocusProxy(self.scan_field)
        self.scan_field.setFocus()

    def _connect(self) -> None:
        c = self.controller
        c.ticket_added.connect(lambda tid: self.recent_model.add(c.ticket(tid)))
        c.ticket_changed.connect(self._ticket_changed)
        c.ticket_finished.connect(self._ticket_finished)
        c.latest_changed.connect(self._show_latest)
        c.problems_changed.connect(self._show_problems)
        c.tone_requested.connect(self.sounds.play)
        c.in_doubt_changed.connect(self.in_doubt_bar.set_count)
        c.recheck_finished.connect(self._rechecked)
        c.readiness_changed.connect(self._readiness_changed)
        self.scan_field.scanned.connect(self.on_scan)
        self.scan_field.several_scanned.connect(lambda texts: offer_batch(self, texts))  # a paste of several
        self.scan_field.acknowledge.connect(self.acknowledge)
        self.scan_field.group_index_requested.connect(self.select_group_index)
        self.scan_field.group_step_requested.connect(self.step_group)
        self.group_row.group_changed.connect(self._on_group_changed)
        self.group_combo.activated.connect(lambda _i: self.focus_scan())
        self.sounds_button.toggled.connect(self.set_sounds)
        self.sounds_action.toggled.connect(self.set_sounds)
        self.in_doubt_bar.recheck_requested.connect(self.recheck_in_doubt)
        self.first_run.settings_requested.connect(self.open_settings)
        self.first_run.demo_requested.connect(self.demo_requested)
        self.runner.idle.connect(self._runner_idle)
        c.settings_changed.connect(self.on_settings_changed)

    @Slot()
    def _runner_idle(self) -> None:
        if self._closing is not None:  # waiting to close: the last result is in
            self.close_now()

    # ------------------------------------------------------------------ what the controller says
    in_doubt_count = property(lambda self: self.controller.in_doubt_count)
    in_doubt_checked = property(lambda self: self.controller.in_doubt_checked)

    @Slot(str)
    def on_scan(self, text: str) -> None:
        self.controller.submit_scan(text)
        self._update_in_flight()

    @Slot(int)
    def _show_latest(self, ticket_id: int) -> None:
        ticket = self.controller.ticket(ticket_id)
        if ticket is None:
            return
        self.result_panel.show_ticket(ticket)
        self._show_problems()
        if ticket.settled:
            self.scan_result_shown.emit(ticket_id)

    @Slot(int)
    def _ticket_changed(self, ticket_id: int) -> None:
        self.recent_model.changed(ticket_id)
        if self.result_panel.ticket_id == ticket_id:
            self.result_panel.show_ticket(self.controller.ticket(ticket_id))

    @Slot(int)
    def _ticket_finished(self, _ticket_id: int) -> None:
        self.result_threads.append(QThread.currentThread())
        del self.result_threads[:-20]
        self._update_in_flight()

    @Slot()
    def _show_problems(self) -> None:
        shown = self.result_panel.ticket_id
        problems = [t for t in self.controller.problems() if t.id != shown or t.follow_up_problem]
        self.attention.show_problems(problems, self.controller.notices)

    @Slot()
    def acknowledge(self) -> None:
        """Esc: the problem on the panel first, then the stack's top one, one per press; else clear the panel."""
        shown = self.controller.ticket(self.result_panel.ticket_id)
        if shown is not None and shown.is_problem and not shown.acknowledged:
            self.controller.acknowledge(shown.id)
            self._show_idle()
        elif self.controller.acknowledge() is None and self.result_panel.state not in (
                Shown.QUEUED, Shown.ALLOCATING, Shown.DUPLICATE, Shown.CLOSING):
            self._show_idle()
        self._show_problems()
        self.focus_scan()

    def _show_idle(self) -> None:
        readiness = self.controller.readiness()
        if readiness.ready:
            return self.result_panel.show_idle()
        reason = readiness.reason  # a check under way needs no step from anyone: no Settings hint
        plain = "Ctrl+," in reason or reason == self.controller.checking_words
        self.result_panel.show_idle(reason if plain else f"{reason} (Ctrl+, opens Settings.)", ready=False)

    @Slot()
    def _readiness_changed(self) -> None:
        if self.result_panel.state in (Shown.IDLE, Shown.NOT_READY) and self.result_panel.ticket_id is None:
            self._show_idle()

    def _update_in_flight(self) -> None:
        n = self.controller.in_flight()
        self.in_flight_label.setText(f"In flight: {n}" if n else "Ready")

    # ------------------------------------------------------------------ settings, groups, environment
    def reload_settings(self) -> None:
        """Groups, banners, sounds and parallelism from ``desk.settings`` (start, after Settings)."""
        settings = self.desk.settings
        self._set_sounds_checked(settings.sounds)
        self.runner.set_max_parallel(settings.max_parallel)
        self.scan_field.set_auto_submit_ms(settings.auto_submit_ms)
        group_sync.show_groups(self)
        banner, colours, title = environment_mark(self.desk.environment_label, self.desk.base_url,
                                                  self.mode is Mode.DEMO)
        if banner:
            self.env_banner.set(banner, colours)
        self.env_banner.setVisible(bool(banner))
        self.env_tag.setVisible(not banner)
        self.setWindowTitle(title)
        self.workstation_label.setText(f"Workstation: {settings.workstation}")
        self._update_in_flight()
        self._readiness_changed()

    def current_group(self) -> str:
        return self.group_row.current()

    @Slot(int)
    def select_group_index(self, index: int) -> None:
        self.group_row.select_index(index)

    @Slot(int)
    def step_group(self, step: int) -> None:
        self.group_row.step(step)

    @Slot(str)
    def _on_group_changed(self, code: str) -> None:
        if code:
            self._remember_group(code)
            group_sync.announce_group(self)
        self._readiness_changed()

    def _remember_group(self, code: str) -> None:
        self.desk.settings.last_group = code
        self.controller.save_settings()

    @Slot(bool)
    def set_sounds(self, on: bool) -> None:
        self.desk.settings.sounds = bool(on)
        self._set_sounds_checked(bool(on))
        self.controller.save_settings()
        self.focus_scan()

    def _set_sounds_checked(self, on: bool) -> None:
        self.sounds.enabled = on
        self.sounds_action.blockSignals(True)
        self.sounds_action.setChecked(on)
        self.sounds_action.blockSignals(False)
        self.group_row.set_sounds(on)

    # ------------------------------------------------------------------ start-up checks, in doubt
    @Slot()
    def startup_checks(self) -> None:
        """Build the API client (reads the keyring once) and count in-doubt scans, off the GUI thread."""
        check = ReadinessCheck(self.desk, self.runner, self)
        check.finished.connect(lambda: self._ready_checked(check))
        check.start()
        self.group_sync.start()
        self.controller.refresh_in_doubt()

    def _ready_checked(self, check: ReadinessCheck) -> None:
        self.ready_checked = True
        problem = None if self.mode is Mode.DEMO else check.problem
        self.controller.set_key_problem(problem.message if problem else None)
        if problem is None:
            self.first_run.hide()
        else:
            self.first_run.show_problem(problem.kind, problem.message, offer_demo=self.mode is not Mode.DEMO)
        self._readiness_changed()
        interrupted = getattr(self.desk, "interrupted_on_open", 0)
        if interrupted:
            self.statusBar().showMessage(
                f"{plural(interrupted, 'scan')} were interrupted when the desk last closed: they are in doubt.", 10000)

    @Slot()
    def recheck_in_doubt(self) -> None:
        if self.controller.recheck():
            self.in_doubt_bar.set_busy(True)
        else:
            self.statusBar().showMessage("A re-check is already running.", 4000)

    @Slot()
    def _rechecked(self) -> None:
        self.in_doubt_bar.set_busy(self.controller.rechecking)
        summary = self.controller.last_recheck
        if summary is not None:
            self.statusBar().showMessage(summary.words(), 15000)
        if self.history_view is not None:
            self.history_view.refresh()

    # ------------------------------------------------------------------ focus
    @Slot()
    def focus_scan(self) -> None:
        self.scan_field.setFocus(Qt.FocusReason.OtherFocusReason)

    def focus_recent(self) -> None:
        self.recent_view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if self.recent_model.rowCount() and not self.recent_view.currentIndex().isValid():
            self.recent_view.selectRow(0)

    def focus_groups(self) -> None:
        if self.group_combo.isEnabled():
            self.group_combo.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.group_combo.showPopup()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            if QApplication.focusWidget() not in (self.recent_view, self.group_combo):
                QTimer.singleShot(0, self.focus_scan)

    def mousePressEvent(self, event: Any) -> None:  # a click on empty space gives the focus back
        super().mousePressEvent(event)
        self.focus_scan()

    # ------------------------------------------------------------------ other windows
    @Slot()
    def open_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.desk, self)
        dialog.settings_changed.connect(self.on_settings_changed)
        dialog.settings_changed.connect(lambda: self.group_sync.start(force=True))  # perhaps a new key
        try:
            dialog.exec()
        finally:
            dialog.deleteLater()
            self.activateWindow()
            self.focus_scan()

    @Slot()
    def on_settings_changed(self) -> None:
        """Settings or the key changed (the settings dialog, or the store)."""
        self.controller.set_key_problem(None, refused=True)  # perhaps a new key: the next answer will say
        self.desk.reconfigure()
        self.reload_settings()
        self.startup_checks()

    @Slot()
    def open_history(self) -> None:
        from .history_view import HistoryView

        if self.history_view is None:
            view = HistoryView(self.desk, self)
            view.destroyed.connect(lambda *_: setattr(self, "history_view", None))
            view.rechecked.connect(lambda: view.last_recheck and self.controller.apply_recheck(view.last_recheck))
            view.finished.connect(lambda *_: self.focus_scan())  # back to the scan field when it closes
            self.history_view = view
        view = self.history_view
        view.refresh()
        view.show()
        view.raise_()
        view.activateWindow()

    def show_shortcuts(self) -> None:
        dialogs.show_shortcuts(self)
        self.focus_scan()

    def show_about(self) -> None:
        dialogs.show_about(self, self.desk.base_url, self.desk.settings.workstation, self.desk.paths.history_file)
        self.focus_scan()

    def raise_window(self) -> None:
        """A second launch asked for this window."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()
        self.focus_scan()

    # ------------------------------------------------------------------ closing
    def close_now(self) -> None:
        """Close without asking (the app, tests, a finished wait). Work in flight still ends in the history."""
        self._close_now = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        scans = self.controller.in_flight()
        if self._close_now or self.runner.active_count(lane=None) == 0:
            self._shutdown()
            event.accept()
            return
        choice = CloseChoice.STOP  # no scan in flight, or asked to close again while waiting: stop waiting
        if scans and self._closing is None:
            choice = self.ask_close(scans)
            if choice is CloseChoice.CANCEL:
                event.ignore()
                self.focus_scan()
                return
        self._closing = choice
        self.runner.stop_accepting()
        if choice is CloseChoice.STOP:
            self.desk.stop()
        self.result_panel.show_message(
            theme.CLOSING, "… Closing", f"Waiting for {plural(scans, 'scan')}",
            "New scans are not taken. The window closes by itself when every scan has its result.")
        if self._close_deadline is None:
            self._close_deadline = QTimer(self)
            self._close_deadline.setSingleShot(True)
            self._close_deadline.timeout.connect(self.close_now)
            settings = self.desk.settings
            self._close_deadline.start(int((settings.connect_timeout_s + settings.read_timeout_s) * 2 * 1000) + 5000)
        event.ignore()

    def _shutdown(self) -> None:
        self.controller.close()
        self.runner.shutdown(wait=False)
        self.sounds.close()
        if self.history_view is not None:
            self.history_view.close()

