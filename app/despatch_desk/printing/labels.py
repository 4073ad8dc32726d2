"""What a label file holds, judged from its bytes (``%PDF`` or ``^XA``), never from the format asked for.

SortedPRO sends one file with every package's label: several PDF pages, or several ``^XA…^XZ`` blocks.
:func:`split_labels` counts them (to check against the consignment's ``LabelCount``) and, for ZPL, gives
each block's bytes. The file itself is always printed as received: bytes between blocks (CRLFs,
``~DG`` graphics, ``^XA``-less set-up commands) belong to the printer, not to us.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

__all__ = ["LabelDocument", "split_labels", "PDF", "ZPL", "UNKNOWN"]

PDF, ZPL, UNKNOWN = "pdf", "zpl", "unknown"
MAX_INFLATED = 8 << 20  # bound on decompressed object streams while counting pages (a zip bomb stays small)

_PDF_HEADER = re.compile(rb"%PDF-\d")
_ZPL_BLOCK = re.compile(rb"\^XA.*?\^XZ", re.S | re.I)
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_PDF_MEDIABOX = re.compile(rb"/MediaBox\s*\[\s*(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s*\]")
_PDF_STREAM = re.compile(rb"<<(?:(?!>>\s*stream).){0,400}?/FlateDecode(?:(?!stream).){0,400}?>>\s*stream\r?\n", re.S)


@dataclass(frozen=True)
class LabelDocument:
    """``kind`` is pdf, zpl or unknown; ``count`` the labels (ZPL blocks) or pages (PDF)."""

    kind: str
    count: int
    blocks: tuple[bytes, ...] = field(default=(), repr=False)  # ZPL: each ^XA…^XZ, in order
    page_size_pt: tuple[float, float] | None = None  # PDF: the first page's size in points, if found
    complete: bool = True  # ZPL: False when a ^XA has no ^XZ
    size: int = 0

    @property
    def describe(self) -> str:
        noun = "page" if self.kind == PDF else "label"
        return f"{self.kind.upper()}, {self.count} {noun}{'s' if self.count != 1 else ''}"


def split_labels(data: bytes) -> LabelDocument:
    data = bytes(data)
    head = data[:1024]
    if _PDF_HEADER.search(head):  # the PDF spec lets junk precede the header within 1 KiB
        return LabelDocument(PDF, _pdf_pages(data), page_size_pt=_pdf_size(data), size=len(data))
    blocks = tuple(m.group(0) for m in _ZPL_BLOCK.finditer(data))
    starts = len(re.findall(rb"\^XA", data, re.I))
    if blocks or starts:
        return LabelDocument(ZPL, len(blocks), blocks, complete=starts == len(blocks), size=len(data))
    return LabelDocument(UNKNOWN, 0, size=len(data))


def _pdf_pages(data: bytes) -> int:
    pages = len(_PDF_PAGE.findall(data))
    if pages:
        return pages
    # PDF 1.5+ may keep page objects inside compressed object streams: look there, within a bound.
    budget = MAX_INFLATED
    for m in _PDF_STREAM.finditer(data):
        if b"/ObjStm" not in m.group(0) or budget <= 0:
            continue
        inflater = zlib.decompressobj()
        try:
            chunk = inflater.decompress(data[m.end(): m.end() + budget], budget)
        except zlib.error:
            continue
        budget -= len(chunk)
        pages += len(_PDF_PAGE.findall(chunk))
    return pages


def _pdf_size(data: bytes) -> tuple[float, float] | None:
    m = _PDF_MEDIABOX.search(data)
    if not m:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in m.groups())
    except ValueError:
        return None
    w, h = abs(x1 - x0), abs(y1 - y0)
    return (w, h) if w > 0 and h > 0 else None
