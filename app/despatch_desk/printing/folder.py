"""folder:///PATH — ``<REF>.zpl`` / ``<REF>.pdf`` with the label bytes as received (for print agents
that watch a folder, and for keeping a copy). Atomic: a temporary file in the same folder, fsync, rename,
so a watcher never picks up half a label."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from .common import PrinterError, plain

__all__ = ["write_label_file", "SAFE_NAME"]

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def write_label_file(folder: str, reference: str, kind: str, data: bytes) -> Path:
    if not SAFE_NAME.match(reference or "") or ".." in reference:
        raise PrinterError(f"'{plain(reference, 40)}' cannot be used as a file name for the label. Nothing was written.")
    where = Path(folder)
    if not where.is_dir():
        raise PrinterError(f"The label folder {plain(folder, 160)} does not exist (or is not a folder). Nothing was written.")
    target = where / f"{reference}.{kind}"
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{reference}.", suffix=".part", dir=where)
        with os.fdopen(fd, "wb") as out:
            if hasattr(os, "fchmod"):
                os.fchmod(out.fileno(), 0o644)  # mkstemp's 0600 would hide the label from a print agent
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as exc:
        words = exc.strerror or type(exc).__name__
        raise PrinterError(f"The label could not be written into {plain(folder, 160)}: {words}. Nothing was written.") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    return target
