"""Desk set-up commands: ``config`` and ``key``."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_KEY, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, DeskError, err, out


def register(sub) -> None:
    p = sub.add_parser("config", help="show the settings, or confirm the environment after a damaged settings file")
    p.add_argument("--environment", choices=("production", "sandbox", "custom"),
                   help="set and confirm the SortedPRO environment")
    p.add_argument("--custom-url", help="the API address when --environment custom")
    p.set_defaults(handler=cmd_config)

    p = sub.add_parser("key", help="manage the API key in the system keyring")
    p.add_argument("action", choices=("set", "status", "delete"))
    p.add_argument("--base-url", help="the API the key belongs to (default: from settings)")
    p.set_defaults(handler=cmd_key)


def cmd_config(args: argparse.Namespace) -> int:
    from ..settings import Paths, SettingsStore

    store = SettingsStore(Paths.default())
    settings = store.load()
    if store.load_warning:
        err(store.load_warning)
    if args.environment:
        if args.environment == "custom" and not (args.custom_url or settings.custom_url):
            err("--environment custom needs --custom-url https://...")
            return EXIT_USAGE
        settings = store.confirm_environment(args.environment, args.custom_url)
        out(f"Environment confirmed: {settings.environment} ({settings.api_base_url}).")
        return EXIT_OK
    out(f"Settings:    {store.paths.settings_file}")
    out(f"State:       {store.paths.state_file}")
    out(f"History:     {store.paths.history_file}")
    unconfirmed = "  (NOT CONFIRMED: the desk will not allocate)" if settings.environment_problem else ""
    out(f"Environment: {settings.environment_label}{unconfirmed}")
    out(f"API:         {settings.api_base_url}")
    out(f"Workstation: {settings.workstation}")
    out(f"Groups:      {', '.join(g.code for g in settings.service_groups) or 'none'}")
    if settings.environment_problem:
        err(settings.environment_problem)
        return EXIT_USAGE
    return EXIT_OK


def cmd_key(args: argparse.Namespace) -> int:
    from ..api import api_origin, validate_base_url
    from ..credentials import ENV_API_KEY, KeyStore, check_key_format
    from ..settings import Paths, SettingsStore
    from ..settings_file import url_port_problem

    store_of_settings = SettingsStore(Paths.default())
    settings = store_of_settings.load()
    if store_of_settings.load_warning:
        err(store_of_settings.load_warning)
    url = args.base_url or settings.api_base_url
    problem = url_port_problem(url)
    if problem:
        raise DeskError(f"The API address cannot be used. {problem}", exit_code=EXIT_UNREACHABLE)
    origin = api_origin(validate_base_url(url))
    store = KeyStore()
    if args.action == "status":
        status = store.status(origin)
        where = {"environment": f"from {ENV_API_KEY}", "keyring": "stored in the keyring", None: "none stored"}
        out(f"API:     {origin}")
        out(f"Key:     {where[status.source]}")
        out(f"Keyring: {status.backend}")
        if status.problem:
            err(status.problem)
            return EXIT_KEY
        return EXIT_OK if status.source else EXIT_KEY
    if args.action == "delete":
        removed = store.delete(origin)
        out(f"Removed the key for {origin}." if removed else f"No key was stored for {origin}.")
        return EXIT_OK
    # set: never from the command line (shell history, process list)
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        key = getpass.getpass(f"API key for {origin} (input hidden): ")
    else:
        try:  # bytes that are not UTF-8 reach the key check as named characters, not as a crash
            sys.stdin.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass
        key = sys.stdin.readline() if sys.stdin is not None else ""
    # Checked before the keyring is touched: a malformed key is a key problem (exit 3) on any machine.
    store.set(origin, check_key_format(key))
    out(f"Stored the key for {origin} in {store.backend_name()}.")
    return EXIT_OK
