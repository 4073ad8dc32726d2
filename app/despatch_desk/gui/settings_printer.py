"""The settings dialog's printer page ("Label printer"): the label printer, the label format, auto-print, a test label.

A mixin of :class:`~despatch_desk.gui.settings_dialog.SettingsDialog` (it uses the dialog's ``_start``
and ``_buddy``). Listing the OS printers and printing the test label run on the desk's job runner:
``lpstat`` and a printer that is off must never freeze the dialog. Saved with the other pages.
Mnemonics are few (Alt+B the page, Alt+Z the format): the dialog's other pages use up the alphabet.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import printing
from ..errors import explain
from ..settings import Settings
from .settings_text import set_status

FORMATS = (("ZPL (thermal label printers)", "zpl"), ("PDF (ordinary printers, or a driver)", "pdf"))
TEST_REFERENCE = "TEST-LABEL"


def printer_uri_problem(text: str) -> str | None:
    """Plain words when a typed printer address cannot be used (empty is fine: no printing)."""
    if not text.strip():
        return None
    try:
        printing.parse_printer_uri(text.strip())
    except printing.PrinterError as exc:
        return exc.message
    return None


def print_test_label(uri: str, fmt: str, desk_name: str) -> str:  # worker thread
    """Print a test label to ``uri``; one plain sentence either way (never raises for printer trouble)."""
    data = printing.make_test_label(fmt, desk_name=desk_name, when=datetime.now().astimezone())
    result = printing.print_label(uri, data, reference=TEST_REFERENCE, job_name="Despatch Desk test label")
    return f"Test label: {result.words}" if result.ok else f"Test label not printed: {result.error}"


class PrinterPage:
    def _build_printer_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        intro = QLabel("Labels print on their own after each allocation when auto-print is on. "
                       "Type the printer's address, or find the printers this computer knows.", page)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.printer_uri_edit = QLineEdit(page)
        self.printer_uri_edit.setPlaceholderText("tcp://192.0.2.10:9100, cups://zebra, system://Office printer")
        self.printer_uri_edit.setAccessibleName("Label printer address")
        form.addRow(self._buddy("Label printer:", self.printer_uri_edit), self.printer_uri_edit)
        forms = QLabel("tcp://ADDRESS:9100 a label printer on the network · cups://QUEUE · system://PRINTER NAME · "
                       "folder:///PATH (files)", page)
        forms.setWordWrap(True)
        forms.setStyleSheet("color: #455A64;")
        form.addRow("", forms)
        self.printer_error_label = QLabel(page)
        self.printer_error_label.setWordWrap(True)
        self.printer_error_label.setVisible(False)
        form.addRow("", self.printer_error_label)
        row = QHBoxLayout()
        self.printer_pick_combo = QComboBox(page)
        self.printer_pick_combo.setAccessibleName("Printers found on this computer")
        self.printer_pick_combo.setEnabled(False)
        self.printer_pick_combo.addItem("(press Find printers)", "")
        self.find_printers_button = QPushButton("Find printers", page)
        self.find_printers_button.setAccessibleName("Find the printers this computer knows")
        row.addWidget(self.printer_pick_combo, 1)
        row.addWidget(self.find_printers_button)
        form.addRow(self._buddy("Printers found:", self.printer_pick_combo), row)
        self.label_format_combo = QComboBox(page)
        for text, value in FORMATS:
            self.label_format_combo.addItem(text, value)
        self.label_format_combo.setAccessibleName("Label format asked from SortedPRO")
        form.addRow(self._buddy("Label format (&ZPL or PDF):", self.label_format_combo), self.label_format_combo)
        self.auto_print_check = QCheckBox("Print the label automatically after each allocation", page)
        self.auto_print_check.setAccessibleName("Print labels automatically")
        form.addRow("", self.auto_print_check)
        layout.addLayout(form)
        test_row = QHBoxLayout()
        self.test_print_button = QPushButton("Print test label", page)
        self.test_print_button.setAccessibleName("Print a test label on the printer above")
        test_row.addWidget(self.test_print_button)
        test_row.addStretch(1)
        layout.addLayout(test_row)
        self.test_print_label = QLabel(page)
        self.test_print_label.setWordWrap(True)
        self.test_print_label.setAccessibleName("Test label result")
        self.test_print_label.setVisible(False)
        layout.addWidget(self.test_print_label)
        layout.addStretch(1)
        self.find_printers_button.clicked.connect(self.find_printers)
        self.printer_pick_combo.activated.connect(self._printer_picked)
        self.test_print_button.clicked.connect(self.print_test)
        self.printer_uri_edit.textChanged.connect(self._printer_edited)
        return page

    # ------------------------------------------------------------------ load / read
    def _load_printer(self, settings: Settings) -> None:
        self.printer_uri_edit.setText(settings.printer_uri)
        self.label_format_combo.setCurrentIndex(max(self.label_format_combo.findData(settings.label_format), 0))
        self.auto_print_check.setChecked(settings.auto_print)

    def _printer_form(self, settings: Settings) -> None:
        settings.printer_uri = self.printer_uri_edit.text().strip()
        settings.label_format = self.label_format_combo.currentData() or "zpl"
        settings.auto_print = self.auto_print_check.isChecked()

    def printer_problems(self) -> list[str]:
        problem = printer_uri_problem(self.printer_uri_edit.text())
        return [problem] if problem else []

    @Slot()
    def _printer_edited(self) -> None:
        set_status(self.printer_error_label, printer_uri_problem(self.printer_uri_edit.text()) or "", "error")
        set_status(self.test_print_label, "")  # it was about another address
        self.validate()

    # ------------------------------------------------------------------ finding printers (off the GUI thread)
    @Slot()
    def find_printers(self) -> None:
        self.find_printers_button.setEnabled(False)
        set_status(self.test_print_label, "Looking for printers…", "info")
        if self._start(printing.list_printers, self._printers_found, self._printers_failed, "list-printers") is None:
            self._printers_failed(RuntimeError("The desk is closing."))

    def _printers_found(self, found: list[printing.PrinterInfo]) -> None:
        self.find_printers_button.setEnabled(True)
        self.printer_pick_combo.clear()
        for info in found:
            self.printer_pick_combo.addItem(f"{info.name}{' (default)' if info.is_default else ''} — {info.uri}",
                                            info.uri)
        self.printer_pick_combo.setEnabled(bool(found))
        if not found:
            self.printer_pick_combo.addItem("(no printers found: type the address)", "")
        n = len(found)
        set_status(self.test_print_label, f"{n} printer{'s' if n != 1 else ''} found." if n else
                   "No printers found on this computer: type the printer's address above.", "ok" if n else "warn")

    def _printers_failed(self, exc: BaseException) -> None:
        self.find_printers_button.setEnabled(True)
        set_status(self.test_print_label, f"Printers could not be listed: {explain(exc)}", "error")

    @Slot(int)
    def _printer_picked(self, index: int) -> None:
        uri = self.printer_pick_combo.itemData(index)
        if uri:
            self.printer_uri_edit.setText(uri)

    # ------------------------------------------------------------------ the test label (off the GUI thread)
    @Slot()
    def print_test(self) -> None:
        uri = self.printer_uri_edit.text().strip()
        problem = printer_uri_problem(uri) if uri else "Type or find the printer's address first."
        if problem:
            set_status(self.test_print_label, problem, "error")
            return
        fmt = self.label_format_combo.currentData() or "zpl"
        desk_name = self.workstation_edit.text().strip() or self.desk.settings.workstation
        self.test_print_button.setEnabled(False)
        set_status(self.test_print_label, f"Printing a test label on {uri}…", "info")
        job = self._start(lambda: print_test_label(uri, fmt, desk_name), self._test_printed,
                          lambda exc: self._test_printed(f"Test label not printed: {explain(exc)}"), "test-label")
        if job is None:
            self._test_printed("Test label not printed: the desk is closing.")

    def _test_printed(self, words: str) -> None:
        self.test_print_button.setEnabled(True)
        self.last_test_print = words
        set_status(self.test_print_label, words, "ok" if words.startswith("Test label:") else "error")
