"""Start-up checks as small task objects: each runs once on the desk's runner and reports by a signal.

``ReadinessCheck`` builds the API client (it reads the keyring once: never on the GUI thread) and
says whether the desk can allocate. The in-doubt count is the controller's (it changes with scans).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from ..core import OutcomeKind
from ..desk import Desk, DeskNotReady
from ..errors import explain
from .jobs import JobRunner


@dataclass(frozen=True, slots=True)
class ReadinessProblem:
    kind: OutcomeKind        # UNAUTHORIZED: no usable key; UNREACHABLE: the address is not usable
    message: str


class ReadinessCheck(QObject):
    """``start()``; ``finished`` when the answer is in ``problem`` (None = the desk can allocate)."""

    finished = Signal()

    def __init__(self, desk: Desk, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.runner = runner
        self.problem: ReadinessProblem | None = None
        self.done = False

    def start(self) -> bool:
        job = self.runner.run(lambda _token: self._check(), self._arrived,
                              lambda exc: self._arrived(ReadinessProblem(OutcomeKind.UNREACHABLE, explain(exc))),
                              receiver=self, name="check-key")
        return job is not None

    def _check(self) -> ReadinessProblem | None:  # worker thread
        try:
            self.desk.workflow()
        except DeskNotReady as exc:
            return ReadinessProblem(exc.kind, exc.message)
        return None

    def _arrived(self, problem: ReadinessProblem | None) -> None:
        self.problem = problem
        self.done = True
        self.finished.emit()
