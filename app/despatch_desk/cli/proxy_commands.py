"""``despatch-desk proxy-password set|delete [--proxy http://USER@HOST:PORT]``: a company proxy's password.

The password goes to the OS keyring (never a file, never the command line: a hidden prompt or standard
input), under the proxy address with its user, where the client looks for it. The address defaults to
the proxy in force (``DESPATCH_DESK_PROXY`` or the ``proxy`` setting).
"""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK, EXIT_USAGE, err, out


def register(sub) -> None:
    p = sub.add_parser("proxy-password", help="store or remove the company proxy's password in the keyring")
    p.add_argument("action", choices=("set", "delete"))
    p.add_argument("--proxy", help="the proxy as http://USER@HOST:PORT (default: the proxy setting in force)")
    p.set_defaults(handler=cmd_proxy_password)


def cmd_proxy_password(args: argparse.Namespace) -> int:
    from .. import proxy
    from ..credentials import ProxyPasswords
    from ..settings import Paths, SettingsStore

    address = args.proxy
    if not address:
        store = SettingsStore(Paths.default())
        address, _source = proxy.choose(store.load().proxy)
        if address.lower() in ("system", "none"):
            err(f"The proxy setting is '{address}': name the proxy with --proxy http://USER@HOST:PORT.")
            return EXIT_USAGE
    entry = proxy.password_entry(address)  # ProxyProblem (plain words, exit 2) for an unusable address
    passwords = ProxyPasswords()
    if args.action == "delete":
        removed = passwords.delete(entry)
        out(f"Removed the password for {entry}." if removed else f"No password was stored for {entry}.")
        return EXIT_OK
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        secret = getpass.getpass(f"Password for the proxy {entry} (input hidden): ")
    else:
        secret = sys.stdin.readline() if sys.stdin is not None else ""
    passwords.set(entry, secret.rstrip("\r\n"))
    out(f"Stored the password for {entry} in the keyring.")
    return EXIT_OK
