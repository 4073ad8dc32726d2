"""``python -m despatch_desk.sandbox``: run the sandbox until Ctrl+C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Sequence

from .faults import FAULT_DESCRIPTIONS, Fault
from .server import DEMO_API_KEY, SandboxServer, is_loopback_host

__all__ = ["main", "build_parser"]


def _fault(text: str) -> Fault:
    try:
        return Fault.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    faults = "\n".join(f"  {name:<26} {text}" for name, text in FAULT_DESCRIPTIONS.items())
    p = argparse.ArgumentParser(
        prog=prog or "python -m despatch_desk.sandbox",
        description="Serve an emulated SortedPRO Consignments API with demo data on loopback.",
        epilog="faults (NAME or NAME:TIMES):\n" + faults,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay before every answer")
    p.add_argument(
        "--fault", action="append", type=_fault, default=[], metavar="NAME[:TIMES]",
        help="inject a fault (repeatable)",
    )
    p.add_argument("--empty", action="store_true", help="start without the demo consignments")
    p.add_argument(
        "--failed-allocation-style", choices=("summary", "error"), default="summary",
        help="no eligible service: 200 summary with StatusCode 400 (default) or a 400 error body",
    )
    p.add_argument(
        "--allow-remote", action="store_true",
        help="allow a non-loopback --host (the sandbox has no real security)",
    )
    return p


def _say(text: str) -> None:
    if sys.stdout is not None:
        print(text, flush=True)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.latency_ms < 0:
        build_parser(prog).error("--latency-ms must be >= 0")
    if not args.allow_remote and not is_loopback_host(args.host):
        if sys.stderr is not None:
            print(
                f"refusing to serve on {args.host}: the sandbox has no real security; "
                "use a loopback address or pass --allow-remote",
                file=sys.stderr,
            )
        return 2
    try:
        server = SandboxServer(
            host=args.host,
            port=args.port,
            api_key=DEMO_API_KEY,
            latency_ms=args.latency_ms,
            faults=args.fault,
            seed=not args.empty,
            failed_allocation_style=args.failed_allocation_style,
            allow_remote=args.allow_remote,
        ).start()
    except OSError as e:
        if sys.stderr is not None:
            print(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1

    done = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        _say(f"SortedPRO sandbox listening on {server.url}")
        _say(f"API key: {DEMO_API_KEY}")
        if args.fault:
            _say("Faults: " + ", ".join(str(f) for f in args.fault))
        _say("Press Ctrl+C to stop.")
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    _say("Sandbox stopped.")
    return 0
