"""Start-up checks as small task objects: each runs once on the desk's runner and reports by a signal.

``ReadinessCheck`` builds the API client (it reads the keyring once: never on the GUI thread) and
says whether the desk can allocate. ``InDoubtCount`` counts the history's in-doubt rows (the
controller runs one at start and after every in-doubt result or re-check).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from .. import in_doubt
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


class InDoubtCount(QObject):
    """``start()``; ``finished`` when ``count`` (in-doubt rows in the history) or ``problem`` (plain words) is in."""

    finished = Signal()

    def __init__(self, desk: Desk, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.runner = runner
        self.count = 0
        self.problem: str | None = None

    def start(self) -> bool:
        return self.runner.run(lambda _token: in_doubt.count(self.desk), self._counted, self._failed,
                               receiver=self, name="count-in-doubt") is not None

    def _counted(self, count: int) -> None:
        self.count = int(count)
        self.finished.emit()

    def _failed(self, exc: BaseException) -> None:
        self.problem = f"The in-doubt list could not be read: {explain(exc)}"
        self.finished.emit()
