"""Label printing, Qt-free except where a PDF must be rendered.

The printer of a desk is a URI plus the label format to ask SortedPRO for (``zpl`` or ``pdf``):

=========================  =============================================================================
``tcp://HOST[:PORT]``      a label printer's raw port (9100): ZPL bytes exactly, nothing added; PDF refused
``cups://QUEUE``           macOS/Linux CUPS: ZPL raw (``lp -o raw``), PDF as a document at label size
``windows://PRINTER NAME`` Windows spooler: ZPL as a RAW job (ctypes winspool), PDF through QtPrintSupport
``system://PRINTER NAME``  any OS: PDF rendered (QtPdf) and painted on a QPrinter; ZPL is refused
``folder:///PATH``         writes ``<REF>.zpl`` / ``<REF>.pdf`` as received (atomic)
=========================  =============================================================================

API (what the CLI and the window call)::

    from despatch_desk import printing

    target = printing.parse_printer_uri("cups://zebra")   # PrinterError (a DeskError, exit 5) if bad
    str(target)                                            # the URI without credentials: safe to show
    doc = printing.split_labels(label.data)               # kind "zpl" | "pdf" | "unknown", count, blocks
    result = printing.print_label(target, label.data, reference="EC-000-05B-MMA",
                                  cancel=token, timeout_s=5.0)
    result.sent, result.error, result.words                # never raises for printer trouble
    printing.make_test_label("zpl", desk_name="Bench 3", when=datetime.now())
    printing.list_printers()                               # [PrinterInfo(name, uri, is_default)]

* ``PrintResult`` fields: ``sent``, ``ok``, ``error`` (plain words or None), ``words`` (one sentence
  for the screen or the CLI), ``format`` (zpl|pdf|unknown), ``printer`` (URI, no credentials),
  ``labels``/``pages``, ``bytes``, ``job`` (spooler job id when known), ``destination`` (folder://).
  A failed result maps to ``errors.EXIT_PRINTER`` (5) on the command line, as ``PrinterError`` does.
* Fetching is the caller's part: labels may lag a moment behind the allocation (404 LabelNotFound),
  so retry the GET briefly; the sandbox's ``label-not-ready`` fault is there to test that.
* What is printed is decided from the bytes (``%PDF`` or ``^XA``), never from the format asked for.
* ``PrintResult.sent`` means the bytes were handed to the printer, queue or folder; nothing here can
  know that paper came out, so ``words`` say "sent to …" / "written to …", never "printed".
* ``PrintResult.labels`` (alias ``pages``) is the count of ZPL blocks or PDF pages: compare it with
  the consignment's ``LabelCount``.
* The job name is built from the reference only (or ``job_name``): the API key never reaches it.
* Slow or dead printers: a connect timeout of 3 s and one overall ``timeout_s`` (cut to ``cancel``'s
  deadline); a cancelled ``cancel`` stops the job between chunks/pages.
* Only ``qt_pdf`` imports Qt (PySide6 QtPdf + QtPrintSupport), lazily, for PDFs on system:// and
  windows://. From a worker thread is fine; with no Qt application one is made (off screen when
  there is no display).
"""

from __future__ import annotations

from .common import PrinterError, PrintResult
from .discovery import PrinterInfo, list_printers
from .labels import PDF, UNKNOWN, ZPL, LabelDocument, split_labels
from .printer import print_label
from .test_label import make_test_label
from .uri import DEFAULT_TCP_PORT, PrinterTarget, parse_printer_uri

__all__ = [
    "PrinterError", "PrintResult", "PrinterInfo", "list_printers", "LabelDocument", "split_labels",
    "print_label", "make_test_label", "PrinterTarget", "parse_printer_uri", "DEFAULT_TCP_PORT",
    "PDF", "ZPL", "UNKNOWN",
]
