"""Start the window: QApplication, log file, single instance, demo mode.

``main(demo=False)`` is what ``despatch-desk`` runs; ``main(demo=True)`` is ``despatch-desk --demo``:
the built-in sandbox in this process, a throwaway key, a history kept apart from the real one.

Single instance: a QLocalServer named after the user and the desk's data folder. A second
launch connects, asks the running window to come forward, and exits 0. Demo mode has its own
name, so a demo can be opened beside the real desk without touching it.

Imports are kept lean (QtCore/QtGui/QtWidgets/QtNetwork only); dialogs load when first opened.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path
from typing import Any

_T0 = time.perf_counter()

from PySide6.QtCore import QObject, Qt, QTimer, Signal  # noqa: E402
from PySide6.QtGui import QIcon  # noqa: E402
from PySide6.QtNetwork import QLocalServer, QLocalSocket  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from .. import APP_ID, APP_NAME, __version__  # noqa: E402
from .. import assets  # noqa: E402
from ..settings import Paths, ServiceGroupConfig  # noqa: E402

log = logging.getLogger("despatch_desk.gui.app")

ENV_READY_FILE = "DESPATCH_DESK_BENCH_READY_FILE"   # benchmark: write a timestamp when ready, then quit
LOG_FILE = "despatch-desk.log"
_ACTIVATE = b"activate\n"


# --------------------------------------------------------------------------- logging


def setup_logging(log_dir: Path, level: int = logging.INFO) -> Path | None:
    """A rotating log file; never stdout (a windowed build has none). Returns the file, or None."""
    root = logging.getLogger("despatch_desk")
    root.setLevel(level)
    path = log_dir / LOG_FILE
    for handler in root.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8",
                                                       delay=True)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    root.addHandler(handler)
    for noisy in ("httpcore", "httpx"):  # their DEBUG traces print raw headers, an echoed key among them
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


# --------------------------------------------------------------------------- single instance


def instance_name(paths: Paths, demo: bool = False) -> str:
    """One desk per user and data folder (a test's DESPATCH_DESK_HOME is its own desk)."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "user"
    digest = hashlib.sha256(f"{user}|{paths.data_dir}|{'demo' if demo else 'live'}".encode()).hexdigest()[:16]
    return f"{APP_ID}-{digest}"


class SingleInstance(QObject):
    """First launch listens; a later one connects, sends ``activate`` and leaves."""

    activation_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server: QLocalServer | None = None

    def signal_running(self, timeout_ms: int = 500) -> bool:
        """True if another instance is running and was asked to come forward."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(_ACTIVATE)
        socket.flush()
        socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(timeout_ms)
        return True

    def listen(self) -> bool:
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # A stale socket file left by a crash: nobody answered signal_running, so remove it.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                log.warning("single instance: cannot listen on %s: %s", self.name, server.errorString())
                return False
        server.newConnection.connect(self._on_connection)
        self.server = server
        return True

    def _on_connection(self) -> None:
        assert self.server is not None
        while self.server.hasPendingConnections():
            conn = self.server.nextPendingConnection()
            # The second launch writes at once after connecting: a short blocking read keeps this simple
            # (no callbacks on sockets that may already be gone).
            data = b""
            if conn.bytesAvailable() or conn.waitForReadyRead(300):
                data = bytes(conn.readAll().data())
            conn.abort()
            conn.deleteLater()
            if b"activate" in data:
                log.info("a second launch asked this window to come forward")
                self.activation_requested.emit()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server.deleteLater()
            self.server = None


# --------------------------------------------------------------------------- the application


def make_qapplication(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication([sys.argv[0] if sys.argv else APP_ID, *(argv or [])])
    app.setApplicationName(APP_NAME)
    # No applicationDisplayName: X11/Windows would append it to titles that already carry the name.
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    icon = assets.window_icon_svg()
    png = assets.window_icon()
    for candidate in (png, icon):
        if candidate.is_file():
            app.setWindowIcon(QIcon(str(candidate)))
            break
    return app  # type: ignore[return-value]


def demo_paths(paths: Paths) -> Paths:
    """Demo scans never mix with the real audit history or settings."""
    return Paths(paths.config_dir / "demo", paths.data_dir / "demo", paths.log_dir)


def seed_demo_groups(desk: Any) -> None:
    settings = desk.settings
    if settings.service_groups:
        return
    from ..sandbox.catalogue import default_catalogue

    catalogue = default_catalogue()
    settings.service_groups = [ServiceGroupConfig(g.reference, g.name) for g in catalogue.groups.values()
                               if getattr(g, "enabled", True)]
    if not settings.last_group and settings.service_groups:
        settings.last_group = settings.service_groups[0].code
    try:
        desk.settings_store.save(settings)
    except Exception as exc:
        log.warning("demo settings not saved: %s", exc)


class DeskSession:
    """One desk + window (+ sandbox in demo mode). The app may switch from a real desk to demo."""

    def __init__(self, paths: Paths, *, demo: bool) -> None:
        from ..desk import Desk
        from .main_window import MainWindow, Mode

        self.demo = demo
        self.sandbox: Any = None
        if demo:
            from ..sandbox import DEMO_API_KEY, SandboxServer

            # A demo desk may run all shift: it keeps only the last few requests it served.
            self.sandbox = SandboxServer(host="127.0.0.1", port=0, api_key=DEMO_API_KEY, record_limit=200).start()
            self.desk = Desk(demo_paths(paths))
            self.desk.set_overrides(base_url=self.sandbox.url, api_key=DEMO_API_KEY)
            seed_demo_groups(self.desk)
            log.info("demo mode: built-in sandbox at %s", self.sandbox.url)
        else:
            self.desk = Desk(paths)
        self.window = MainWindow(self.desk, mode=Mode.DEMO if demo else Mode.NORMAL)
        if self.desk.settings_store.load_warning:
            self.window.statusBar().showMessage(self.desk.settings_store.load_warning, 15000)

    def close(self) -> None:
        try:
            self.desk.close()
        finally:
            if self.sandbox is not None:
                self.sandbox.stop()
                self.sandbox = None


class DeskApplication(QObject):
    def __init__(self, *, demo: bool, argv: list[str] | None = None, paths: Paths | None = None) -> None:
        self.qapp = make_qapplication(argv)
        super().__init__()
        self.paths = paths or Paths.default()
        self.log_file = setup_logging(self.paths.log_dir)
        self.demo = demo
        self.session: DeskSession | None = None
        self._old_sessions: list[DeskSession] = []
        self.instance = SingleInstance(instance_name(self.paths, demo), self)

    def already_running(self) -> bool:
        return self.instance.signal_running()

    def start(self) -> DeskSession:
        self.instance.listen()
        self.instance.activation_requested.connect(self._activate)
        session = self._open(self.demo)
        return session

    def _open(self, demo: bool) -> DeskSession:
        session = DeskSession(self.paths, demo=demo)
        self.session = session
        window = session.window
        window.demo_requested.connect(self.switch_to_demo)
        if getattr(window, "demo", None) is not None:  # demo mode: Help > Leave demo mode
            window.demo.leave_requested.connect(self.leave_demo)
        window.resize(1100, 820)
        window.show()
        window.raise_()
        window.activateWindow()
        window.focus_scan()
        ready_file = os.environ.get(ENV_READY_FILE)
        if ready_file:
            QTimer.singleShot(0, lambda: self._report_ready(Path(ready_file)))
        return session

    def _report_ready(self, path: Path) -> None:
        """Benchmark: the window is shown and the scan field has the focus."""
        window = self.session.window if self.session else None
        if window is None:
            return
        self.qapp.processEvents()
        ready = window.isVisible() and window.scan_field.hasFocus()
        path.write_text(f"{time.time():.6f} {time.perf_counter() - _T0:.6f} {int(ready)}\n", encoding="utf-8")
        QTimer.singleShot(0, window.close_now)

    def _activate(self) -> None:
        if self.session is not None:
            self.session.window.raise_window()

    def switch_to_demo(self) -> None:
        """'Try demo mode' on the first-run panel: close the real (idle) desk, open the demo in its place."""
        self._switch(True)

    def leave_demo(self) -> None:
        """Help > Leave demo mode: close the demo desk and its sandbox, open the real desk in its place."""
        self._switch(False)

    def _switch(self, demo: bool) -> None:
        old = self.session
        if old is None or old.demo == demo:
            return
        if old.window.controller.in_flight():  # only scans matter: a history read may end after the switch
            words = "try demo mode" if demo else "leave demo mode"
            old.window.statusBar().showMessage(f"Wait for the scans in flight to finish, then {words}.", 6000)
            return
        self.qapp.setQuitOnLastWindowClosed(False)
        old.window.close_now()
        old.close()
        self._old_sessions.append(old)
        self.instance.close()
        self.instance = SingleInstance(instance_name(self.paths, demo), self)
        self.instance.listen()
        self.instance.activation_requested.connect(self._activate)
        self._open(demo)
        self.qapp.setQuitOnLastWindowClosed(True)

    def run(self) -> int:
        code = self.qapp.exec()
        self.shutdown()
        return code

    def shutdown(self) -> None:
        self.instance.close()
        if self.session is not None:
            self.session.close()
            self.session = None


def main(*, demo: bool = False, argv: list[str] | None = None) -> int:
    """Open the window; returns the exit code when it closes (0 also when another desk was brought forward)."""
    desk_app = DeskApplication(demo=demo, argv=argv)
    if desk_app.already_running():
        log.info("%s is already running: brought its window forward", APP_NAME)
        return 0
    try:
        desk_app.start()
    except Exception:
        log.exception("the window could not be opened")
        raise
    log.info("window ready in %.0f ms (from the app module import)", (time.perf_counter() - _T0) * 1000)
    return desk_app.run()
