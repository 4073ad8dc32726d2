"""How scan results are put into words and times, once, for the CLI, the result panel, the lists and the history.

Qt-free. Everything here returns plain text: a widget that shows it must show it as plain text
(server and scan text may contain HTML; see desk-guide.md, rules of trust).
"""

from __future__ import annotations

from datetime import datetime

SHOWN_SCAN_MAX = 40


def service_text(carrier: str | None, service: str | None) -> str:
    """"Carrier X Next Day Super", without repeating the carrier when the service name already starts with it."""
    carrier = (carrier or "").strip()
    service = (service or "").strip()
    if carrier and service.lower().startswith(carrier.lower()):
        return service
    return " ".join(part for part in (carrier, service) if part)


def local_time(when: datetime | None, *, now: datetime | None = None, seconds: bool = False) -> str:
    """Local clock time, with the date when it is not today: "14:02" or "28 Nov 14:02" ("" for None)."""
    if when is None:
        return ""
    local = when.astimezone() if when.tzinfo else when
    today = (now.astimezone(local.tzinfo) if now is not None and now.tzinfo else now or datetime.now(local.tzinfo))
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if local.date() == today.date():
        return clock
    if local.year != today.year:
        return f"{local.day} {local.strftime('%b %Y')} {clock}"
    return f"{local.day} {local.strftime('%b')} {clock}"


def full_local_time(when: datetime | None) -> str:
    """Sortable local date and time for tables and exports: "2026-11-28 14:02:09"."""
    if when is None:
        return ""
    local = when.astimezone() if when.tzinfo else when
    return local.strftime("%Y-%m-%d %H:%M:%S")


def shown_scan(raw: str, limit: int = SHOWN_SCAN_MAX) -> str:
    """What a scan that is not a reference looked like, quoted, control characters as "·", cut to ``limit``."""
    text = "".join(ch if ch.isprintable() else "·" for ch in (raw or "").strip())
    if not text:
        return ""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


def shown_reference(reference: str | None, raw: str) -> str:
    """The reference when the scan was understood, otherwise the quoted scan."""
    return reference or shown_scan(raw)


def duration_text(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def error_words(exc: BaseException) -> str:
    """Plain words for an error: :func:`errors.explain`, honouring the plain ``message`` that API errors and
    ``DeskNotReady`` carry even where they do not (yet) derive from ``DeskError``."""
    from .errors import DeskError, explain

    message = getattr(exc, "message", None)
    if not isinstance(exc, DeskError) and isinstance(message, str) and message:
        return message
    return explain(exc)


def plain_tooltip(text: str | None) -> str | None:
    """Text for a Qt tooltip, which renders anything that looks like HTML: escaped, and wrapped in a
    paragraph so it is always taken as (harmless) rich text. None for no tooltip."""
    if not text:
        return None
    import html

    escaped = html.escape(text).replace("\n", "<br>")
    return f"<p style='white-space:pre-wrap'>{escaped}</p>"
