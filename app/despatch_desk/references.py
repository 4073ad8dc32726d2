"""Turn raw scanner text into a SortedPRO consignment reference, or say plainly why not.

Scanners type dirty text: spaces around it, lower case, control characters (GS separators),
AIM symbology prefixes such as ``]C0``, dashes in the wrong code page. Everything here is
pure and fast: it runs on every keystroke-terminated scan before any network call.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

REFERENCE_RE = re.compile(r"EC-[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{3}")
EXAMPLE_REFERENCE = "EC-000-05B-MMA"
MAX_SCAN_LENGTH = 200  # anything longer is not a single barcode read

# AIM symbology identifier: "]" + code character + modifier digit/letter, e.g. ]C0, ]Q3, ]d2.
_AIM_PREFIX_RE = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
# Characters a scanner or keyboard layout produces where a hyphen was meant:
# Unicode dashes, and "ß"/"'" which a German/Swiss layout types for the US "-" key.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d_ß'"
_DASH_TABLE = str.maketrans({c: "-" for c in _DASHES})
# A scanner set to US English on a German or Swiss (QWERTZ) keyboard types "ß" or "'" for "-" and also
# swaps Y and Z: EC-000-DSK-00Y arrives as ECß000ßDSKß00Z, a *different valid* reference. Where the
# hyphens show that layout, the letters are swapped back too.
_QWERTZ_DASHES = "ß'"
_QWERTZ_TABLE = str.maketrans("YZyz", "ZYzy")


class InvalidReference(ValueError):
    """The scan is not a consignment reference; ``message`` is for the operator."""

    def __init__(self, raw: str, understood: str, message: str) -> None:
        super().__init__(message)
        self.raw = raw
        self.understood = understood
        self.message = message


@dataclass(frozen=True, slots=True)
class ParsedScan:
    raw: str
    reference: str


def normalise_scan(raw: str) -> str:
    """What the scanner meant: no AIM prefix, control characters, blanks or lower case."""
    text = unicodedata.normalize("NFKC", raw[: MAX_SCAN_LENGTH * 2])
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = text.strip()
    text = _AIM_PREFIX_RE.sub("", text, count=1)
    if text[:2].upper() == "EC" and any(ch in text for ch in _QWERTZ_DASHES):  # references only, not commands
        text = text.translate(_QWERTZ_TABLE)
    text = text.translate(_DASH_TABLE)
    text = "".join(text.split())  # spaces inside a reference are scanner noise
    text = unicodedata.normalize("NFKC", text.upper())  # upper() can decompose (ǰ → J̌)
    # A reference scanned or typed without its hyphens: EC00005BMMA -> EC-000-05B-MMA.
    if len(text) == 11 and text.startswith("EC") and text[2:].isalnum():
        text = f"EC-{text[2:5]}-{text[5:8]}-{text[8:11]}"
    return text


def parse_reference(raw: str) -> ParsedScan:
    """Normalise ``raw`` and check it is ``EC-xxx-xxx-xxx``; raise :class:`InvalidReference`."""
    if len(raw) > MAX_SCAN_LENGTH:
        raise InvalidReference(
            raw[:40], raw[:40], f"That scan is {len(raw)} characters long: not a consignment reference."
        )
    text = normalise_scan(raw)
    if REFERENCE_RE.fullmatch(text):
        return ParsedScan(raw=raw, reference=text)
    raise InvalidReference(raw, text, _why_invalid(text))


def _why_invalid(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    expected = f"a consignment reference looks like {EXAMPLE_REFERENCE}"
    if not text:
        return "The scan was empty. Scan the consignment barcode again."
    if not text.startswith("EC-") and not text.startswith("EC"):
        return f"'{shown}' is not a SortedPRO consignment reference: {expected}."
    odd = sorted({ch for ch in text if not (ch.isascii() and (ch.isalnum() or ch == "-"))})
    if odd:
        listed = " ".join(repr(ch) for ch in odd[:5])
        return (
            f"'{shown}' has characters a reference never has ({listed}); "
            f"check the scanner's keyboard layout. {expected[0].upper()}{expected[1:]}."
        )
    wanted = len(EXAMPLE_REFERENCE)
    if len(text) < wanted:
        return f"'{shown}' is {wanted - len(text)} character(s) short: a character was probably lost. Scan again."
    if len(text) > wanted:
        return f"'{shown}' is {len(text) - wanted} character(s) too long: {expected}."
    return f"'{shown}' is not in the form EC-xxx-xxx-xxx: {expected}."
