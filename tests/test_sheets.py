"""Printable barcode sheets: rendered by poppler, read back by zbar, checked against their captions.

Every sheet is rendered with ``pdftoppm -r 200`` and every barcode decoded with ``zbarimg``; the text
comes back with ``pdftotext``; ``qpdf --check`` and ``pdfinfo`` judge the file. Without those tools the
tests skip, under CI=true they fail (support.need_tools).
"""

from __future__ import annotations

import html
import io
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from support import need_tools

from despatch_desk import commands
from despatch_desk.errors import DeskError
from despatch_desk.references import parse_reference
from despatch_desk.sandbox import code128 as sandbox_code128
from despatch_desk.sandbox.demo import DEMO_CONSIGNMENTS
from despatch_desk.sheets import code128, layout, pdf
from despatch_desk.sheets.command_sheet import HOW_TO, write_command_sheet
from despatch_desk.sheets.demo_sheet import write_demo_sheet

DPI = 200
MM = 72 / 25.4
GROUPS = [("nextDay", "Next day"), ("economy", "Economy"), ("heavy", "Heavy"),
          ("valuableGoods", "Valuable goods"), ("international", "International")]
PRINTED = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def poppler_and_zbar():
    need_tools("pdftoppm", "pdftotext", "pdfinfo", "zbarimg", "qpdf")


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, check=check)


def page_count(path: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", run("pdfinfo", path).stdout, re.M).group(1))


def page_sizes(path: Path) -> set[str]:
    out = run("pdfinfo", "-f", "1", "-l", "9999", path).stdout
    return set(re.findall(r"^Page\s+\d+ size:\s+(.*)$", out, re.M))


def layout_lines(path: Path, page: int) -> list[str]:
    out = run("pdftotext", "-layout", "-f", page, "-l", page, path, "-").stdout
    return [line.strip() for line in out.replace("\f", "").splitlines() if line.strip()]


def bbox_lines(path: Path, page: int) -> list[tuple[str, float, float, float, float]]:
    """(text, xMin, yMin, xMax, yMax) of every text line, y from the top of the page, in points."""
    out = run("pdftotext", "-bbox-layout", "-f", page, "-l", page, path, "-").stdout
    lines = []
    for attrs, body in re.findall(r"<line ([^>]*)>(.*?)</line>", out, re.S):
        box = [float(v) for v in re.findall(r'"([\d.]+)"', attrs)]
        words = [html.unescape(w) for w in re.findall(r"<word [^>]*>(.*?)</word>", body)]
        lines.append((" ".join(words), *box))
    return lines


def render_gray(path: Path, page: int, tmp: Path) -> tuple[int, int, bytes]:
    """The page as 8-bit gray pixels at DPI: (width, height, pixels)."""
    stem = tmp / f"page{page}"
    run("pdftoppm", "-r", DPI, "-gray", "-f", page, "-l", page, "-singlefile", path, stem)
    data = stem.with_suffix(".pgm").read_bytes()
    magic, width, height, maxval, pixels = re.match(rb"(P5)\s+(\d+)\s+(\d+)\s+(\d+)\s(.*)", data, re.S).groups()
    assert int(maxval) == 255
    return int(width), int(height), pixels


def zbar(*images: Path) -> dict[str, list[str]]:
    """What zbar reads (Code 128 only) in each image: {image name: [texts]}."""
    out = run("zbarimg", "--xml", "-q", "-Sdisable", "-Scode128.enable", *images, check=False)
    assert out.returncode in (0, 4), out.stderr  # 4: no barcode in some image
    found: dict[str, list[str]] = {image.name: [] for image in images}
    for href, body in re.findall(r"<source href='([^']*)'>(.*?)</source>", out.stdout, re.S):
        found[Path(href).name] = re.findall(r"<data><!\[CDATA\[(.*?)\]\]></data>", body, re.S)
    return found


def decode_sheet(path: Path, tmp: Path, is_code) -> list[dict]:
    """Per page: the code lines printed under bars, what zbar reads on the whole page, and what it reads
    in a band just above each code line (that barcode alone)."""
    pages = []
    for page in range(1, page_count(path) + 1):
        width, height, pixels = render_gray(path, page, tmp)
        full = tmp / f"full{page}.pgm"
        full.write_bytes(b"P5 %d %d 255\n" % (width, height) + pixels)
        # The code line is the small one (9 pt mono); a demo caption has the same text in 20 pt.
        codes = [line for line in bbox_lines(path, page) if is_code(line[0]) and line[4] - line[2] < 12]
        crops = []
        for index, (_text, _x0, y_top, _x1, _y1) in enumerate(codes):
            # Bars end 6 pt above the code line's box and are 16 mm tall: take 60 pt above it.
            first = max(0, int((y_top - 60) * DPI / 72))
            last = int((y_top - 1) * DPI / 72)
            crop = tmp / f"crop{page}_{index}.pgm"
            crop.write_bytes(b"P5 %d %d 255\n" % (width, last - first) + pixels[first * width:last * width])
            crops.append(crop)
        read = zbar(full, *crops)
        pages.append({"codes": [c[0] for c in codes], "page": sorted(read[full.name]),
                      "alone": [read[c.name] for c in crops], "lines": layout_lines(path, page)})
    return pages


def content_streams(path: Path) -> list[bytes]:
    return re.findall(rb"stream\n(.*?)endstream", path.read_bytes(), re.S)


def barcode_boxes(stream: bytes) -> list[dict]:
    """Bars grouped into barcodes (same bottom and height): box, narrowest bar, height (points)."""
    groups: dict[tuple[float, float], list[tuple[float, float]]] = {}
    for x, y, w, h in re.findall(rb"([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re f", stream):
        if float(h) > 10:  # the header's rule is 1 pt high
            groups.setdefault((float(y), float(h)), []).append((float(x), float(w)))
    return [{"left": min(x for x, _ in bars), "right": max(x + w for x, w in bars), "bottom": y, "height": h,
             "module": min(w for _, w in bars), "bars": len(bars)} for (y, h), bars in groups.items()]


def expected_command_lines(groups) -> list[str]:
    names = dict(groups)
    out = []
    for command in commands.sheet_commands([code for code, _ in groups]):
        out += [commands.caption(command, names), commands.encode(command)]
    return out


def body_lines(pages: list[dict], title: str) -> list[str]:
    """Layout lines without the header (title, subtitle, how-to), headings and the page footer."""
    body = []
    for number, page in enumerate(pages, start=1):
        lines = page["lines"]
        assert lines[0] == title
        assert lines[-1] == f"Page {number} of {len(pages)}"
        body += [line for line in lines[4:-1] if not line.startswith(("Service groups", "Commands", "Demo consignments"))]
    return body


# ------------------------------------------------------------------ the command sheet


def test_command_sheet_barcodes_decode_to_their_captions(tmp_path):
    sheet = tmp_path / "commands.pdf"
    pages = write_command_sheet(sheet, groups=GROUPS, paper="A4", desk_name="Bench 3", printed=PRINTED)
    assert pages == page_count(sheet) == 3
    assert run("qpdf", "--check", sheet).returncode == 0
    decoded = decode_sheet(sheet, tmp_path, lambda text: text.startswith("DD:"))
    title = "Despatch Desk command barcodes: Bench 3"
    assert body_lines(decoded, title) == expected_command_lines(GROUPS)  # caption, then its code, in order
    for page in decoded:
        assert page["lines"][1].startswith("Desk Bench 3, printed 2026-12-01.")
        assert " ".join(page["lines"][2:4]) == HOW_TO
        assert page["page"] == sorted(page["codes"])  # no barcode without its text, nothing extra
        assert page["alone"] == [[code] for code in page["codes"]]  # each bar group reads as the text under it
    read = [code for page in decoded for code in page["codes"]]
    assert [commands.parse_command(text, groups=[c for c, _ in GROUPS]) for text in read] == \
        commands.sheet_commands([c for c, _ in GROUPS])


def check_geometry(sheet: Path, width: float, height: float) -> int:
    """Module >= 0.4 mm, bars >= 15 mm, 10 modules of nothing each side, captions >= 18 pt bold; returns the count."""
    seen = 0
    for number, stream in enumerate(content_streams(sheet), start=1):
        texts = bbox_lines(sheet, number)
        boxes = barcode_boxes(stream)
        for box in boxes:
            seen += 1
            assert box["module"] >= 0.4 * MM - 1e-6
            assert box["height"] >= 15 * MM
            quiet = 10 * box["module"]
            left, right = box["left"] - quiet, box["right"] + quiet
            bottom, top = height - box["bottom"], height - box["bottom"] - box["height"]  # from the top
            assert left >= 0 and right <= width
            for text, x0, y0, x1, y1 in texts:  # no text inside the bars or their quiet zones
                assert x1 <= left or x0 >= right or y1 <= top or y0 >= bottom, (text, box)
            for other in boxes:
                if other is not box:
                    assert other["bottom"] + other["height"] < box["bottom"] or other["bottom"] > box["bottom"] + box["height"]
        # Captions: Helvetica-Bold (F2) at 18 pt or more.
        for size, text in re.findall(rb"BT /F2 ([\d.]+) Tf [\d.]+ [\d.]+ Td \((.*?)\) Tj ET", stream):
            if text.startswith((b"Switch to", b"Undo", b"Reprint", b"Acknowledge", b"Re-check", b"Turn", b"Auto")):
                assert float(size) >= 18, text
        # The encoded text: small mono (Courier, F3).
        assert re.search(rb"BT /F3 9 Tf [\d.]+ [\d.]+ Td \(DD:", stream)
    return seen


@pytest.mark.parametrize(("paper", "width", "height"), [("A4", 595, 842), ("Letter", 612, 792)])
def test_barcodes_are_big_enough_for_arm_length_and_have_quiet_zones(tmp_path, paper, width, height):
    sheet = tmp_path / "commands.pdf"
    write_command_sheet(sheet, groups=GROUPS, paper=paper, printed=PRINTED)
    assert check_geometry(sheet, width, height) == len(commands.sheet_commands([c for c, _ in GROUPS]))


@pytest.mark.parametrize(("paper", "size"), [("A4", "595 x 842 pts (A4)"), ("Letter", "612 x 792 pts (letter)"),
                                             ("letter", "612 x 792 pts (letter)")])
def test_paper_sizes(tmp_path, paper, size):
    sheet = tmp_path / "sheet.pdf"
    write_command_sheet(sheet, groups=GROUPS, paper=paper, printed=PRINTED)
    assert page_sizes(sheet) == {size}
    demo = tmp_path / "demo.pdf"
    write_demo_sheet(demo, consignments=[(c.reference, c.hint) for c in DEMO_CONSIGNMENTS[:3]], paper=paper)
    assert page_sizes(demo) == {size}


def test_unknown_paper_is_refused_in_plain_words(tmp_path):
    with pytest.raises(DeskError, match="choose A4 or Letter"):
        write_command_sheet(tmp_path / "x.pdf", groups=GROUPS, paper="A5")
    assert not (tmp_path / "x.pdf").exists()


def test_thirty_groups_paginate_without_cutting_a_row(tmp_path):
    groups = [(f"group{i:02d}", f"Group number {i}") for i in range(30)]
    sheet = tmp_path / "many.pdf"
    pages = write_command_sheet(sheet, groups=groups, paper="Letter", desk_name="Bench 9", printed=PRINTED)
    assert pages == page_count(sheet) >= 6
    decoded = decode_sheet(sheet, tmp_path, lambda text: text.startswith("DD:"))
    assert body_lines(decoded, "Despatch Desk command barcodes: Bench 9") == expected_command_lines(groups)
    for page in decoded:
        assert page["page"] == sorted(page["codes"])
        assert page["alone"] == [[code] for code in page["codes"]]
    assert decoded[1]["lines"][4] == "Service groups (continued)"
    assert sum(len(page["codes"]) for page in decoded) == 30 + 7  # UNDO REPRINT ACK RECHECK, AUTOPRINT x3


def test_hostile_group_names_are_escaped_and_cut(tmp_path):
    long_name = "Long " + "x" * 195
    groups = [("paren", "Next (day) ) (("), ("slash", "back\\slash \\) \\\\"), ("accent", "Zürich → Köln 東京"),
              ("long", long_name), ("bidi", "\u202eevil\u202c\x00\x1b[31m\r\nline"), ("tokyo東京", "Tokyo")]
    sheet = tmp_path / "hostile.pdf"
    write_command_sheet(sheet, groups=groups, desk_name="Desk (1) \\ é", printed=PRINTED)
    check = run("qpdf", "--check", sheet, check=False)
    assert check.returncode == 0 and "No syntax or stream encoding errors" in check.stdout, check.stdout
    # Past the binary marker comment, everything outside ASCII is an escape: no raw byte can be syntax.
    assert max(sheet.read_bytes()[15:]) < 128
    decoded = decode_sheet(sheet, tmp_path, lambda text: text.startswith("DD:"))
    lines = body_lines(decoded, "Despatch Desk command barcodes: Desk (1) \\ é")
    assert "Switch to Next (day) ) (( (paren)" in lines
    assert "Switch to back\\slash \\) \\\\ (slash)" in lines
    assert "Switch to Zürich -> Köln ?? (accent)" in lines
    assert "Switch to evil[31m line (bidi)" in lines
    assert "Switch to Tokyo (tokyo??)" in lines and "DD:GROUP:tokyo%E6%9D%B1%E4%BA%AC" in lines
    cut = next(line for line in lines if line.startswith("Switch to Long"))
    assert cut.endswith("… (long)") and len(cut) < 80
    for page in decoded:
        assert page["alone"] == [[code] for code in page["codes"]]
    read = [code for page in decoded for code in page["codes"]]
    assert [commands.parse_command(t, groups=[c for c, _ in groups]).argument for t in read[:6]] == [c for c, _ in groups]


def test_code_too_long_for_the_paper_says_so_instead_of_thin_bars(tmp_path):
    longest_fitting = "g" * 26  # DD:GROUP: + 26 characters still fit A4 at 10 dots (0.42 mm) a module
    too_long = "h" * 27  # one more does not
    sheet = tmp_path / "long.pdf"
    write_command_sheet(sheet, groups=[(longest_fitting, "Fits"), (too_long, "Too long")], printed=PRINTED)
    decoded = decode_sheet(sheet, tmp_path, lambda text: text.startswith("DD:"))
    lines = [line for page in decoded for line in page["lines"]]
    assert f"DD:GROUP:{longest_fitting}" in decoded[0]["page"]
    assert not any(too_long in code for page in decoded for code in page["page"])
    assert "Too long for a barcode on this paper (36 characters): choose it in the window." in lines
    assert check_geometry(sheet, 595, 842) == 1 + 7  # the long one keeps its quiet zones too


def test_no_groups_still_prints_the_commands(tmp_path):
    sheet = tmp_path / "none.pdf"
    write_command_sheet(sheet, groups=[], printed=PRINTED, desk_name="D")
    decoded = decode_sheet(sheet, tmp_path, lambda text: text.startswith("DD:"))
    assert "Service groups: none configured (add them in Settings)" in decoded[0]["lines"]
    assert [c for page in decoded for c in page["codes"]] == [commands.encode(c) for c in commands.sheet_commands([])]


def test_writes_to_a_file_object_and_replaces_a_path(tmp_path):
    buffer = io.BytesIO()
    assert write_command_sheet(buffer, groups=GROUPS, printed=PRINTED) == 3
    target = tmp_path / "sheet.pdf"
    target.write_bytes(b"old")
    write_command_sheet(target, groups=GROUPS, printed=PRINTED, desk_name="")
    assert target.read_bytes().startswith(b"%PDF-1.4") and target.read_bytes().endswith(b"%%EOF\n")
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind
    assert buffer.getvalue().count(b"/Type /Page ") == 3


# ------------------------------------------------------------------ the demo sheet


def test_demo_sheet_barcodes_decode_to_the_demo_references(tmp_path):
    sheet = tmp_path / "demo.pdf"
    consignments = [(c.reference, c.hint) for c in DEMO_CONSIGNMENTS]
    pages = write_demo_sheet(sheet, consignments=consignments, printed=PRINTED)
    assert pages == page_count(sheet)
    assert run("qpdf", "--check", sheet).returncode == 0
    decoded = decode_sheet(sheet, tmp_path, lambda text: text.startswith("EC-") and " " not in text)
    body = body_lines(decoded, "Despatch Desk demo consignments")
    references = [r for r, _ in consignments]
    # Each row: the reference as caption, the reference in mono under the bars, then the hint.
    assert [line for line in body if line in references] == [r for r in references for _ in (0, 1)]
    for page in decoded:
        assert page["page"] == sorted(page["codes"])
        assert page["alone"] == [[code] for code in page["codes"]]
    read = [code for page in decoded for code in page["codes"]]
    assert read == references
    assert all(parse_reference(code).reference == code for code in read)
    rows: list[list[str]] = []
    for line in body:
        if line in references and (not rows or rows[-1] != [line]):
            rows.append([line])
        else:
            rows[-1].append(line)
    shown = {row[0]: " ".join(row[2:]) for row in rows}  # caption, code, then the hint's line(s)
    assert shown == {reference: " ".join(pdf.clean_text(hint).split()) for reference, hint in consignments}


# ------------------------------------------------------------------ building blocks


def test_text_widths_match_poppler_metrics(tmp_path):
    """Centring and cutting rely on the width table: poppler's Helvetica metrics must agree."""
    doc = pdf.PdfDocument("A4")
    page = doc.new_page()
    chars = [chr(c) for c in range(33, 127)] + ["é", "ü", "…"]
    y = 800
    for font in (pdf.HELVETICA, pdf.HELVETICA_BOLD):  # Courier is 600 units a glyph by definition
        for start in range(0, len(chars), 20):
            page.text(20, y, "   ".join(chars[start:start + 20]), font, 20)
            y -= 26
    path = tmp_path / "widths.pdf"
    doc.write(path)
    out = run("pdftotext", "-bbox", path, "-").stdout
    words = re.findall(r'xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', out)
    assert len(words) == 2 * len(chars)
    for index, (x0, x1, word) in enumerate(words):
        font = (pdf.HELVETICA, pdf.HELVETICA_BOLD)[index // len(chars)]
        assert abs(pdf.text_width(html.unescape(word), font, 20) - (float(x1) - float(x0))) < 0.05, (word, font)


def test_fit_and_wrap_never_overflow():
    text = "Zürich → Köln " * 20
    for width in (30, 100, 333.3):
        cut = pdf.fit(text, pdf.HELVETICA_BOLD, 18, width)
        assert cut.endswith("…") and pdf.text_width(cut, pdf.HELVETICA_BOLD, 18) <= width
    lines = pdf.wrap(text, pdf.HELVETICA, 10, 200, 2)
    assert len(lines) == 2 and lines[1].endswith("…")
    assert all(pdf.text_width(line, pdf.HELVETICA, 10) <= 200 for line in lines)
    assert pdf.fit("short", pdf.HELVETICA, 10, 200) == "short"
    assert pdf.clean_text("a\u202eb\x00c\u00a0d\u2192") == "abc d->"


def test_code128_is_shared_with_the_sandbox_and_refuses_in_plain_words():
    assert sandbox_code128.bar_runs is code128.bar_runs and sandbox_code128.PATTERNS is code128.PATTERNS
    assert code128.module_count("DD:UNDO") == len(code128.modules("DD:UNDO"))
    # Check symbol by hand: (104 + 48*1 + 42*2 + 42*3 + 17*4 + 18*5 + 19*6 + 35*7) % 103 = 879 % 103 = 55.
    assert code128.encode_b("PJJ123C")[-2] == 55
    for bad in ("é", "\x7f", "\n"):
        with pytest.raises(code128.BarcodeTextError, match="cannot be put in a Code 128 barcode") as caught:
            code128.encode_b(f"DD:{bad}")
        assert isinstance(caught.value, DeskError) and isinstance(caught.value, ValueError)
    assert layout.barcode_module("é", 500) is None
