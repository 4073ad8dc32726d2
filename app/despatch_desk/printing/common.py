"""What every printing module shares: the printer error, the result of a print, text clean-up."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import EXIT_PRINTER, DeskError

__all__ = ["PrinterError", "PrintResult", "plain", "job_title"]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


class PrinterError(DeskError):
    """The printer, its queue or its address failed or is wrong; ``message`` says so in plain words."""

    exit_code = EXIT_PRINTER

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message, exit_code=exit_code)


def plain(text: object, limit: int = 200) -> str:
    """``text`` fit to show: control and bidi-override characters become spaces, cut to ``limit``."""
    words = " ".join(_UNSAFE.sub(" ", str(text)).split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


def job_title(reference: str, job_name: str | None) -> str:
    """The spooler's job name: only ever built from the reference (or a caller's name), never a key."""
    return plain(job_name or f"Despatch Desk label {reference}", 120) or "Despatch Desk label"


@dataclass(frozen=True)
class PrintResult:
    """What happened to one label file. ``sent`` is what we know: the bytes were handed over.

    No sink can tell that paper came out (a CUPS job marked completed is not proof), so the words say
    "sent to …" or "written to …", never "printed". ``error`` is plain words when ``sent`` is False.
    """

    sent: bool
    format: str  # "zpl", "pdf" or "unknown": what the bytes are, not what was asked for
    printer: str  # the printer's URI, without credentials
    labels: int  # labels (ZPL blocks) or pages (PDF) in the file
    bytes: int
    error: str | None = None
    job: str | None = None  # the spooler's job id when it gave one
    destination: str | None = None  # e.g. the file written by folder://

    @property
    def ok(self) -> bool:
        return self.sent and self.error is None

    @property
    def pages(self) -> int:
        return self.labels

    @property
    def words(self) -> str:
        """One plain sentence for the operator."""
        if not self.ok:
            return self.error or f"The label was not sent to {self.printer}."
        what = f"{self.labels} label{'s' if self.labels != 1 else ''}" if self.labels else "The label"
        what = what[0].upper() + what[1:]
        if self.destination:
            return f"{what} ({self.format.upper()}) written to {self.destination}."
        job = f" (job {self.job})" if self.job else ""
        return f"{what} ({self.format.upper()}) sent to {self.printer}{job}."
