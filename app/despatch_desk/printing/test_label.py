"""A test label made on the desk (no SortedPRO call): for checking alignment, darkness and the path to
the printer. 4 x 6 in: ZPL at 203 dpi with a frame, corner marks, an inch ruler and text; or a one-page
PDF with the same."""

from __future__ import annotations

from datetime import datetime

from .common import PrinterError, plain

__all__ = ["make_test_label", "TEST_LABEL_SIZE_PT"]

TEST_LABEL_SIZE_PT = (288, 432)  # 4 x 6 in


def make_test_label(fmt: str, *, desk_name: str, when: datetime) -> bytes:
    kind = (fmt or "").strip().lower()
    desk = plain(desk_name, 40) or "this desk"
    stamp = when.strftime("%Y-%m-%d %H:%M")
    if kind in ("zpl", "zplii"):
        return _zpl(desk, stamp)
    if kind == "pdf":
        return _pdf(desk, stamp)
    raise PrinterError(f"A test label can be ZPL or PDF, not '{plain(fmt, 20)}'.")


def _zpl_text(text: str) -> str:
    return "".join(" " if ch in "^~" else ch for ch in text)


def _zpl(desk: str, stamp: str) -> bytes:
    dots = 203
    width, length = 4 * dots, 6 * dots
    lines = ["^XA", "^CI28", f"^PW{width}", f"^LL{length}", "^LH0,0",
             f"^FO0,0^GB{width},{length},6^FS",  # frame on the label's very edge: shows any offset
             f"^FO20,20^GB{width - 40},{length - 40},2^FS"]
    for x, y in ((30, 30), (width - 90, 30), (30, length - 90), (width - 90, length - 90)):
        lines.append(f"^FO{x},{y}^GB60,60,30^FS")  # corner marks
    for inch in range(1, 6):  # a tick every inch down the left side
        lines.append(f"^FO20,{inch * dots}^GB40,4,4^FS^FO70,{inch * dots - 10}^A0N,24,24^FD{inch} in^FS")
    lines += [
        "^FO120,160^A0N,60,60^FDTEST LABEL^FS",
        "^FO120,240^A0N,34,34^FDDespatch Desk^FS",
        f"^FO120,300^A0N,30,30^FDDesk: {_zpl_text(desk)}^FS",
        f"^FO120,345^A0N,30,30^FD{stamp}^FS",
        "^FO120,400^A0N,26,26^FD4 x 6 in at 203 dpi (812 x 1218 dots)^FS",
        "^BY3,3,160^FO140,520^BCN,160,Y,N,N^FDTEST-LABEL^FS",
        "^FO120,820^A0N,26,26^FDThe outer frame should sit on the^FS",
        "^FO120,856^A0N,26,26^FDlabel's edge, the corners fully black.^FS",
        "^FO120,960^A0N,40,40^FDNOT A SHIPPING LABEL^FS",
        "^PQ1", "^XZ",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _pdf(desk: str, stamp: str) -> bytes:
    w, h = TEST_LABEL_SIZE_PT
    ops = [b"0 g 0 G 3 w 1.5 1.5 %d %d re S 1 w 7 7 %d %d re S" % (w - 3, h - 3, w - 14, h - 14)]
    for x, y in ((10, 10), (w - 31, 10), (10, h - 31), (w - 31, h - 31)):
        ops.append(b"%d %d 21 21 re f" % (x, y))
    for inch in range(1, 6):
        y = h - inch * 72
        ops.append(b"7 %d 14 1.5 re f BT /F1 8 Tf 24 %d Td (%d in) Tj ET" % (y, y - 3, inch))
    texts = [(42, 370, 22, "TEST LABEL"), (42, 344, 12, "Despatch Desk"), (42, 322, 11, f"Desk: {desk}"),
             (42, 306, 11, stamp), (42, 288, 9, "4 x 6 in, one page"),
             (42, 120, 9, "The outer frame should sit on the label's edge,"),
             (42, 108, 9, "the corners fully black."), (42, 70, 14, "NOT A SHIPPING LABEL")]
    for x, y, size, text in texts:
        ops.append(b"BT /F1 %d Tf %d %d Td %s Tj ET" % (size, x, y, _pdf_string(text)))
    content = b"\n".join(ops) + b"\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>" % (w, h),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
