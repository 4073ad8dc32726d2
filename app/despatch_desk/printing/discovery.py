"""The printers this computer knows: CUPS queues (``lpstat``), Windows printers (EnumPrintersW) and, on
request, Qt's list (``QPrinterInfo.availablePrinters()``) as system:// printers. Network label printers
on a raw port cannot be listed: they are typed in as tcp://HOST:PORT."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from .common import plain
from .uri import PrinterTarget

__all__ = ["PrinterInfo", "list_printers"]

log = logging.getLogger("despatch_desk.printing")


@dataclass(frozen=True)
class PrinterInfo:
    name: str
    uri: str
    is_default: bool = False


def list_printers(*, include_qt: bool = True, timeout_s: float = 3.0) -> list[PrinterInfo]:
    """Every printer found, defaults first within each kind; an empty list when there are none."""
    found: list[PrinterInfo] = []
    try:
        found += _cups_printers(timeout_s)
    except Exception:  # a broken lpstat is "no CUPS printers", never a crash
        log.warning("listing CUPS printers failed", exc_info=True)
    if sys.platform == "win32":
        try:
            from .windows import enum_printers

            names, default = enum_printers()
            found += [PrinterInfo(n, str(PrinterTarget("windows", name=n)), n == default) for n in names]
        except Exception:
            log.warning("listing Windows printers failed", exc_info=True)
    if include_qt:
        try:
            found += _qt_printers()
        except Exception:
            log.warning("listing Qt's printers failed", exc_info=True)
    return found


def _run(args: list[str], timeout_s: float) -> str:
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    done = subprocess.run(args, capture_output=True, timeout=timeout_s, env=env)
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def _cups_printers(timeout_s: float) -> list[PrinterInfo]:
    lpstat = shutil.which("lpstat")
    if lpstat is None:
        return []
    try:
        names = [n.strip() for n in _run([lpstat, "-e"], timeout_s).splitlines() if n.strip()]
        if not names:  # older CUPS without -e: "printer NAME is idle.  enabled since …"
            names = re.findall(r"^printer (\S+)", _run([lpstat, "-p"], timeout_s), re.M)
        m = re.search(r"system default destination: (\S+)", _run([lpstat, "-d"], timeout_s))
    except (OSError, subprocess.TimeoutExpired):
        return []
    default = m.group(1) if m else None
    names = [plain(n, 255) for n in names if re.fullmatch(r"[^\s#]{1,255}", n)]
    names.sort(key=lambda n: n != default)
    return [PrinterInfo(n, str(PrinterTarget("cups", name=n)), n == default) for n in names]


def _qt_printers() -> list[PrinterInfo]:
    try:
        from PySide6.QtPrintSupport import QPrinterInfo
    except ImportError:
        return []
    from .qt_pdf import _ensure_app

    _ensure_app()
    default = QPrinterInfo.defaultPrinterName()
    names = [plain(p.printerName(), 255) for p in QPrinterInfo.availablePrinters() if p.printerName()]
    names.sort(key=lambda n: n != default)
    return [PrinterInfo(n, str(PrinterTarget("system", name=n)), n == default) for n in names]
