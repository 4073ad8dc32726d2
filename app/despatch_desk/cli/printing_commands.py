"""Label printer commands: ``printer set|show|list|test`` and ``label REF…`` (a reprint).

Contracts (a supervisor scripts twenty desks with them): ``label`` exits 0 printed, 1 not allocated or
no label, 2 usage (a bad reference, format or printer address, or no printer set up), 3 key,
4 SortedPRO unreachable, 5 the printer failed; the highest wins when they mix. ``--json`` lines carry a
``label`` object: ``printed``, ``format``, ``printer`` (the URI, no secrets), ``labels``, ``bytes``,
``error``. All fetching, retrying, printing and recording is :mod:`despatch_desk.label_service`.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from ..errors import EXIT_PRINTER
from .common import EXIT_OK, EXIT_USAGE, err, history_notice_if_open, open_desk, out

FORMATS = ("zpl", "pdf")


def register(sub) -> None:
    p = sub.add_parser("printer", help="set up, show, list and test the label printer")
    # The same parser class as the top level: a usage error is plain words and exit 2.
    actions = p.add_subparsers(dest="printer_action", metavar="ACTION", required=True, parser_class=sub._parser_class)
    s = actions.add_parser("set", help="store the label printer (tcp://HOST:9100, cups://QUEUE, windows://NAME, …)")
    s.add_argument("uri", metavar="URI")
    s.add_argument("--format", choices=FORMATS, help="the label format to ask SortedPRO for")
    s.add_argument("--auto-print", choices=("on", "off"), help="print labels after each allocation in the window")
    s.set_defaults(handler=cmd_printer_set)
    s = actions.add_parser("show", help="show the stored label printer")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_printer_show)
    s = actions.add_parser("list", help="list the printers this computer knows, with their URIs")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_printer_list)
    s = actions.add_parser("test", help="print a test label made on this desk (nothing is allocated)")
    s.add_argument("uri", nargs="?", metavar="URI", help="default: the stored printer")
    s.add_argument("--format", choices=FORMATS, help="default: what the printer takes (tcp:// ZPL, system:// PDF), "
                   "else the stored format")
    s.set_defaults(handler=cmd_printer_test)

    p = sub.add_parser("label", help="fetch the current labels of allocated consignments and print them (reprint)")
    p.add_argument("references", nargs="+", metavar="REF")
    p.add_argument("--format", choices=FORMATS, help="default: from settings")
    p.add_argument("--printer", metavar="URI", help="default: the stored printer")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--base-url", help="API address (default: from settings)")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_label)


# ---------------------------------------------------------------------------- printer
def _store():
    from ..settings import Paths, SettingsStore

    store = SettingsStore(Paths.default())
    store.load()
    if store.load_warning:
        err(store.load_warning)
    return store


def _describe(settings) -> str:
    auto = "on" if settings.auto_print else "off"
    return f"{settings.printer_uri or '(none)'}  ({settings.label_format.upper()} labels, auto-print {auto})"


def cmd_printer_set(args: argparse.Namespace) -> int:
    from ..printing import PrinterError, parse_printer_uri

    try:
        target = parse_printer_uri(args.uri)
    except PrinterError as exc:
        err(exc.message)
        return EXIT_USAGE
    store = _store()

    def change(settings):
        changes = {"printer_uri": str(target)}  # the URI as shown: any user:password@ is dropped
        if args.format:
            changes["label_format"] = args.format
        if args.auto_print:
            changes["auto_print"] = args.auto_print == "on"
        return settings.copy(**changes)

    settings = store.update(change)
    out(f"Label printer: {_describe(settings)}")
    hint = _format_hint(target.kind, settings.label_format)
    if hint:
        err(hint)
    return EXIT_OK


def _format_hint(kind: str, fmt: str) -> str | None:
    if kind == "tcp" and fmt == "pdf":
        return "A raw port (tcp://) takes ZPL: PDF labels will not print there. Use --format zpl."
    if kind == "system" and fmt == "zpl":
        return "system:// prints documents: ZPL labels will not print there. Use --format pdf."
    return None


def cmd_printer_show(args: argparse.Namespace) -> int:
    settings = _store().current
    if args.json:
        out(json.dumps({"printer": settings.printer_uri or None, "format": settings.label_format,
                        "auto_print": settings.auto_print}, ensure_ascii=False))
    else:
        out(f"Label printer: {_describe(settings)}")
    if not settings.printer_uri:
        err("No label printer is set up: run 'despatch-desk printer set URI' (see 'despatch-desk printer list').")
    return EXIT_OK


def cmd_printer_list(args: argparse.Namespace) -> int:
    from ..printing import list_printers

    printers = list_printers()
    for p in printers:
        if args.json:
            out(json.dumps({"name": p.name, "uri": p.uri, "default": p.is_default}, ensure_ascii=False))
        else:
            out(f"{p.uri}{'  (default)' if p.is_default else ''}")
    if not printers:
        err("This computer lists no printers. A network label printer is typed in: "
            "despatch-desk printer set tcp://ADDRESS:9100")
    return EXIT_OK


def cmd_printer_test(args: argparse.Namespace) -> int:
    from ..printing import PrinterError, make_test_label, parse_printer_uri, print_label

    settings = _store().current
    uri = args.uri or settings.printer_uri
    if not uri:
        err("No label printer is set up: give one (despatch-desk printer test tcp://ADDRESS:9100) "
            "or store it with 'despatch-desk printer set URI'.")
        return EXIT_USAGE
    try:
        target = parse_printer_uri(uri)
    except PrinterError as exc:
        err(exc.message)
        return EXIT_USAGE
    fmt = args.format or {"tcp": "zpl", "system": "pdf"}.get(target.kind, settings.label_format)
    data = make_test_label(fmt, desk_name=settings.workstation, when=datetime.now().astimezone())
    result = print_label(target, data, reference="TEST-LABEL", job_name="Despatch Desk test label")
    if not result.ok:
        err(f"Test label not printed: {result.error}")
        return EXIT_PRINTER
    out(f"Test label: {result.words}")
    return EXIT_OK


# ---------------------------------------------------------------------------- label (reprint)
def cmd_label(args: argparse.Namespace) -> int:
    from ..label_service import KEY, LabelService, printer_problem

    if args.printer is not None:
        problem = printer_problem(args.printer)
        if problem:
            err(problem)
            return EXIT_USAGE
    desk = open_desk(args.base_url, open_history=False)
    try:
        if args.printer is None and printer_problem(desk.settings.printer_uri):
            err(printer_problem(desk.settings.printer_uri))
            return EXIT_USAGE
        desk.workflow()  # a missing key or bad address: said once, with its exit code
        service = LabelService(desk)
        worst = EXIT_OK
        for ref in args.references:
            result = service.print_for(ref, fmt=args.format, printer=args.printer)
            emit_label(result, args.json, ref)
            worst = max(worst, result.exit_code)
            if result.reason == KEY:
                break  # every further call would be refused the same way
        history_notice_if_open(desk)
        return worst
    finally:
        desk.close()


def emit_label(result, as_json: bool, raw: str = "") -> None:
    if as_json:
        out(json.dumps({"reference": result.reference or raw, "label": result.to_json()}, ensure_ascii=False))
    else:
        out(label_line(result))


def label_line(result) -> str:
    return f"{'LBL ' if result.printed else 'NOLB'} {result.reference}  {result.words}"


# ---------------------------------------------------------------------------- allocate --print
def shown_printer(uri: str) -> str:
    """The stored printer as it may be shown: parsed, so a hand-edited user:password@ never is."""
    from ..printing import PrinterError, parse_printer_uri

    try:
        return str(parse_printer_uri(uri))
    except PrinterError:
        return ""


def print_check(desk) -> str | None:
    """Plain words when ``allocate --print`` cannot print at all (checked before anything is sent)."""
    from ..label_service import printer_problem

    problem = printer_problem(desk.settings.printer_uri)
    return f"{problem} Nothing was allocated; or leave out --print." if problem else None


def print_after_allocation(desk, service, outcome) -> tuple[dict, int, str | None]:
    """The ``label`` object, the exit code it adds (5 when an allocated consignment's label did not
    print; never a change to the allocation) and a text line (None when there is nothing to say)."""
    from ..label_service import LabelResult

    if not outcome.ok:
        fmt = desk.settings.label_format
        result = LabelResult(outcome.reference or "", False, fmt, shown_printer(desk.settings.printer_uri),
                             error="No label: this scan did not allocate the consignment.", reason="not_allocated")
        return result.to_json(), EXIT_OK, None
    result = service.print_for(outcome)
    return result.to_json(), EXIT_OK if result.printed else EXIT_PRINTER, "     " + label_line(result)
