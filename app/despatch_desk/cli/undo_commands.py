"""Undo and queue commands: ``undo REF… [--json] [--include-manifested]`` and ``queue [--json]``.

Exit codes (contracts): undo 0 deallocated; 1 refused (state, or Manifested without
``--include-manifested``); 2 usage or invalid reference; 3 key; 4 unreachable or in doubt. The highest wins.
"""

from __future__ import annotations

import argparse
import json

from .common import EXIT_OK, EXIT_REFUSED, err, exit_code_of_kind, history_notice_if_open, open_desk, out, outcome_line

_UNDO_MARKS = {"deallocated": "UNDO", "not_deallocated": "NO  "}

_UNDO_EXIT = {"deallocated": EXIT_OK, "not_deallocated": EXIT_REFUSED}


def register(sub) -> None:
    p = sub.add_parser("undo", help="undo allocations (deallocate; their printed labels become void)")
    p.add_argument("references", nargs="+", metavar="REF", help="consignment references, e.g. EC-000-05B-MMA")
    p.add_argument("--include-manifested", action="store_true",
                   help="also undo Manifested consignments (the carrier has already been told)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--base-url", help="API address (default: from settings)")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_undo)

    p = sub.add_parser("queue", help="list the in-doubt queue (scans whose result is not known yet)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_queue)


def undo_exit_code(kind) -> int:
    value = getattr(kind, "value", kind)
    return _UNDO_EXIT.get(value, exit_code_of_kind(value))


def undo_line(outcome) -> str:
    mark = _UNDO_MARKS.get(outcome.kind.value)
    line = outcome_line(outcome)
    return f"{mark} {line[5:]}" if mark else line


def cmd_undo(args: argparse.Namespace) -> int:
    desk = open_desk(args.base_url, open_history=False)
    try:
        desk.workflow()  # fail early, once, on a missing key or bad address
        worst = EXIT_OK
        for ref in args.references:
            outcome = desk.undo(ref, include_manifested=args.include_manifested)
            if args.json:
                out(json.dumps(outcome.to_dict(), ensure_ascii=False))
            else:
                out(undo_line(outcome))
            worst = max(worst, undo_exit_code(outcome.kind))
            if outcome.kind.value == "unauthorized":
                break
        history_notice_if_open(desk)
        return worst
    finally:
        desk.close()


def cmd_queue(args: argparse.Namespace) -> int:
    from .. import queue

    desk = open_desk(environment_needed=False)
    try:
        items = queue.entries(desk)
        if args.json:
            for item in items:
                out(json.dumps(item.to_json(), ensure_ascii=False))
        else:
            for item in items:
                what = "undo " if item.action == "deallocate" else ""
                out(f"{item.row_id:>6}  {what}{item.reference or '?':<16} {item.group:<14} "
                    f"{queue.age_text(item.age_s()):>8}  {item.last_known}")
            if not items:
                err("Nothing is in doubt.")
        return EXIT_OK
    finally:
        desk.close()
