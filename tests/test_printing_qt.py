"""PDF labels through QtPrintSupport, off screen: a QPrinter writing a PDF file stands in for a printer.
The result is read back with QtPdf: one page per label, each the label's own size, the drawing where
the label has it (no margins, no scaling), and no dialog."""

from __future__ import annotations

from datetime import datetime

import pytest
from test_printing_sink import MULTI, sandbox_label

from despatch_desk import printing
from despatch_desk.cancel import CancelToken
from despatch_desk.printing import qt_pdf


def qt_address(widget) -> int:
    """A widget's C++ address: Python wrappers of C++-made widgets are new objects on every call."""
    import shiboken6

    return shiboken6.getCppPointer(widget)[0]


def render(data: bytes, page: int, dpi: int = 72):
    """One page as grey levels on white paper (QtPdf renders on transparent)."""
    doc, _buffer = qt_pdf._load(data)
    size = doc.pagePointSize(page)
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QImage

    image = qt_pdf._on_white(doc.render(page, QSize(round(size.width() * dpi / 72), round(size.height() * dpi / 72))))
    return image.convertToFormat(QImage.Format.Format_Grayscale8)


def mismatched(a, b) -> int:
    """Pixels that are ink in one image and paper in the other."""
    assert (a.width(), a.height()) == (b.width(), b.height())
    return sum(abs(a.pixelColor(x, y).lightness() - b.pixelColor(x, y).lightness()) > 128
               for y in range(a.height()) for x in range(a.width()))


def ink(image) -> int:
    return sum(image.pixelColor(x, y).lightness() < 128 for y in range(image.height()) for x in range(image.width()))


def test_each_label_is_a_page_of_its_own_size(sandbox, qapp, tmp_path):
    pdf = sandbox_label(sandbox, "PDF")
    out = tmp_path / "printed.pdf"
    windows_before = {qt_address(w) for w in qapp.topLevelWidgets()}  # other tests may leave theirs behind
    pages = qt_pdf.print_pdf(pdf, CancelToken(timeout=30), title=f"Despatch Desk label {MULTI}",
                             output_file=str(out), where="test")
    printed = out.read_bytes()
    assert pages == 3 == printing.split_labels(pdf).count
    assert qt_pdf.pdf_page_sizes(printed) == [(288.0, 432.0)] * 3  # 4 x 6 in, as the label
    originals = [render(pdf, page) for page in range(3)]
    assert 0.05 < ink(originals[0]) / (288 * 432) < 0.6  # a label, not a blank or black page
    for page in range(3):  # each page carries its own label, drawn edge to edge at the same place
        copy = render(printed, page)
        assert mismatched(originals[page], copy) < 0.015 * 288 * 432  # raster vs vector edges only
        assert mismatched(originals[(page + 1) % 3], copy) > 2 * mismatched(originals[page], copy)
    assert [w for w in qapp.topLevelWidgets() if qt_address(w) not in windows_before] == []  # no dialog, no window


def test_pages_of_different_sizes_keep_their_sizes(sandbox, qapp, tmp_path):
    pdf = sandbox_label(sandbox, "PDF")
    boxes = pdf.count(b"/MediaBox [0 0 288 432]")
    assert boxes == 3
    first = pdf.index(b"/MediaBox [0 0 288 432]")
    second = pdf.index(b"/MediaBox [0 0 288 432]", first + 1)
    mixed = pdf[:second] + b"/MediaBox [0 0 288 576]" + pdf[second + 23:]  # same length: xref stays right
    out = tmp_path / "mixed.pdf"
    qt_pdf.print_pdf(mixed, CancelToken(timeout=30), title="t", output_file=str(out), where="test")
    assert qt_pdf.pdf_page_sizes(out.read_bytes()) == [(288.0, 432.0), (288.0, 576.0), (288.0, 432.0)]


def test_the_test_label_prints_as_one_page(qapp, tmp_path):
    pdf = printing.make_test_label("pdf", desk_name="Bench 3 — Zoë", when=datetime(2026, 12, 1, 9, 30))
    out = tmp_path / "test-label.pdf"
    assert qt_pdf.print_pdf(pdf, CancelToken(timeout=30), title="test", output_file=str(out), where="t") == 1
    assert qt_pdf.pdf_page_sizes(out.read_bytes()) == [(288.0, 432.0)]
    assert mismatched(render(pdf, 0), render(out.read_bytes(), 0)) < 0.015 * 288 * 432


def test_damaged_pdf_and_cancel_in_plain_words(sandbox, qapp, tmp_path):
    pdf = sandbox_label(sandbox, "PDF")
    with pytest.raises(printing.PrinterError) as e:
        qt_pdf.print_pdf(b"%PDF-1.4\nrubbish", CancelToken(), title="t", output_file=str(tmp_path / "x.pdf"), where="t")
    assert "could not be read" in e.value.message
    token = CancelToken()
    token.cancel("closing")
    with pytest.raises(Exception) as e:
        qt_pdf.print_pdf(pdf, token, title="t", output_file=str(tmp_path / "y.pdf"), where="t")
    assert type(e.value).__name__ == "Cancelled"
    result = printing.print_label("system://no such printer", pdf, reference=MULTI)
    assert not result.sent and "no printer named 'no such printer'" in result.error


def test_pdf_printing_from_worker_threads(sandbox, qapp, tmp_path):
    """The window prints on its job runner's threads, several desks' labels at once."""
    import threading

    pdf = sandbox_label(sandbox, "PDF")
    results: dict[int, object] = {}

    def work(i: int) -> None:
        try:
            results[i] = qt_pdf.print_pdf(pdf, CancelToken(timeout=60), title="t",
                                          output_file=str(tmp_path / f"{i}.pdf"), where="t")
        except Exception as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {0: 3, 1: 3, 2: 3}
    assert all(qt_pdf.pdf_page_sizes((tmp_path / f"{i}.pdf").read_bytes()) == [(288.0, 432.0)] * 3 for i in range(3))
