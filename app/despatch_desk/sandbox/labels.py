"""Sandbox shipping labels: a real PDF 1.4 and real ZPL II, both 4 x 6 inch, one label per package.

Each label shows the carrier, service (and a short service code in a black box), the ship-to
address with a large postcode, the sender on one line, a Code 128 (set B) barcode of the package's
tracking number with the number printed under it, the consignment reference, customer reference,
parcel i of n with its weight, the shipping date and service group, and a black banner
"SANDBOX - NOT FOR SHIPPING" so a demo label is never mistaken for a real one.

* PDF: hand-written objects (Helvetica, Helvetica-Bold, Courier-Bold, WinAnsiEncoding),
  uncompressed content streams, an xref table with exact byte offsets; pages 288 x 432 pt.
  The ``dpi`` of the request is ignored (vector output).
* ZPL: one ``^XA ... ^XZ`` block per package, ``^PW``/``^LL`` = 4 x 6 inch at the requested dpi
  (default 203), every coordinate and font size scaled from a 203-dpi design, ``^BC`` barcode,
  ``^CI28`` (UTF-8 field data). Like carriers' files, the bytes are not plain ASCII lines: blocks are
  separated by CRLF (lines inside a block end in LF), and each label has a UTF-8 "é" and a ``^FH``
  hex-escaped field, so printing code is tested on keeping every byte as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from . import code128

__all__ = ["LabelInfo", "LabelParcel", "render_pdf", "render_zpl", "PDF_SIZE", "BANNER"]

PDF_SIZE = (288, 432)  # 4 x 6 inch in points
BANNER = "SANDBOX - NOT FOR SHIPPING"


@dataclass
class LabelParcel:
    tracking: str
    weight_kg: float
    index: int  # 1-based
    count: int


@dataclass
class LabelInfo:
    reference: str
    carrier_name: str
    service_name: str
    service_code: str
    group_reference: str
    ship_date: str  # dd/mm/yyyy
    ship_to_name: str
    ship_to_lines: list[str]  # company/address lines and town
    postcode: str
    country: str  # name, e.g. "United Kingdom"
    ship_from: str
    customer_reference: str = ""
    created: datetime | None = None
    parcels: list[LabelParcel] = field(default_factory=list)


# -- PDF ------------------------------------------------------------------------------------------


def _pdf_text(text: str) -> bytes:
    """A PDF literal string (with parentheses) in WinAnsi (cp1252) encoding."""
    raw = text.encode("cp1252", errors="replace")
    out = bytearray(b"(")
    for b in raw:
        if b in (0x28, 0x29, 0x5C):  # ( ) \
            out += b"\\" + bytes([b])
        elif b < 32 or b == 127:
            out += b"\\%03o" % b
        else:
            out.append(b)
    out += b")"
    return bytes(out)


_NARROW = set(" ijlftrI.,;:'!|()[]-")
_WIDE = set("mwMW@%")


def _text_width(text: str, size: float, bold: bool = False) -> float:
    """Approximate Helvetica width in points (errs on the wide side)."""
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.33
        elif ch in _WIDE:
            em += 0.89
        elif ch.isupper():
            em += 0.72
        else:
            em += 0.56
    return em * size * (1.06 if bold else 1.0)


def _fit(text: str, size: float, width: float, bold: bool = False) -> str:
    """Trim ``text`` (with "...") until it fits ``width`` points at font ``size``."""
    if _text_width(text, size, bold) <= width:
        return text
    while len(text) > 1 and _text_width(text + "...", size, bold) > width:
        text = text[:-1]
    return text.rstrip() + "..."


def _fit_size(text: str, size: float, width: float, bold: bool = False, smallest: float = 9) -> float:
    """The largest font size <= ``size`` (down to ``smallest``) at which ``text`` fits ``width``."""
    while size > smallest and _text_width(text, size, bold) > width:
        size -= 0.5
    return size


def _num(value: float) -> bytes:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return (text if text not in ("", "-0") else "0").encode()


class _Canvas:
    def __init__(self) -> None:
        self.ops: list[bytes] = []

    def text(self, x: float, y: float, font: str, size: float, text: str) -> None:
        self.ops.append(
            b"BT /%s %s Tf %s %s Td %s Tj ET" % (font.encode(), _num(size), _num(x), _num(y), _pdf_text(text))
        )

    def mono_centered(self, cx: float, y: float, size: float, text: str) -> None:
        # Courier: every glyph is 600/1000 em wide.
        self.text(cx - 0.6 * size * len(text) / 2, y, "F3", size, text)

    def rect(self, x: float, y: float, w: float, h: float, fill: bool = True) -> None:
        self.ops.append(b"%s %s %s %s re %s" % (_num(x), _num(y), _num(w), _num(h), b"f" if fill else b"S"))

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self.ops.append(b"%s %s m %s %s l S" % (_num(x1), _num(y1), _num(x2), _num(y2)))

    def raw(self, op: bytes) -> None:
        self.ops.append(op)

    def bytes(self) -> bytes:
        return b"\n".join(self.ops) + b"\n"


def _pdf_page(info: LabelInfo, parcel: LabelParcel) -> bytes:
    w, h = PDF_SIZE
    c = _Canvas()
    left, right = 14, w - 14
    c.raw(b"0 g 0 G 1.5 w")
    c.rect(6, 6, w - 12, h - 12, fill=False)
    # Carrier and service, service code in a black box.
    size = _fit_size(info.carrier_name, 18, 200, bold=True, smallest=12)
    c.text(left, 400, "F2", size, _fit(info.carrier_name, size, 200, bold=True))
    c.text(left, 384, "F1", 11, _fit(info.service_name, 11, 200))
    c.rect(222, 374, 54, 46)
    code = info.service_code[:4] or "--"
    c.raw(b"1 g")
    c.mono_centered(249, 390, 20 if len(code) <= 3 else 16, code)
    c.raw(b"0 g 1 w")
    c.line(6, 368, w - 6, 368)
    # Ship to.
    c.text(left, 356, "F1", 7, "SHIP TO")
    c.text(left, 340, "F2", 14, _fit(info.ship_to_name, 14, right - left, bold=True))
    y = 324
    for line in info.ship_to_lines[:4]:
        c.text(left, y, "F1", 11, _fit(line, 11, right - left))
        y -= 14
    c.text(left, 254, "F2", 20, _fit(info.postcode, 20, right - left, bold=True))
    c.text(left, 240, "F2", 10, _fit(info.country.upper(), 10, right - left, bold=True))
    c.line(6, 232, w - 6, 232)
    c.text(left, 222, "F1", 7, _fit("FROM: " + info.ship_from, 7, right - left))
    c.line(6, 214, w - 6, 214)
    # Barcode of the tracking number, quiet zone of 10 modules each side.
    runs = code128.bar_runs(parcel.tracking)
    total_modules = len(code128.modules(parcel.tracking)) + 20
    module = min(1.4, (right - left) / total_modules)
    x0 = (w - total_modules * module) / 2 + 10 * module
    bar_bottom, bar_height = 128, 76
    for start, width in runs:
        c.rect(x0 + start * module, bar_bottom, width * module, bar_height)
    c.mono_centered(w / 2, 114, 12, parcel.tracking)
    c.line(6, 106, w - 6, 106)
    # Consignment details.
    c.text(left, 90, "F2", 11, f"Consignment {info.reference}")
    if info.customer_reference:
        c.text(left, 77, "F1", 9, _fit(f"Customer ref {info.customer_reference}", 9, right - left))
    c.text(left, 64, "F1", 9, f"Parcel {parcel.index} of {parcel.count}   {parcel.weight_kg:g} kg")
    c.text(left, 51, "F1", 9, _fit(f"Ship {info.ship_date}   Group {info.group_reference}", 9, right - left))
    # Sandbox banner.
    c.rect(6, 12, w - 12, 28)
    c.raw(b"1 g")
    c.mono_centered(w / 2, 22, 11.5, BANNER)
    c.raw(b"0 g")
    return c.bytes()


def render_pdf(info: LabelInfo) -> bytes:
    """A complete PDF 1.4 document with one page per parcel."""
    parcels = info.parcels or [LabelParcel("NO-TRACKING", 0.0, 1, 1)]
    objects: dict[int, bytes] = {}
    n_fixed = 6
    page_ids = [n_fixed + 1 + 2 * i for i in range(len(parcels))]
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % pid for pid in page_ids),
        len(page_ids),
    )
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    objects[4] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
    objects[5] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier-Bold /Encoding /WinAnsiEncoding >>"
    stamp = (info.created or datetime(2000, 1, 1)).strftime("D:%Y%m%d%H%M%S")
    objects[6] = b"<< /Title %s /Producer (Despatch Desk sandbox) /CreationDate (%s) >>" % (
        _pdf_text(f"Label {info.reference} ({BANNER})"),
        stamp.encode(),
    )
    for pid, parcel in zip(page_ids, parcels):
        content = _pdf_page(info, parcel)
        objects[pid] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> /Contents %d 0 R >>"
            % (PDF_SIZE[0], PDF_SIZE[1], pid + 1)
        )
        objects[pid + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (num, objects[num])
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n" % size
    out += b"0000000000 65535 f \n"
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num]
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


# -- ZPL ------------------------------------------------------------------------------------------


def _zpl_field(text: str) -> str:
    # ^ and ~ are command prefixes in ZPL; keep them out of field data.
    return "".join(" " if ch in "^~" or ord(ch) < 32 else ch for ch in text)


def render_zpl(info: LabelInfo, dpi: int = 203) -> str:
    """ZPL II for a 4 x 6 inch label per parcel at ``dpi`` (203, 300, 600 ...)."""
    s = dpi / 203.0
    width, length = round(4 * dpi), round(6 * dpi)

    def d(value: float) -> int:
        return max(1, round(value * s))

    def text(x: float, y: float, size: float, value: str, chars: int | None = None) -> str:
        if chars is not None and len(value) > chars:
            value = value[: chars - 3].rstrip() + "..."
        return f"^FO{d(x)},{d(y)}^A0N,{d(size)},{d(size)}^FD{_zpl_field(value)}^FS"

    parcels = info.parcels or [LabelParcel("NO-TRACKING", 0.0, 1, 1)]
    blocks: list[str] = []
    for parcel in parcels:
        lines = [
            "^XA",
            "^CI28",
            f"^PW{width}",
            f"^LL{length}",
            "^LH0,0",
            f"^FO{d(16)},{d(16)}^GB{width - 2 * d(16)},{length - 2 * d(16)},{d(3)}^FS",
            text(40, 40, 48, info.carrier_name, 22),
            text(40, 96, 30, info.service_name, 34),
            f"^FO{d(642)},{d(34)}^GB{d(140)},{d(100)},{d(100)}^FS",
            f"^FO{d(642)},{d(62)}^FR^A0N,{d(48)},{d(44)}^FB{d(140)},1,0,C^FD{_zpl_field(info.service_code[:4] or '--')}^FS",
            f"^FO{d(16)},{d(150)}^GB{width - 2 * d(16)},{d(3)},{d(3)}^FS",
            text(40, 166, 20, "SHIP TO"),
            text(40, 192, 38, info.ship_to_name, 34),
        ]
        y = 240
        for line in info.ship_to_lines[:4]:
            lines.append(text(40, y, 30, line, 44))
            y += 36
        lines += [
            text(40, 392, 64, info.postcode, 20),
            text(40, 462, 30, info.country.upper(), 40),
            f"^FO{d(16)},{d(504)}^GB{width - 2 * d(16)},{d(3)},{d(3)}^FS",
            text(40, 518, 18, "FROM: " + info.ship_from, 70),
            f"^FO{d(16)},{d(548)}^GB{width - 2 * d(16)},{d(3)},{d(3)}^FS",
        ]
        module = max(2, round(3 * s)) if len(parcel.tracking) <= 16 else max(1, round(2 * s))
        bar_width = len(code128.modules(parcel.tracking)) * module
        bar_x = max(d(20), (width - bar_width) // 2)
        lines += [
            f"^BY{module},3,{d(190)}",
            f"^FO{bar_x},{d(580)}^BCN,{d(190)},Y,N,N^FD{_zpl_field(parcel.tracking)}^FS",
            f"^FO{d(16)},{d(842)}^GB{width - 2 * d(16)},{d(3)},{d(3)}^FS",
            text(40, 862, 34, f"Consignment {info.reference}"),
        ]
        if info.customer_reference:
            lines.append(text(40, 908, 26, f"Customer ref {info.customer_reference}", 50))
        lines += [
            text(40, 944, 26, f"Parcel {parcel.index} of {parcel.count}   {parcel.weight_kg:g} kg"),
            text(40, 980, 26, f"Ship {info.ship_date}   Group {info.group_reference}", 50),
            # Non-ASCII on purpose: a literal UTF-8 "É" and ^FH's _E2_80_94 (an em dash).
            f"^FO{d(40)},{d(1016)}^A0N,{d(22)},{d(22)}^FH^FDÉtiquette sandbox _E2_80_94 {_zpl_field(info.reference)}^FS",
            f"^FO{d(16)},{length - d(16) - d(80)}^GB{width - 2 * d(16)},{d(80)},{d(80)}^FS",
            f"^FO{d(16)},{length - d(16) - d(58)}^FR^A0N,{d(40)},{d(36)}^FB{width - 2 * d(16)},1,0,C^FD{BANNER}^FS",
            "^PQ1",
            "^XZ",
        ]
        blocks.append("\n".join(lines))
    return "\r\n".join(blocks) + "\r\n"  # CRLF between blocks, as Windows-made carrier files have
