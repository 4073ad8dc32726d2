"""One error base for everything an operator can cause or meet, and one place that turns errors into words.

Every error the desk raises on purpose derives from :class:`DeskError`: it carries a plain sentence
(``message``) fit to show an operator as it is, and the command line's exit code for it. The CLI and
every dialog call :func:`explain` instead of writing their own translation.
"""

from __future__ import annotations

import logging

log = logging.getLogger("despatch_desk.errors")

# Exit codes of the command line (contracts: supervisors script desks with them).
EXIT_OK = 0
EXIT_NOT_DONE = 1        # refused, not allocated, nothing to do
EXIT_USAGE = 2           # bad input, bad settings, the desk is not ready to record
EXIT_KEY = 3             # no key, or the key was refused
EXIT_UNREACHABLE = 4     # SortedPRO unreachable, or the answer is in doubt
EXIT_PRINTER = 5         # the printer failed


class DeskError(Exception):
    """Base of the desk's own errors: ``message`` is plain words, ``exit_code`` is for the CLI."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


def explain(exc: BaseException) -> str:
    """Plain words for any exception, never a traceback. Unknown ones are logged and named briefly."""
    if isinstance(exc, DeskError):
        return exc.message
    if isinstance(exc, MemoryError):
        return "The desk ran out of memory doing that."
    if isinstance(exc, OSError):
        words = exc.strerror or str(exc) or type(exc).__name__
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"The computer refused: {words}{where}."
    log.error("unexpected error shown to the operator", exc_info=exc)
    return f"Something unexpected went wrong ({type(exc).__name__}); the details are in the log."


def exit_code(exc: BaseException) -> int:
    return exc.exit_code if isinstance(exc, DeskError) else EXIT_USAGE
