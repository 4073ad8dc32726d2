"""``despatch-desk command-sheet --out sheet.pdf [--paper A4|Letter]``: the bench's command barcodes.

One barcode for every configured service group, then every desk command (``DD:`` texts from
:mod:`despatch_desk.commands`), as a PDF to print and tape to the bench. No network, no key needed.
"""

from __future__ import annotations

import argparse

from .common import EXIT_OK, EXIT_USAGE, err, open_desk


def register(sub) -> None:
    p = sub.add_parser("command-sheet", help="write a PDF of command barcodes (groups, undo, reprint, …) to print")
    p.add_argument("--out", required=True, metavar="PATH", help="where to write the PDF, e.g. sheet.pdf")
    p.add_argument("--paper", default="A4", type=str.upper, choices=("A4", "LETTER"), help="A4 (default) or Letter")
    p.set_defaults(handler=cmd_command_sheet)


def cmd_command_sheet(args: argparse.Namespace) -> int:
    from ..sheets.command_sheet import write_command_sheet

    desk = open_desk(environment_needed=False, open_history=False)
    try:
        settings = desk.settings
        groups = [(g.code, g.name or g.code) for g in settings.service_groups if g.code]
        if not groups:
            err("No service groups are configured, so the sheet has the desk commands only. "
                "Add groups in Settings (or 'despatch-desk config') and print it again.")
        paper = "Letter" if args.paper == "LETTER" else "A4"
        try:
            pages = write_command_sheet(args.out, groups=groups, paper=paper, desk_name=settings.workstation)
        except OSError as exc:
            err(f"The sheet could not be written to {args.out!r} ({exc.strerror or exc}).")
            return EXIT_USAGE
        err(f"Command sheet written to {args.out}: {pages} page{'s' if pages != 1 else ''}, "
            f"{len(groups)} service group{'s' if len(groups) != 1 else ''} and every command. Print it at 100 % scale.")
        return EXIT_OK
    finally:
        desk.close()
