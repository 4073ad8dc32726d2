"""The settings dialog's connection page: environment and address, the stored key, the connection test.

A mixin of :class:`~despatch_desk.gui.settings_dialog.SettingsDialog` (it uses the dialog's widgets
and ``_start``). The key is never shown: only *where* it is stored, and errors with the key masked.
"""

from __future__ import annotations


from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import api, proxy
from ..credentials import ENV_API_KEY, CredentialError, check_key_format
from .settings_text import ENVIRONMENT_CHOICES, _Masked, _unmask, keyring_words, plain_api_error, set_status


class ConnectionPage:
    def _build_connection_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.environment_combo = QComboBox(page)
        for key, text in ENVIRONMENT_CHOICES:
            self.environment_combo.addItem(text, key)
        self.environment_combo.setAccessibleName("Environment")
        self.environment_combo.setAccessibleDescription(
            "Which SortedPRO to use: production, the sandbox test account, or a custom address")
        form.addRow(self._buddy("&Environment:", self.environment_combo), self.environment_combo)

        self.custom_url_edit = QLineEdit(page)
        self.custom_url_edit.setPlaceholderText("https://api.example.com")
        self.custom_url_edit.setAccessibleName("Custom API address")
        self.url_error_label = self._status_label("Problem with the custom address")
        self.override_label = self._status_label("Address override notice")
        url_box = QVBoxLayout()  # hidden labels take no room here (a hidden form row still would)
        url_box.setContentsMargins(0, 0, 0, 0)
        url_box.addWidget(self.custom_url_edit)
        url_box.addWidget(self.url_error_label)
        url_box.addWidget(self.override_label)
        form.addRow(self._buddy("Custom U&RL:", self.custom_url_edit), url_box)

        self.key_edit = QLineEdit(page)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.key_edit.setDragEnabled(False)
        self.key_edit.setAccessibleName("API key")
        self.key_edit.setAccessibleDescription("Paste a new API key; the stored key is never shown")
        self.key_edit.setPlaceholderText("Paste the API key to store it")
        form.addRow(self._buddy("API &key:", self.key_edit), self.key_edit)

        self.key_status_label = QLabel(page)
        self.key_status_label.setWordWrap(True)
        self.key_status_label.setAccessibleName("Stored key")
        self.remove_key_button = QPushButton("Remove stored ke&y", page)
        self.remove_key_button.setAccessibleName("Remove stored key")
        self.remove_key_button.setAutoDefault(False)
        self.remove_key_button.clicked.connect(self.remove_stored_key)
        key_box = QVBoxLayout()
        key_box.addWidget(self.key_status_label)
        key_box.addWidget(self.remove_key_button, 0, Qt.AlignmentFlag.AlignLeft)
        form.addRow("", key_box)

        self.test_button = QPushButton("&Test connection", page)
        self.test_button.setAccessibleName("Test connection")
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(self.test_connection)
        self.test_result_label = QLabel(page)
        self.test_result_label.setWordWrap(True)
        self.test_result_label.setAccessibleName("Connection test result")
        self.test_result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.proxy_label = QLabel(proxy.describe_setting(self.desk.settings.proxy), page)
        self.proxy_label.setWordWrap(True)
        self.proxy_label.setAccessibleName("Proxy in use")
        self.proxy_label.setTextFormat(Qt.TextFormat.PlainText)
        test_row = QVBoxLayout()
        test_row.addWidget(self.proxy_label)
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignLeft)
        test_row.addWidget(self.test_result_label)
        form.addRow("", test_row)
        return page

    @Slot()
    def refresh_key_status(self) -> None:
        """Look up (in the background) whether a key is stored for the chosen origin."""
        self._key_status_generation += 1
        generation = self._key_status_generation
        origin = self.chosen_origin()
        self.remove_key_button.setEnabled(False)
        if origin is None:
            self._key_source = None
            self._show_key_status("Enter a valid address to see whether a key is stored for it.", "info")
            return
        self._key_status = ("", "info")
        set_status(self.key_status_label, "Checking the keyring…", "busy")
        keystore = self.desk.keystore

        def look():
            status = keystore.status(origin)
            return status, keyring_words(keystore)

        self._start(look, lambda result: self._key_status_arrived(generation, origin, result),
                    lambda exc: self._key_status_arrived(generation, origin, exc), name="key-status")

    def _key_status_arrived(self, generation: int, origin: str, result: object) -> None:
        if generation != self._key_status_generation:
            return  # an older look-up (the environment changed meanwhile)
        if isinstance(result, BaseException):
            self._key_source = None
            self._show_key_status(plain_api_error(result, origin), "error")
            return
        status, where = result  # type: ignore[misc]
        self._key_source = status.source
        if status.source == "environment":
            self._show_key_status(
                f"This session uses the key in {ENV_API_KEY}. A key saved here is used when it is not set.", "warn")
        elif status.source == "keyring":
            self._show_key_status(f"A key is stored in {where} for {origin}.", "ok")
        elif status.problem:
            self._show_key_status(status.problem, "error")
        else:
            self._show_key_status(f"No key stored for {origin}.", "warn")
        self.remove_key_button.setEnabled(status.source == "keyring")

    def _show_key_status(self, text: str | None = None, tone: str | None = None) -> None:
        """The stored-key sentence, plus what Save will do with a key typed in the field."""
        if text is not None:
            self._key_status = (text, tone or "info")
        base, tone = getattr(self, "_key_status", ("", "info"))
        if not base:
            return
        if self.key_edit.text().strip() and self._key_source != "environment" and tone != "error":
            verb = "replaces it" if self._key_source == "keyring" else "is stored"
            set_status(self.key_status_label, f"{base} The key typed above {verb} when you save.", tone)
        else:
            set_status(self.key_status_label, base, tone)

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def remove_stored_key(self) -> bool:
        origin = self.chosen_origin()
        if origin is None:
            return False
        if not self._confirm("Remove stored key",
                             f"Remove the API key stored for {origin}?\n\n"
                             "The desk cannot allocate there until a key is saved again."):
            return False
        try:
            removed = self.desk.keystore.delete(origin)
        except CredentialError as exc:
            set_status(self.message_label, str(exc), "error")
            return False
        set_status(self.message_label, f"The key for {origin} was removed." if removed
                   else f"There was no key stored for {origin}.", "ok" if removed else "info")
        self.desk.reconfigure()
        self.settings_changed.emit()
        self.refresh_key_status()
        return removed

    # ------------------------------------------------------------------ background calls (test, fetch)
    def _call_plan(self) -> tuple[str, str, str | None, api.Timeouts] | str:
        """(base URL, origin, entered key or None, timeouts) for a background call, or a problem in words."""
        url_problem = self.url_problem()
        if url_problem:
            return url_problem
        base_url = self.chosen_base_url()
        assert base_url is not None
        entered = None
        if self.key_edit.text().strip():
            try:
                entered = check_key_format(self.key_edit.text())
            except CredentialError as exc:
                return str(exc)
        timeouts = api.Timeouts(connect=self.connect_timeout_spin.value(), read=self.read_timeout_spin.value())
        return base_url, api.api_origin(base_url), entered, timeouts

    def _key_finder(self, origin: str, entered: str | None):
        """A callable (for the worker thread) returning the key to try: entered, session or stored."""
        desk = self.desk

        def find() -> str:
            if entered:
                return entered
            if origin == desk.origin:
                return desk.api_key()  # the session's key (demo/override) or the stored one; DeskNotReady if none
            key = desk.keystore.get(origin)
            if not key:
                raise CredentialError(f"No API key is stored for {origin}: paste one in the API key field first.")
            return key

        return find

    @Slot()
    def test_connection(self) -> None:
        if self._testing:
            return
        plan = self._call_plan()
        if isinstance(plan, str):
            set_status(self.test_result_label, plan, "error")
            return
        base_url, origin, entered, timeouts = plan
        find_key = self._key_finder(origin, entered)
        proxy_setting = self.desk.settings.proxy
        self.proxy_label.setText(proxy.describe_setting(proxy_setting))

        def probe() -> str:
            key = find_key()
            try:
                with api.SortedProClient(base_url, key, timeouts=timeouts, max_connections=2,
                                         proxy=proxy_setting) as client:  # the test goes the way scans go
                    route = client.proxy.describe()
                    try:
                        services = client.list_carrier_services()
                        return f"Connected to {origin}: {len(services)} carrier services. {route}."
                    except (api.NotFound, api.Refused, api.UnexpectedAnswer):
                        groups = client.list_service_groups()
                        return f"Connected to {origin}: {len(groups)} service groups. {route}."
            except api.ApiError as exc:
                raise _Masked(exc, key) from None

        self._testing = True
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing…")
        set_status(self.test_result_label, f"Connecting to {origin}…", "busy")
        self._start(probe, lambda text: self._test_done(text, None), lambda exc: self._test_done(None, (exc, origin)),
                    name="test-connection")

    def _test_done(self, text: str | None, error: tuple[BaseException, str] | None) -> None:
        self._testing = False
        self.test_button.setEnabled(True)
        self.test_button.setText("&Test connection")
        if error is None:
            set_status(self.test_result_label, text or "Connected.", "ok")
        else:
            exc, origin = error
            set_status(self.test_result_label, _unmask(exc, origin), "error")
