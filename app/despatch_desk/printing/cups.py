"""cups://QUEUE — macOS and Linux: ``lp`` with the bytes on stdin (no pycups: it needs a compiler).

ZPL goes raw (``-o raw``, byte-identical through a raw queue); a PDF is printed as a document at the
label's page size. CUPS accepting a job is all we learn (a job listed "completed" is no proof that the
printer took it), so the result says "sent to cups://QUEUE (job Q-12)", never "printed".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from ..cancel import CancelToken
from .common import PrinterError, plain

__all__ = ["send_to_queue", "lp_command"]

_REQUEST_ID = re.compile(r"request id is (\S+)")


def lp_command(queue: str, title: str, *, raw: bool, page_size_pt: tuple[float, float] | None) -> list[str]:
    lp = shutil.which("lp")
    if lp is None:
        raise PrinterError("CUPS printing is not available here (the 'lp' command is missing). Nothing was sent.")
    cmd = [lp, "-d", queue, "-t", title, "-n", "1"]
    if raw:
        cmd += ["-o", "raw"]
    else:
        w, h = page_size_pt or (288.0, 432.0)  # 4 x 6 in, SortedPRO's usual label
        cmd += ["-o", f"media=Custom.{w:g}x{h:g}", "-o", "print-scaling=none"]
    return cmd  # no file named: lp reads the label from stdin (no temporary file to leak or clean up)


def send_to_queue(queue: str, data: bytes, token: CancelToken, *, title: str, raw: bool,
                  page_size_pt: tuple[float, float] | None = None, where: str) -> str | None:
    """Hand ``data`` to CUPS; returns the job id when lp names one. Raises :class:`PrinterError`."""
    token.raise_if_cancelled()
    cmd = lp_command(queue, title, raw=raw, page_size_pt=page_size_pt)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DESPATCH_DESK_")}
    env["LC_ALL"] = env["LANG"] = "C"  # lp's messages in English, so they can be recognised
    try:
        done = subprocess.run(cmd, input=data, capture_output=True, timeout=max(0.1, token.bound(30.0)), env=env)
    except subprocess.TimeoutExpired:
        raise PrinterError(f"CUPS did not take the job for {where} in time: is the print service running? "
                           "The label may or may not print: check the queue before reprinting.") from None
    except OSError as exc:
        raise PrinterError(f"CUPS printing could not start ({exc.strerror or exc}). Nothing was sent.") from None
    out = done.stdout.decode("utf-8", "replace")
    err = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise PrinterError(_explain_lp(err or out, queue, where))
    m = _REQUEST_ID.search(out)
    return m.group(1) if m else None


def _explain_lp(text: str, queue: str, where: str) -> str:
    low = text.lower()
    said = plain(text.strip().removeprefix("lp:").strip(), 160)
    if "does not exist" in low and not _scheduler_running():
        return "CUPS (the print service) is not running on this computer. Nothing was sent."
    if "does not exist" in low or ("not found" in low and "printer" in low):
        return f"CUPS has no printer queue named '{plain(queue, 60)}' ({where}): check the name with 'lpstat -e'. Nothing was sent."
    if "not accepting" in low:
        return f"The CUPS queue '{plain(queue, 60)}' is not accepting jobs (an administrator has to enable it). Nothing was sent."
    if "scheduler" in low or "connection refused" in low or "not responding" in low:
        return "CUPS (the print service) is not running on this computer. Nothing was sent."
    if "forbidden" in low or "not authorized" in low or "unauthorized" in low:
        return f"CUPS refused the job for {where}: this user may not print there. Nothing was sent."
    return f"CUPS refused the job for {where}: {said or 'no reason given'}."


def _scheduler_running() -> bool:
    # Without a scheduler, lp says the printer "does not exist": ask lpstat before blaming the name.
    lpstat = shutil.which("lpstat")
    if lpstat is None:
        return True
    try:
        done = subprocess.run([lpstat, "-r"], capture_output=True, timeout=3, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"not running" not in done.stdout.lower() and done.returncode == 0
