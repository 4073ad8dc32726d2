"""Scan commands: ``allocate``, ``recheck``, ``groups`` and ``history``."""

from __future__ import annotations

import argparse
import json
import sys

from . import batch_commands
from .common import (EXIT_KEY, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, err, exit_code_of_kind, history_notice_if_open, open_desk,
                     out, outcome_line)


def register(sub) -> None:
    p = sub.add_parser("allocate", help="allocate consignments to a service group")
    p.add_argument("references", nargs="*", metavar="REF", help="consignment references, e.g. EC-000-05B-MMA")
    p.add_argument("-g", "--group", required=True, help="service group code, e.g. nextDay")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--print", action="store_true", help="print each allocated consignment's labels (exit 5 if one fails)")
    p.add_argument("--no-details", action="store_true",
                   help="with --json: skip the two extra looks for price, dates and parcel facts")
    p.add_argument("--base-url", help="API address (default: from settings)")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    batch_commands.add_arguments(p)
    p.set_defaults(handler=cmd_allocate)

    p = sub.add_parser("groups", help="list service groups")
    p.add_argument("--json", action="store_true")
    p.add_argument("--base-url")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_groups)

    p = sub.add_parser("history", help="show the scan history")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p.add_argument("--limit", type=int, default=50, help="how many rows, newest first (default 50; 0 = all)")
    p.add_argument("--search", default="", help="reference, tracking or group to look for")
    p.add_argument("--outcome", action="append", help="only this outcome (repeatable)")
    p.set_defaults(handler=cmd_history)

    p = sub.add_parser("recheck", help="re-check in-doubt scans against SortedPRO")
    p.add_argument("--base-url")
    p.add_argument("--json", action="store_true")
    p.add_argument("--retry", action="store_true",
                   help="allocate again those a look shows not allocated (once the first attempt cannot still "
                        "take effect): exactly one PUT each")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_recheck)

    from . import undo_commands  # undo and queue live beside the scan commands

    undo_commands.register(sub)


def cmd_allocate(args: argparse.Namespace) -> int:
    from ..core import OutcomeKind, check_group_code

    if getattr(args, "file", None) is not None:
        return batch_commands.cmd_allocate_file(args)
    if not args.references:
        err("Give at least one reference (or --file PATH, '-' for standard input).")
        return EXIT_USAGE
    if getattr(args, "parallel", None) is not None:
        err("--parallel goes with --file.")
        return EXIT_USAGE
    problem = check_group_code(args.group)
    if problem:
        err(problem)
        return EXIT_USAGE
    desk = open_desk(args.base_url, open_history=False)
    try:
        labels = None
        if args.print:
            from . import printing_commands
            from ..label_service import LabelService

            problem = printing_commands.print_check(desk)
            if problem:
                err(problem)
                return EXIT_USAGE
            labels = LabelService(desk)
        desk.workflow()  # fail early, once, on a missing key or bad address
        worst = EXIT_OK
        for ref in args.references:
            outcome = desk.allocate(ref, args.group)
            if args.json and not args.no_details:  # text lines stay as scripts parse them (and the calls as they were)
                outcome = _with_details(desk, outcome)
            label, label_exit, label_text = (printing_commands.print_after_allocation(desk, labels, outcome)
                                             if labels else (None, EXIT_OK, None))
            if args.json:
                out(json.dumps({**outcome.to_dict(), **({"label": label} if labels else {})}, ensure_ascii=False))
            else:
                out(outcome_line(outcome))
                if label_text:
                    out(label_text)
            worst = max(worst, exit_code_of_kind(outcome.kind), label_exit)
            if outcome.kind is OutcomeKind.UNAUTHORIZED:
                break  # every further call would be refused the same way
        history_notice_if_open(desk)
        return worst
    finally:
        desk.close()


def _with_details(desk, outcome):
    """Price, dates and parcel facts for an allocated consignment (two looks; absent when not given)."""
    from dataclasses import replace

    if outcome.kind.value not in ("allocated", "already_allocated") or not outcome.reference:
        return outcome
    row = desk.history.latest_allocated(outcome.reference) if outcome.ok else None
    return replace(outcome, details=desk.details(outcome.reference, row_id=row.id if row else None))


def cmd_groups(args: argparse.Namespace) -> int:
    from .. import api

    desk = open_desk(args.base_url, environment_needed=False, open_history=False)
    try:
        source = "account"
        note = None
        try:
            groups = [(g.reference, g.name, g.enabled) for g in desk.fetch_groups()]
        except (api.Refused, api.Unauthorized, api.UnexpectedAnswer, api.ServerError) as exc:
            if isinstance(exc, api.Unauthorized) and exc.status == 401:
                raise
            source, note = "settings", f"The account did not list its groups ({exc.message}); showing settings."
            groups = [(g.code, g.name or g.code, True) for g in desk.settings.service_groups]
        except (api.NotSent, api.InDoubt) as exc:
            source, note = "settings", f"SortedPRO could not be reached ({exc.message}); showing settings."
            groups = [(g.code, g.name or g.code, True) for g in desk.settings.service_groups]
        if note:
            err(note)
        if args.json:
            for code, name, enabled in groups:
                out(json.dumps({"code": code, "name": name, "enabled": enabled, "source": source}))
        else:
            if not groups:
                err("No service groups: add them in Settings (codes from SortedPRO > Settings > Carrier Service Groups).")
            width = max((len(c) for c, _, _ in groups), default=4)
            for code, name, enabled in groups:
                out(f"{code:<{width}}  {name}{'' if enabled else '  (disabled)'}")
        return EXIT_OK
    except api.Unauthorized as exc:
        err(exc.message)
        return EXIT_KEY
    finally:
        desk.close()


def cmd_history(args: argparse.Namespace) -> int:
    from ..history import write_csv

    desk = open_desk(environment_needed=False)
    try:
        limit = None if args.limit <= 0 else args.limit
        rows = desk.history.search(args.search, outcomes=args.outcome, limit=limit)
        if args.csv:
            if sys.stdout is not None:
                write_csv(rows, sys.stdout)
        elif args.json:
            for row in rows:
                out(json.dumps(row.as_dict(), ensure_ascii=False))
        else:
            for row in rows:
                when = row.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
                service = " ".join(p for p in (row.carrier_name, row.service_name) if p)
                out(f"{when}  {row.reference or repr(row.raw_scan):<16} {row.group_code:<14} "
                     f"{row.outcome:<17} {service}  {row.message if row.outcome != 'allocated' else ' '.join(row.tracking)}")
            if not rows:
                err("No scans recorded yet." if not args.search and not args.outcome else "No scans match.")
        return EXIT_OK
    finally:
        desk.close()


def cmd_recheck(args: argparse.Namespace) -> int:
    from .. import in_doubt  # the one re-check policy, shared with the window and the history view

    desk = open_desk(args.base_url)
    try:
        rows = desk.history.in_doubt()
        if not rows:
            err("No scans are in doubt.")
            return EXIT_OK
        desk.workflow()  # no key or no address: said once, with its exit code
        if args.retry:
            return _recheck_retry(desk, rows, args.json)
        worst = EXIT_OK
        for result in in_doubt.recheck_all(desk, [row.id for row in rows]).results:
            outcome = result.outcome
            if outcome is None:  # that row could not be checked; the others were
                if args.json:
                    out(json.dumps({"id": result.row_id, "reference": result.reference, "outcome": "in_doubt",
                                     "error": result.error}, ensure_ascii=False))
                else:
                    out(f"??? {result.reference or f'row {result.row_id}'}  Not checked: {result.error}")
                worst = EXIT_UNREACHABLE
                continue
            if args.json:
                out(json.dumps({"id": result.row_id, **outcome.to_dict()}, ensure_ascii=False))
            else:
                out(outcome_line(outcome))
            if outcome.kind.value == "in_doubt":
                worst = EXIT_UNREACHABLE
        return worst
    finally:
        desk.close()


def _recheck_retry(desk, rows, as_json: bool) -> int:
    """``recheck --retry``: look; allocate again those the look shows not allocated (one PUT each)."""
    from .. import queue

    worst = EXIT_OK
    for result in queue.retry_all(desk, [row.id for row in rows]):
        final = result.final
        if final is None:
            if as_json:
                out(json.dumps({"id": result.row_id, "reference": result.reference, "outcome": "in_doubt",
                                "error": result.error}, ensure_ascii=False))
            else:
                out(f"??? {result.reference or f'row {result.row_id}'}  Not checked: {result.error}")
            worst = max(worst, EXIT_UNREACHABLE)
            continue
        if as_json:
            out(json.dumps({"id": result.row_id, "retried": result.allocated is not None, **final.to_dict()},
                           ensure_ascii=False))
        else:
            out(("(allocated again) " if result.allocated is not None else "") + outcome_line(final))
        worst = max(worst, exit_code_of_kind(final.kind))
    return worst
