"""Code 128 set B for the sandbox's labels: a re-export of :mod:`despatch_desk.sheets.code128`."""

from __future__ import annotations

from ..sheets.code128 import PATTERNS, START_B, STOP, bar_runs, encode_b, modules

__all__ = ["PATTERNS", "START_B", "STOP", "encode_b", "modules", "bar_runs"]
