"""PDF labels through QtPrintSupport: each page rendered by QtPdf at the printer's resolution and painted
on a ``QPrinter`` with the label's own page size, zero margins, full page, no dialog.

The only module of the package that imports Qt, and only when a PDF must be printed (system://,
windows:// with a PDF, or a PDF file for tests). Works from a worker thread (QImage and QPrinter
painting need no GUI thread); without any Qt application one is made, off screen where there is no
display, because the print plugins need it.
"""

from __future__ import annotations

import os
import sys

from ..cancel import CancelToken
from .common import PrinterError

__all__ = ["print_pdf", "pdf_page_sizes", "MAX_RENDER_DPI"]

MAX_RENDER_DPI = 600  # an office printer may report 1200 dpi: a 4x6 page would be 140 MB of pixels
PDF_FILE_DPI = 203  # when printing into a PDF file (tests, previews): a Zebra GK420d's resolution


def _ensure_app() -> None:
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    if QCoreApplication.instance() is not None:
        return
    args = ["despatch-desk"]
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        args += ["-platform", "offscreen"]
    global _app
    # A QApplication, not a QGuiApplication: a window opened later in this process needs widgets.
    _app = QApplication(args)  # kept for the process: Qt allows one, and printing may come again


_app = None


def _load(data: bytes):
    try:
        from PySide6.QtCore import QBuffer, QByteArray, QIODevice
        from PySide6.QtPdf import QPdfDocument
    except ImportError:
        raise PrinterError("PDF labels cannot be printed: Qt's PDF module (PySide6_Pdf) is missing. "
                           "Nothing was sent.") from None
    _ensure_app()
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    doc = QPdfDocument()
    doc.load(buffer)
    if doc.status() != QPdfDocument.Status.Ready or doc.pageCount() < 1:
        raise PrinterError("The PDF label could not be read (it is damaged or empty). Nothing was sent.")
    return doc, buffer


def _on_white(image):
    """QtPdf renders on a transparent background: flatten it onto white paper for drivers and previews."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter

    paper = QImage(image.size(), QImage.Format.Format_RGB32)
    paper.fill(Qt.GlobalColor.white)
    painter = QPainter(paper)
    painter.drawImage(0, 0, image)
    painter.end()
    return paper


def pdf_page_sizes(data: bytes) -> list[tuple[float, float]]:
    """Each page's size in points, as Qt reads it."""
    doc, _buffer = _load(data)
    return [(doc.pagePointSize(i).width(), doc.pagePointSize(i).height()) for i in range(doc.pageCount())]


def print_pdf(data: bytes, token: CancelToken, *, title: str, printer_name: str | None = None,
              output_file: str | None = None, where: str) -> int:
    """Print every page of ``data`` on ``printer_name`` (or into ``output_file``); returns the pages."""
    token.raise_if_cancelled()
    doc, buffer = _load(data)
    from PySide6.QtCore import QMarginsF, QRect, QSize, QSizeF
    from PySide6.QtGui import QPageLayout, QPageSize, QPainter
    from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    if output_file is not None:
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(output_file)
        printer.setResolution(PDF_FILE_DPI)
    else:
        info = QPrinterInfo.printerInfo(printer_name or "")
        if info.isNull():
            raise PrinterError(f"This computer has no printer named '{printer_name}' ({where}). Nothing was sent.")
        printer.setPrinterName(info.printerName())
    printer.setDocName(title)
    printer.setCreator("Despatch Desk")
    printer.setFullPage(True)

    def layout_for(page: int) -> QPageLayout:
        size = doc.pagePointSize(page)
        page_size = QPageSize(QSizeF(size.width(), size.height()), QPageSize.Unit.Point, "Label",
                              QPageSize.SizeMatchPolicy.ExactMatch)
        return QPageLayout(page_size, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point)

    # Page size and zero margins before begin(); on Windows the driver's margins must be cleared explicitly.
    printer.setPageLayout(layout_for(0))
    printer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point)
    painter = QPainter()
    if not painter.begin(printer):
        raise PrinterError(f"Printing could not start on {where} (the printer or its driver refused). Nothing was sent.")
    pages = 0
    try:
        for page in range(doc.pageCount()):
            if token.cancelled or token.expired:
                printer.abort()
                raise PrinterError(f"Printing on {where} was stopped after {pages} of {doc.pageCount()} pages: "
                                   "check the printer before reprinting.")
            if page:
                if doc.pagePointSize(page) != doc.pagePointSize(page - 1):
                    printer.setPageLayout(layout_for(page))
                if not printer.newPage():
                    raise PrinterError(f"The printer {where} refused page {page + 1}; check it before reprinting.")
            dpi = min(printer.resolution(), MAX_RENDER_DPI)
            size = doc.pagePointSize(page)
            pixels = QSize(max(1, round(size.width() * dpi / 72)), max(1, round(size.height() * dpi / 72)))
            image = doc.render(page, pixels)
            if image.isNull():
                printer.abort()
                raise PrinterError(f"Page {page + 1} of the PDF label could not be drawn. Check {where} before reprinting.")
            painter.drawImage(QRect(0, 0, printer.width(), printer.height()), _on_white(image))
            pages += 1
    finally:
        if painter.isActive():
            painter.end()
        del buffer
    return pages
