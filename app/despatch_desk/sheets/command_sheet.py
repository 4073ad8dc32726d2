"""The command sheet: a barcode for every configured service group and every desk command.

A supervisor prints it once and tapes it to the bench; scanning a barcode switches the group or
runs the command (see :mod:`despatch_desk.commands`). Stdlib only, no Qt.

API::

    write_command_sheet(path_or_file, *, groups, paper="A4", desk_name="", printed=None) -> int

``groups`` is ``[(code, name), ...]`` in the order the desk shows them (``(g.code, g.name) for g
in settings.service_groups``); ``desk_name`` is the workstation name for the title (the host name
when empty); ``printed`` the date in the title (today when None); ``paper`` "A4" or "Letter".
Returns the number of pages. A path is replaced atomically; a binary file object is written to.
Raises ``DeskError`` with plain words for an unknown paper, ``OSError`` when the file cannot be written.
Names that are too long are cut with "…" (the group code is always kept); characters PDF's
standard fonts lack are shown plainly or as "?", never breaking the file.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import date
from typing import BinaryIO

from .. import commands
from .layout import CAPTION_MIN_PT, MARGIN, SheetEntry, SheetSection, render_sheet
from .pdf import HELVETICA_BOLD, clean_text, fit, paper_size, text_width

__all__ = ["write_command_sheet", "command_sheet_entries", "HOW_TO"]

HOW_TO = ("Scan a barcode while the Despatch Desk window is open: a group barcode switches the group "
          "for the next scans, a command runs at once.")


def _short_name(code: str, name: str, width: float) -> str:
    """``name`` cut so that the whole caption, with "(code)" at its end, fits ``width`` at the smallest size."""
    fixed = commands.caption(commands.Command(commands.CommandKind.GROUP, code), {code: "x"})[:-len(f"({code})") - 1]
    room = width - text_width(f"{fixed} ({code})", HELVETICA_BOLD, CAPTION_MIN_PT)
    return fit(name, HELVETICA_BOLD, CAPTION_MIN_PT, room) if room > 40 else clean_text(name)


def command_sheet_entries(groups: Sequence[tuple[str, str]], *, width: float) -> list[SheetSection]:
    """The sheet's sections: service groups, then commands (``width`` is the printable width in points)."""
    codes = [str(code) for code, _ in groups]
    names = {str(code): _short_name(str(code), str(name or ""), width) for code, name in groups}
    group_entries, command_entries = [], []
    for command in commands.sheet_commands(codes):
        entry = SheetEntry(commands.caption(command, names), commands.encode(command))
        (group_entries if command.kind is commands.CommandKind.GROUP else command_entries).append(entry)
    sections = []
    if group_entries:
        sections.append(SheetSection("Service groups", group_entries))
    else:
        sections.append(SheetSection("Service groups: none configured (add them in Settings)", []))
    sections.append(SheetSection("Commands", command_entries))
    return sections


def write_command_sheet(path_or_file: str | os.PathLike[str] | BinaryIO, *, groups: Sequence[tuple[str, str]],
                        paper: str = "A4", desk_name: str = "", printed: date | None = None) -> int:
    width = paper_size(paper)[0] - 2 * MARGIN
    desk = clean_text(desk_name).strip() or socket.gethostname() or "this desk"
    day = (printed or date.today()).isoformat()
    doc = render_sheet(command_sheet_entries(groups, width=width),
                       title=f"Despatch Desk command barcodes: {desk}",
                       subtitle=f"Desk {desk}, printed {day}. Reprint it after changing the service groups.",
                       how_to=HOW_TO, paper=paper)
    return doc.write(path_or_file)
