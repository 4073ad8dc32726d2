"""The Settings dialog: environment, API key, service groups, workstation, sounds, advanced.

``SettingsDialog(desk)`` edits ``desk.settings`` (the same object the main window holds) and the
key in ``desk.keystore``. Network and keyring look-ups run in the background
(the desk's job runner, :mod:`.jobs`); the GUI thread never waits on SortedPRO. The API key is never shown, logged
or copied: the field is a password field that starts empty and is cleared after saving, and the
dialog only says *where* a key is stored.

Standalone use (screenshots, manual checks)::

    from despatch_desk.desk import Desk
    from despatch_desk.gui.settings_dialog import SettingsDialog
    dialog = SettingsDialog(desk)          # desk: any Desk, e.g. Desk(Paths.default())
    dialog.settings_changed.connect(...)   # after a successful save
    dialog.open()                          # or exec()
"""

from __future__ import annotations

import logging
import os
from dataclasses import fields

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import api
from ..credentials import CredentialError, check_key_format
from ..desk import Desk
from ..settings import ENV_API_URL, Settings, SettingsError
from .jobs import Job, runner_for
from .settings_connection import ConnectionPage
from .settings_groups import GroupsPage
from .settings_printer import PrinterPage
from .settings_text import (  # noqa: F401 - GROUPS_REFUSED: tests name the words the dialog shows
    GROUPS_REFUSED,
    set_status,
)

log = logging.getLogger("despatch_desk.gui.settings")

class SettingsDialog(ConnectionPage, GroupsPage, PrinterPage, QDialog):
    """Edits ``desk.settings`` and the stored key; emits :attr:`settings_changed` after a save."""

    settings_changed = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.runner = runner_for(desk)
        self._jobs: set[Job] = set()
        self._key_status_generation = 0
        self._key_source: str | None = None
        self._testing = False
        self._fetching = False
        self.setWindowTitle("Settings — Despatch Desk")
        self.setObjectName("SettingsDialog")
        self._build()
        self._load(desk.settings)
        self._key_status_timer = QTimer(self, singleShot=True, interval=300)
        self._key_status_timer.timeout.connect(self.refresh_key_status)
        self._connect_validation()
        self._environment_changed()  # also validates and looks up the stored key
        self.environment_combo.setFocus()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.tabs = QTabWidget(self)
        self.tabs.setAccessibleName("Settings pages")
        self.tabs.addTab(self._build_connection_page(), "&Connection")
        self.tabs.addTab(self._build_groups_page(), "Service &groups")
        self.tabs.addTab(self._build_desk_page(), "&Desk")
        self.tabs.addTab(self._build_printer_page(), "La&bel printer")

        self.problems_label = self._status_label("Problems to fix before saving")
        self.message_label = self._status_label("Save result")

        self.buttons = QDialogButtonBox(self)
        self.save_button = self.buttons.addButton("&Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.save_button.setDefault(True)
        self.save_button.setAccessibleName("Save settings")
        self.save_button.setToolTip("Save (Enter or Ctrl+Enter)")
        self.cancel_button.setAccessibleName("Cancel without saving")
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)
        for seq in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(seq), self, self.save)

        layout = QVBoxLayout(self)
        self.demo_label = QLabel("DEMO MODE: these are the demo desk's own settings (the built-in sandbox). "
                                 "The real desk's settings and key are not changed here.", self)
        self.demo_label.setObjectName("settingsDemoNote")
        self.demo_label.setWordWrap(True)
        self.demo_label.setStyleSheet("background: #FFD600; color: #1A1A1A; font-weight: bold; padding: 6px;")
        self.demo_label.setVisible(str(getattr(self.parent(), "mode", "")) == "demo")
        layout.addWidget(self.demo_label)
        syncer = getattr(self.parent(), "group_sync", None)  # why the window offers the groups it does
        self.groups_note_label = QLabel(f"Service groups: {syncer.note}" if syncer is not None and syncer.note
                                        else "", self)
        self.groups_note_label.setTextFormat(Qt.TextFormat.PlainText)  # the note quotes the server
        self.groups_note_label.setWordWrap(True)
        self.groups_note_label.setVisible(bool(self.groups_note_label.text()))
        layout.addWidget(self.groups_note_label)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        # Room for the longest status sentences without a cramped wrap; scales with the font.
        em = self.fontMetrics().averageCharWidth()
        self.resize(max(self.sizeHint().width(), 64 * em), self.sizeHint().height())

    def _status_label(self, accessible: str) -> QLabel:
        label = QLabel(self)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setAccessibleName(accessible)
        label.setVisible(False)
        return label

    def _build_desk_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.workstation_edit = QLineEdit(page)
        self.workstation_edit.setMaxLength(64)
        self.workstation_edit.setAccessibleName("Workstation name")
        self.workstation_edit.setAccessibleDescription("Written with every scan in the history")
        form.addRow(self._buddy("&Workstation name:", self.workstation_edit), self.workstation_edit)
        self.sounds_check = QCheckBox("&Play sounds for results", page)
        self.sounds_check.setAccessibleName("Play sounds for results")
        form.addRow("", self.sounds_check)
        self.auto_submit_spin = QSpinBox(page)
        self.auto_submit_spin.setRange(0, 5000)
        self.auto_submit_spin.setSingleStep(50)
        self.auto_submit_spin.setSuffix(" ms")
        self.auto_submit_spin.setSpecialValueText("off: Enter or Tab only")
        self.auto_submit_spin.setAccessibleName("Pause that ends a scan without Enter, in milliseconds")
        self.auto_submit_spin.setAccessibleDescription(
            "For scanners that send no Enter or Tab: a complete reference followed by this pause is a scan. 0 turns it off.")
        form.addRow(self._buddy("Scan ends wit&hout Enter after:", self.auto_submit_spin), self.auto_submit_spin)
        layout.addLayout(form)

        advanced = QGroupBox("Advanced", page)
        adv = QFormLayout(advanced)
        adv.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.connect_timeout_spin = QDoubleSpinBox(advanced)
        self.connect_timeout_spin.setRange(0.5, 120.0)
        self.connect_timeout_spin.setDecimals(1)
        self.connect_timeout_spin.setSingleStep(0.5)
        self.connect_timeout_spin.setSuffix(" s")
        self.connect_timeout_spin.setAccessibleName("Connect timeout in seconds")
        adv.addRow(self._buddy("Connect ti&meout:", self.connect_timeout_spin), self.connect_timeout_spin)
        self.read_timeout_spin = QDoubleSpinBox(advanced)
        self.read_timeout_spin.setRange(1.0, 300.0)
        self.read_timeout_spin.setDecimals(0)
        self.read_timeout_spin.setSuffix(" s")
        self.read_timeout_spin.setAccessibleName("Read timeout in seconds")
        adv.addRow(self._buddy("Read time&out:", self.read_timeout_spin), self.read_timeout_spin)
        self.parallel_spin = QSpinBox(advanced)
        self.parallel_spin.setRange(1, 16)
        self.parallel_spin.setAccessibleName("Parallel allocations")
        self.parallel_spin.setAccessibleDescription("How many scans may be allocated at the same time (1 to 16)")
        adv.addRow(self._buddy("Parallel a&llocations:", self.parallel_spin), self.parallel_spin)
        layout.addWidget(advanced)
        layout.addStretch(1)
        return page

    @staticmethod
    def _buddy(text: str, widget: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(widget)
        return label

    # ------------------------------------------------------------------ loading and reading the form
    def _load(self, settings: Settings) -> None:
        index = self.environment_combo.findData(settings.environment)
        self.environment_combo.setCurrentIndex(max(index, 0))
        self.custom_url_edit.setText(settings.custom_url)
        self.groups_table.setRowCount(0)
        for group in settings.service_groups:
            self._append_group_row(group.code, group.name)
        self.workstation_edit.setText(settings.workstation)
        self.sounds_check.setChecked(settings.sounds)
        self.connect_timeout_spin.setValue(settings.connect_timeout_s)
        self.read_timeout_spin.setValue(settings.read_timeout_s)
        self.parallel_spin.setValue(settings.max_parallel)
        self.auto_submit_spin.setValue(settings.auto_submit_ms)
        self._load_printer(settings)
        self._update_group_buttons()

    def _connect_validation(self) -> None:
        self.environment_combo.currentIndexChanged.connect(self._environment_changed)
        self.custom_url_edit.textChanged.connect(self._url_edited)
        self.key_edit.textChanged.connect(self.validate)
        self.key_edit.textChanged.connect(self._key_edited)
        self.groups_table.itemChanged.connect(self.validate)
        self.groups_table.model().rowsInserted.connect(self.validate)
        self.groups_table.model().rowsRemoved.connect(self.validate)
        self.workstation_edit.textChanged.connect(self.validate)
        self.connect_timeout_spin.valueChanged.connect(self.validate)
        self.read_timeout_spin.valueChanged.connect(self.validate)
        self.parallel_spin.valueChanged.connect(self.validate)

    def environment(self) -> str:
        return self.environment_combo.currentData() or "production"

    def set_environment(self, environment: str) -> None:
        self.environment_combo.setCurrentIndex(max(self.environment_combo.findData(environment), 0))

    def form_settings(self) -> Settings:
        """A new :class:`Settings` from the form (fields the dialog does not show are kept)."""
        current = self.desk.settings
        settings = Settings(**{f.name: getattr(current, f.name) for f in fields(Settings)})
        settings.environment = self.environment()
        settings.custom_url = self.custom_url_edit.text().strip()
        settings.service_groups = self.groups()
        settings.workstation = self.workstation_edit.text().strip()
        settings.sounds = self.sounds_check.isChecked()
        settings.connect_timeout_s = round(self.connect_timeout_spin.value(), 1)
        settings.read_timeout_s = float(self.read_timeout_spin.value())
        settings.max_parallel = self.parallel_spin.value()
        settings.auto_submit_ms = self.auto_submit_spin.value()
        self._printer_form(settings)
        return settings

    def chosen_base_url(self) -> str | None:
        """The API address the desk will use with the form's choice; None if the custom address is invalid."""
        if os.environ.get(ENV_API_URL):
            return os.environ[ENV_API_URL].strip().rstrip("/")
        env = self.environment()
        if env == "custom":
            try:
                return api.validate_base_url(self.custom_url_edit.text())
            except api.ConfigurationError:
                return None
        return api.SANDBOX_URL if env == "sandbox" else api.PRODUCTION_URL

    def chosen_origin(self) -> str | None:
        url = self.chosen_base_url()
        return api.api_origin(url) if url else None

    # ------------------------------------------------------------------ validation
    def url_problem(self) -> str | None:
        if self.environment() != "custom":
            return None
        text = self.custom_url_edit.text().strip()
        if not text:
            return "Enter the address of the SortedPRO API, for example https://api.example.com."
        try:
            api.validate_base_url(text)
        except api.ConfigurationError as exc:
            return exc.message
        return None

    def problems(self) -> list[str]:
        """Everything that stops a save, in plain words (the custom-address problem first)."""
        problems: list[str] = []
        url_problem = self.url_problem()
        if url_problem:
            problems.append(url_problem)
        problems += self.printer_problems()
        settings = self.form_settings()
        blank = [g for g in settings.service_groups if not g.code]
        for group in blank:
            problems.append(f"The service group '{group.name}' has no code.")
        settings.service_groups = [g for g in settings.service_groups if g.code]
        if settings.environment == "custom" and url_problem:
            settings.custom_url = "https://placeholder.invalid"  # already reported above, in better words
        codes = [g.code for g in settings.service_groups]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        for problem in settings.validate():
            if problem.startswith("Two service groups have the same code") and duplicates:
                problem = f"Two service groups have the same code: {', '.join(duplicates)}."
            problems.append(problem)
        key_text = self.key_edit.text()
        if key_text.strip():
            try:
                check_key_format(key_text)
            except CredentialError as exc:
                problems.append(str(exc))
        elif key_text:
            problems.append("The API key field holds only spaces: clear it or paste the key again.")
        return problems

    @Slot()
    def validate(self) -> list[str]:
        problems = self.problems()
        url_problem = self.url_problem()
        set_status(self.url_error_label, url_problem or "", "error")
        listed = [p for p in problems if p != url_problem]
        set_status(self.problems_label, " ".join(listed), "error")
        self.problems_label.setAccessibleDescription(" ".join(listed))
        return problems

    # ------------------------------------------------------------------ environment and key status
    @Slot()
    def _environment_changed(self) -> None:
        self._forget_results()
        custom = self.environment() == "custom"
        self.custom_url_edit.setEnabled(custom)
        override = os.environ.get(ENV_API_URL)
        session_url = self.desk.base_url
        if override:
            set_status(self.override_label,
                       f"{ENV_API_URL} is set: this desk uses {override.strip()} whatever is chosen here.", "warn")
        elif session_url != self.desk.settings.api_base_url.rstrip("/"):
            set_status(self.override_label,
                       f"This session is connected to {session_url} (started with an override, e.g. demo mode). "
                       "The choice here applies from the next normal start.", "warn")
        else:
            set_status(self.override_label, "")
        self.validate()
        self.refresh_key_status()

    def _forget_results(self) -> None:
        """A connection test or fetch said something about the previous address or key: clear it."""
        if not self._testing:
            set_status(self.test_result_label, "")
        if not self._fetching:
            set_status(self.fetch_result_label, "")

    @Slot()
    def _key_edited(self) -> None:
        self._forget_results()
        self._show_key_status()

    @Slot()
    def _url_edited(self) -> None:
        self._forget_results()
        self.validate()
        if self.chosen_origin() is None:
            self.refresh_key_status()  # no keyring look-up needed: say at once that the address is not usable
        else:
            self._key_status_timer.start()  # the key belongs to the origin: look it up once typing pauses

    def _start(self, fn, on_result, on_error, name: str) -> Job | None:
        """Run ``fn()`` on the desk's runner; this dialog keeps the job until its answer arrives."""
        return self.runner.run_kept(self._jobs, fn, on_result, on_error, receiver=self, name=name)

    @Slot()
    def save(self) -> bool:
        """Validate, write the settings file, store the key; True when everything was saved."""
        self._commit_open_editor()
        problems = self.validate()
        if problems:
            set_status(self.message_label, "Not saved: fix the problems above first.", "error")
            if self.url_problem():
                self.tabs.setCurrentIndex(0)
                self.custom_url_edit.setFocus()
            return False
        settings = self.form_settings()
        try:
            self.desk.settings_store.apply(settings)  # validated, saved, and every listener told
        except SettingsError as exc:
            set_status(self.message_label, f"Not saved: {exc}", "error")
            return False
        current = self.desk.settings
        for f in fields(Settings):
            setattr(current, f.name, getattr(settings, f.name))

        key_problem = None
        key_text = self.key_edit.text()
        origin = self.chosen_origin()
        if key_text.strip() and origin:
            try:
                self.desk.keystore.set(origin, key_text)
            except CredentialError as exc:
                key_problem = str(exc)
            else:
                self.key_edit.clear()
        self.desk.reconfigure()
        self.settings_changed.emit()
        if key_problem:
            self.tabs.setCurrentIndex(0)
            self.key_edit.setFocus()
            set_status(self.message_label,
                       f"Settings saved, but the API key was not: {key_problem}", "error")
            self.refresh_key_status()
            return False
        set_status(self.message_label, "Saved.", "ok")
        self.accept()
        return True

    # ------------------------------------------------------------------ closing
    def done(self, result: int) -> None:
        for job in list(self._jobs):
            job.detach()  # a test or fetch still running: its answer is dropped, nothing touches this dialog
        self._jobs.clear()
        self._testing = self._fetching = False
        self._key_status_timer.stop()
        if result != QDialog.DialogCode.Accepted:
            self.key_edit.clear()
        super().done(result)
