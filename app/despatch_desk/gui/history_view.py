"""The history window: every scan attempt, searchable, filterable, exportable; in-doubt rows re-checked.

``HistoryView(desk)`` is a non-modal window over ``desk.history``. The table model reads pages of
200 rows on demand (``canFetchMore``/``fetchMore``), so a history of 100,000 attempts opens as
fast as one of ten. Re-checks (the one policy of :mod:`despatch_desk.in_doubt`) and CSV exports run on
the desk's job runner (:mod:`.jobs`).

Standalone use (screenshots, manual checks)::

    view = HistoryView(desk)   # any Desk
    view.show()
    view.refresh()             # after each scan, while the window is open
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path

from PySide6.QtCore import (
    QDate,
    QItemSelection,
    QItemSelectionModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import in_doubt
from ..core import OutcomeKind
from ..desk import Desk
from ..history import PENDING, HistoryError
from ..present import error_words
from .jobs import Job, runner_for

log = logging.getLogger("despatch_desk.gui.history")

from .history_model import (
    COL_CORRELATION,
    COL_DURATION,
    COL_GROUP,
    COL_MESSAGE,
    COL_OUTCOME,
    COL_REFERENCE,
    COL_SERVICE,
    COL_TIME,
    COL_TRACKING,
    COL_WORKSTATION,
    COLUMNS,
    REFRESH_KEEP_MAX,
    SEARCH_DEBOUNCE_MS,
    HistoryFilter,
    HistoryTable,
    HistoryTableModel,
    OutcomeDelegate,
    row_details,
)


# ---------------------------------------------------------------------------------------------- window
class HistoryView(QDialog):
    """Non-modal window over the audit history. Call :meth:`refresh` after each scan while it is open."""

    rechecked = Signal()   # in-doubt rows were re-checked (the main window may update its counters)

    use_native_dialogs = True  # tests set False: a Qt file dialog they can drive

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.runner = runner_for(desk)
        self._jobs: set[Job] = set()
        self._rechecking = False
        self.last_recheck: in_doubt.RecheckSummary | None = None
        self._exporting = False
        self._shown_before = False
        self.message_box: QMessageBox | None = None
        self.setWindowTitle("Scan history — Despatch Desk")
        self.setObjectName("HistoryView")
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.setWindowFlag(Qt.WindowType.WindowMinimizeButtonHint, True)

        self.model = HistoryTableModel(desk, self)
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self.apply_filter)
        self._build()
        self.model.total_changed.connect(self._total_changed)
        self.model.error.connect(lambda text: self._status(text, "error"))
        self.model.modelReset.connect(self._show_details)
        self.table.selectionModel().currentRowChanged.connect(self._show_details)
        self.apply_filter()
        self.search_edit.setFocus()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Reference, scan, tracking number or group")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Search history")
        self.search_edit.textChanged.connect(lambda _text: self._search_timer.start())
        self.search_edit.returnPressed.connect(self.apply_filter)

        self.outcome_combo = QComboBox(self)
        self.outcome_combo.setAccessibleName("Outcome filter")
        self.outcome_combo.addItem("All outcomes", None)
        for kind in OutcomeKind:
            self.outcome_combo.addItem(kind.label, kind.value)
        self.outcome_combo.addItem("Pending (in flight)", PENDING)
        self.outcome_combo.currentIndexChanged.connect(self.apply_filter)

        self.dates_check = QCheckBox("&Dates from", self)
        self.dates_check.setAccessibleName("Filter by date")
        self.dates_check.toggled.connect(self._dates_toggled)
        today = QDate.currentDate()
        self.date_from = QDateEdit(today.addDays(-6), self)
        self.date_to = QDateEdit(today, self)
        for edit, name in ((self.date_from, "From date"), (self.date_to, "To date (included)")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setAccessibleName(name)
            edit.setEnabled(False)
            edit.dateChanged.connect(self.apply_filter)
        to_label = QLabel("&to", self)
        to_label.setBuddy(self.date_to)
        self.today_button = QPushButton("Toda&y", self)
        self.today_button.setAccessibleName("Show today only")
        self.today_button.clicked.connect(lambda: self.set_date_range(date.today(), date.today()))
        self.week_button = QPushButton("&Last 7 days", self)
        self.week_button.setAccessibleName("Show the last 7 days")
        self.week_button.clicked.connect(lambda: self.set_date_range(date.today() - timedelta(days=6), date.today()))

        search_label = QLabel("&Search:", self)
        search_label.setBuddy(self.search_edit)
        outcome_label = QLabel("&Outcome:", self)
        outcome_label.setBuddy(self.outcome_combo)
        row1 = QHBoxLayout()
        row1.addWidget(search_label)
        row1.addWidget(self.search_edit, 3)
        row1.addWidget(outcome_label)
        row1.addWidget(self.outcome_combo, 1)
        row2 = QHBoxLayout()
        row2.addWidget(self.dates_check)
        row2.addWidget(self.date_from)
        row2.addWidget(to_label)
        row2.addWidget(self.date_to)
        row2.addWidget(self.today_button)
        row2.addWidget(self.week_button)
        row2.addStretch(1)

        self.table = HistoryTable(self)
        self.table.setModel(self.model)
        self.table.setAccessibleName("Scan attempts, newest first")
        self.table.setTabKeyNavigation(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.enter_pressed.connect(self._enter_on_row)
        self.table.copy_requested.connect(self.copy_selection)
        self._outcome_delegate = OutcomeDelegate(self.table)
        self.table.setItemDelegateForColumn(COL_OUTCOME, self._outcome_delegate)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        fm = self.fontMetrics()
        widths = {COL_TIME: "2026-12-31 23:59:59", COL_WORKSTATION: "workstation", COL_REFERENCE: "EC-000-000-000",
                  COL_GROUP: "valuableGoods", COL_OUTCOME: "Already allocated (re-checked)",
                  COL_SERVICE: "Swift Parcels Next Day 12:00", COL_TRACKING: "SWP1234567890",
                  COL_MESSAGE: "x" * 60, COL_CORRELATION: "0123456789abcdef01234567", COL_DURATION: "999 ms"}
        for column, sample in widths.items():
            header.resizeSection(column, fm.horizontalAdvance(sample) + 24)

        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setTabChangesFocus(True)
        self.details.setAccessibleName("Details of the selected attempt")
        self.details.setPlaceholderText("Select an attempt to see its full message, the server's answer and "
                                        "the correlation id.")
        self.details.setFixedHeight(fm.lineSpacing() * 7 + 12)
        details_label = QLabel("Deta&ils:", self)
        details_label.setBuddy(self.details)

        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setAccessibleName("Status")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.count_label = QLabel(self)
        self.count_label.setAccessibleName("Number of attempts shown")
        self.recheck_button = QPushButton("Re-&check in-doubt (0)", self)
        self.recheck_button.setAccessibleName("Re-check all in-doubt scans")
        self.recheck_button.clicked.connect(self.recheck_in_doubt)
        self.export_button = QPushButton("&Export CSV…", self)
        self.export_button.setAccessibleName("Export the attempts shown to a CSV file")
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.close_button = QPushButton("Close", self)
        self.close_button.setAccessibleName("Close the history")
        self.close_button.clicked.connect(self.close)
        for button in (self.today_button, self.week_button, self.recheck_button, self.export_button, self.close_button):
            button.setAutoDefault(False)  # Enter belongs to the table (re-check) and the search box

        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label)
        bottom.addStretch(1)
        bottom.addWidget(self.recheck_button)
        bottom.addWidget(self.export_button)
        bottom.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(self.table, 1)
        layout.addWidget(details_label)
        layout.addWidget(self.details)
        layout.addWidget(self.status_label)
        layout.addLayout(bottom)
        self.status_label.setVisible(False)

        em = fm.averageCharWidth()
        self.resize(max(self.sizeHint().width(), 150 * em), fm.lineSpacing() * 42)

        self._copy_action = QAction("&Copy rows", self)
        self._copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self._copy_action.triggered.connect(self.copy_selection)

    # ------------------------------------------------------------------ filter
    def current_filter(self) -> HistoryFilter:
        value = self.outcome_combo.currentData()
        since = until = None
        if self.dates_check.isChecked():
            since = _local_midnight(self.date_from.date().toPython())
            until = _local_midnight(self.date_to.date().toPython() + timedelta(days=1))
        return HistoryFilter(self.search_edit.text().strip(), (value,) if value else (), since, until)

    @Slot()
    def apply_filter(self) -> None:
        self._search_timer.stop()
        self.model.set_filter(self.current_filter())
        self._update_recheck_button()

    def set_date_range(self, first: date, last: date) -> None:
        for edit in (self.date_from, self.date_to):
            edit.blockSignals(True)
        self.date_from.setDate(QDate(first))
        self.date_to.setDate(QDate(last))
        for edit in (self.date_from, self.date_to):
            edit.blockSignals(False)
        if self.dates_check.isChecked():
            self.apply_filter()
        else:
            self.dates_check.setChecked(True)  # applies through _dates_toggled

    @Slot(bool)
    def _dates_toggled(self, on: bool) -> None:
        self.date_from.setEnabled(on)
        self.date_to.setEnabled(on)
        self.apply_filter()

    @Slot(int)
    def _total_changed(self, total: int) -> None:
        self.count_label.setText(f"{total:,} attempt{'s' if total != 1 else ''}")

    # ------------------------------------------------------------------ refresh
    @Slot()
    def refresh(self) -> None:
        """Re-read the history (after a scan, a re-check): keeps the filter, the loaded rows and the selection.

        Costs nothing while the window is hidden: it is then re-read when shown again.
        """
        if not self.isVisible() and self._shown_before:
            return  # showEvent() refreshes
        selected = self.selected_ids()
        current = self.model.row_at(self.table.currentIndex().row())
        scroll = self.table.verticalScrollBar().value()
        self.model.reload(keep=min(self.model.loaded(), REFRESH_KEEP_MAX))
        self._select_ids(selected, current.id if current else None)
        if not selected:
            self.table.verticalScrollBar().setValue(scroll)
        self._update_recheck_button()

    def selected_ids(self) -> list[int]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [r.id for r in (self.model.row_at(i) for i in rows) if r is not None]

    def _select_ids(self, ids: Iterable[int], current_id: int | None) -> None:
        selection = QItemSelection()
        for row_id in ids:
            position = self.model.position_of(row_id)
            if position is not None:
                selection.select(self.model.index(position, 0), self.model.index(position, len(COLUMNS) - 1))
        model = self.table.selectionModel()
        if current_id is not None and self.model.position_of(current_id) is not None:
            model.setCurrentIndex(self.model.index(self.model.position_of(current_id), 0),
                                  QItemSelectionModel.SelectionFlag.NoUpdate)
        if not selection.isEmpty():
            model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def in_doubt_count(self) -> int:
        try:
            return in_doubt.count(self.desk)
        except HistoryError:
            return 0

    def _update_recheck_button(self) -> None:
        count = self.in_doubt_count()
        self.recheck_button.setText(f"Re-&check in-doubt ({count})")
        self.recheck_button.setEnabled(count > 0 and not self._rechecking)

    # ------------------------------------------------------------------ details, copy, context menu
    @Slot()
    def _show_details(self, *_args) -> None:
        row = self.model.row_at(self.table.currentIndex().row())
        self.details.setPlainText(row_details(row) if row else "")

    @Slot()
    def copy_selection(self) -> str:
        rows = [index.row() for index in self.table.selectionModel().selectedRows()]
        if not rows and self.table.currentIndex().isValid():
            rows = [self.table.currentIndex().row()]
        text = self.model.rows_as_tsv(rows)
        if text:
            QGuiApplication.clipboard().setText(text)
            self._status(f"Copied {len(set(rows))} row{'s' if len(set(rows)) != 1 else ''}.", "info")
        return text

    def _context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        row = self.model.row_at(index.row()) if index.isValid() else None
        menu = QMenu(self)
        recheck = menu.addAction("&Re-check this scan")
        recheck.setEnabled(row is not None and row.outcome == OutcomeKind.IN_DOUBT.value and not self._rechecking)
        copy_reference = menu.addAction("Copy r&eference")
        copy_reference.setEnabled(row is not None and bool(row.reference))
        menu.addAction(self._copy_action)
        chosen = menu.exec(self.table.viewport().mapToGlobal(pos))
        if row is None:
            return
        if chosen is recheck:
            self.recheck_row(row.id)
        elif chosen is copy_reference and row.reference:
            QGuiApplication.clipboard().setText(row.reference)

    @Slot(int)
    def _enter_on_row(self, position: int) -> None:
        row = self.model.row_at(position)
        if row is None:
            return
        if row.outcome == OutcomeKind.IN_DOUBT.value:
            self.recheck_row(row.id)
        else:
            self._status(f"{row.reference or 'This scan'} is not in doubt: nothing to re-check "
                         "(the details are below).", "info")

    # ------------------------------------------------------------------ re-check
    def _start(self, fn, on_result, on_error, name: str) -> Job | None:
        """Run ``fn()`` on the desk's runner; this view keeps the job until its answer arrives."""
        return self.runner.run_kept(self._jobs, fn, on_result, on_error, receiver=self, name=name)

    @Slot()
    def recheck_in_doubt(self) -> bool:
        """Re-check every in-doubt attempt against SortedPRO (in the background)."""
        try:
            ids = [row.id for row in self.desk.history.in_doubt()]
        except HistoryError as exc:
            self._status(str(exc), "error")
            return False
        if not ids:
            self._status("Nothing is in doubt.", "info")
            return False
        return self._recheck(ids)

    def recheck_row(self, row_id: int) -> bool:
        return self._recheck([row_id])

    def _recheck(self, ids: list[int]) -> bool:
        if self._rechecking:
            self._status("A re-check is already running.", "info")
            return False
        desk = self.desk
        job = self.runner.run(lambda token: in_doubt.recheck_all(desk, ids, cancel=token), self._recheck_done,
                              self._recheck_failed, receiver=self, name="recheck")
        if job is None:
            self._status("The desk is closing: nothing was re-checked.", "error")
            return False
        self._jobs.add(job)
        self._rechecking = True
        self.recheck_button.setEnabled(False)
        self._status(f"Re-checking {len(ids)} in-doubt scan{'s' if len(ids) != 1 else ''} with SortedPRO…", "busy")
        return True

    def _recheck_done(self, summary: in_doubt.RecheckSummary) -> None:
        self._jobs = {j for j in self._jobs if not j.finished}
        self._rechecking = False
        self.last_recheck = summary
        self.refresh()
        self.rechecked.emit()
        kinds = {r.kind for r in summary.results}
        calm = {OutcomeKind.ALLOCATED.value, OutcomeKind.IN_DOUBT.value, in_doubt.BUSY, in_doubt.SETTLED}
        if summary.problem or kinds - calm:
            tone = "error" if len(summary.results) <= 1 or summary.problem else "warn"
        elif kinds <= {OutcomeKind.ALLOCATED.value}:
            tone = "ok"
        else:
            tone = "warn"
        self._status(summary.words(), tone)

    def _recheck_failed(self, exc: BaseException) -> None:
        self._jobs = {j for j in self._jobs if not j.finished}
        self._rechecking = False
        self._update_recheck_button()
        self._status(error_words(exc), "error")

    # ------------------------------------------------------------------ export
    def ask_export_path(self) -> str | None:
        dialog = QFileDialog(self, "Export history as CSV")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.selectFile(f"despatch-history-{date.today().isoformat()}.csv")
        if not self.use_native_dialogs:
            dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.selectedFiles():
            return None
        return dialog.selectedFiles()[0]

    def export_csv(self, path: str | Path | None = None) -> bool:
        """Export every attempt matching the current filter (not only the loaded rows) in the background."""
        if self._exporting:
            return False
        if path is None:
            path = self.ask_export_path()
            if not path:
                return False
        target = Path(path)
        current = self.current_filter()
        history = self.desk.history

        def work() -> int:
            rows = history.search(current.text, limit=None, **current.kwargs())
            return history.export_csv(rows, target)

        self._exporting = True
        self.export_button.setEnabled(False)
        self._status(f"Exporting to {target}…", "busy")
        self._start(work, lambda count: self._export_done(count, target), self._export_failed, name="export")
        return True

    def _export_done(self, count: int, target: Path) -> None:
        self._exporting = False
        self.export_button.setEnabled(True)
        self._status(f"Exported {count:,} row{'s' if count != 1 else ''} to {target}.", "ok")

    def _export_failed(self, exc: BaseException) -> None:
        self._exporting = False
        self.export_button.setEnabled(True)
        text = error_words(exc)
        self._status(f"Not exported: {text}", "error")
        box = QMessageBox(QMessageBox.Icon.Warning, "Export failed", f"The history was not exported.\n\n{text}",
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.message_box = box
        box.open()  # window-modal, does not block the event loop

    # ------------------------------------------------------------------ status and closing
    def _status(self, text: str, tone: str = "info") -> None:
        from .settings_text import set_status

        set_status(self.status_label, text, tone)

    def done(self, result: int) -> None:
        for job in list(self._jobs):
            job.detach()  # a re-check still runs to its end and is recorded by the desk; only the display is dropped
        self._jobs.clear()
        self._rechecking = self._exporting = False
        self._search_timer.stop()
        super().done(result)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._shown_before:
            self.refresh()  # shown again after being closed: catch up with the scans made meanwhile
        self._shown_before = True


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min).astimezone()
