"""The demo sheet: every demo consignment as a Code 128 barcode with what it shows.

With it a real hand scanner can be tried on the desk in demo mode (the built-in sandbox knows these
references; see ``sandbox/demo.py``). Stdlib only, no Qt, and no import of the sandbox: the caller
passes the consignments.

API::

    write_demo_sheet(path_or_file, *, consignments, paper="A4", printed=None) -> int

``consignments`` is ``[(reference, what_it_shows), ...]``, e.g.
``[(c.reference, c.hint) for c in sandbox.demo.DEMO_CONSIGNMENTS]``. Returns the number of pages.
A reference is printed as given (it is the barcode's text); one that Code 128 cannot carry gets a
row saying so instead of bars.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from typing import BinaryIO

from .layout import SheetEntry, SheetSection, render_sheet

__all__ = ["write_demo_sheet", "HOW_TO"]

HOW_TO = ("Start the desk in demo mode, choose a service group, and scan: each line says what that "
          "consignment shows.")


def write_demo_sheet(path_or_file: str | os.PathLike[str] | BinaryIO, *,
                     consignments: Sequence[tuple[str, str]], paper: str = "A4", printed: date | None = None) -> int:
    entries = [SheetEntry(str(reference), str(reference), str(hint or "")) for reference, hint in consignments]
    day = (printed or date.today()).isoformat()
    doc = render_sheet([SheetSection("Demo consignments", entries)],
                       title="Despatch Desk demo consignments",
                       subtitle=f"For the built-in sandbox only: these are not real consignments. Printed {day}.",
                       how_to=HOW_TO, paper=paper)
    return doc.write(path_or_file)
