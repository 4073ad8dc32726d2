"""windows://PRINTER NAME — the Windows spooler. ZPL goes as a RAW job through a small ctypes binding to
winspool.drv (OpenPrinterW, StartDocPrinterW(…, "RAW"), WritePrinter, EndDocPrinter, ClosePrinter), so
there is no pywin32 dependency; a PDF goes through QtPrintSupport (see ``qt_pdf``).

:class:`Winspool` is the only place that touches ctypes; :func:`send_raw_job` takes any object with
the same methods, which is how the sequence is tested on machines without a spooler.
"""

from __future__ import annotations

import sys
from typing import Protocol

from .common import PrinterError, plain

__all__ = ["Winspool", "SpoolerApi", "SpoolerFailure", "send_raw_job", "enum_printers"]

ERROR_INVALID_PRINTER_NAME = 1801
ERROR_ACCESS_DENIED = 5
_WORDS = {
    ERROR_INVALID_PRINTER_NAME: "Windows has no printer with that name",
    ERROR_ACCESS_DENIED: "Windows refused access to that printer",
    1722: "the print spooler is not running",  # RPC_S_SERVER_UNAVAILABLE
    1797: "the printer's driver is unknown",  # ERROR_UNKNOWN_PRINTER_DRIVER
    1804: "the printer does not accept raw data",  # ERROR_INVALID_DATATYPE
}


class SpoolerFailure(Exception):
    """A winspool call returned failure; ``code`` is GetLastError()."""

    def __init__(self, call: str, code: int) -> None:
        super().__init__(f"{call} failed ({code})")
        self.call, self.code = call, code


class SpoolerApi(Protocol):
    def open_printer(self, name: str) -> int: ...
    def start_doc(self, handle: int, doc_name: str, datatype: str) -> int: ...
    def start_page(self, handle: int) -> None: ...
    def write(self, handle: int, data: bytes) -> int: ...
    def end_page(self, handle: int) -> None: ...
    def end_doc(self, handle: int) -> None: ...
    def close_printer(self, handle: int) -> None: ...


def send_raw_job(name: str, data: bytes, *, title: str, api: SpoolerApi | None = None) -> int:
    """Spool ``data`` unchanged as one RAW job on printer ``name``; returns the job id."""
    spooler = api if api is not None else Winspool()
    where = f"windows://{name}"
    try:
        handle = spooler.open_printer(name)
    except SpoolerFailure as exc:
        raise PrinterError(f"{where}: {_words(exc)}. Nothing was sent.") from None
    job = 0
    try:
        job = spooler.start_doc(handle, title, "RAW")
        spooler.start_page(handle)
        written = 0
        view = memoryview(data)
        while written < len(data):
            n = spooler.write(handle, bytes(view[written:]))
            if n <= 0:
                raise SpoolerFailure("WritePrinter", 0)
            written += n
        spooler.end_page(handle)
        spooler.end_doc(handle)
        job_done = True
    except SpoolerFailure as exc:
        job_done = False
        failure = exc
    finally:
        try:
            spooler.close_printer(handle)
        except SpoolerFailure:
            pass
    if not job_done:
        started = ("the job was started but not finished: check the Windows print queue before reprinting"
                   if job else "nothing was sent")
        raise PrinterError(f"{where}: {_words(failure)} ({failure.call}); {started}.")
    return job


def _words(exc: SpoolerFailure) -> str:
    return _WORDS.get(exc.code, f"the spooler refused ({exc.call}, error {exc.code})")


class Winspool:
    """The real spooler, through ctypes (Windows only)."""

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise PrinterError("windows:// printers exist only on Windows. Nothing was sent.")
        import ctypes
        from ctypes import wintypes

        self._ct, self._wt = ctypes, wintypes
        self._dll = ctypes.WinDLL("winspool.drv", use_last_error=True)

        class DOC_INFO_1W(ctypes.Structure):
            _fields_ = [("pDocName", wintypes.LPWSTR), ("pOutputFile", wintypes.LPWSTR), ("pDatatype", wintypes.LPWSTR)]

        self._doc_info = DOC_INFO_1W
        d = self._dll
        d.OpenPrinterW.argtypes = [wintypes.LPWSTR, ctypes.POINTER(wintypes.HANDLE), ctypes.c_void_p]
        d.StartDocPrinterW.argtypes = [wintypes.HANDLE, wintypes.DWORD, ctypes.POINTER(DOC_INFO_1W)]
        d.StartDocPrinterW.restype = wintypes.DWORD
        d.WritePrinter.argtypes = [wintypes.HANDLE, ctypes.c_void_p, wintypes.DWORD, ctypes.POINTER(wintypes.DWORD)]
        for fn in ("StartPagePrinter", "EndPagePrinter", "EndDocPrinter", "ClosePrinter"):
            getattr(d, fn).argtypes = [wintypes.HANDLE]
        for fn in ("OpenPrinterW", "WritePrinter", "StartPagePrinter", "EndPagePrinter", "EndDocPrinter", "ClosePrinter"):
            getattr(d, fn).restype = wintypes.BOOL

    def _check(self, ok: int, call: str) -> None:
        if not ok:
            raise SpoolerFailure(call, self._ct.get_last_error())

    def open_printer(self, name: str) -> int:
        handle = self._wt.HANDLE()
        self._check(self._dll.OpenPrinterW(name, self._ct.byref(handle), None), "OpenPrinterW")
        return handle.value

    def start_doc(self, handle: int, doc_name: str, datatype: str) -> int:
        info = self._doc_info(doc_name, None, datatype)
        job = self._dll.StartDocPrinterW(handle, 1, self._ct.byref(info))
        self._check(job, "StartDocPrinterW")
        return int(job)

    def start_page(self, handle: int) -> None:
        self._check(self._dll.StartPagePrinter(handle), "StartPagePrinter")

    def write(self, handle: int, data: bytes) -> int:
        done = self._wt.DWORD(0)
        buf = self._ct.create_string_buffer(data, len(data))
        self._check(self._dll.WritePrinter(handle, buf, len(data), self._ct.byref(done)), "WritePrinter")
        return done.value

    def end_page(self, handle: int) -> None:
        self._check(self._dll.EndPagePrinter(handle), "EndPagePrinter")

    def end_doc(self, handle: int) -> None:
        self._check(self._dll.EndDocPrinter(handle), "EndDocPrinter")

    def close_printer(self, handle: int) -> None:
        self._check(self._dll.ClosePrinter(handle), "ClosePrinter")


def enum_printers() -> tuple[list[str], str | None]:
    """Local and connected printers' names, and the default printer's name (Windows only)."""
    if sys.platform != "win32":
        return [], None
    import ctypes
    from ctypes import wintypes

    dll = ctypes.WinDLL("winspool.drv", use_last_error=True)

    class PRINTER_INFO_4W(ctypes.Structure):
        _fields_ = [("pPrinterName", wintypes.LPWSTR), ("pServerName", wintypes.LPWSTR), ("Attributes", wintypes.DWORD)]

    flags = 0x2 | 0x4  # PRINTER_ENUM_LOCAL | PRINTER_ENUM_CONNECTIONS
    needed, count = wintypes.DWORD(0), wintypes.DWORD(0)
    dll.EnumPrintersW(flags, None, 4, None, 0, ctypes.byref(needed), ctypes.byref(count))
    names: list[str] = []
    if needed.value:
        buf = (ctypes.c_byte * needed.value)()
        if dll.EnumPrintersW(flags, None, 4, buf, needed, ctypes.byref(needed), ctypes.byref(count)):
            infos = ctypes.cast(buf, ctypes.POINTER(PRINTER_INFO_4W))
            names = [plain(infos[i].pPrinterName, 255) for i in range(count.value) if infos[i].pPrinterName]
    size = wintypes.DWORD(0)
    dll.GetDefaultPrinterW(None, ctypes.byref(size))
    default = None
    if size.value:
        text = ctypes.create_unicode_buffer(size.value)
        if dll.GetDefaultPrinterW(text, ctypes.byref(size)):
            default = text.value
    return names, default
