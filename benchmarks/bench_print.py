"""Printing benchmark (a script, not a test): run ``python benchmarks/bench_print.py``.

Measured against the built-in sandbox and a raw TCP "printer" on loopback:

* ``GET /labels/{ref}/{fmt}`` round trip for a three-package consignment (keep-alive client, base64
  decoded), ZPL and PDF: the cost the desk pays before it can print at all;
* from having the ZPL label bytes to the last label byte received by the printer, through
  ``printing.print_label(tcp://…)`` (goal: ≤ 50 ms beyond the GET), and when ``print_label`` returns;
* through the desk's own path (``--service``, on by default): allocate with ``Desk.allocate``, then
  ``LabelService.print_for(outcome)`` to a tcp:// sink; from the allocation answer to the last label byte,
  minus that round's own label GET round trip (goal: ≤ 50 ms), history write included;
* the same through a CUPS raw queue when cupsd runs (``--cups``; needs root for lpadmin);
* the PDF path: QtPdf import, and rendering + painting three 4x6 in pages on a QPrinter writing a PDF
  file at 203 dpi (``--pdf``).
"""

from __future__ import annotations

import argparse
import base64
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "app"))

import httpx  # noqa: E402

from despatch_desk import printing  # noqa: E402
from despatch_desk.sandbox import DEMO_API_KEY, SandboxServer  # noqa: E402

REFERENCE = "EC-000-DSK-010"  # three packages


class Sink:
    """A raw-port printer: records when each connection's last byte arrived."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.done: list[tuple[float, int]] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        size, last = 0, time.perf_counter()
        with conn:
            while chunk := conn.recv(65536):
                size += len(chunk)
                last = time.perf_counter()
        with self.changed:
            self.done.append((last, size))
            self.changed.notify_all()

    def wait(self, count: int) -> tuple[float, int]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.done) >= count, 30):
                raise SystemExit("the sink received nothing in 30 s")
            return self.done[count - 1]


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"median {statistics.median(values) * 1000:7.2f} ms  p95 {p95 * 1000:7.2f} ms  max {values[-1] * 1000:7.2f} ms"


def bench_get(server: SandboxServer, rounds: int) -> dict[str, bytes]:
    headers = {"ocp-apim-subscription-key": DEMO_API_KEY, "electio-api-version": "1.1", "Accept": "application/json"}
    labels = {}
    with httpx.Client(base_url=server.url, headers=headers, trust_env=False, timeout=10) as client:
        client.put(f"/allocation/{REFERENCE}/allocatewithservicegroup/nextDay").raise_for_status()
        for fmt in ("ZPL", "PDF"):
            times = []
            for i in range(rounds + 3):
                t0 = time.perf_counter()
                answer = client.get(f"/labels/{REFERENCE}/{fmt}")
                answer.raise_for_status()
                data = base64.b64decode(answer.json()["File"], validate=True)
                if i >= 3:  # warm-up excluded
                    times.append(time.perf_counter() - t0)
            labels[fmt] = data
            doc = printing.split_labels(data)
            print(f"GET /labels {fmt:3} ({len(data):5} B, {doc.describe:13}) {ms(times)}")
    return labels


def bench_tcp(data: bytes, rounds: int, label: str) -> None:
    sink = Sink()
    target = printing.parse_printer_uri(f"tcp://127.0.0.1:{sink.port}")
    to_last, to_return = [], []
    for i in range(rounds + 3):
        t0 = time.perf_counter()
        result = printing.print_label(target, data, reference=REFERENCE)
        returned = time.perf_counter()
        if not result.ok:
            raise SystemExit(result.error)
        last, size = sink.wait(i + 1)
        assert size == len(data)
        if i >= 3:
            to_last.append(last - t0)
            to_return.append(returned - t0)
    print(f"tcp:// {label:3} bytes -> last byte at printer {ms(to_last)}")
    print(f"tcp:// {label:3} bytes -> print_label returns  {ms(to_return)}")


def bench_cups(data: bytes, rounds: int) -> None:
    sink = Sink()
    queue = f"dd-bench-{uuid.uuid4().hex[:6]}"
    added = subprocess.run(["lpadmin", "-p", queue, "-E", "-v", f"socket://127.0.0.1:{sink.port}", "-m", "raw"],
                           capture_output=True, text=True)
    if added.returncode != 0:
        print(f"cups:// skipped: {added.stderr.strip()[:120]}")
        return
    try:
        to_last, to_return = [], []
        for i in range(rounds):
            t0 = time.perf_counter()
            result = printing.print_label(f"cups://{queue}", data, reference=REFERENCE)
            returned = time.perf_counter()
            if not result.ok:
                raise SystemExit(result.error)
            last, size = sink.wait(i + 1)
            to_last.append(last - t0)
            to_return.append(returned - t0)
        print(f"cups:// ZPL bytes -> last byte at printer {ms(to_last)}")
        print(f"cups:// ZPL bytes -> print_label returns  {ms(to_return)}")
    finally:
        subprocess.run(["lpadmin", "-x", queue], capture_output=True)


def bench_pdf(pdf: bytes, rounds: int) -> None:
    probe = ("import time; t0 = time.perf_counter(); import PySide6.QtGui; t1 = time.perf_counter(); "
             "import PySide6.QtPdf; t2 = time.perf_counter(); print(f'{(t1 - t0) * 1000:.1f} {(t2 - t1) * 1000:.1f}')")
    gui_ms, pdf_ms = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    print(f"import in a fresh process: PySide6.QtGui {gui_ms} ms, then PySide6.QtPdf {pdf_ms} ms")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["bench", "-platform", "offscreen"])  # noqa: F841
    from despatch_desk.cancel import CancelToken
    from despatch_desk.printing import qt_pdf

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds + 1):
            t0 = time.perf_counter()
            pages = qt_pdf.print_pdf(pdf, CancelToken(), title="bench", output_file=f"{tmp}/{i}.pdf", where="bench")
            if i:
                times.append(time.perf_counter() - t0)
    print(f"QPrinter PDF file, {pages} pages at 203 dpi (render + paint + write) {ms(times)}")


def bench_service(rounds: int) -> None:
    """Allocation answer -> last label byte at a tcp:// printer through LabelService (the desk's one path)."""
    import os

    from despatch_desk.desk import Desk
    from despatch_desk.label_service import LabelService
    from despatch_desk.settings import Paths

    sink = Sink()
    with tempfile.TemporaryDirectory() as home, SandboxServer() as server:
        os.environ["DESPATCH_DESK_HOME"] = home
        desk = Desk(Paths.default(), base_url=server.url, api_key=DEMO_API_KEY)
        desk.settings = desk.settings.copy(printer_uri=f"tcp://127.0.0.1:{sink.port}", label_format="zpl")
        service = LabelService(desk)
        totals, gets, beyond = [], [], []
        try:
            for i in range(rounds + 3):
                outcome = desk.allocate(REFERENCE, "nextDay")
                t0 = time.perf_counter()  # the allocation's answer is in (and recorded)
                result = service.print_for(outcome)
                if not result.printed:
                    raise SystemExit(result.error)
                last, size = sink.wait(i + 1)
                assert size == result.bytes
                g0 = time.perf_counter()
                desk.client().get_label(REFERENCE, "ZPL")  # this round's label GET on its own, for comparison
                get_s = time.perf_counter() - g0
                desk.client().deallocate(REFERENCE)
                if i >= 3:
                    totals.append(last - t0)
                    gets.append(get_s)
                    beyond.append(last - t0 - get_s)
        finally:
            desk.close()
    print(f"service: allocation answer -> last byte at printer {ms(totals)}")
    print(f"service: label GET round trip alone             {ms(gets)}")
    print(f"service: beyond the GET (goal <= 50 ms)          {ms(beyond)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--cups", action="store_true", help="also through a CUPS raw queue (cupsd must run)")
    parser.add_argument("--pdf", action="store_true", help="also the QtPrintSupport PDF path")
    parser.add_argument("--no-service", action="store_true", help="skip the LabelService measurement")
    args = parser.parse_args()
    with SandboxServer() as server:
        labels = bench_get(server, args.rounds)
    bench_tcp(labels["ZPL"], args.rounds, "ZPL")
    if not args.no_service:
        bench_service(min(args.rounds, 200))
    if args.cups:
        bench_cups(labels["ZPL"], min(args.rounds, 50))
    if args.pdf:
        bench_pdf(labels["PDF"], min(args.rounds, 20))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
