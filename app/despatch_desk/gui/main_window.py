"""The operator window: group choice, one scan field, the big result, the recent list.

Scans enter through :class:`ScanDispatcher` (the single place a command-barcode prefix will be
added later). The GUI thread only normalises, checks duplicates and enqueues; allocation runs on
:class:`~despatch_desk.gui.allocation_runner.JobRunner` workers and comes back through its
signals to ``@Slot`` methods here, in the GUI thread.
"""

from __future__ import annotations

import copy
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QColor, QFont, QKeySequence, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import APP_NAME, __version__
from ..core import Outcome, OutcomeKind, check_group_code
from ..desk import Desk, DeskNotReady
from ..references import InvalidReference, parse_reference
from . import theme
from .allocation_runner import MISC_LANE, Job, JobRunner
from .recent_scans import RecentScansModel, RecentScansView, ScanRow
from .result_panel import ResultPanel
from .scan_field import ScanField
from .sounds import SoundPlayer

log = logging.getLogger("despatch_desk.gui.window")

HINT = ("Enter or Tab ends a scan  ·  Esc acknowledges  ·  Ctrl+1…9 or Ctrl+↑/↓ switch group  ·  "
        "Ctrl+L recent list  ·  Ctrl+, settings  ·  Ctrl+H history")


class Mode(enum.StrEnum):
    NORMAL = "normal"
    DEMO = "demo"


class CloseChoice(enum.StrEnum):
    WAIT = "wait"          # let every scan finish, then close
    STOP = "stop"          # stop waiting (retries, polling), record what is known, then close
    CANCEL = "cancel"      # keep working


# --------------------------------------------------------------------------- scan dispatch


@dataclass(frozen=True, slots=True)
class ScanDecision:
    kind: str                      # queued | invalid | duplicate | closed
    raw: str
    group: str
    reference: str | None = None
    job_id: int | None = None
    outcome: Outcome | None = None  # invalid: the outcome shown at once (nothing sent)


class ScanDispatcher(QObject):
    """What to do with one scan. GUI thread, microseconds: normalise, check, enqueue."""

    def __init__(self, desk: Desk, runner: JobRunner, group: Callable[[], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.runner = runner
        self.group = group

    def handle(self, text: str) -> ScanDecision:
        group = self.group()
        if not self.runner.accepting:
            return ScanDecision("closed", text, group)
        try:
            reference = parse_reference(text).reference
        except InvalidReference as exc:
            return self._refuse(text, group, None, exc.message)
        problem = check_group_code(group)
        if problem:
            return self._refuse(text, group, reference, problem)
        existing = self.runner.find(reference)
        if existing is not None:
            return ScanDecision("duplicate", text, group, reference, existing)
        job = Job(fn=partial(self.desk.allocate, text, group), key=reference, kind="allocate",
                  meta={"raw": text, "group": group, "reference": reference})
        job_id = self.runner.submit(job)
        if job_id is None:  # the same reference got in a moment ago, or the desk is closing
            existing = self.runner.find(reference)
            if existing is None:
                return ScanDecision("closed", text, group, reference)
            return ScanDecision("duplicate", text, group, reference, existing)
        return ScanDecision("queued", text, group, reference, job_id)

    def _refuse(self, raw: str, group: str, reference: str | None, message: str) -> ScanDecision:
        """Not sent, but written to the audit history (on a worker: the history fsyncs)."""
        outcome = Outcome(OutcomeKind.INVALID_REFERENCE, reference, group, message, raw_scan=raw)
        self.runner.submit(Job(fn=partial(self.desk.record, outcome), kind="record", lane=MISC_LANE))
        return ScanDecision("invalid", raw, group, reference, outcome=outcome)


# --------------------------------------------------------------------------- small widgets


class Banner(QFrame):
    """A coloured strip with text; optional diagonal stripes (DEMO)."""

    def __init__(self, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.label = QLabel(self)
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


def _button(text: str, accessible: str, parent: QWidget) -> QPushButton:
    button = QPushButton(text, parent)
    button.setAccessibleName(accessible)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the scan field keeps the focus; menus/shortcuts reach them
    return button


# --------------------------------------------------------------------------- the window


class MainWindow(QMainWindow):
    demo_requested = Signal()          # "Try demo mode" on the first-run panel (the app restarts in demo)
    scan_result_shown = Signal(int)    # job id whose result the panel now shows (tests, benchmarks)

    def __init__(self, desk: Desk, *, mode: Mode | str = Mode.NORMAL, sounds: SoundPlayer | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.mode = Mode(mode)
        self.sounds = sounds or SoundPlayer(enabled=desk.settings.sounds)
        self.runner = JobRunner(max_parallel=desk.settings.max_parallel, parent=self)
        self.dispatcher = ScanDispatcher(desk, self.runner, self.current_group, self)
        self._handlers: dict[int, Callable[[Any], None]] = {}
        self._latest_job: int | None = None          # the job whose result the panel is waiting for
        self._closing: CloseChoice | None = None
        self._close_ready = False
        self._close_deadline: QTimer | None = None
        self._history_view: QWidget | None = None
        self.in_doubt_count = 0
        self.ready_checked = False      # the start-up key/address check has come back
        self.in_doubt_checked = False   # the in-doubt count has come back at least once
        self.in_flight = 0
        self._attention_lines: list[str] = []
        self.key_problem: str | None = None
        self.result_threads: list[QThread] = []    # where result slots ran (tests)
        self.ask_close: Callable[[int], CloseChoice] = self._ask_close
        self.setObjectName("mainWindow")
        self.setAccessibleName(APP_NAME)
        self.setMinimumSize(720, 560)
        self._build()
        self._build_menus()
        self.runner.job_started.connect(self._on_job_started)
        self.runner.job_finished.connect(self._on_job_finished)
        self.runner.job_failed.connect(self._on_job_failed)
        self.runner.idle.connect(self._on_runner_idle)
        self.reload_settings()
        QTimer.singleShot(0, self.startup_checks)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        central = QWidget(self)
        central.setObjectName("central")
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

        # First run / configuration problem
        self.first_run = QFrame(body)
        self.first_run.setObjectName("firstRunPanel")
        self.first_run.setStyleSheet(
            f"#firstRunPanel {{ background: {theme.FIRST_RUN[0]}; border: 2px solid #FFB000; border-radius: 6px; }}"
            f" #firstRunPanel QLabel {{ color: {theme.FIRST_RUN[1]}; }}")
        fr = QVBoxLayout(self.first_run)
        self.first_run_title = QLabel("No API key yet", self.first_run)
        title_font = QFont(self.first_run_title.font())
        title_font.setPointSizeF(max(title_font.pointSizeF(), 9.0) * 1.4)
        title_font.setBold(True)
        self.first_run_title.setFont(title_font)
        self.first_run_text = QLabel(self.first_run)
        self.first_run_text.setWordWrap(True)
        row = QHBoxLayout()
        self.open_settings_button = _button("Open &settings…", "Open settings to add the API key", self.first_run)
        self.try_demo_button = _button("Try &demo mode", "Try demo mode with the built-in sandbox", self.first_run)
        row.addWidget(self.open_settings_button)
        row.addWidget(self.try_demo_button)
        row.addStretch(1)
        fr.addWidget(self.first_run_title)
        fr.addWidget(self.first_run_text)
        fr.addLayout(row)
        self.first_run.hide()
        self.open_settings_button.clicked.connect(self.open_settings)
        self.try_demo_button.clicked.connect(self.demo_requested)
        layout.addWidget(self.first_run)

        # Group row
        group_row = QHBoxLayout()
        self.group_label = QLabel("Service &group:", body)
        big = QFont(self.group_label.font())
        big.setPointSizeF(max(big.pointSizeF(), 9.0) * 1.35)
        self.group_label.setFont(big)
        self.group_combo = QComboBox(body)
        self.group_combo.setObjectName("groupCombo")
        self.group_combo.setFont(big)
        self.group_combo.setAccessibleName("Service group")
        self.group_combo.setAccessibleDescription("The carrier service group scans are allocated with. "
                                                  "Ctrl+1 to Ctrl+9, or Ctrl+Up and Ctrl+Down, switch it.")
        self.group_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.group_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.group_combo.setMinimumContentsLength(18)
        self.group_label.setBuddy(self.group_combo)
        self.group_hint = QLabel("Ctrl+1…9 · Ctrl+↑/↓", body)
        self.group_hint.setStyleSheet("color: #455A64;")
        self.env_tag = QLabel(body)
        self.env_tag.setObjectName("environmentTag")
        self.env_tag.hide()
        self.sounds_button = _button("", "Sounds on or off", body)
        self.sounds_button.setCheckable(True)
        group_row.addWidget(self.group_label)
        group_row.addWidget(self.group_combo)
        group_row.addWidget(self.group_hint)
        group_row.addStretch(1)
        group_row.addWidget(self.env_tag)
        group_row.addWidget(self.sounds_button)
        layout.addLayout(group_row)
        self.group_combo.currentIndexChanged.connect(self._on_group_changed)
        self.group_combo.activated.connect(lambda _i: self.focus_scan())
        self.sounds_button.toggled.connect(self.set_sounds)

        # Scan field
        self.scan_field = ScanField(body)
        layout.addWidget(self.scan_field)
        self.hint = QLabel(HINT, body)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #455A64;")
        layout.addWidget(self.hint)
        self.scan_field.scanned.connect(self.on_scan)
        self.scan_field.acknowledge.connect(self.acknowledge)
        self.scan_field.group_index_requested.connect(self.select_group_index)
        self.scan_field.group_step_requested.connect(self.step_group)

        # Result
        self.result_panel = ResultPanel(body)
        self.result_panel.setMinimumHeight(220)
        layout.addWidget(self.result_panel, 3)

        self.attention = QLabel(body)
        self.attention.setObjectName("attention")
        self.attention.setWordWrap(True)
        self.attention.setStyleSheet(f"background: {theme.ATTENTION[0]}; color: {theme.ATTENTION[1]};"
                                     " border: 2px solid #C62828; padding: 6px; font-weight: bold;")
        self.attention.setAccessibleName("Earlier scans that need attention")
        self.attention.hide()
        layout.addWidget(self.attention)

        # In doubt
        self.in_doubt_bar = QFrame(body)
        self.in_doubt_bar.setObjectName("inDoubtBar")
        self.in_doubt_bar.setStyleSheet("#inDoubtBar { background: #EDE7F6; border: 2px solid #4A148C; }"
                                        " #inDoubtBar QLabel { color: #311B92; font-weight: bold; }")
        idb = QHBoxLayout(self.in_doubt_bar)
        idb.setContentsMargins(10, 4, 10, 4)
        self.in_doubt_label = QLabel(self.in_doubt_bar)
        self.recheck_button = _button("&Re-check in-doubt scans", "Re-check every in-doubt scan with SortedPRO",
                                      self.in_doubt_bar)
        idb.addWidget(self.in_doubt_label, 1)
        idb.addWidget(self.recheck_button)
        self.recheck_button.clicked.connect(self.recheck_in_doubt)
        self.in_doubt_bar.hide()
        layout.addWidget(self.in_doubt_bar)

        # Recent scans
        self.recent_label = QLabel("Recent scans (newest first)", body)
        layout.addWidget(self.recent_label)
        self.recent_model = RecentScansModel(self)
        self.recent_view = RecentScansView(self.recent_model, body)
        self.recent_view.forward_to = self.scan_field
        layout.addWidget(self.recent_view, 2)

        self.setCentralWidget(central)
        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.in_flight_label = QLabel(status)
        self.workstation_label = QLabel(status)
        status.addPermanentWidget(self.in_flight_label)
        status.addPermanentWidget(self.workstation_label)
        self.setFocusProxy(self.scan_field)
        self.scan_field.setFocus()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.settings_action = self._action("&Settings…", "Ctrl+,", self.open_settings, file_menu)
        self.history_action = self._action("&History…", "Ctrl+H", self.open_history, file_menu)
        file_menu.addSeparator()
        self.quit_action = self._action("&Quit", "Ctrl+Q", self.close, file_menu)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        scan_menu = bar.addMenu("&Scan")
        self._action("&Acknowledge result", "Esc", self.acknowledge, scan_menu)
        self.recheck_action = self._action("&Re-check in-doubt scans", "Ctrl+R", self.recheck_in_doubt, scan_menu)
        self._action("Go to recent &list", "Ctrl+L", self.focus_recent, scan_menu)
        self._action("Choose service &group…", "Ctrl+G", self.focus_groups, scan_menu)
        self._action("Back to the scan &field", "F2", self.focus_scan, scan_menu)
        scan_menu.addSeparator()
        self._action("&Previous group", "Ctrl+Up", lambda: self.step_group(-1), scan_menu)
        self._action("&Next group", "Ctrl+Down", lambda: self.step_group(1), scan_menu)
        self.group_menu = scan_menu.addMenu("Service &groups")

        options = bar.addMenu("&Options")
        self.sounds_action = QAction("&Sounds", self)
        self.sounds_action.setCheckable(True)
        self.sounds_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.sounds_action.toggled.connect(self.set_sounds)
        options.addAction(self.sounds_action)
        self.addAction(self.sounds_action)

        help_menu = bar.addMenu("&Help")
        self._action("&Keyboard shortcuts", "F1", self.show_shortcuts, help_menu)
        about = self._action(f"&About {APP_NAME}", None, self.show_about, help_menu)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def _action(self, text: str, shortcut: str | None, slot: Callable[[], Any], menu: Any) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.addAction(action)
        return action

    # ------------------------------------------------------------------ settings, environment
    def reload_settings(self) -> None:
        """Groups, banners, sounds and parallelism from ``desk.settings`` (start, after Settings)."""
        settings = self.desk.settings
        self.sounds.enabled = settings.sounds
        for widget in (self.sounds_action, self.sounds_button):
            widget.blockSignals(True)
            widget.setChecked(settings.sounds)
            widget.blockSignals(False)
        self._update_sounds_button()
        self.runner.set_max_parallel(settings.max_parallel)
        self.scan_field.set_auto_submit_ms(settings.auto_submit_ms)
        self._reload_groups()
        self._update_environment()
        self.workstation_label.setText(f"Workstation: {settings.workstation}")
        self._update_in_flight()

    def _reload_groups(self) -> None:
        settings = self.desk.settings
        combo = self.group_combo
        combo.blockSignals(True)
        combo.clear()
        for i, group in enumerate(settings.service_groups):
            prefix = f"{i + 1}  " if i < 9 else "    "
            combo.addItem(f"{prefix}{group.display}", group.code)
        if not settings.service_groups:
            combo.addItem("No service groups: add them in Settings (Ctrl+,)", "")
        combo.setEnabled(bool(settings.service_groups))
        index = combo.findData(settings.last_group) if settings.last_group else -1
        combo.setCurrentIndex(index if index >= 0 else 0)
        combo.blockSignals(False)
        self.group_menu.clear()
        for i, group in enumerate(settings.service_groups[:9]):
            act = QAction(f"&{i + 1} {group.display}", self.group_menu)
            act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            act.triggered.connect(lambda _c=False, n=i: self.select_group_index(n))
            self.group_menu.addAction(act)
        if settings.service_groups and self.current_group() != settings.last_group:
            self._remember_group(self.current_group())

    def current_group(self) -> str:
        return self.group_combo.currentData() or ""

    @Slot(int)
    def select_group_index(self, index: int) -> None:
        if 0 <= index < len(self.desk.settings.service_groups):
            self.group_combo.setCurrentIndex(index)

    @Slot(int)
    def step_group(self, step: int) -> None:
        count = len(self.desk.settings.service_groups)
        if count:
            self.group_combo.setCurrentIndex((self.group_combo.currentIndex() + step) % count)

    @Slot(int)
    def _on_group_changed(self, _index: int) -> None:
        code = self.current_group()
        if code:
            self._remember_group(code)
            group = self.desk.settings.group(code)
            self.statusBar().showMessage(f"Service group: {group.display if group else code}", 4000)

    def _remember_group(self, code: str) -> None:
        settings = self.desk.settings
        settings.last_group = code
        snapshot = copy.deepcopy(settings)
        self._submit_misc(partial(self._save_settings, snapshot), None, kind="save-settings")

    def _save_settings(self, snapshot: Any) -> str | None:  # worker thread
        try:
            self.desk.settings_store.save(snapshot)
            return None
        except Exception as exc:
            return str(exc)

    def _update_environment(self) -> None:
        title = APP_NAME
        self.env_tag.hide()
        if self.mode is Mode.DEMO:
            self.env_banner.set("DEMO — built-in sandbox, nothing is shipped", theme.DEMO_BANNER)
            self.env_banner.show()
            title = f"{APP_NAME} — DEMO (built-in sandbox)"
        else:
            env = self.desk.environment_label
            if env == "sandbox":
                self.env_banner.set("SANDBOX — SortedPRO test account: nothing is sent to carriers",
                                    theme.SANDBOX_BANNER)
                self.env_banner.show()
                title = f"{APP_NAME} — SANDBOX"
            elif env == "custom":
                host = _host(self.desk.base_url)
                self.env_banner.set(f"CUSTOM API — {host}", theme.CUSTOM_BANNER)
                self.env_banner.show()
                title = f"{APP_NAME} — {host}"
            else:
                self.env_banner.hide()
                bg, fg, _ = theme.PRODUCTION_TAG
                self.env_tag.setText(" PRODUCTION ")
                self.env_tag.setStyleSheet(f"background: {bg}; color: {fg}; font-weight: bold; border-radius: 3px;"
                                           " padding: 2px 6px;")
                self.env_tag.setAccessibleName("Production environment")
                self.env_tag.show()
        self.setWindowTitle(title)

    # ------------------------------------------------------------------ start-up checks (background)
    @Slot()
    def startup_checks(self) -> None:
        """Build the API client (reads the keyring once) and count in-doubt scans, off the GUI thread."""
        self._submit_misc(self._check_ready, self._ready_checked, kind="check-key")
        self.refresh_in_doubt()

    def _check_ready(self) -> tuple[str, str] | None:  # worker thread
        try:
            self.desk.workflow()
            return None
        except DeskNotReady as exc:
            return exc.kind.value, exc.message

    def _ready_checked(self, problem: tuple[str, str] | None) -> None:
        self.ready_checked = True
        if problem is None or self.mode is Mode.DEMO:
            self.key_problem = None
            self.first_run.hide()
            if self.result_panel.state == "idle":
                self.result_panel.show_idle()  # back to READY once a key works
            return
        kind, message = problem
        self.key_problem = message
        if kind == OutcomeKind.UNAUTHORIZED.value:
            self.first_run_title.setText("No API key yet: scans cannot be allocated")
            self.first_run_text.setText(
                f"{message}\n\nA supervisor pastes the SortedPRO API key once in Settings; it is kept in this "
                "computer's secure keyring. Or try the desk first in demo mode: it runs a built-in sandbox "
                "with demo consignments, and nothing is shipped.")
        else:
            self.first_run_title.setText("The SortedPRO address is not usable")
            self.first_run_text.setText(message)
        self.try_demo_button.setVisible(self.mode is not Mode.DEMO)
        self.first_run.show()
        if self.result_panel.state == "idle":
            self.result_panel.show_idle("Scans cannot be allocated yet: see the yellow panel above (Ctrl+, opens "
                                        "Settings).", word="NOT READY")

    @Slot()
    def refresh_in_doubt(self) -> None:
        self._submit_misc(self._count_in_doubt, self._in_doubt_counted, kind="count-in-doubt")

    def _count_in_doubt(self) -> tuple[int, int, str | None]:  # worker thread
        try:
            history = self.desk.history
            return len(history.in_doubt()), self.desk.interrupted_on_open, None
        except Exception as exc:
            return 0, 0, str(exc)

    def _in_doubt_counted(self, result: tuple[int, int, str | None]) -> None:
        count, interrupted, problem = result
        self.in_doubt_checked = True
        self.in_doubt_count = count
        if count:
            self.in_doubt_label.setText(
                f"? {count} scan{'s' if count != 1 else ''} in doubt: do not ship "
                f"{'them' if count != 1 else 'it'} until re-checked.")
            self.in_doubt_bar.show()
        else:
            self.in_doubt_bar.hide()
        if interrupted and not getattr(self, "_told_interrupted", False):
            self._told_interrupted = True
            self.statusBar().showMessage(
                f"{interrupted} scan(s) were interrupted when the desk last closed: they are in doubt.", 10000)
        if problem:
            self._show_attention(problem)

    @Slot()
    def recheck_in_doubt(self) -> None:
        if self.in_doubt_count == 0 and not self.in_doubt_bar.isVisible():
            self.statusBar().showMessage("No scans are in doubt.", 4000)
        self.recheck_button.setEnabled(False)
        self.recheck_button.setText("Re-checking…")
        self._submit_misc(self._recheck_all, self._rechecked, kind="recheck")

    def _recheck_all(self) -> dict[str, int]:  # worker thread
        counts: dict[str, int] = {}
        try:
            rows = self.desk.history.in_doubt()
        except Exception:
            rows = []
        for row in rows:
            if self.desk.stop_event.is_set():
                break
            try:
                kind = self.desk.recheck(row.id).kind.value
            except DeskNotReady as exc:
                kind = exc.kind.value
            except Exception:
                log.exception("re-check of row %s failed", row.id)
                kind = "error"
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def _rechecked(self, counts: dict[str, int]) -> None:
        self.recheck_button.setEnabled(True)
        self.recheck_button.setText("&Re-check in-doubt scans")
        total = sum(counts.values())
        if total:
            parts = ", ".join(f"{n} {theme.look_for(k).short or k}" for k, n in sorted(counts.items()))
            self.statusBar().showMessage(f"Re-checked {total} in-doubt scan(s): {parts}.", 15000)
        self.refresh_in_doubt()
        if self._history_view is not None and hasattr(self._history_view, "refresh"):
            self._history_view.refresh()

    # ------------------------------------------------------------------ scanning
    @Slot(str)
    def on_scan(self, text: str) -> None:
        decision = self.dispatcher.handle(text)
        now = datetime.now()
        if decision.kind == "queued":
            self.recent_model.add(ScanRow(decision.job_id, now, text, decision.reference, decision.group, "queued"))
            self._handlers[decision.job_id] = partial(self._allocation_done, decision.job_id)
            self._latest_job = decision.job_id
            self.result_panel.show_allocating(decision.reference or "", decision.group, decision.job_id)
        elif decision.kind == "duplicate":
            self.recent_model.add(ScanRow(None, now, text, decision.reference, decision.group, "duplicate",
                                          note="Already being allocated: scanned again while in flight."))
            self._latest_job = decision.job_id
            self.result_panel.show_duplicate(decision.reference or "", decision.job_id)
        elif decision.kind == "invalid":
            assert decision.outcome is not None
            self.recent_model.add(ScanRow(None, now, text, decision.reference, decision.group,
                                          decision.outcome.kind.value, decision.outcome))
            self._latest_job = None
            self._show_result(decision.outcome, None)
        else:  # closed
            self.result_panel.show_message(theme.ALLOCATING, "Closing…", "The desk is closing",
                                           "This scan was not taken: scan it again after restarting.")
            self.sounds.play("failure")
        self._update_in_flight()

    @Slot(int)
    def _on_job_started(self, job_id: int) -> None:
        if job_id in self._handlers:
            self.recent_model.update(job_id, state="allocating")

    @Slot(int, object)
    def _on_job_finished(self, job_id: int, result: object) -> None:
        self.result_threads.append(QThread.currentThread())
        del self.result_threads[:-20]
        handler = self._handlers.pop(job_id, None)
        if handler is not None:
            try:
                handler(result)
            except Exception:
                log.exception("result handler for job %s failed", job_id)
        self._update_in_flight()

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, error: str) -> None:
        self.result_threads.append(QThread.currentThread())
        handler = self._handlers.pop(job_id, None)
        if handler is None:
            return
        row = self.recent_model.update(job_id, state="crashed", note=f"Internal error: {error}")
        if row is not None and job_id == self._latest_job:
            self.result_panel.show_message(theme.CRASHED, f"{theme.CRASHED.symbol} INTERNAL ERROR",
                                           row.reference or "", f"{error}. Check this consignment in History.")
            self.sounds.play("failure")
        self._update_in_flight()

    def _allocation_done(self, job_id: int, outcome: Outcome) -> None:
        self.recent_model.update(job_id, outcome=outcome)
        if job_id == self._latest_job:
            self._show_result(outcome, job_id)
        else:
            # An older scan finished after a newer one: the panel keeps the newer scan, the list has all,
            # and a problem with the older one is kept visible until Esc.
            self.sounds.play(theme.look_for(outcome.kind).sound)
            if outcome.needs_attention:
                self._show_attention(f"Earlier scan {outcome.reference or ''}: {theme.look_for(outcome.kind).word}"
                                     f" — {outcome.message}")
        if outcome.kind is OutcomeKind.IN_DOUBT:
            self.refresh_in_doubt()
        if self.desk.last_history_error:
            self._show_attention(f"History problem: {self.desk.last_history_error}")
            self.desk.last_history_error = None

    def _show_result(self, outcome: Outcome, job_id: int | None) -> None:
        self.result_panel.show_outcome(outcome, job_id)
        self.sounds.play(theme.look_for(outcome.kind).sound)
        if job_id is not None:
            self.scan_result_shown.emit(job_id)

    def _show_attention(self, text: str) -> None:
        """Problems with earlier scans (or the history): stay until Esc, newest three shown."""
        self._attention_lines = [*self._attention_lines[-2:], text]
        self.attention.setText("\n".join(self._attention_lines) + "\n(Esc acknowledges)")
        self.attention.show()

    @Slot()
    def acknowledge(self) -> None:
        self.result_panel.acknowledge()
        self._attention_lines = []
        self.attention.clear()
        self.attention.hide()
        self.focus_scan()

    def _submit_misc(self, fn: Callable[[], Any], done: Callable[[Any], None] | None, kind: str) -> None:
        job_id = self.runner.submit(Job(fn=fn, kind=kind, lane=MISC_LANE))
        if job_id is not None and done is not None:
            self._handlers[job_id] = done

    def _update_in_flight(self) -> None:
        n = sum(1 for h in self._handlers.values() if getattr(h, "func", None) == self._allocation_done)
        self.in_flight = n
        self.in_flight_label.setText(f"In flight: {n}" if n else "Ready")

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
            focus = QApplication.focusWidget()
            if focus not in (self.recent_view, self.group_combo):
                QTimer.singleShot(0, self.focus_scan)

    def mousePressEvent(self, event: Any) -> None:  # a click on empty space gives the focus back
        super().mousePressEvent(event)
        self.focus_scan()

    # ------------------------------------------------------------------ sounds
    @Slot(bool)
    def set_sounds(self, on: bool) -> None:
        settings = self.desk.settings
        settings.sounds = bool(on)
        self.sounds.enabled = bool(on)
        for widget in (self.sounds_action, self.sounds_button):
            if widget.isChecked() != bool(on):
                widget.blockSignals(True)
                widget.setChecked(bool(on))
                widget.blockSignals(False)
        self._update_sounds_button()
        snapshot = copy.deepcopy(settings)
        self._submit_misc(partial(self._save_settings, snapshot), None, kind="save-settings")
        self.focus_scan()

    def _update_sounds_button(self) -> None:
        on = self.sounds.enabled
        self.sounds_button.setText("♪ Sounds on" if on else "Sounds off")
        self.sounds_button.setToolTip("Ctrl+Shift+S switches sounds on and off")

    # ------------------------------------------------------------------ other windows
    @Slot()
    def open_settings(self) -> None:
        try:
            from .settings_dialog import SettingsDialog
        except ImportError:
            QMessageBox.information(self, APP_NAME, "The Settings dialog is not part of this build yet. "
                                    "Use 'despatch-desk key set' to store the API key.")
            self.focus_scan()
            return
        dialog = SettingsDialog(self.desk, self)
        dialog.settings_changed.connect(self.on_settings_changed)
        try:
            dialog.exec()
        finally:
            dialog.deleteLater()
            self.activateWindow()
            self.focus_scan()

    @Slot()
    def on_settings_changed(self) -> None:
        self.desk.reconfigure()
        self.reload_settings()
        self.startup_checks()

    @Slot()
    def open_history(self) -> None:
        try:
            from .history_view import HistoryView
        except ImportError:
            QMessageBox.information(self, APP_NAME, "The History view is not part of this build yet. "
                                    "Use 'despatch-desk history' on the command line.")
            self.focus_scan()
            return
        if self._history_view is None:
            self._history_view = HistoryView(self.desk, self)
            self._history_view.destroyed.connect(lambda *_: setattr(self, "_history_view", None))
            if hasattr(self._history_view, "rechecked"):
                self._history_view.rechecked.connect(self.refresh_in_doubt)
            if hasattr(self._history_view, "finished"):  # a QDialog: back to the scan field when it closes
                self._history_view.finished.connect(lambda *_: self.focus_scan())
        view = self._history_view
        if hasattr(view, "refresh"):
            view.refresh()
        view.show()
        view.raise_()
        view.activateWindow()

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", HINT.replace("  ·  ", "\n") +
                                "\nCtrl+R re-check in-doubt scans\nCtrl+Shift+S sounds on/off\nF2 back to the "
                                "scan field\nCtrl+Q quit")
        self.focus_scan()

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}",
                          f"<b>{APP_NAME}</b> {__version__}<br>Scan a SortedPRO consignment, allocate it to a "
                          f"carrier service.<br><br>API: {self.desk.base_url}<br>"
                          f"Workstation: {self.desk.settings.workstation}<br>"
                          f"History: {self.desk.paths.history_file}")
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
    def _ask_close(self, n: int) -> CloseChoice:
        box = QMessageBox(self)
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

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._close_ready:
            self._shutdown()
            event.accept()
            return
        pending = self.runner.active_count(lane=None)
        scans = self.in_flight
        if pending == 0:
            self._shutdown()
            event.accept()
            return
        if scans and self._closing is None:
            choice = self.ask_close(scans)
            if choice is CloseChoice.CANCEL:
                event.ignore()
                self.focus_scan()
                return
        else:
            choice = CloseChoice.STOP if self._closing is None else self._closing
        if self._closing is CloseChoice.WAIT and choice is CloseChoice.WAIT:
            choice = CloseChoice.STOP  # asked to close again while waiting: stop waiting
        self._closing = choice
        self.runner.stop_accepting()
        if choice is CloseChoice.STOP:
            self.desk.stop()
        self.result_panel.show_message(
            theme.ALLOCATING, "… Closing", f"Waiting for {scans} scan{'s' if scans != 1 else ''}",
            "New scans are not taken. The window closes by itself when every scan has its result.")
        if self._close_deadline is None:
            self._close_deadline = QTimer(self)
            self._close_deadline.setSingleShot(True)
            self._close_deadline.timeout.connect(self._close_now)
            settings = self.desk.settings
            self._close_deadline.start(int((settings.connect_timeout_s + settings.read_timeout_s) * 2 * 1000) + 5000)
        event.ignore()

    @Slot()
    def _on_runner_idle(self) -> None:
        if self._closing is not None:
            self._close_now()

    @Slot()
    def _close_now(self) -> None:
        if self._close_ready:
            return
        self._close_ready = True
        QTimer.singleShot(0, self.close)

    def _shutdown(self) -> None:
        self.runner.shutdown(wait=False)
        self.sounds.close()
        if self._history_view is not None:
            self._history_view.close()


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.netloc or url


def perf_now() -> float:
    return time.perf_counter()
