"""The Qt layer of Despatch Desk: a thin adapter over the Qt-free core (``despatch_desk.desk``).

Nothing here is imported by the core. The window refuses to start on an interpreter where PySide6's
reference-count bugs can free ``None``/``True``/``False`` (Python < 3.12): it would abort mid-shift.
"""

from __future__ import annotations

from .. import interpreter_problem

_problem = interpreter_problem()
if _problem:
    raise SystemExit(_problem)
