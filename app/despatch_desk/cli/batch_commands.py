"""``despatch-desk allocate --file PATH --group CODE [--parallel N] [--json] [--print]``.

The arguments live on the ``allocate`` parser (:mod:`.scan_commands`); this module runs the batch:
read the list (``-`` is standard input), report duplicates and invalid lines, send the rest through
:class:`despatch_desk.batch.BatchRunner`, one line (or JSON object) per reference as each finishes, a
progress bar on standard error when it is a terminal, a summary at the end. Ctrl+C stops sending new
ones; those in flight finish and are recorded; the rest are printed as not sent (exit 4). A second
Ctrl+C stops waiting for those in flight too (the desk records them as in doubt).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from .common import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, err, exit_code_of_kind, history_notice_if_open, open_desk, \
    out, outcome_line

MAX_FILE_BYTES = 20 << 20   # a reference list is small; a bigger file is almost certainly the wrong one


def register(sub) -> None:  # the options are on ``allocate``; nothing of its own to add
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", metavar="PATH",
                        help="allocate every reference in PATH (plain lines or CSV; '-' reads standard input)")
    parser.add_argument("--parallel", type=int, metavar="N",
                        help="with --file: at most N allocations at once (default: the max_parallel setting)")


def read_input(path: str) -> str:
    """The file's text (``-``: standard input), or a :class:`BatchInputError` in plain words."""
    from ..batch import BatchInputError

    if path == "-":
        if sys.stdin is None:
            raise BatchInputError("There is no standard input to read the references from.")
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1) if hasattr(sys.stdin, "buffer") else \
            sys.stdin.read(MAX_FILE_BYTES + 1).encode()
    else:
        try:
            with Path(path).open("rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise BatchInputError(f"There is no file {path!r}.") from None
        except IsADirectoryError:
            raise BatchInputError(f"{path!r} is a folder, not a file of references.") from None
        except OSError as exc:
            raise BatchInputError(f"{path!r} cannot be read ({exc.strerror or exc}).") from None
    if len(data) > MAX_FILE_BYTES:
        raise BatchInputError(f"That input is larger than {MAX_FILE_BYTES >> 20} MB: not a list of references.")
    for encoding in ("utf-8-sig", "cp1252"):  # spreadsheets on Windows still save CSV in cp1252
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


class _Progress:
    """A one-line bar on standard error, only when it is a terminal (a log file gets the lines only)."""

    def __init__(self, total: int) -> None:
        stream = sys.stderr
        self.enabled = bool(stream is not None and getattr(stream, "isatty", lambda: False)() and total)
        self.total = total
        self.done = 0
        self.problems = 0
        self._last = 0.0

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.1 and self.done < self.total):
            return
        self._last = now
        width = 30
        filled = int(width * self.done / self.total)
        sys.stderr.write(f"\r\033[K[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
                         + (f"  {self.problems} need attention" if self.problems else ""))
        sys.stderr.flush()


def _json_line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False)


def cmd_allocate_file(args: argparse.Namespace) -> int:
    from ..batch import BatchInputError, BatchRunner, parse_batch_text
    from ..core import OutcomeKind, check_group_code

    if args.references:
        err("Give references on the command line or --file, not both.")
        return EXIT_USAGE
    problem = check_group_code(args.group)
    if problem:
        err(problem)
        return EXIT_USAGE
    try:
        batch = parse_batch_text(read_input(args.file))
    except BatchInputError as exc:
        err(str(exc))
        return EXIT_USAGE
    worst = EXIT_OK
    for line in batch.invalid:
        if args.json:
            out(_json_line({"line": line.line, "raw": line.raw, "outcome": "invalid_reference",
                            "message": line.problem, "sent": False}))
        else:
            out(f"BAD  {line.raw!r}  line {line.line}: {line.problem} Not sent.")
        worst = max(worst, EXIT_USAGE)
    for line in batch.duplicates:
        if args.json:
            out(_json_line({"line": line.line, "reference": line.reference, "outcome": "duplicate",
                            "duplicate_of_line": line.duplicate_of, "sent": False}))
        else:
            out(f"DUP  {line.reference}  line {line.line} repeats line {line.duplicate_of}: sent once.")
    if not batch.valid:
        err(f"Nothing to send: {batch.words()}")
        return max(worst, EXIT_USAGE)
    desk = open_desk(args.base_url, open_history=False)
    try:
        parallel = args.parallel if args.parallel is not None else desk.settings.max_parallel
        if not 1 <= parallel <= 16:
            err("--parallel takes a number from 1 to 16.")
            return EXIT_USAGE
        labels = None
        printing_commands = None
        if getattr(args, "print", False):
            from . import printing_commands
            from ..label_service import LabelService

            problem = printing_commands.print_check(desk)
            if problem:
                err(problem)
                return EXIT_USAGE
            labels = LabelService(desk)
        # The client's connection pool is sized from max_parallel: a wider batch widens it (this run only,
        # not saved), so no worker waits for a connection and times out as "unreachable".
        desk.settings.max_parallel = max(desk.settings.max_parallel, parallel)
        desk.workflow()  # a missing key or bad address: said once, before anything is read as a batch
        progress = _Progress(len(batch.valid))
        # Every row of this run carries it in the history (``history --json`` shows ``batch_id``).
        batch_id = f"cli-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
        worst_box = [worst]

        def report(result) -> None:  # worker threads, one at a time (the runner's report lock)
            progress.clear()
            outcome = result.outcome
            if outcome is None:
                if args.json:
                    out(_json_line({"line": result.line.line, "reference": result.line.reference,
                                    "outcome": "not_sent", "message": result.not_sent_reason, "sent": False}))
                else:
                    out(f"SKIP {result.line.reference}  {result.not_sent_reason}")
                worst_box[0] = max(worst_box[0], EXIT_UNREACHABLE)
            else:
                label, label_exit, label_text = (printing_commands.print_after_allocation(desk, labels, outcome)
                                                 if labels else (None, EXIT_OK, None))
                if args.json:
                    out(_json_line({"line": result.line.line, "batch_id": batch_id, **outcome.to_dict(),
                                    **({"label": label} if labels else {})}))
                else:
                    out(outcome_line(outcome))
                    if label_text:
                        out(label_text)
                worst_box[0] = max(worst_box[0], exit_code_of_kind(outcome.kind), label_exit)
                progress.problems += outcome.kind is not OutcomeKind.ALLOCATED
            progress.done += 1
            progress.draw()

        runner = BatchRunner(desk, args.group, parallel=parallel, on_result=report, batch_id=batch_id)
        restore = _install_interrupt(runner, desk)
        try:
            progress.draw(force=True)
            results = runner.run(batch.valid)
        finally:
            restore()
        progress.clear()
        err(_summary(batch, results, runner.elapsed_s) + f" Recorded in the history as batch {batch_id}.")
        history_notice_if_open(desk)
        return worst_box[0]
    finally:
        desk.close()


def _install_interrupt(runner, desk):
    """Ctrl+C: the first stops new sends, the second stops waiting for those in flight."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    presses = [0]

    def on_sigint(_signum, _frame) -> None:
        presses[0] += 1
        if presses[0] == 1:
            runner.stop("Not sent: the batch was stopped (Ctrl+C) before this one was sent; it is not allocated.")
            sys.stderr.write("\nStopping: no new allocations; waiting for those in flight (Ctrl+C again to "
                             "stop waiting: they are then kept as in doubt).\n")
        else:
            desk.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    return lambda: signal.signal(signal.SIGINT, previous)


def _summary(batch, results, elapsed_s: float) -> str:
    counts: dict[str, int] = {}
    for r in results:
        key = r.outcome.kind.value.replace("_", " ") if r.outcome is not None else "not sent"
        counts[key] = counts.get(key, 0) + 1
    parts = [f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    if batch.duplicates:
        parts.append(f"{len(batch.duplicates)} duplicate{'s' if len(batch.duplicates) != 1 else ''} sent once")
    if batch.invalid:
        parts.append(f"{len(batch.invalid)} invalid line{'s' if len(batch.invalid) != 1 else ''} not sent")
    return f"Batch of {len(results)} in {elapsed_s:.1f} s: {', '.join(parts)}."
