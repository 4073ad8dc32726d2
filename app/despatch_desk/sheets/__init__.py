"""Printable barcode sheets (stdlib only, no Qt): PDF pages of Code 128 barcodes with big captions.

* :mod:`.command_sheet` — ``write_command_sheet(path_or_file, *, groups, paper="A4", desk_name="",
  printed=None) -> pages``: a barcode for every configured service group and every desk command
  (``despatch_desk.commands``), to tape to the bench.
* :mod:`.demo_sheet` — ``write_demo_sheet(path_or_file, *, consignments, paper="A4", printed=None)
  -> pages``: the sandbox's demo consignments, to try a real scanner on the demo.
* :mod:`.layout` — the shared page layout (sizes for a hand scanner at arm's length).
* :mod:`.pdf` — a small PDF writer (Helvetica, Helvetica-Bold, Courier-Bold; A4 and Letter).
* :mod:`.code128` — Code 128 set B with its check symbol (the sandbox's labels use it too).

Paper is "A4" or "Letter" (case-insensitive); anything else is a ``DeskError`` in plain words.
"""
