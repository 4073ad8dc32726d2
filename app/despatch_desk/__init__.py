"""Despatch Desk: scan a SortedPRO consignment, allocate it to a carrier service group."""

import sys

__version__ = "0.1.0"
APP_NAME = "Despatch Desk"
APP_ID = "despatch-desk"

# Python 3.12 made None, True and False immortal. On 3.11, PySide6 6.12 frees them through reference-count
# bugs (ARCHITECTURE.md, "Known platform bugs") and the window aborts after about a hundred scans.
MIN_PYTHON = (3, 12)


def interpreter_problem(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> str | None:
    """Plain words when this interpreter cannot run the desk safely, else None."""
    if tuple(version[:2]) < MIN_PYTHON:
        found = ".".join(str(p) for p in version[:3])
        return (f"{APP_NAME} needs Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer; this is Python {found}, on which "
                "the window crashes after a few hundred scans. Install Python 3.12+ and reinstall the desk.")
    return None
