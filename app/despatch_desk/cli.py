"""Command line: ``despatch-desk [--demo] | allocate | groups | history | key | sandbox | self-test``.

No Qt import on any command-line path (start-up stays light); the window is imported only
when it is asked for. Exit codes for ``allocate``: 0 all allocated by this run, 1 refused or
not allocated, 2 bad usage, invalid reference, settings or history not usable (including
``not_recorded``: nothing sent because the history cannot be written), 3 key
missing/unreadable/malformed/rejected, 4 unreachable, bad API address or in doubt; the highest
wins when they mix. Nothing an operator can cause ends in a traceback: errors become plain
words through :func:`errors.explain` in :func:`_guard`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from . import APP_NAME, __version__
from .errors import EXIT_KEY, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, DeskError, explain
from .errors import EXIT_NOT_DONE as EXIT_REFUSED
from .errors import exit_code as error_exit_code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # plain words, exit 2, no usage dump wall
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="despatch-desk", description=f"{APP_NAME}: allocate SortedPRO consignments by scanning.")
    parser.add_argument("--version", action="version", version=f"despatch-desk {__version__}")
    parser.add_argument("--demo", action="store_true", help="open the window on the built-in sandbox (no account needed)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show requests and answers (the key is masked)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("allocate", help="allocate consignments to a service group")
    p.add_argument("references", nargs="+", metavar="REF", help="consignment references, e.g. EC-000-05B-MMA")
    p.add_argument("-g", "--group", required=True, help="service group code, e.g. nextDay")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--base-url", help="API address (default: from settings)")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)

    p = sub.add_parser("groups", help="list service groups")
    p.add_argument("--json", action="store_true")
    p.add_argument("--base-url")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)

    p = sub.add_parser("history", help="show the scan history")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p.add_argument("--limit", type=int, default=50, help="how many rows, newest first (default 50; 0 = all)")
    p.add_argument("--search", default="", help="reference, tracking or group to look for")
    p.add_argument("--outcome", action="append", help="only this outcome (repeatable)")

    p = sub.add_parser("recheck", help="re-check in-doubt scans against SortedPRO")
    p.add_argument("--base-url")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)

    p = sub.add_parser("config", help="show the settings, or confirm the environment after a damaged settings file")
    p.add_argument("--environment", choices=("production", "sandbox", "custom"),
                   help="set and confirm the SortedPRO environment")
    p.add_argument("--custom-url", help="the API address when --environment custom")

    p = sub.add_parser("key", help="manage the API key in the system keyring")
    p.add_argument("action", choices=("set", "status", "delete"))
    p.add_argument("--base-url", help="the API the key belongs to (default: from settings)")

    p = sub.add_parser("sandbox", help="run the built-in SortedPRO sandbox on this machine")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options for the sandbox (--port, --latency-ms, --fault)")

    p = sub.add_parser("self-test", help="check the installed app end to end and exit 0 or 1")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    argv = [_clean_argument(a) for a in (sys.argv[1:] if argv is None else argv)]
    # The sandbox and self-test take their own options: hand them over untouched.
    if argv and argv[0] == "sandbox":
        from .sandbox.__main__ import main as sandbox_main

        return _guard(lambda: sandbox_main(argv[1:]))
    if argv and argv[0] == "self-test":
        from .gui.selftest import main as selftest_main

        return _guard(lambda: selftest_main(argv[1:]))
    args = build_parser().parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    if args.command is None:
        return gui_main(demo=args.demo)
    handler = {"allocate": cmd_allocate, "groups": cmd_groups, "history": cmd_history,
               "recheck": cmd_recheck, "key": cmd_key, "config": cmd_config}[args.command]
    return _guard(lambda: handler(args))


def gui_main(demo: bool | None = None) -> int:
    if demo is None:
        demo = "--demo" in sys.argv[1:]
    if _no_screen():
        _err("There is no screen to open the window on (no DISPLAY or WAYLAND_DISPLAY). "
             "Run it from the desktop, or use the commands: despatch-desk --help.")
        return EXIT_USAGE
    try:
        from .gui.app import main as window_main
    except ImportError as exc:
        _err(f"The window cannot start: {exc}. Reinstall Despatch Desk.")
        return EXIT_USAGE
    return window_main(demo=demo)


def _no_screen() -> bool:
    """Linux/BSD without an X or Wayland display: Qt would abort with a plugin message."""
    import os

    if not sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def _clean_argument(arg: str) -> str:
    """Arguments that were not valid UTF-8 (POSIX hands them over surrogate-escaped) as U+FFFD."""
    try:
        return arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return arg.encode("utf-8", "replace").decode("utf-8", "replace")


def _tolerant_streams() -> None:
    # A console that cannot show a character gets a '?', never a UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass


def _guard(fn) -> int:
    """Plain words instead of a traceback for anything an operator can cause (errors.explain)."""
    from .desk import DeskNotReady

    try:
        return int(fn() or 0)
    except KeyboardInterrupt:
        _err("Interrupted.")
        return 130
    except BrokenPipeError:  # `despatch-desk history | head`
        _discard_stdout()
        return EXIT_OK
    except DeskNotReady as exc:
        _err(exc.message)
        return _exit_code(exc.kind)
    except Exception as exc:
        _err(_words(exc))
        return _error_exit_code(exc)


def _words(exc: BaseException) -> str:
    from . import api

    if isinstance(exc, api.ApiError):
        return str(exc)  # the client's errors are plain sentences already
    return explain(exc)


def _error_exit_code(exc: BaseException) -> int:
    from . import api

    if isinstance(exc, DeskError):
        return exc.exit_code
    if isinstance(exc, api.Unauthorized):
        return EXIT_KEY
    if isinstance(exc, api.ApiError):
        return EXIT_UNREACHABLE  # a bad API address or an unusable answer: as for allocate
    return error_exit_code(exc)


def _discard_stdout() -> None:
    """The reader went away: point stdout at the null device so the exit flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _err(message: str) -> None:
    if sys.stderr is not None:
        print(f"despatch-desk: {message}", file=sys.stderr)


def _out(line: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    if stream is not None:
        print(line, file=stream, flush=True)


def _setup_logging(verbose: bool) -> None:
    if verbose and sys.stderr is not None:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)
        for noisy in ("httpcore", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)  # they would print the headers


def _desk(base_url: str | None = None, *, environment_needed: bool = True, open_history: bool = True):
    """The desk, after saying what loading found (a damaged settings or history file).

    Raises :class:`DeskError` for an API address with a broken port (exit 4, like any unusable
    address) and, unless the address is given explicitly, while the environment is unconfirmed
    (exit 2). Opening the history here lets a newer or unreadable history stop the command early."""
    from .desk import Desk
    from .settings import Paths
    from .settings_file import url_port_problem

    desk = Desk(Paths.default(), base_url=base_url)
    try:
        if desk.settings_store.load_warning:
            _err(desk.settings_store.load_warning)
        problem = url_port_problem(desk.base_url)
        if problem:
            raise DeskError(f"The API address cannot be used. {problem}", exit_code=EXIT_UNREACHABLE)
        if environment_needed and base_url is None and desk.settings.environment_problem:
            raise DeskError(desk.settings.environment_problem, exit_code=EXIT_USAGE)
        if open_history:
            _history_notice(desk)
    except BaseException:
        desk.close()
        raise
    return desk


def _history_notice(desk) -> None:
    notice = desk.history.notice
    if notice:
        _err(notice)


# ----------------------------------------------------------------------------- commands


def cmd_allocate(args: argparse.Namespace) -> int:
    from .core import OutcomeKind, check_group_code

    problem = check_group_code(args.group)
    if problem:
        _err(problem)
        return EXIT_USAGE
    desk = _desk(args.base_url, open_history=False)
    try:
        desk.workflow()  # fail early, once, on a missing key or bad address
        worst = EXIT_OK
        for ref in args.references:
            outcome = desk.allocate(ref, args.group)
            if args.json:
                _out(json.dumps(outcome.to_dict(), ensure_ascii=False))
            else:
                _out(_outcome_line(outcome))
            worst = max(worst, _exit_code(outcome.kind))
            if outcome.kind is OutcomeKind.UNAUTHORIZED:
                break  # every further call would be refused the same way
        if desk.last_history_error:
            _err(desk.last_history_error)
        _history_notice_if_open(desk)
        return worst
    finally:
        desk.close()


def _history_notice_if_open(desk) -> None:
    try:
        history = desk._history  # only if a scan opened it: never open it just to ask
    except AttributeError:
        return
    if history is not None and history.notice:
        _err(history.notice)


# Contract: supervisors script desks with these (see the module docstring).
_KIND_EXIT = {
    "allocated": EXIT_OK,
    "already_allocated": EXIT_REFUSED,
    "not_allocated": EXIT_REFUSED,
    "invalid_reference": EXIT_USAGE,
    "not_recorded": EXIT_USAGE,  # nothing was sent: the desk is not ready to record
    "unauthorized": EXIT_KEY,
    "unreachable": EXIT_UNREACHABLE,
    "in_doubt": EXIT_UNREACHABLE,
}


def _exit_code(kind) -> int:
    return _KIND_EXIT.get(getattr(kind, "value", kind), EXIT_UNREACHABLE)  # an unknown kind is not a success


_MARKS = {"allocated": "OK  ", "already_allocated": "HAD ", "not_allocated": "NO  ", "invalid_reference": "BAD ",
          "unauthorized": "KEY ", "unreachable": "DOWN", "in_doubt": "??? ", "not_recorded": "REC "}


def _outcome_line(outcome) -> str:
    from .present import shown_reference

    ref = shown_reference(outcome.reference, outcome.raw_scan) or repr(outcome.raw_scan)
    line = f"{_MARKS.get(outcome.kind.value, '??? ')} {ref}  {outcome.message}"
    if outcome.ok and outcome.service_text and outcome.service_text not in outcome.message:
        line += f"  ({outcome.service_text})"
    if outcome.tracking_references and outcome.ok:
        line += f"  tracking {', '.join(outcome.tracking_references)}"
    if outcome.correlation_id and not outcome.ok:
        line += f"  [correlation id {outcome.correlation_id}]"
    return line


def cmd_groups(args: argparse.Namespace) -> int:
    from . import api

    desk = _desk(args.base_url, environment_needed=False, open_history=False)
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
            _err(note)
        if args.json:
            for code, name, enabled in groups:
                _out(json.dumps({"code": code, "name": name, "enabled": enabled, "source": source}))
        else:
            if not groups:
                _err("No service groups: add them in Settings (codes from SortedPRO > Settings > Carrier Service Groups).")
            width = max((len(c) for c, _, _ in groups), default=4)
            for code, name, enabled in groups:
                _out(f"{code:<{width}}  {name}{'' if enabled else '  (disabled)'}")
        return EXIT_OK
    except api.Unauthorized as exc:
        _err(exc.message)
        return EXIT_KEY
    finally:
        desk.close()


def cmd_history(args: argparse.Namespace) -> int:
    from .history import write_csv

    desk = _desk(environment_needed=False)
    try:
        limit = None if args.limit <= 0 else args.limit
        rows = desk.history.search(args.search, outcomes=args.outcome, limit=limit)
        if args.csv:
            if sys.stdout is not None:
                write_csv(rows, sys.stdout)
        elif args.json:
            for row in rows:
                _out(json.dumps(row.as_dict(), ensure_ascii=False))
        else:
            for row in rows:
                when = row.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
                service = " ".join(p for p in (row.carrier_name, row.service_name) if p)
                _out(f"{when}  {row.reference or repr(row.raw_scan):<16} {row.group_code:<14} "
                     f"{row.outcome:<17} {service}  {row.message if row.outcome != 'allocated' else ' '.join(row.tracking)}")
            if not rows:
                _err("No scans recorded yet." if not args.search and not args.outcome else "No scans match.")
        return EXIT_OK
    finally:
        desk.close()


def cmd_recheck(args: argparse.Namespace) -> int:
    from . import in_doubt  # the one re-check policy, shared with the window and the history view

    desk = _desk(args.base_url)
    try:
        rows = desk.history.in_doubt()
        if not rows:
            _err("No scans are in doubt.")
            return EXIT_OK
        desk.workflow()  # no key or no address: said once, with its exit code
        worst = EXIT_OK
        for result in in_doubt.recheck_all(desk, [row.id for row in rows]).results:
            outcome = result.outcome
            if outcome is None:  # that row could not be checked; the others were
                if args.json:
                    _out(json.dumps({"id": result.row_id, "reference": result.reference, "outcome": "in_doubt",
                                     "error": result.error}, ensure_ascii=False))
                else:
                    _out(f"??? {result.reference or f'row {result.row_id}'}  Not checked: {result.error}")
                worst = EXIT_UNREACHABLE
                continue
            if args.json:
                _out(json.dumps({"id": result.row_id, **outcome.to_dict()}, ensure_ascii=False))
            else:
                _out(_outcome_line(outcome))
            if outcome.kind.value == "in_doubt":
                worst = EXIT_UNREACHABLE
        return worst
    finally:
        desk.close()


def cmd_config(args: argparse.Namespace) -> int:
    from .settings import Paths, SettingsStore

    store = SettingsStore(Paths.default())
    settings = store.load()
    if store.load_warning:
        _err(store.load_warning)
    if args.environment:
        if args.environment == "custom" and not (args.custom_url or settings.custom_url):
            _err("--environment custom needs --custom-url https://...")
            return EXIT_USAGE
        settings = store.confirm_environment(args.environment, args.custom_url)
        _out(f"Environment confirmed: {settings.environment} ({settings.api_base_url}).")
        return EXIT_OK
    _out(f"Settings:    {store.paths.settings_file}")
    _out(f"State:       {store.paths.state_file}")
    _out(f"History:     {store.paths.history_file}")
    unconfirmed = "  (NOT CONFIRMED: the desk will not allocate)" if settings.environment_problem else ""
    _out(f"Environment: {settings.environment_label}{unconfirmed}")
    _out(f"API:         {settings.api_base_url}")
    _out(f"Workstation: {settings.workstation}")
    _out(f"Groups:      {', '.join(g.code for g in settings.service_groups) or 'none'}")
    if settings.environment_problem:
        _err(settings.environment_problem)
        return EXIT_USAGE
    return EXIT_OK


def cmd_key(args: argparse.Namespace) -> int:
    from .api import api_origin, validate_base_url
    from .credentials import ENV_API_KEY, KeyStore, check_key_format
    from .settings import Paths, SettingsStore
    from .settings_file import url_port_problem

    store_of_settings = SettingsStore(Paths.default())
    settings = store_of_settings.load()
    if store_of_settings.load_warning:
        _err(store_of_settings.load_warning)
    url = args.base_url or settings.api_base_url
    problem = url_port_problem(url)
    if problem:
        raise DeskError(f"The API address cannot be used. {problem}", exit_code=EXIT_UNREACHABLE)
    origin = api_origin(validate_base_url(url))
    store = KeyStore()
    if args.action == "status":
        status = store.status(origin)
        where = {"environment": f"from {ENV_API_KEY}", "keyring": "stored in the keyring", None: "none stored"}
        _out(f"API:     {origin}")
        _out(f"Key:     {where[status.source]}")
        _out(f"Keyring: {status.backend}")
        if status.problem:
            _err(status.problem)
            return EXIT_KEY
        return EXIT_OK if status.source else EXIT_KEY
    if args.action == "delete":
        removed = store.delete(origin)
        _out(f"Removed the key for {origin}." if removed else f"No key was stored for {origin}.")
        return EXIT_OK
    # set: never from the command line (shell history, process list)
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        key = getpass.getpass(f"API key for {origin} (input hidden): ")
    else:
        try:  # bytes that are not UTF-8 reach the key check as named characters, not as a crash
            sys.stdin.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass
        key = sys.stdin.readline() if sys.stdin is not None else ""
    # Checked before the keyring is touched: a malformed key is a key problem (exit 3) on any machine.
    store.set(origin, check_key_format(key))
    _out(f"Stored the key for {origin} in {store.backend_name()}.")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
