"""Desk set-up commands: ``config`` (show, set, export, import, groups) and ``key``.

``config --environment X`` is the older spelling of ``config set environment X``: both confirm it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .common import EXIT_KEY, EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE, DeskError, err, out

KEY_CHECK_TIMEOUT_S = 10.0  # the check is one small GET: a desk that waits longer cannot check


def register(sub) -> None:
    p = sub.add_parser("config", help="show or change the settings; export and import them for many desks")
    p.add_argument("--environment", choices=("production", "sandbox", "custom"),
                   help="set and confirm the SortedPRO environment (same as: config set environment X)")
    p.add_argument("--custom-url", help="the API address when --environment custom")
    p.set_defaults(handler=cmd_config, config_action=None)
    actions = p.add_subparsers(dest="config_action", metavar="ACTION")
    show = actions.add_parser("show", help="every setting, its value and where it comes from")
    show.add_argument("--json", action="store_true", help="one JSON object")
    setp = actions.add_parser("set", help="change one setting (refused with plain words if the value is not allowed)")
    setp.add_argument("name", help="the setting, e.g. scan_deadline_s, sounds, service_groups")
    setp.add_argument("value", help="its value; groups as code=Name,code2=Name2; on/off for switches")
    exp = actions.add_parser("export", help="write every setting but the key to a JSON file")
    exp.add_argument("file", help="where to write it ('-' for standard output)")
    imp = actions.add_parser("import", help="apply a file made by 'config export' (all or nothing)")
    imp.add_argument("file", help="the file to read ('-' for standard input)")
    grp = actions.add_parser("groups", help="fetch the account's service groups now and keep them for offline starts")
    grp.add_argument("--json", action="store_true")

    p = sub.add_parser("key", help="manage the API key in the system keyring")
    p.add_argument("action", choices=("set", "status", "delete"))
    p.add_argument("--base-url", help="the API the key belongs to (default: from settings)")
    p.add_argument("--no-check", action="store_true", help="key set: store without asking SortedPRO whether it works")
    p.set_defaults(handler=cmd_key)


def _store():
    from ..settings import Paths, SettingsStore

    store = SettingsStore(Paths.default())
    settings = store.load()
    if store.load_warning:
        err(store.load_warning)
    return store, settings


def cmd_config(args: argparse.Namespace) -> int:
    action = args.config_action
    if args.environment and action not in (None, "show"):
        err("--environment goes alone: 'despatch-desk config --environment sandbox' (or config set environment X).")
        return EXIT_USAGE
    if args.environment:
        store, settings = _store()
        if args.environment == "custom" and not (args.custom_url or settings.custom_url):
            err("--environment custom needs --custom-url https://...")
            return EXIT_USAGE
        return _set(store, {"environment": args.environment,
                            **({"custom_url": args.custom_url} if args.custom_url is not None else {})})
    if action == "set":
        return cmd_config_set(args)
    if action == "export":
        return cmd_config_export(args)
    if action == "import":
        return cmd_config_import(args)
    if action == "groups":
        return cmd_config_groups(args)
    return cmd_config_show(args)


def cmd_config_show(args: argparse.Namespace) -> int:
    from ..config_values import show_value

    store, settings = _store()
    sources = store.sources(settings)
    if getattr(args, "json", False):
        values = {}
        for name, source in sources.items():
            value = show_value(settings, name)
            if name == "environment" and source == "env":
                value = settings.environment_label
            elif name == "custom_url" and source == "env":
                value = settings.api_base_url
            elif name == "proxy":
                value = _proxy_shown(settings)
            values[name] = {"value": value, "source": source}
        out(json.dumps({"settings": values, "api_base_url": settings.api_base_url,
                        "environment_confirmed": settings.environment_problem is None,
                        "environment_problem": settings.environment_problem,
                        "files": {"settings": str(store.paths.settings_file), "state": str(store.paths.state_file),
                                  "history": str(store.paths.history_file),
                                  "machine_defaults": str(store.machine_defaults_file or "") or None}},
                       ensure_ascii=False, indent=2))
        return EXIT_USAGE if settings.environment_problem else EXIT_OK
    from ..config_values import text_value

    out(f"Settings:    {store.paths.settings_file}")
    out(f"State:       {store.paths.state_file}")
    out(f"History:     {store.paths.history_file}")
    if store.machine_defaults_file:
        out(f"Defaults:    {store.machine_defaults_file}")
    unconfirmed = "  (NOT CONFIRMED: the desk will not allocate)" if settings.environment_problem else ""
    out(f"Environment: {settings.environment_label}{unconfirmed}")
    out(f"API:         {settings.api_base_url}")
    out(f"Workstation: {settings.workstation}")
    out(f"Groups:      {', '.join(g.code for g in settings.service_groups) or 'none'}")
    if args.config_action == "show":
        out("")
        width = max(len(n) for n in sources)
        for name, source in sources.items():
            value = _proxy_shown(settings) if name == "proxy" else text_value(settings, name)
            out(f"  {name.ljust(width)}  {value or '(empty)'}  [{source}]")
    if settings.environment_problem:
        err(settings.environment_problem)
        return EXIT_USAGE
    return EXIT_OK


def _proxy_shown(settings) -> str:
    """The proxy in force (DESPATCH_DESK_PROXY wins), never with a password from the environment."""
    from ..proxy import _without_password

    return _without_password(settings.proxy_in_use)


def _set(store, values: dict) -> int:
    from ..config_values import apply_values

    changed = store.update(lambda current: apply_values(current, values))
    for name in values:
        if name == "environment":
            out(f"Environment confirmed: {changed.environment} ({changed.api_base_url}).")
        else:
            from ..config_values import text_value

            out(f"{name} = {text_value(changed, name) or '(empty)'}")
    return EXIT_OK


def cmd_config_set(args: argparse.Namespace) -> int:
    from ..config_values import parse_value, setting_name

    name = setting_name(args.name)
    value = parse_value(name, args.value)
    store, settings = _store()
    if name == "environment" and value == "custom" and not settings.custom_url.strip():
        err("Set custom_url first (config set custom_url https://...), then config set environment custom.")
        return EXIT_USAGE
    return _set(store, {name: value})


def cmd_config_export(args: argparse.Namespace) -> int:
    from ..config_values import export_document

    store, settings = _store()
    text = json.dumps(export_document(settings), ensure_ascii=False, indent=2) + "\n"
    if args.file == "-":
        out(text.rstrip("\n"))
        return EXIT_OK
    target = os.path.abspath(args.file)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise DeskError(f"Could not write {target}: {exc.strerror or exc}.", exit_code=EXIT_USAGE) from None
    out(f"Exported every setting but the key to {target}.")
    return EXIT_OK


def cmd_config_import(args: argparse.Namespace) -> int:
    from ..config_values import apply_values, read_document

    if args.file == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        raw = buffer.read() if buffer is not None else (sys.stdin.read().encode("utf-8") if sys.stdin else b"")
        where = "The config read from standard input"
    else:
        try:
            with open(args.file, "rb") as fh:
                raw = fh.read(2 << 20)
        except OSError as exc:
            raise DeskError(f"Could not read {args.file}: {exc.strerror or exc}. Nothing was changed.",
                            exit_code=EXIT_USAGE) from None
        where = args.file
    values = read_document(raw, where)  # the whole file is checked before anything changes
    store, _settings = _store()
    store.update(lambda current: apply_values(current, values))
    out(f"Imported {len(values)} settings from {where}" + (" (the environment is confirmed)."
                                                          if "environment" in values else "."))
    return EXIT_OK


def cmd_config_groups(args: argparse.Namespace) -> int:
    from ..service_groups import sync_groups
    from .common import open_desk

    desk = open_desk(environment_needed=False, open_history=False)
    try:
        result = sync_groups(desk, desk.settings, desk.settings_store)
    finally:
        desk.close()
    if args.json:
        out(json.dumps({"source": result.source, "note": result.note, "missing": result.missing,
                        "fetched_at": result.fetched_at.isoformat() if result.fetched_at else None,
                        "groups": [{"code": g.code, "name": g.name, "source": g.source} for g in result.groups]},
                       ensure_ascii=False))
    else:
        for g in result.groups:
            out(f"{g.code}\t{g.name}")
    if result.note:
        err(result.note)
    for words in result.missing:
        err(words)
    return {"ok": EXIT_OK, "offline": EXIT_UNREACHABLE, "not-asked": EXIT_KEY}.get(result.reason, EXIT_REFUSED)


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
    key = check_key_format(key)
    store.check_usable()  # no keyring to keep it: say so before asking SortedPRO anything
    if args.no_check:
        store.set(origin, key)
        out(f"Stored the key for {origin} in {store.backend_name()} (not checked: --no-check).")
        return EXIT_OK
    verdict, words = check_key_works(url, key, settings.timeouts, proxy=settings.proxy)
    if verdict == "refused":
        # Not stored: a key SortedPRO refuses would only turn every scan into a key problem later.
        raise DeskError(f"The key was NOT stored: {words} Copy the key again from SortedPRO (for {origin}) "
                        "and run 'despatch-desk key set' again.", exit_code=EXIT_KEY)
    store.set(origin, key)
    if verdict == "works":
        out(f"Stored the key for {origin} in {store.backend_name()}. SortedPRO accepted it.")
    else:
        out(f"Stored the key for {origin} in {store.backend_name()}, but it could not be checked: {words}")
    return EXIT_OK


def check_key_works(url: str, key: str, timeouts, *, proxy: str = "system") -> tuple[str, str]:
    """Ask SortedPRO whether the key works with one cheap authenticated call, bounded in time.

    ``("works" | "refused" | "unchecked", plain words)``. A 403 on the group list is not a refused key
    (a customer key may not list groups): then the carrier services list decides."""
    from .. import api
    from ..cancel import CancelToken

    token = CancelToken(timeout=KEY_CHECK_TIMEOUT_S)
    quick = api.Timeouts(connect=min(timeouts.connect, 5.0), read=min(timeouts.read, KEY_CHECK_TIMEOUT_S))
    try:
        with api.SortedProClient(url, key, timeouts=quick, proxy=proxy) as client:  # the way scans go
            try:
                client.list_service_groups(cancel=token)
            except api.Unauthorized as exc:
                if exc.status != 403:
                    raise
                client.list_carrier_services(cancel=token)
    except api.Unauthorized as exc:
        if exc.status == 401:
            return "refused", "SortedPRO refused this key (HTTP 401: it is wrong, or for another environment)."
        return "unchecked", f"SortedPRO would not say whether it works ({exc.message})."
    except api.ApiResponseError as exc:
        return "unchecked", f"SortedPRO's answer did not say whether it works ({exc.message})."
    except api.ApiError as exc:
        return "unchecked", f"SortedPRO could not be reached ({exc.message}). It is checked again at the first scan."
    return "works", "SortedPRO accepted it."
