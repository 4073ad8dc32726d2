"""tcp://HOST:PORT — a network label printer's raw port (9100): the label bytes exactly, nothing added
(``print_label`` sends only ZPL here: a PDF fed to a ZPL printer prints its source as gibberish)."""

from __future__ import annotations

import socket

from ..cancel import CancelToken, Cancelled, DeadlineExpired
from .common import PrinterError

__all__ = ["send_raw", "CONNECT_TIMEOUT_S"]

CONNECT_TIMEOUT_S = 3.0  # a printer that is off or unplugged answers nothing: give up soon, in plain words
_CHUNK = 64 * 1024


def send_raw(host: str, port: int, data: bytes, token: CancelToken, *, where: str) -> None:
    """Connect, send every byte, close our side. Raises :class:`PrinterError` in plain words."""
    token.raise_if_cancelled()
    connect_timeout = max(0.05, token.bound(CONNECT_TIMEOUT_S))
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except TimeoutError:
        raise PrinterError(
            f"The printer at {where} did not answer within {max(1, round(connect_timeout))} s: "
            "is it switched on and on the network? Nothing was sent."
        ) from None
    except socket.gaierror:
        raise PrinterError(f"The printer's name in {where} is not known on this network. Nothing was sent.") from None
    except ConnectionRefusedError:
        raise PrinterError(
            f"The printer at {where} refused the connection: is that the right address and port "
            "(label printers use 9100)? Nothing was sent."
        ) from None
    except OSError as exc:
        raise PrinterError(f"The printer at {where} cannot be reached ({exc.strerror or exc}). Nothing was sent.") from None
    sent = 0
    try:
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            view = memoryview(data)
            while sent < len(data):
                token.raise_if_expired()
                sock.settimeout(max(0.05, token.remaining() if token.remaining() is not None else 10.0))
                sent += sock.send(view[sent: sent + _CHUNK])
            sock.shutdown(socket.SHUT_WR)
            _drain(sock)  # unread status bytes from the printer would turn our close into a reset
    except PrinterError:
        raise
    except Exception as exc:  # timeouts, resets, the deadline or a cancel while sending
        if isinstance(exc, Cancelled):
            why = "printing was stopped"
        elif isinstance(exc, (TimeoutError, DeadlineExpired)):
            why = "the time ran out"
        else:
            why = "the connection broke"
        if sent == 0:
            raise PrinterError(f"Nothing was sent to the printer at {where}: {why}.") from None
        raise PrinterError(
            f"The printer at {where} took {sent} of {len(data)} bytes, then {why}: the label may be "
            "cut short. Check the printer, then reprint."
        ) from None


def _drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(4096):
            pass
    except (BlockingIOError, OSError):
        pass
