"""Command line: ``despatch-desk [--demo] | allocate | groups | history | recheck | config | key | sandbox | self-test``.

No Qt import on any command-line path (start-up stays light); the window is imported only when it is
asked for. Each group of commands lives in its own module with a ``register(subparsers)`` that adds its
parsers and sets ``handler``; exit codes and plain-words errors are in :mod:`.common`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import APP_NAME, __version__
from . import batch_commands, printing_commands, proxy_commands, scan_commands, setup_commands, sheet_commands
from .common import EXIT_USAGE, clean_argument, err, guard, setup_logging, tolerant_streams

COMMAND_MODULES = (scan_commands, setup_commands, printing_commands, batch_commands, sheet_commands, proxy_commands)


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
    for module in COMMAND_MODULES:
        module.register(sub)
    # Listed for --help; main() hands their arguments over untouched.
    p = sub.add_parser("sandbox", help="run the built-in SortedPRO sandbox on this machine")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options for the sandbox (--port, --latency-ms, --fault)")
    p = sub.add_parser("self-test", help="check the installed app end to end and exit 0 or 1")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    tolerant_streams()
    argv = [clean_argument(a) for a in (sys.argv[1:] if argv is None else argv)]
    # The sandbox and self-test take their own options: hand them over untouched.
    if argv and argv[0] == "sandbox":
        from ..sandbox.__main__ import main as sandbox_main

        return guard(lambda: sandbox_main(argv[1:]))
    if argv and argv[0] == "self-test":
        from ..gui.selftest import main as selftest_main

        return guard(lambda: selftest_main(argv[1:]))
    args = build_parser().parse_args(argv)
    setup_logging(getattr(args, "verbose", False))
    if args.command is None:
        return gui_main(demo=args.demo)
    return guard(lambda: args.handler(args))


def gui_main(demo: bool | None = None) -> int:
    if demo is None:
        demo = "--demo" in sys.argv[1:]
    if _no_screen():
        err("There is no screen to open the window on (no DISPLAY or WAYLAND_DISPLAY). "
            "Run it from the desktop, or use the commands: despatch-desk --help.")
        return EXIT_USAGE
    try:
        from ..gui.app import main as window_main
    except ImportError as exc:
        err(f"The window cannot start: {exc}. Reinstall Despatch Desk.")
        return EXIT_USAGE
    return window_main(demo=demo)


def _no_screen() -> bool:
    """Linux/BSD without an X or Wayland display: Qt would abort with a plugin message."""
    import os

    if not sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))
