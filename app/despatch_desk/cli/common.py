"""What every command shares: output, plain-words errors and exit codes, the desk with its load notices.

Exit codes are contracts (supervisors script desks with them): 0 done, 1 refused or not allocated, 2 bad
usage, invalid reference, settings or history not usable (including ``not_recorded``: nothing sent because
the history cannot be written), 3 key missing/unreadable/malformed/rejected, 4 unreachable, bad API address
or in doubt, 5 the printer failed; the highest wins when they mix. Nothing an operator can cause ends in a
traceback: :func:`guard` turns errors into plain words through :func:`errors.explain`.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from ..errors import EXIT_KEY, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, DeskError, explain
from ..errors import EXIT_NOT_DONE as EXIT_REFUSED
from ..errors import exit_code as error_exit_code

__all__ = ["EXIT_KEY", "EXIT_OK", "EXIT_REFUSED", "EXIT_UNREACHABLE", "EXIT_USAGE", "DeskError", "guard", "err", "out",
           "open_desk", "history_notice_if_open", "exit_code_of_kind", "setup_logging", "clean_argument",
           "tolerant_streams", "outcome_line"]


def clean_argument(arg: str) -> str:
    """Arguments that were not valid UTF-8 (POSIX hands them over surrogate-escaped) as U+FFFD."""
    try:
        return arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return arg.encode("utf-8", "replace").decode("utf-8", "replace")


def tolerant_streams() -> None:
    # A console that cannot show a character gets a '?', never a UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass


def guard(fn) -> int:
    """Plain words instead of a traceback for anything an operator can cause (errors.explain)."""
    from ..desk import DeskNotReady

    try:
        return int(fn() or 0)
    except KeyboardInterrupt:
        err("Interrupted.")
        return 130
    except BrokenPipeError:  # `despatch-desk history | head`
        _discard_stdout()
        return EXIT_OK
    except DeskNotReady as exc:
        err(exc.message)
        return exit_code_of_kind(exc.kind)
    except Exception as exc:
        err(_words(exc))
        return _error_exit_code(exc)


def _words(exc: BaseException) -> str:
    from .. import api

    if isinstance(exc, api.ApiError):
        return str(exc)  # the client's errors are plain sentences already
    return explain(exc)


def _error_exit_code(exc: BaseException) -> int:
    from .. import api

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


def err(message: str) -> None:
    if sys.stderr is not None:
        print(f"despatch-desk: {message}", file=sys.stderr)


def out(line: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    if stream is not None:
        print(line, file=stream, flush=True)


def setup_logging(verbose: bool) -> None:
    if verbose and sys.stderr is not None:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)
        for noisy in ("httpcore", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)  # they would print the headers


def open_desk(base_url: str | None = None, *, environment_needed: bool = True, open_history: bool = True):
    """The desk, after saying what loading found (a damaged settings or history file).

    Raises :class:`DeskError` for an API address with a broken port (exit 4, like any unusable
    address) and, unless the address is given explicitly, while the environment is unconfirmed
    (exit 2). Opening the history here lets a newer or unreadable history stop the command early."""
    from ..desk import Desk
    from ..settings import Paths
    from ..settings_file import url_port_problem

    desk = Desk(Paths.default(), base_url=base_url)
    try:
        if desk.settings_store.load_warning:
            err(desk.settings_store.load_warning)
        problem = url_port_problem(desk.base_url)
        if problem:
            raise DeskError(f"The API address cannot be used. {problem}", exit_code=EXIT_UNREACHABLE)
        if environment_needed and base_url is None and desk.settings.environment_problem:
            raise DeskError(desk.settings.environment_problem, exit_code=EXIT_USAGE)
        if open_history:
            history_notice(desk)
    except BaseException:
        desk.close()
        raise
    return desk


def history_notice(desk) -> None:
    notice = desk.history.notice
    if notice:
        err(notice)


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


def exit_code_of_kind(kind) -> int:
    return _KIND_EXIT.get(getattr(kind, "value", kind), EXIT_UNREACHABLE)  # an unknown kind is not a success


_MARKS = {"allocated": "OK  ", "already_allocated": "HAD ", "not_allocated": "NO  ", "invalid_reference": "BAD ",
          "unauthorized": "KEY ", "unreachable": "DOWN", "in_doubt": "??? ", "not_recorded": "REC "}


def outcome_line(outcome) -> str:
    from ..present import shown_reference

    ref = shown_reference(outcome.reference, outcome.raw_scan) or repr(outcome.raw_scan)
    line = f"{_MARKS.get(outcome.kind.value, '??? ')} {ref}  {outcome.message}"
    if outcome.ok and outcome.service_text and outcome.service_text not in outcome.message:
        line += f"  ({outcome.service_text})"
    if outcome.tracking_references and outcome.ok:
        line += f"  tracking {', '.join(outcome.tracking_references)}"
    if outcome.correlation_id and not outcome.ok:
        line += f"  [correlation id {outcome.correlation_id}]"
    return line


def history_notice_if_open(desk) -> None:
    """After a run: what went wrong writing the history, and what opening it found (if a scan opened it)."""
    if desk.last_history_error:
        err(desk.last_history_error)
    try:
        history = desk._history  # only if a scan opened it: never open it just to ask
    except AttributeError:
        return
    if history is not None and history.notice:
        err(history.notice)
