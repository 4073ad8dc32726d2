"""The Batch window (Ctrl+B): paste or import references, preview, run, cancel, retry, export.

The batch goes through the main window's :class:`~.scan_controller.ScanController` as a quiet batch
(``submit_batch``): the same door, the same runner lanes and limits, the same label follow-up (labels
print in row order when auto-print is on); no panel and no sound per row, one summary tone and line
at the end. The main scan field keeps working meanwhile. Nothing here blocks the GUI thread: the
preview (parsing, this desk's history) and the import and export run on the runner's MISC lane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QPlainTextEdit, QProgressBar, QPushButton, QTableView, QVBoxLayout, QWidget)

from ..batch import BatchInput, BatchInputError, parse_batch_text, write_batch_csv
from ..errors import explain
from ..present import plural
from .batch_model import RETRYABLE, BatchModel, BatchRow, RowKind
from .tickets import Phase

MAX_IMPORT_BYTES = 20 << 20


@dataclass(slots=True)
class Preview:
    """What the worker found: the parsed input and which references this desk's history has allocated."""

    text_generation: int
    parsed: BatchInput | None = None
    already: dict[str, str] = field(default_factory=dict)   # reference -> when (local words)
    problem: str = ""


def _preview(desk: Any, text: str, generation: int) -> Preview:  # worker thread
    from ..present import local_time

    try:
        parsed = parse_batch_text(text)
    except BatchInputError as exc:
        return Preview(generation, problem=str(exc))
    already: dict[str, str] = {}
    problem = ""
    try:
        for line in parsed.valid:
            row = desk.history.latest_allocated(line.reference)
            if row is not None:
                already[line.reference] = local_time(row.started_at)
    except Exception as exc:  # the history cannot be read: say so, the batch itself can still run
        problem = f"This desk's history could not be read ({explain(exc)}): already allocated ones are not marked."
    return Preview(generation, parsed, already, problem)


def _read_file(path: str) -> str:  # worker thread
    data = Path(path).read_bytes()[: MAX_IMPORT_BYTES + 1]
    if len(data) > MAX_IMPORT_BYTES:
        raise BatchInputError(f"That file is larger than {MAX_IMPORT_BYTES >> 20} MB: not a list of references.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


class BatchWindow(QWidget):
    def __init__(self, main: Any) -> None:
        super().__init__(main, Qt.WindowType.Window)
        self.main = main
        self.controller = main.controller
        self.desk = main.desk
        self.setWindowTitle("Batch allocation")
        self.setObjectName("batchWindow")
        self.resize(900, 640)
        self.batches: list[str] = []       # this window's batches (a retry is a new one)
        self.running: str | None = None
        self.preview: Preview | None = None
        self._generation = 0
        self.summary_text = ""
        self.exported: str | None = None   # the last CSV written (tests, the status line)
        self._build()
        c = self.controller
        c.ticket_changed.connect(self._ticket_changed)
        c.batch_finished.connect(self._batch_finished)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.refresh_preview)
        self.editor.textChanged.connect(self._debounce.start)
        self._update_buttons()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.group_label = self._plain(layout)
        self.editor = QPlainTextEdit(self)
        self.editor.setPlaceholderText("Paste consignment references here, one a line (or a CSV), "
                                       "or import a file. Nothing is sent before Run.")
        self.editor.setAccessibleName("References to allocate")
        self.editor.setMaximumHeight(140)
        layout.addWidget(self.editor)
        row = QHBoxLayout()
        self.import_button = QPushButton("&Import file…", self)
        self.import_button.clicked.connect(lambda: self.import_file())
        self.skip_check = QCheckBox("Skip those this desk has already allocated", self)
        self.skip_check.setChecked(True)
        self.skip_check.toggled.connect(lambda _on: self._show_preview())
        row.addWidget(self.import_button)
        row.addWidget(self.skip_check)
        row.addStretch(1)
        layout.addLayout(row)
        self.preview_label = self._plain(layout, wrap=True)
        font = self.preview_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.preview_label.setFont(font)
        self.progress = QProgressBar(self)
        self.progress.setFormat("%v of %m done")
        self.progress.setMinimumHeight(26)
        layout.addWidget(self.progress)
        self.model = BatchModel(self.controller.ticket, self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((44, 130, 120, 180, 240)):
            self.table.setColumnWidth(col, width)
        layout.addWidget(self.table, 1)
        self.summary_label = self._plain(layout, wrap=True)
        self.summary_label.setFont(font)  # the batch's one result line: as big as the preview's
        buttons = QHBoxLayout()
        self.run_button = QPushButton("&Run", self)
        self.cancel_button = QPushButton("&Cancel batch", self)
        self.retry_button = QPushButton("Retry &failed", self)
        self.export_button = QPushButton("&Export CSV…", self)
        close = QPushButton("Close", self)
        self.run_button.clicked.connect(lambda: self.run())
        self.cancel_button.clicked.connect(lambda: self.cancel())
        self.retry_button.clicked.connect(lambda: self.retry_failed())
        self.export_button.clicked.connect(lambda: self.export_csv())
        close.clicked.connect(self.close)
        for b in (self.run_button, self.cancel_button, self.retry_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.run)

    def _plain(self, layout: QVBoxLayout, *, wrap: bool = False) -> QLabel:
        label = QLabel(self)
        label.setTextFormat(Qt.TextFormat.PlainText)  # scan and server text is never rendered as HTML
        label.setWordWrap(wrap)
        layout.addWidget(label)
        return label

    # ------------------------------------------------------------------ preview
    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self._debounce.stop()
        self.refresh_preview()

    @Slot()
    def refresh_preview(self) -> None:
        if self.running:
            return
        self._generation += 1
        generation, text = self._generation, self.editor.toPlainText()
        self.preview_label.setText("Reading the list…")
        self.main.runner.run(lambda _t: _preview(self.desk, text, generation), self._previewed,
                             lambda exc: self.preview_label.setText(f"The list could not be read: {explain(exc)}"),
                             receiver=self, name="batch-preview")

    def _previewed(self, preview: Preview) -> None:
        if preview.text_generation != self._generation or self.running:
            return  # the text changed meanwhile: a newer preview is on its way
        self.preview = preview
        self._show_preview()

    def _show_preview(self) -> None:
        preview = self.preview
        self.group_label.setText(f"Service group: {self.main.group_row.current_display() or 'none chosen'} "
                                 "(the main window's group; change it there).")
        if preview is None or self.running:
            return
        if preview.parsed is None:
            self.preview_label.setText(preview.problem)
            self.model.set_rows([])
            self._update_buttons()
            return
        parsed = preview.parsed
        rows: list[BatchRow] = []
        for line in parsed.valid:
            when = preview.already.get(line.reference or "")
            if when is not None:
                rows.append(BatchRow(line, RowKind.ALREADY, note=f"This desk allocated it {when}"
                                     + (": skipped." if self.skip_check.isChecked() else ": sent again.")))
            else:
                rows.append(BatchRow(line, RowKind.SEND))
        rows += [BatchRow(d, RowKind.DUPLICATE, note=f"Repeats line {d.duplicate_of}: sent once.")
                 for d in parsed.duplicates]
        rows += [BatchRow(b, RowKind.INVALID) for b in parsed.invalid]
        rows.sort(key=lambda r: r.line.line)
        self.model.set_rows(rows)
        counts = self.preview_counts()
        self.preview_label.setText(
            f"{counts['send']} to send · {plural(counts['already'], 'already allocated', 'already allocated')} (this desk's history) · "
            f"{plural(counts['duplicate'], 'duplicate')} · {plural(counts['invalid'], 'invalid line')}"
            + (f"\n{preview.problem}" if preview.problem else ""))
        self.progress.setRange(0, max(1, counts["send"]))
        self.progress.setValue(0)
        self._update_buttons()

    def preview_counts(self) -> dict[str, int]:
        counts = {"send": 0, "already": 0, "duplicate": 0, "invalid": 0}
        for row in self.model.rows:
            if row.kind is RowKind.ALREADY and not self.skip_check.isChecked():
                counts["send"] += 1
            counts[row.kind.value if row.kind is not RowKind.SEND else "send"] += 1
        return counts

    def _sendable(self) -> list[int]:
        skip = self.skip_check.isChecked()
        return [i for i, r in enumerate(self.model.rows)
                if r.kind is RowKind.SEND or (r.kind is RowKind.ALREADY and not skip)]

    # ------------------------------------------------------------------ running
    def run(self) -> str | None:
        indexes = [i for i in self._sendable() if self.model.rows[i].ticket_id is None]
        if self.running or not indexes:
            return None
        return self._submit(indexes)

    def _submit(self, indexes: list[int]) -> str | None:
        rows = self.model.rows
        batch = self.controller.submit_batch([rows[i].line.raw or rows[i].line.reference or "" for i in indexes])
        tickets = self.controller.batch_tickets(batch)
        for i, ticket in zip(indexes, tickets, strict=False):
            self.model.attach(i, ticket.id)
        self.batches.append(batch)
        self.running = batch
        self.summary_text = ""
        self.summary_label.setText("")
        self.editor.setReadOnly(True)
        self._update_progress()
        self._update_buttons()
        if self.controller.batch_summary(batch).total and all(t.settled for t in tickets):
            self._batch_finished(batch)  # every row was refused on the spot (desk not ready)
        return batch

    def cancel(self) -> int:
        """Queued rows are dropped (marked not sent); rows in flight finish and say what happened."""
        if not self.running:
            return 0
        # Not cancel_batch(): that also cancels the running ones' tokens, and a scan stopped mid-request
        # is in doubt. Only the queued are dropped; a row that started meanwhile finishes honestly.
        waiting = [t for t in self.controller.batch_tickets(self.running) if t.phase is Phase.WAITING]
        return sum(1 for t in reversed(waiting) if self.controller.cancel(t.id, "Batch cancelled: not sent."))

    def retry_failed(self) -> str | None:
        """Send again only the rows that failed (never an in-doubt one: that is re-checked, not resent)."""
        if self.running:
            return None
        indexes = [i for i, r in enumerate(self.model.rows) if self.model.state_of(r) in RETRYABLE]
        return self._submit(indexes) if indexes else None

    @Slot(int)
    def _ticket_changed(self, ticket_id: int) -> None:
        if self.model.ticket_changed(ticket_id):
            self._update_progress()

    @Slot(str)
    def _batch_finished(self, batch: str) -> None:
        if batch != self.running:
            return
        self.running = None
        self.editor.setReadOnly(False)
        counts: dict[str, int] = {}
        for row in self.model.rows:
            if row.ticket_id is not None:
                key = self.model.cells(row)[2]
                counts[key] = counts.get(key, 0) + 1
        sent = sum(counts.values())
        parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        self.summary_text = f"Batch finished: {sent} rows: {parts}."
        failed = sum(1 for r in self.model.rows if self.model.state_of(r) in RETRYABLE)
        if failed:
            self.summary_text += f" {plural(failed, 'row')} can be retried (Retry failed)."
        self.summary_label.setText(self.summary_text)
        self._update_progress()
        self._update_buttons()

    def _update_progress(self) -> None:
        sent = [r for r in self.model.rows if r.ticket_id is not None]
        done = sum(1 for r in sent if (t := self.model.ticket_of(r)) is None or t.settled)  # forgotten = settled
        self.progress.setRange(0, max(1, len(sent)))
        self.progress.setValue(done)

    def _update_buttons(self) -> None:
        running = self.running is not None
        self.run_button.setEnabled(not running and any(self.model.rows[i].ticket_id is None
                                                      for i in self._sendable()))
        self.cancel_button.setEnabled(running)
        self.retry_button.setEnabled(not running and any(self.model.state_of(r) in RETRYABLE
                                                        for r in self.model.rows))
        self.export_button.setEnabled(bool(self.model.rows))
        self.import_button.setEnabled(not running)

    # ------------------------------------------------------------------ files
    def import_file(self, path: str | None = None) -> bool:
        if path is None:
            path, _f = QFileDialog.getOpenFileName(self, "Import references", "",
                                                   "Lists (*.txt *.csv);;All files (*)")
            if not path:
                return False
        self.preview_label.setText("Reading the file…")
        job = self.main.runner.run(lambda _t: _read_file(path), self.set_text,
                                   lambda exc: self.preview_label.setText(f"That file could not be read: {explain(exc)}"),
                                   receiver=self, name="batch-import")
        return job is not None

    def export_csv(self, path: str | None = None) -> bool:
        if path is None:
            path, _f = QFileDialog.getSaveFileName(self, "Export the batch", "batch.csv", "CSV (*.csv)")
            if not path:
                return False
        rows = [self._export_row(r) for r in self.model.rows]  # words taken now, in the GUI thread

        def done(count: int) -> None:
            self.exported = path
            self.summary_label.setText(f"{self.summary_text} Exported {plural(count, 'row')} to {path}.".strip())

        job = self.main.runner.run(lambda _t: write_batch_csv(rows, path), done,
                                   lambda exc: self.summary_label.setText(f"Not exported: {explain(exc)}"),
                                   receiver=self, name="batch-export")
        return job is not None

    def _export_row(self, row: BatchRow) -> tuple[str, ...]:
        number, reference, state, service, price, message = self.model.cells(row)
        ticket = self.model.ticket_of(row)
        tracking = (", ".join(ticket.outcome.tracking_references) if ticket.outcome else "") if ticket else row.tracking
        return (number, reference, state, service, price, tracking, message)


def open_batch(main: Any) -> BatchWindow:
    """Ctrl+B: the main window's one Batch window (raised if open)."""
    window = getattr(main, "batch_window", None)
    if window is None:
        window = BatchWindow(main)
        main.batch_window = window
    window.show()
    window.raise_()
    window.activateWindow()
    window._show_preview()
    return window
