"""Barcode sheets laid out on paper: a header on every page, then sections of captioned Code 128 rows.

Shared by ``command_sheet`` and ``demo_sheet``. Sizes are chosen for a hand scanner held at arm's
length: module (narrowest bar) 12/600 inch (0.51 mm), never under 0.4 mm, always whole 1/600 inch dots; bars 16 mm high; a quiet zone of at least
10 modules each side with nothing drawn in it; captions 20 pt bold (18 pt before a long one is cut).
A text too long to fit at 0.4 mm is not squeezed into an unreadable barcode: its row says so instead.

API: ``render_sheet(sections, *, title, subtitle, how_to, paper) -> PdfDocument`` where ``sections``
is a sequence of ``SheetSection(heading, entries)`` and an entry is ``SheetEntry(caption, code,
detail="")``: ``code`` is the barcode's text (printed in small mono under the bars), ``detail`` a
smaller text under that (up to two lines). Rows never split across pages; the header says "page i of n".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import code128
from .pdf import COURIER_BOLD, HELVETICA, HELVETICA_BOLD, PdfDocument, PdfPage, fit, text_width, wrap

__all__ = ["SheetEntry", "SheetSection", "render_sheet", "MM", "MODULE_MIN_MM", "MODULE_MM", "BAR_HEIGHT_MM",
           "CAPTION_PT", "barcode_module"]

MM = 72 / 25.4
MODULE_MM, MODULE_MIN_MM = 0.5, 0.4
DOT = 72 / 600  # points per dot of a 600 dpi printer
BAR_HEIGHT_MM = 16.0
CAPTION_PT, CAPTION_MIN_PT = 20.0, 18.0
CODE_PT, DETAIL_PT = 9.0, 10.0
MARGIN = 15 * MM
HEADER_HEIGHT = 90.0
FOOTER_HEIGHT = 20.0
HEADING_HEIGHT = 30.0
assert MARGIN > code128.QUIET_ZONE_MODULES * MODULE_MM * MM * 1.1  # quiet zones fit in the margin
ROW_GAP = 18.0  # white between rows, so the scanner's line never crosses two barcodes


@dataclass(frozen=True, slots=True)
class SheetEntry:
    caption: str
    code: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SheetSection:
    heading: str
    entries: Sequence[SheetEntry]


def barcode_module(code: str, width: float) -> float | None:
    """The module width in points for ``code``'s bars within ``width``, or None if they cannot fit.

    The quiet zones may reach into the page margin, which is always white and wider than 10 modules."""
    if not code or not code128.can_encode(code):
        return None
    total = code128.module_count(code)
    # Whole printer dots (1/600 inch, so also 1/300): every bar prints the same width on an office printer.
    dots = min(round(MODULE_MM * MM / DOT), int(width / total / DOT))
    return dots * DOT if dots * DOT >= MODULE_MIN_MM * MM else None


def _entry_height(entry: SheetEntry, width: float) -> float:
    height = CAPTION_PT + 6 + BAR_HEIGHT_MM * MM + 4 + CODE_PT + ROW_GAP
    return height + (DETAIL_PT + 3) * len(_detail_lines(entry, width))


def _detail_lines(entry: SheetEntry, width: float) -> list[str]:
    return wrap(entry.detail, HELVETICA, DETAIL_PT, width, 2) if entry.detail.strip() else []


def _caption_size(text: str, width: float) -> float:
    size = CAPTION_PT
    while size > CAPTION_MIN_PT and text_width(text, HELVETICA_BOLD, size) > width:
        size -= 1
    return size


def _draw_entry(page: PdfPage, entry: SheetEntry, top: float) -> None:
    usable = page.width - 2 * MARGIN
    cx = page.width / 2
    size = _caption_size(entry.caption, usable)
    y = top - CAPTION_PT
    page.text_centered(cx, y, fit(entry.caption, HELVETICA_BOLD, size, usable), HELVETICA_BOLD, size)
    bar_top = y - 6
    bar_height = BAR_HEIGHT_MM * MM
    module = barcode_module(entry.code, usable)
    if module is None:
        why = (f"Too long for a barcode on this paper ({len(entry.code)} characters): choose it in the window."
               if code128.can_encode(entry.code) else "This cannot be put in a barcode: choose it in the window.")
        page.text_centered(cx, bar_top - bar_height / 2, fit(why, HELVETICA, DETAIL_PT, usable), HELVETICA, DETAIL_PT)
    else:
        width = code128.module_count(entry.code) * module
        x0 = round((cx - width / 2) / DOT) * DOT
        for start, run in code128.bar_runs(entry.code):
            page.rect(x0 + start * module, bar_top - bar_height, run * module, bar_height)
        page.text_centered(cx, bar_top - bar_height - 4 - CODE_PT, fit(entry.code, COURIER_BOLD, CODE_PT, usable),
                           COURIER_BOLD, CODE_PT)
    y = bar_top - bar_height - 4 - CODE_PT
    for line in _detail_lines(entry, usable):
        y -= DETAIL_PT + 3
        page.text_centered(cx, y, line, HELVETICA, DETAIL_PT)


def _paginate(sections: Sequence[SheetSection], room: float, width: float) -> list[list[tuple[str, object]]]:
    """Pages of ("heading", text) and ("entry", SheetEntry) items; a heading is repeated on a new page."""
    pages: list[list[tuple[str, object]]] = [[]]
    left = room
    for section in sections:
        first = True
        for entry in section.entries:
            need = _entry_height(entry, width) + (HEADING_HEIGHT if first or not pages[-1] else 0)
            if need > left and pages[-1]:
                pages.append([])
                left = room
            if first or not pages[-1]:
                heading = section.heading if first else f"{section.heading} (continued)"
                pages[-1].append(("heading", heading))
                left -= HEADING_HEIGHT
                first = False
            pages[-1].append(("entry", entry))
            left -= _entry_height(entry, width)
        if first:  # an empty section still says so
            if HEADING_HEIGHT > left:
                pages.append([])
                left = room
            pages[-1].append(("heading", section.heading))
            left -= HEADING_HEIGHT
    return pages


def render_sheet(sections: Sequence[SheetSection], *, title: str, subtitle: str, how_to: str,
                 paper: str = "A4") -> PdfDocument:
    doc = PdfDocument(paper, title=title)
    room = doc.height - 2 * MARGIN - HEADER_HEIGHT - FOOTER_HEIGHT
    usable = doc.width - 2 * MARGIN
    layout = _paginate(sections, room, usable)
    for number, items in enumerate(layout, start=1):
        page = doc.new_page()
        top = doc.height - MARGIN
        page.text(MARGIN, top - 20, fit(title, HELVETICA_BOLD, 20, usable), HELVETICA_BOLD, 20)
        page.text(MARGIN, top - 38, fit(subtitle, HELVETICA, 10, usable), HELVETICA, 10)
        for index, line in enumerate(wrap(how_to, HELVETICA, 10, usable, 2)):
            page.text(MARGIN, top - 54 - 13 * index, line, HELVETICA, 10)
        page.rect(MARGIN, top - 76, usable, 1)
        y = top - HEADER_HEIGHT
        for kind, item in items:
            if kind == "heading":
                page.text(MARGIN, y - 16, fit(str(item), HELVETICA_BOLD, 13, usable), HELVETICA_BOLD, 13)
                y -= HEADING_HEIGHT
            else:
                assert isinstance(item, SheetEntry)
                _draw_entry(page, item, y)
                y -= _entry_height(item, usable)
        page.text_centered(doc.width / 2, MARGIN, f"Page {number} of {len(layout)}", HELVETICA, 9)
    return doc
