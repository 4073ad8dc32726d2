"""Demo mode that teaches: the demo consignments beside the scan field, a printable barcode sheet, a way out.

In demo mode the window gets a side panel listing every demo consignment (``sandbox/demo.py``): its
reference and what scanning it will show. Double-click (or Enter on) a row scans it through the one
door (:meth:`ScanController.submit_scan`), exactly as a scanner would. "Write barcode sheet (PDF)…"
writes every reference as a Code 128 barcode (``sheets.demo_sheet``) on a worker, so a real scanner can
be tried on the demo. Help gets the same items and "Leave demo mode" (``leave_requested``: the app
opens the real desk in its place).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractItemView, QDockWidget, QFileDialog, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..errors import explain
from ..present import plain_tooltip
from ..sandbox.demo import DEMO_CONSIGNMENTS

log = logging.getLogger("despatch_desk.gui.demo")

INTRO = ("These consignments exist only in the built-in sandbox. Choose a group, then scan one "
         "(or double-click it here): each line says what it will show.")


class DemoPanel(QDockWidget):
    leave_requested = Signal()
    sheet_written = Signal(str)     # the PDF's path
    sheet_failed = Signal(str)      # plain words

    def __init__(self, window: Any) -> None:
        super().__init__("Demo consignments", window)
        self.window = window
        self.setObjectName("demoPanel")
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(8, 8, 8, 8)
        intro = QLabel(INTRO, body)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(len(DEMO_CONSIGNMENTS), 2, body)
        self.table.setObjectName("demoConsignments")
        self.table.setHorizontalHeaderLabels(["Reference", "What it shows"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(True)
        for row, c in enumerate(DEMO_CONSIGNMENTS):
            ref = QTableWidgetItem(c.reference)
            ref.setData(Qt.ItemDataRole.UserRole, c.reference)
            shows = QTableWidgetItem(_shows(c))
            shows.setToolTip(plain_tooltip(_shows(c)) or "")
            self.table.setItem(row, 0, ref)
            self.table.setItem(row, 1, shows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemActivated.connect(lambda item: self.scan_row(item.row()))
        layout.addWidget(self.table, 1)
        self.sheet_button = QPushButton("Write barcode &sheet (PDF)…", body)
        self.sheet_button.clicked.connect(self.ask_sheet_path)
        layout.addWidget(self.sheet_button)
        self.status = QLabel("", body)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.leave_button = QPushButton("&Leave demo mode", body)
        self.leave_button.clicked.connect(self.leave_requested)
        layout.addWidget(self.leave_button)
        self.setWidget(body)
        self.setMinimumWidth(300)
        self.setMaximumWidth(460)  # the scan side keeps the room: the group must never be cut

    def resizeEvent(self, event: Any) -> None:  # rows fit their words at the width the panel has now
        super().resizeEvent(event)
        self.table.resizeRowsToContents()

    # ------------------------------------------------------------------ scanning from the list
    def reference_at(self, row: int) -> str:
        return self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)

    def scan_row(self, row: int) -> None:
        """A double-click is a scan of that reference, through the same door as the scanner."""
        self.window.on_scan(self.reference_at(row))
        self.window.focus_scan()

    # ------------------------------------------------------------------ the barcode sheet
    def ask_sheet_path(self) -> None:
        start = str(Path.home() / "despatch-desk-demo-barcodes.pdf")
        path, _ = QFileDialog.getSaveFileName(self, "Write the demo barcode sheet", start, "PDF (*.pdf)")
        if path:
            self.write_sheet(path)
        self.window.focus_scan()

    def write_sheet(self, path: str | Path) -> bool:
        """Write the PDF on a worker (disk work never on the GUI thread); ``sheet_written`` or ``sheet_failed``."""
        from ..sheets.demo_sheet import write_demo_sheet

        target = Path(path)
        rows = [(c.reference, _shows(c)) for c in DEMO_CONSIGNMENTS]
        self.status.setText(f"Writing {target.name}…")
        job = self.window.runner.run(lambda _t: write_demo_sheet(str(target), consignments=rows),
                                     lambda pages: self._written(target, pages), self._failed, receiver=self,
                                     name="demo-sheet")
        return job is not None

    def _written(self, path: Path, pages: int) -> None:
        self.status.setText(f"Barcode sheet written ({pages} page{'s' if pages != 1 else ''}): {path}. "
                            "Print it and scan the barcodes with a real scanner.")
        self.sheet_written.emit(str(path))

    def _failed(self, exc: BaseException) -> None:
        words = f"The barcode sheet could not be written: {explain(exc)}"
        self.status.setText(words)
        self.sheet_failed.emit(words)


def _shows(c: Any) -> str:
    group = f" · try group {c.suggested_group}" if c.suggested_group else ""
    return f"{c.hint}{group}"


class DemoActions(QObject):
    """The Help menu's demo items, kept with the panel they act on."""

    def __init__(self, window: Any, panel: DemoPanel) -> None:
        super().__init__(window)
        help_menu = next((a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Help"),
                         None) or window.menuBar().addMenu("&Help")
        help_menu.addSeparator()
        self.show_action = panel.toggleViewAction()
        self.show_action.setText("Demo &consignments")
        help_menu.addAction(self.show_action)
        self.sheet_action = QAction("Write demo &barcode sheet (PDF)…", window)
        self.sheet_action.triggered.connect(lambda _c=False: panel.ask_sheet_path())
        help_menu.addAction(self.sheet_action)
        self.leave_action = QAction("&Leave demo mode", window)
        self.leave_action.triggered.connect(lambda _c=False: panel.leave_requested.emit())
        help_menu.addAction(self.leave_action)


def install(window: Any) -> DemoPanel:
    """Demo mode: the side panel (shown) and the Help items. ``window.demo`` is the panel."""
    panel = DemoPanel(window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, panel)
    panel.actions_ = DemoActions(window, panel)
    return panel
