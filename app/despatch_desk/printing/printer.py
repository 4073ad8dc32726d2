"""print_label: one label file to one printer, chosen by the target's kind and the bytes' kind."""

from __future__ import annotations

import logging

from ..cancel import CancelToken, Cancelled, DeadlineExpired
from ..errors import explain
from . import cups, folder, tcp, windows
from .common import PrinterError, PrintResult, job_title
from .labels import PDF, UNKNOWN, ZPL, LabelDocument, split_labels
from .uri import PrinterTarget, parse_printer_uri

__all__ = ["print_label"]

log = logging.getLogger("despatch_desk.printing")


def print_label(target: PrinterTarget | str, data: bytes, *, reference: str, job_name: str | None = None,
                cancel: CancelToken | None = None, timeout_s: float = 5.0) -> PrintResult:
    """Send ``data`` (a label file as SortedPRO sent it) to ``target``. Never raises for printer trouble:
    an off, unreachable or unknown printer gives ``sent=False`` and plain words in ``error``."""
    data = bytes(data)
    doc = split_labels(data)
    try:
        printer = target if isinstance(target, PrinterTarget) else parse_printer_uri(target)
    except PrinterError as exc:
        return PrintResult(False, doc.kind, "(no printer)", doc.count, len(data), exc.message)
    where = str(printer)
    token = cancel.child(timeout=timeout_s) if cancel is not None else CancelToken(timeout=timeout_s)
    job: str | None = None
    destination: str | None = None
    try:
        _check_label(doc)
        title = job_title(reference, job_name)
        if printer.kind == "tcp" and doc.kind == PDF:
            # A raw port prints what it gets: a ZPL printer fed PDF source wastes labels on gibberish.
            raise PrinterError(f"This label is a PDF, and {where} is a label printer's raw port, which takes ZPL: "
                               "ask SortedPRO for ZPL labels, or print PDFs through cups:// or system://. "
                               "Nothing was sent.")
        if printer.kind == "tcp":
            tcp.send_raw(printer.host, printer.port, data, token, where=where)
        elif printer.kind == "cups":
            job = cups.send_to_queue(printer.name, data, token, title=title, raw=doc.kind == ZPL,
                                     page_size_pt=doc.page_size_pt, where=where)
        elif printer.kind == "folder":
            destination = str(folder.write_label_file(printer.path, reference, doc.kind, data))
        elif doc.kind == ZPL and printer.kind == "windows":
            job = str(windows.send_raw_job(printer.name, data, title=title))
        elif doc.kind == ZPL:  # system://
            raise PrinterError(f"{where} prints documents, and this label is ZPL: use a label printer "
                               "(tcp://, cups:// or windows://) or ask SortedPRO for PDF labels. Nothing was sent.")
        else:  # a PDF on system:// or windows://
            from .qt_pdf import print_pdf

            pages = print_pdf(data, token, title=title, printer_name=printer.name, where=where)
            doc = LabelDocument(PDF, pages, page_size_pt=doc.page_size_pt, size=len(data))
    except PrinterError as exc:
        return PrintResult(False, doc.kind, where, doc.count, len(data), exc.message, job)
    except (Cancelled, DeadlineExpired) as exc:
        why = "it was stopped" if isinstance(exc, Cancelled) else f"it took longer than {timeout_s:g} s"
        return PrintResult(False, doc.kind, where, doc.count, len(data), f"Nothing was sent to {where}: {why}.")
    except Exception as exc:  # a bug or an odd platform: still plain words, and the details in the log
        log.error("printing to %s failed", where, exc_info=exc)
        return PrintResult(False, doc.kind, where, doc.count, len(data), f"Printing to {where} failed: {explain(exc)}")
    log.info("label %s (%s) sent to %s", reference, doc.describe, where)
    return PrintResult(True, doc.kind, where, doc.count, len(data), None, job, destination)


def _check_label(doc: LabelDocument) -> None:
    if doc.size == 0:
        raise PrinterError("The label file is empty. Nothing was sent.")
    if doc.kind == UNKNOWN:
        raise PrinterError("The label file is neither PDF nor ZPL, so the desk cannot print it. Nothing was sent.")
    if doc.kind == ZPL and not doc.complete:
        raise PrinterError("The ZPL label is cut short (a ^XA without its ^XZ). Nothing was sent: fetch it again.")
