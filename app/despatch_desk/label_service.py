"""Labels on the parcel: fetch → retry → print → record, the one place that does it (Qt-free).

The command line (``label``, ``allocate --print``) and the window's auto-print follow-up all call
:meth:`LabelService.print_for`. It asks SortedPRO for the desk's label format, waits briefly when
the label lags behind the allocation (404 ``LabelNotFound``), prints what actually came back
(``%PDF`` or ``^XA``, judged by :mod:`printing`), and writes what happened into the history row.
Printing never changes an allocation: a failed label is a result with plain words, never an
exception. Thread-safe: it keeps no state of its own between calls (the client and the history
are thread-safe), so workers may call it at once for different consignments.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import api, printing
from .cancel import CancelToken
from .errors import EXIT_KEY, EXIT_NOT_DONE, EXIT_OK, EXIT_PRINTER, EXIT_UNREACHABLE, EXIT_USAGE, explain
from .history import HistoryError
from .outcome import Outcome
from .printing.common import plain
from .references import InvalidReference, parse_reference

__all__ = ["LabelService", "LabelResult", "RETRY_DELAYS_S", "API_FORMATS", "printer_problem", "PRINTED",
           "NOT_ALLOCATED", "NOT_READY", "PRINTER", "NO_PRINTER", "USAGE", "KEY", "UNREACHABLE", "STOPPED"]

log = logging.getLogger("despatch_desk.labels")

#: The desk's format words (settings, --format) and what the API is asked for.
API_FORMATS = {"zpl": "ZPL", "pdf": "PDF"}
#: Waits between label GETs while SortedPRO has no label yet: 4 s in all, then "not printed".
RETRY_DELAYS_S = (0.2, 0.4, 0.8, 1.2, 1.4)
PRINT_TIMEOUT_S = 5.0  # an off or unreachable printer is reported within this
# States in which a consignment holds an allocation, and so labels (normalised as answers.normalise_state).
_LABEL_STATES = frozenset({"allocated", "manifesting", "manifested", "manifestfailed", "intransit", "delivered"})

# Why a label was not printed, and the exit code of ``despatch-desk label`` for it.
PRINTED, NOT_ALLOCATED, NOT_READY, PRINTER, NO_PRINTER, USAGE, KEY, UNREACHABLE, STOPPED = (
    "printed", "not_allocated", "not_ready", "printer", "no_printer", "usage", "key", "unreachable", "stopped")
_REASON_EXIT = {PRINTED: EXIT_OK, NOT_ALLOCATED: EXIT_NOT_DONE, NOT_READY: EXIT_NOT_DONE, PRINTER: EXIT_PRINTER,
                NO_PRINTER: EXIT_USAGE, USAGE: EXIT_USAGE, KEY: EXIT_KEY, UNREACHABLE: EXIT_UNREACHABLE,
                STOPPED: EXIT_UNREACHABLE}


@dataclass(frozen=True)
class LabelResult:
    """What became of one consignment's labels. ``printed`` is true only when the bytes were handed to
    the printer, queue or folder (``words`` then say "sent to …": nothing here sees paper come out)."""

    reference: str
    printed: bool
    format: str  # what the bytes were (zpl|pdf|unknown), or the format asked for when none came
    printer: str  # the URI without credentials, or "" when there is none
    labels: int = 0  # ZPL blocks or PDF pages
    bytes: int = 0
    error: str | None = None  # plain words when not printed
    reason: str = PRINTED
    fetches: int = 0  # label GETs made (the retries included)
    row_id: int | None = None  # the history row the result was recorded on
    job: str | None = None

    @property
    def pages(self) -> int:
        return self.labels

    @property
    def exit_code(self) -> int:
        """For ``despatch-desk label``: 0 printed, 1 no label, 2 usage/no printer set, 3 key, 4 unreachable, 5 printer."""
        return _REASON_EXIT.get(self.reason, EXIT_PRINTER)

    @property
    def words(self) -> str:
        if not self.printed:
            return self.error or f"Label not printed for {self.reference}."
        what = f"{self.labels} label{'s' if self.labels != 1 else ''}" if self.labels else "The label"
        what = what[0].upper() + what[1:]
        if self.printer.startswith("folder://"):
            return f"{what} ({self.format.upper()}) for {self.reference} written to {self.printer}."
        job = f" (job {self.job})" if self.job else ""
        return f"{what} ({self.format.upper()}) for {self.reference} sent to {self.printer}{job}."

    def to_json(self) -> dict[str, Any]:
        """The contract fields of a ``label`` object in ``--json`` lines (supervisors' scripts read them)."""
        return {"printed": self.printed, "format": self.format, "printer": self.printer, "labels": self.labels,
                "bytes": self.bytes, "error": self.error}


class _NotPrinted(Exception):
    def __init__(self, reason: str, message: str, fmt: str = "", labels: int = 0, size: int = 0) -> None:
        super().__init__(message)
        self.reason, self.message, self.fmt, self.labels, self.size = reason, message, fmt, labels, size


def printer_problem(uri: str | None) -> str | None:
    """Plain words when ``uri`` cannot be printed to (empty or malformed), else None."""
    if not (uri or "").strip():
        return "No label printer is set up: run 'despatch-desk printer set URI' (e.g. tcp://192.0.2.10:9100)."
    try:
        printing.parse_printer_uri(uri or "")
    except printing.PrinterError as exc:
        return exc.message
    return None


class LabelService:
    """``LabelService(desk).print_for(outcome_or_reference)``; see the module docstring."""

    def __init__(self, desk, *, retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
                 print_timeout_s: float = PRINT_TIMEOUT_S) -> None:
        self.desk = desk
        self.retry_delays_s = tuple(retry_delays_s)
        self.print_timeout_s = print_timeout_s

    def print_for(self, outcome_or_reference: Outcome | str, *, row_id: int | None = None, fmt: str | None = None,
                  printer: printing.PrinterTarget | str | None = None, cancel: CancelToken | None = None,
                  record: bool = True) -> LabelResult:
        """Fetch the consignment's labels and print them all, in order. Never raises for anything an
        operator, a printer or SortedPRO can cause. ``row_id``: the history row to record on (default:
        the newest row that allocated this reference). An :class:`Outcome` means "just allocated": a
        missing label is waited for at once; a bare reference (a reprint) is looked up first."""
        just_allocated = isinstance(outcome_or_reference, Outcome)
        raw = outcome_or_reference.reference if just_allocated else outcome_or_reference
        settings = self.desk.settings
        fmt_word = (fmt or settings.label_format or "zpl").strip().lower()
        uri = printer if printer is not None else settings.printer_uri
        shown_printer = ""
        reference = str(raw or "")
        try:
            reference = _reference(raw)
            if just_allocated and not outcome_or_reference.ok:
                raise _NotPrinted(NOT_ALLOCATED, f"No label: {reference} was not allocated.")
            if fmt_word not in API_FORMATS:
                raise _NotPrinted(USAGE, f"The label format must be zpl or pdf, not '{plain(fmt_word, 20)}'.")
            target = self._target(uri)
            shown_printer = str(target)
            token = (cancel or self.desk.closing).child()
            label, fetches = self._fetch(reference, API_FORMATS[fmt_word], token, just_allocated)
            data = self._without_key(label.data, reference)
            printed = printing.print_label(target, data, reference=reference, cancel=token,
                                           timeout_s=self.print_timeout_s)
            result = LabelResult(reference, printed.sent, printed.format, printed.printer, printed.labels,
                                 printed.bytes, None if printed.sent else _not_printed(printed.error),
                                 PRINTED if printed.sent else PRINTER, fetches, job=printed.job)
        except _NotPrinted as why:
            result = LabelResult(reference, False, why.fmt or fmt_word, shown_printer, why.labels, why.size,
                                 _not_printed(why.message), why.reason)
        if record and not (just_allocated and not outcome_or_reference.ok):  # no allocation, no label to note
            result = self._record(result, row_id)
        log.info("label %s: %s", result.reference, result.words)
        return result

    # -- steps
    def _target(self, uri: printing.PrinterTarget | str | None) -> printing.PrinterTarget:
        if isinstance(uri, printing.PrinterTarget):
            return uri
        problem = printer_problem(uri)
        if problem:
            raise _NotPrinted(NO_PRINTER, problem)
        return printing.parse_printer_uri(uri or "")

    def _fetch(self, reference: str, api_format: str, token: CancelToken, just_allocated: bool):
        """The label, asking again while SortedPRO has none yet (bounded by :attr:`retry_delays_s`)."""
        try:
            client = self.desk.client()
        except Exception as exc:  # DeskNotReady: no key, or no usable address
            kind = getattr(getattr(exc, "kind", None), "value", "")
            raise _NotPrinted(KEY if kind == "unauthorized" else UNREACHABLE, explain(exc)) from None
        delays = iter(self.retry_delays_s)
        looked = just_allocated  # a fresh allocation has labels; a reprint checks the state once
        fetches = 0
        while True:
            fetches += 1
            try:
                return client.get_label(reference, api_format, cancel=token), fetches
            except api.Unauthorized as exc:
                raise _NotPrinted(KEY, exc.message) from None
            except api.Refused as exc:
                if exc.status != 404 and (exc.code or "").lower() != "labelnotfound":
                    raise _NotPrinted(NOT_ALLOCATED, f"SortedPRO gave no label for {reference}: {exc.message}") from None
            except api.ConfigurationError as exc:
                raise _NotPrinted(USAGE, exc.message) from None
            except api.ApiError as exc:
                if exc.cancelled or token.cancelled:
                    raise _NotPrinted(STOPPED, f"Fetching the label for {reference} was stopped.") from None
                raise _NotPrinted(UNREACHABLE, f"The label for {reference} could not be fetched: {exc.message}") from None
            if not looked:
                looked = True
                self._check_allocated(client, reference, token)
            delay = next(delays, None)
            if delay is None:
                raise _NotPrinted(NOT_READY, f"SortedPRO has no label for {reference} yet (reprint it in a moment).")
            if token.wait(delay):
                raise _NotPrinted(STOPPED, f"Waiting for the label of {reference} was stopped.")

    def _check_allocated(self, client: api.SortedProClient, reference: str, token: CancelToken) -> None:
        """A reprint's 404: say "not allocated" at once rather than wait for a label that cannot come."""
        try:
            consignment = client.get_consignment(reference, cancel=token)
        except api.NotFound:
            raise _NotPrinted(NOT_ALLOCATED, f"SortedPRO does not know {reference}, so it has no label.") from None
        except api.ApiError:
            return  # cannot look: the retries below still give the label its chance
        state = getattr(consignment, "state", None)
        if state and consignment.state_key not in _LABEL_STATES:
            raise _NotPrinted(NOT_ALLOCATED, f"{reference} is not allocated ({plain(state, 40)}), "
                                             "so SortedPRO has no label for it.")

    def _without_key(self, data: bytes, reference: str) -> bytes:
        """A server that echoes the key into the label file must not put it on a parcel: the key's bytes
        become asterisks of the same length (PDF offsets stay valid), case-insensitively."""
        try:
            key = self.desk.api_key()
        except Exception:
            return data
        if not key or len(key) < 4:
            return data
        pattern = re.compile(re.escape(key.encode("utf-8")), re.I)
        cleaned, count = pattern.subn(b"*" * len(key.encode("utf-8")), data)
        if count:
            log.warning("the label for %s held the API key %d time(s); it was blanked before printing", reference, count)
        return cleaned

    def _record(self, result: LabelResult, row_id: int | None) -> LabelResult:
        try:
            history = self.desk.history
            if row_id is None:
                row = history.latest_allocated(result.reference)
                row_id = row.id if row is not None else None
            if row_id is None:
                return result  # e.g. a reprint of a consignment allocated elsewhere: nothing to note it on
            history.record_label(row_id, printed=result.printed, printer=result.printer, fmt=result.format,
                                 error=result.error, at=datetime.now(UTC))
        except HistoryError as exc:
            self.desk.last_history_error = str(exc)
            log.error("history: %s", exc)
            return result
        return _replace(result, row_id=row_id)


def _reference(raw: object) -> str:
    try:
        return parse_reference(str(raw or "")).reference
    except InvalidReference as exc:
        raise _NotPrinted(USAGE, str(exc)) from None


def _not_printed(message: str | None) -> str:
    words = (message or "the printer did not take it.").strip()
    return words if words.lower().startswith("label not printed") else f"Label not printed: {words}"


def _replace(result: LabelResult, **changes: Any) -> LabelResult:
    from dataclasses import replace

    return replace(result, **changes)

