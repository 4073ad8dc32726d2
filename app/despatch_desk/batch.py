"""Batch allocation without a window: reading a list of references, and running it N at a time.

``parse_batch_text`` reads plain lines or CSV (the column whose header names the reference or the
consignment, else the first column that holds references), cleans each entry like a scan
(:func:`references.parse_reference`), keeps the first of duplicates and reports invalid lines; nothing
here touches the network. ``BatchRunner`` sends the valid references through ``Desk.allocate`` with at
most ``parallel`` in flight; ``stop()`` takes no new ones and lets those in flight finish (each is
recorded by the desk as usual), the rest come back as not sent.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .core import Outcome, OutcomeKind
from .references import InvalidReference, parse_reference

__all__ = ["BatchInput", "BatchLine", "BatchResult", "BatchRunner", "parse_batch_text", "MAX_BATCH_LINES"]

MAX_BATCH_LINES = 100_000          # a file beyond this is refused in plain words, not read into memory whole
_HEADER_WORDS = ("reference", "consignment", "ref")
_DELIMITERS = ",;\t|"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One entry of the input, as understood. ``line`` counts from 1 in the file."""

    line: int
    raw: str
    reference: str | None = None      # cleaned, when valid
    problem: str | None = None        # plain words, when invalid
    duplicate_of: int | None = None   # the line that already holds this reference


@dataclass(slots=True)
class BatchInput:
    valid: list[BatchLine] = field(default_factory=list)       # unique references, in input order
    duplicates: list[BatchLine] = field(default_factory=list)
    invalid: list[BatchLine] = field(default_factory=list)
    blanks: int = 0
    header: str | None = None         # the CSV header line that was skipped
    column: int | None = None         # the CSV column read (0-based), None for plain lines

    @property
    def references(self) -> list[str]:
        return [b.reference for b in self.valid if b.reference]

    def words(self) -> str:
        parts = [f"{len(self.valid)} to send"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} duplicate{'s' if len(self.duplicates) != 1 else ''} (sent once)")
        if self.invalid:
            parts.append(f"{len(self.invalid)} invalid line{'s' if len(self.invalid) != 1 else ''} (not sent)")
        if self.blanks:
            parts.append(f"{self.blanks} blank")
        return ", ".join(parts) + "."


class BatchInputError(ValueError):
    """The input cannot be read as a batch at all (too long, binary)."""


def _split_rows(text: str) -> tuple[list[list[str]], int | None]:
    """Rows of cells, and the CSV delimiter's column count hint (None: plain lines)."""
    # Not str.splitlines(): it also splits on GS/RS/FS, which scanners put *inside* a scan.
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_BATCH_LINES:
        raise BatchInputError(f"That list has {len(lines):,} lines; a batch takes at most {MAX_BATCH_LINES:,}. "
                              "Split it into smaller files.")
    sample = next((ln for ln in lines if ln.strip()), "")
    delimiter = next((d for d in _DELIMITERS if d in sample), None)
    if delimiter is None:
        return [[ln] for ln in lines], None
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)], 1


def _is_reference(cell: str) -> bool:
    try:
        parse_reference(cell)
        return True
    except InvalidReference:
        return False


def _pick_column(rows: list[list[str]]) -> tuple[int, bool]:
    """(column, first row is a header). A header cell naming the reference wins; else the first
    column holding a reference in the first rows; a first row with no reference in it is a header."""
    first = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if first is None:
        return 0, False
    head = [c.strip().lower() for c in rows[first]]
    if not any(_is_reference(c) for c in rows[first]):
        for word in _HEADER_WORDS:
            for i, name in enumerate(head):
                if word in name:
                    return i, True
    sample = [r for r in rows[first:first + 50] if r]
    for col in range(max(len(r) for r in sample)):
        if any(col < len(r) and _is_reference(r[col]) for r in sample):
            header = not any(_is_reference(c) for c in rows[first])
            return col, header
    return 0, False


def parse_batch_text(text: str) -> BatchInput:
    """Read a pasted list or a file's text. Never raises for bad lines (they are reported);
    :class:`BatchInputError` only when the whole input is not a usable list."""
    if "\x00" in text[:4096]:
        raise BatchInputError("That file is not text (it looks like a binary file). Export the references as "
                              "plain lines or CSV.")
    text = text.lstrip("\ufeff")
    rows, csv_hint = _split_rows(text)
    result = BatchInput()
    column, has_header = (0, False) if csv_hint is None else _pick_column(rows)
    if csv_hint is not None:
        result.column = column
    seen: dict[str, int] = {}
    header_done = not has_header
    for number, row in enumerate(rows, start=1):
        cell = row[column] if column < len(row) else ""
        if not any(c.strip() for c in row):
            result.blanks += 1
            continue
        if not header_done:
            header_done = True
            result.header = ",".join(row)[:200]
            continue
        try:
            reference = parse_reference(cell).reference
        except InvalidReference as exc:
            shown = cell.strip()[:80] or ",".join(row)[:80]
            result.invalid.append(BatchLine(number, shown, problem=exc.message if cell.strip() else
                                            "No reference in the reference column."))
            continue
        if reference in seen:
            result.duplicates.append(BatchLine(number, cell.strip()[:80], reference, duplicate_of=seen[reference]))
            continue
        seen[reference] = number
        result.valid.append(BatchLine(number, cell.strip()[:80], reference))
    return result


# --------------------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One reference's end: an outcome from the desk, or ``outcome is None`` when it was never sent."""

    line: BatchLine
    outcome: Outcome | None
    not_sent_reason: str = ""

    @property
    def sent(self) -> bool:
        return self.outcome is not None


class BatchRunner:
    """Runs references through ``desk.allocate`` with at most ``parallel`` in flight.

    Thread-safe to ``stop()`` from anywhere (a signal handler, another thread). ``on_result`` is
    called once per reference, from the worker that finished it, under one lock (so a printer of
    lines never interleaves); it must be quick."""

    def __init__(self, desk, group: str, *, parallel: int, batch_id: str | None = None,
                 on_result: Callable[[BatchResult], None] | None = None,
                 on_start: Callable[[BatchLine], None] | None = None) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.desk = desk
        self.group = group
        self.parallel = parallel
        self.batch_id = batch_id
        self.on_result = on_result
        self.on_start = on_start
        self._stop = threading.Event()
        self.stop_reason = ""
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.results: list[BatchResult] = []

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self, reason: str = "The batch was stopped before this one was sent.") -> None:
        """No new allocation starts; those in flight finish and are recorded."""
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    def run(self, lines: Iterable[BatchLine]) -> list[BatchResult]:
        """Blocks until every line has a result. Call from one thread; workers are its own."""
        pending = list(lines)
        started_at = time.monotonic()
        queue_lock = threading.Lock()
        position = [0]

        def take() -> BatchLine | None:
            with queue_lock:
                if self._stop.is_set() or position[0] >= len(pending):
                    return None
                item = pending[position[0]]
                position[0] += 1
                with self._lock:
                    self.in_flight += 1
                    self.most_in_flight = max(self.most_in_flight, self.in_flight)
                return item

        def work() -> None:
            while (item := take()) is not None:
                try:
                    if self.on_start is not None:
                        self.on_start(item)
                    outcome = self.desk.allocate(item.raw or item.reference or "", self.group, batch_id=self.batch_id)
                finally:
                    with self._lock:
                        self.in_flight -= 1
                self._report(BatchResult(item, outcome))
                if outcome.kind is OutcomeKind.UNAUTHORIZED:
                    self.stop("SortedPRO refused the API key, so the rest were not sent.")

        workers = [threading.Thread(target=work, name=f"batch-{i}", daemon=True)
                   for i in range(min(self.parallel, max(1, len(pending))))]
        for w in workers:
            w.start()
        for w in workers:
            while w.is_alive():
                w.join(0.2)  # short joins: the main thread stays free for Ctrl+C
        for item in pending[position[0]:]:
            self._report(BatchResult(item, None, self.stop_reason or "Not sent."))
        self.elapsed_s = time.monotonic() - started_at
        return self.results

    def _report(self, result: BatchResult) -> None:
        with self._report_lock:
            self.results.append(result)
            if self.on_result is not None:
                self.on_result(result)


# --------------------------------------------------------------------------- export

BATCH_CSV_COLUMNS = ("line", "reference", "state", "carrier_and_service", "price", "tracking", "message")


def write_batch_csv(rows: Iterable[Sequence[object]], path: str) -> int:
    """Rows (in :data:`BATCH_CSV_COLUMNS` order) to ``path`` as UTF-8 CSV with a BOM, written to a part
    file first; every cell goes through the history export's formula guard (a scanned ``=cmd|…``
    must not run when a spreadsheet opens the file). Returns the row count; OSError on a bad path."""
    from pathlib import Path

    from .history import _csv_safe  # the one formula guard, shared with the history's CSV

    target = Path(path)
    part = target.with_name(target.name + ".part")
    count = 0
    try:
        with open(part, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(BATCH_CSV_COLUMNS)
            for row in rows:
                writer.writerow([_csv_safe(value) for value in row])
                count += 1
        part.replace(target)
    except OSError:
        part.unlink(missing_ok=True)
        raise
    return count
