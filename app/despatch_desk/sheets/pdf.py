"""A small PDF 1.4 page writer (stdlib only): base-14 fonts, escaped text, filled rectangles, pages.

Enough for printable barcode sheets; nothing here reads a PDF. The output is uncompressed, with an
xref table of exact byte offsets, so ``qpdf --check`` passes and every printer driver reads it.

API:
  ``PAPER``: ``{"A4": (595, 842), "Letter": (612, 792)}`` in points (1 pt = 1/72 inch)
  ``doc = PdfDocument(paper="A4", title="...")``; ``page = doc.new_page()``
  fonts: ``HELVETICA``, ``HELVETICA_BOLD``, ``COURIER_BOLD`` (base-14, nothing embedded)
  ``page.text(x, y, text, font=HELVETICA, size=12)``: baseline at (x, y), origin bottom left
  ``page.text_centered(cx, y, text, font, size)``; ``page.rect(x, y, w, h)`` (filled, current colour)
  ``page.gray(level)``: fill colour for what follows (0 black, 1 white)
  ``text_width(text, font, size)``: the width in points (Adobe Helvetica metrics; Courier 0.6 em)
  ``fit(text, font, size, width)``: ``text`` cut with "…" to fit ``width`` points
  ``wrap(text, font, size, width, max_lines)``: lines that each fit, the last one cut if needed
  ``doc.to_bytes()``; ``doc.write(path_or_file)`` returns the number of pages

Text is shown in WinAnsi (cp1252): characters outside it are transliterated where a plain form
exists (é stays é, → becomes ->) and become "?" otherwise; control and bidi characters are
dropped, so a hostile string can change neither the PDF's syntax nor the reading order.
"""

from __future__ import annotations

import os
import re
import unicodedata
from datetime import datetime
from typing import BinaryIO

__all__ = [
    "PAPER", "HELVETICA", "HELVETICA_BOLD", "COURIER_BOLD", "PdfDocument", "PdfPage", "paper_size",
    "clean_text", "text_width", "fit", "wrap",
]

PAPER: dict[str, tuple[int, int]] = {"A4": (595, 842), "Letter": (612, 792)}
HELVETICA, HELVETICA_BOLD, COURIER_BOLD = "Helvetica", "Helvetica-Bold", "Courier-Bold"
_FONT_KEYS = {HELVETICA: b"F1", HELVETICA_BOLD: b"F2", COURIER_BOLD: b"F3"}

# Advance widths (1/1000 em) of printable ASCII 32..126 from Adobe's Helvetica AFM files.
_HELVETICA_WIDTHS = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
)
_HELVETICA_BOLD_WIDTHS = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
)
_ELLIPSIS = "\u2026"  # in cp1252 (0x85), 1000 units wide in both Helvetica weights
# Characters cp1252 lacks that have a faithful plain spelling.
_PLAIN = str.maketrans({"\u2192": "->", "\u2190": "<-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
                        "\u2264": "<=", "\u2265": ">=", "\u00d7": "x"})

_LINE_BREAKS = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]+")


def paper_size(paper: str) -> tuple[int, int]:
    """(width, height) in points; plain words for a paper the writer does not know."""
    from ..errors import DeskError

    for name, size in PAPER.items():
        if paper.strip().lower() == name.lower():
            return size
    raise DeskError(f"Paper '{str(paper)[:20]}' is not one the sheet can be printed on: choose A4 or Letter.")


def clean_text(text: str) -> str:
    """``text`` as WinAnsi can show it: no control/format characters, plain spellings, "?" for the rest."""
    out: list[str] = []
    text = _LINE_BREAKS.sub(" ", str(text))  # a name pasted with its line break stays two words
    for ch in text.translate(_PLAIN):
        if unicodedata.category(ch)[0] in "CZ" and ch != " ":
            # Control, format (bidi overrides), unassigned, and separators other than a space.
            if unicodedata.category(ch) in ("Zs", "Zl", "Zp"):
                out.append(" ")
            continue
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(plain if plain.isprintable() and plain else "?")
    return "".join(out)


def _escape(text: str) -> bytes:
    """A PDF literal string, parentheses included, of already cleaned text."""
    out = bytearray(b"(")
    for b in text.encode("cp1252", errors="replace"):
        if b in (0x28, 0x29, 0x5C):  # ( ) \ would end or escape the string
            out += b"\\" + bytes([b])
        elif b < 32 or b >= 127:
            out += b"\\%03o" % b  # keeps the file ASCII: no raw byte can look like syntax
        else:
            out.append(b)
    out += b")"
    return bytes(out)


def _char_width(ch: str, font: str) -> int:
    if font == COURIER_BOLD:
        return 600
    code = ord(ch)
    table = _HELVETICA_BOLD_WIDTHS if font == HELVETICA_BOLD else _HELVETICA_WIDTHS
    if 32 <= code <= 126:
        return table[code - 32]
    if ch == _ELLIPSIS:
        return 1000
    base = unicodedata.normalize("NFKD", ch)[:1]  # é is as wide as e
    if base and 32 <= ord(base) <= 126:
        return table[ord(base) - 32]
    return 1015  # wider than any ASCII glyph: a fit never overflows


def text_width(text: str, font: str = HELVETICA, size: float = 12) -> float:
    """Width in points of ``text`` (cleaned) in ``font`` at ``size``."""
    return sum(_char_width(ch, font) for ch in clean_text(text)) * size / 1000


def fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` (cleaned), cut at the end with "…" so that it is at most ``width`` points wide."""
    text = clean_text(text)
    if text_width(text, font, size) <= width:
        return text
    budget = width - text_width(_ELLIPSIS, font, size)
    used, cut = 0.0, 0
    for cut, ch in enumerate(text):
        used += _char_width(ch, font) * size / 1000
        if used > budget:
            break
    return text[:cut].rstrip() + _ELLIPSIS


def wrap(text: str, font: str, size: float, width: float, max_lines: int = 2) -> list[str]:
    """Greedy word wrap of cleaned ``text`` into at most ``max_lines`` lines of ``width`` points."""
    lines: list[str] = []
    current = ""
    words = clean_text(text).split()
    for index, word in enumerate(words):
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, font, size) <= width or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines - 1:
            current = " ".join(words[index:])
            break
    if current:
        lines.append(current)
    return [fit(line, font, size, width) for line in lines[:max_lines]]


def _num(value: float) -> bytes:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return (text if text not in ("", "-0") else "0").encode()


class PdfPage:
    """One page's content stream; coordinates in points from the bottom left corner."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._ops: list[bytes] = [b"0 g"]

    def gray(self, level: float) -> None:
        self._ops.append(b"%s g" % _num(min(1.0, max(0.0, level))))

    def rect(self, x: float, y: float, w: float, h: float) -> None:
        self._ops.append(b"%s %s %s %s re f" % (_num(x), _num(y), _num(w), _num(h)))

    def text(self, x: float, y: float, text: str, font: str = HELVETICA, size: float = 12) -> None:
        key = _FONT_KEYS[font]
        self._ops.append(b"BT /%s %s Tf %s %s Td %s Tj ET" % (key, _num(size), _num(x), _num(y), _escape(clean_text(text))))

    def text_centered(self, cx: float, y: float, text: str, font: str = HELVETICA, size: float = 12) -> None:
        self.text(cx - text_width(text, font, size) / 2, y, text, font, size)

    def content(self) -> bytes:
        return b"\n".join(self._ops) + b"\n"


class PdfDocument:
    """Pages in order; ``to_bytes`` lays out the objects and the cross-reference table."""

    def __init__(self, paper: str = "A4", *, title: str = "", created: datetime | None = None) -> None:
        self.width, self.height = paper_size(paper)
        self.title = title
        self.created = created or datetime.now()
        self.pages: list[PdfPage] = []

    def new_page(self) -> PdfPage:
        page = PdfPage(self.width, self.height)
        self.pages.append(page)
        return page

    def to_bytes(self) -> bytes:
        pages = self.pages or [PdfPage(self.width, self.height)]  # a PDF needs a page
        objects: dict[int, bytes] = {}
        first_page = 7
        page_ids = [first_page + 2 * i for i in range(len(pages))]
        objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
        objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
            b" ".join(b"%d 0 R" % pid for pid in page_ids), len(page_ids))
        for num, font in ((3, HELVETICA), (4, HELVETICA_BOLD), (5, COURIER_BOLD)):
            objects[num] = b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>" % font.encode()
        objects[6] = b"<< /Title %s /Producer (Despatch Desk) /CreationDate (%s) >>" % (
            _escape(clean_text(self.title)[:200]), self.created.strftime("D:%Y%m%d%H%M%S").encode())
        for pid, page in zip(page_ids, pages):
            content = page.content()
            objects[pid] = (
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
                b"/Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> /Contents %d 0 R >>"
                % (page.width, page.height, pid + 1))
            objects[pid + 1] = b"<< /Length %d >>\nstream\n%sendstream" % (len(content), content)
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets: dict[int, int] = {}
        for num in sorted(objects):
            offsets[num] = len(out)
            out += b"%d 0 obj\n%s\nendobj\n" % (num, objects[num])
        xref_at = len(out)
        size = max(objects) + 1
        out += b"xref\n0 %d\n0000000000 65535 f \n" % size
        for num in range(1, size):
            out += b"%010d 00000 n \n" % offsets[num]
        out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
        return bytes(out)

    def write(self, path_or_file: str | os.PathLike[str] | BinaryIO) -> int:
        """Write the PDF (a path is replaced atomically); returns the number of pages."""
        data = self.to_bytes()
        if isinstance(path_or_file, (str, os.PathLike)):
            path = os.fspath(path_or_file)
            tmp = f"{path}.{os.getpid()}.tmp"
            try:
                with open(tmp, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            path_or_file.write(data)
        return max(1, len(self.pages))
