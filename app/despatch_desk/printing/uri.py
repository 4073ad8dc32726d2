"""Printer URIs (contracts: settings files and supervisors' scripts hold them).

``tcp://HOST[:PORT]``, ``cups://QUEUE``, ``windows://PRINTER NAME``, ``system://PRINTER NAME`` and
``folder:///PATH``. Names and paths are percent-decoded and may contain spaces. ``str(target)`` gives
the URI back without credentials, so it is safe to show and to log.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import unquote

from .common import PrinterError, plain

__all__ = ["PrinterTarget", "parse_printer_uri", "SCHEMES", "DEFAULT_TCP_PORT"]

DEFAULT_TCP_PORT = 9100
SCHEMES = ("tcp", "cups", "windows", "system", "folder")
_EXAMPLES = "tcp://192.0.2.10:9100, cups://QUEUE, windows://PRINTER NAME, system://PRINTER NAME or folder:///PATH"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class PrinterTarget:
    """One printer: ``kind`` is the scheme; ``name`` the queue/printer, ``host``/``port`` or ``path``."""

    kind: str
    name: str = ""
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.kind == "tcp":
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"tcp://{host}:{self.port}"
        if self.kind == "folder":
            path = self.path.replace("\\", "/")
            return "folder://" + _escape(path if path.startswith("/") else "/" + path)
        return f"{self.kind}://{_escape(self.name)}"


def _escape(text: str) -> str:
    return text.replace("%", "%25")


def _bad(why: str) -> PrinterError:
    return PrinterError(f"That printer address is not usable: {why} Use {_EXAMPLES}.")


def parse_printer_uri(text: str) -> PrinterTarget:
    """A :class:`PrinterTarget` from a URI; plain-words :class:`PrinterError` for anything else."""
    if not isinstance(text, str) or not text.strip():
        raise _bad("it is empty.")
    raw = text.strip()
    scheme, sep, rest = raw.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        shown = plain(scheme, 20) if sep and scheme.isascii() and scheme.isalnum() else ""
        why = f"'{shown}://' is not a kind of printer the desk knows." if shown else "it does not start with a printer kind."
        raise _bad(why)
    if scheme == "tcp":
        return _parse_tcp(rest)
    try:
        value = unquote(rest, errors="strict") if "%" in rest else rest
    except UnicodeDecodeError:
        raise _bad("its %-escapes are not UTF-8 text.") from None
    if _CONTROL.search(value):
        raise _bad("it contains control characters.")
    if scheme == "folder":
        return PrinterTarget("folder", path=_parse_folder(value))
    name = value.strip()
    if not name:
        raise _bad(f"{scheme}:// needs a printer name after it.")
    if len(name) > 255:
        raise _bad("the printer name is longer than 255 characters.")
    if scheme == "cups" and (any(ch.isspace() for ch in name) or "#" in name):
        raise _bad("a CUPS queue name has no spaces or '#'.")
    return PrinterTarget(scheme, name=name)


def _parse_tcp(rest: str) -> PrinterTarget:
    # user:password@ is accepted and dropped: raw ports have no login, and it must never be shown.
    hostport = rest.rsplit("@", 1)[-1]
    hostport, _, tail = hostport.partition("/")
    if tail.strip("/") or "?" in hostport or "#" in hostport:
        raise _bad("tcp:// takes only a host and a port (tcp://HOST:PORT), no path or options.")
    if hostport.startswith("["):
        host, close, after = hostport[1:].partition("]")
        if not close or (after and not after.startswith(":")):
            raise _bad("the IPv6 address is not closed with ']'.")
        port_text = after[1:] if after else ""
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _bad("the address in [ ] is not an IPv6 address.") from None
    else:
        host, colon, port_text = hostport.partition(":")
        if colon and not port_text:
            raise _bad("the port after ':' is missing.")
        if not _HOSTNAME.match(host):
            raise _bad("the printer's host name or address is missing or malformed." if host else "tcp:// needs a host.")
    port = DEFAULT_TCP_PORT
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise _bad("the port must be a number from 1 to 65535 (label printers use 9100).")
        port = int(port_text)
    return PrinterTarget("tcp", host=host.lower(), port=port)


def _parse_folder(value: str) -> str:
    path = value
    # folder:///C:/Labels and folder://C:/Labels are Windows paths; folder:///srv/labels a POSIX one.
    if re.match(r"^/[A-Za-z]:[/\\]", path):
        path = path[1:]
    if re.match(r"^[A-Za-z]:[/\\]", path):
        return str(PureWindowsPath(path))
    if path.startswith("//") and not path.startswith("///"):
        return str(PureWindowsPath(path))  # folder:////server/share -> a UNC path
    if not path.startswith("/"):
        raise _bad("folder:// needs an absolute path, e.g. folder:///home/desk/labels.")
    return str(PurePosixPath(path))
