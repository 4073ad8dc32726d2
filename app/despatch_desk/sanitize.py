"""Making server text safe to show and store: bounded JSON, cut strings, no control or bidi characters,
and the API key masked in every string that came from an answer (gateways echo headers).

Everything the client parses goes through :func:`load_json` (or :func:`clean_text` for headers and
non-JSON excerpts) with the client's :class:`KeyMask`, so no later layer can forget.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any
from urllib.parse import quote, quote_plus

MAX_TEXT = 1000   # characters kept of any one server string
MAX_DEPTH = 32    # JSON nesting accepted (SortedPRO's answers nest 4 deep)
MASK = "••••"

# C0 and C1 controls become spaces (they separate words); zero-width and bidi overrides vanish.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]+")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# A JSON string, closed or running to the end (an unclosed one must not make the scan quadratic).
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.S)
_BRACKETS = str.maketrans({"[": "\x01", "{": "\x01", "]": "\x02", "}": "\x02"})
_KEEP_BRACKETS = re.compile("[^\x01\x02]+")


class KeyMask:
    """Replaces the key wherever it appears: as is, URL-encoded, in any case, and any piece of it of
    eight characters or more (an echo cut by a length limit or split across fields still leaks)."""

    PIECE = 8

    def __init__(self, secret: str | None) -> None:
        forms: set[str] = set()
        if secret and len(secret) >= 4:  # shorter "keys" exist only in tests; masking them would eat words
            forms.update({secret, quote(secret, safe=""), quote_plus(secret)})
            if len(secret) > self.PIECE:
                forms.update(secret[i:i + self.PIECE] for i in range(len(secret) - self.PIECE + 1))
        ordered = sorted(forms, key=len, reverse=True)  # the whole key first, then its pieces
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered), re.I) if ordered else None
        self._shortest = min((len(f) for f in ordered), default=0)

    def __call__(self, text: str) -> str:
        if self._pattern is None or len(text) < self._shortest:  # too short to hold any form of the key
            return text
        masked = self._pattern.sub(MASK, text)
        # Adjacent pieces leave MASKs side by side: one is enough.
        while MASK + MASK in masked:
            masked = masked.replace(MASK + MASK, MASK)
        return masked


NO_MASK = KeyMask(None)


def clean_text(value: str, mask: KeyMask = NO_MASK, limit: int = MAX_TEXT) -> str:
    """A server string fit to show and store: visible characters only, key masked, at most ``limit``."""
    text = value[: limit * 4]  # bound the work on a megabyte-long string before anything else
    if not text.isprintable():  # controls, zero-width and bidi characters are all non-printable
        text = _INVISIBLE.sub("", _CONTROLS.sub(" ", text))
    text = mask(text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text.strip()


def clean_tree(data: Any, mask: KeyMask = NO_MASK, keep: frozenset[str] = frozenset()) -> Any:
    """Every string (keys too) of parsed JSON through :func:`clean_text`. Depth is already bounded.

    ``keep``: lower-case names whose values are data, not text (a label's base64 ``File``): left whole."""
    if isinstance(data, str):
        return clean_text(data, mask)
    if isinstance(data, list):
        return [clean_tree(item, mask, keep) for item in data]
    if isinstance(data, dict):
        return {clean_text(str(k), mask, 200): v if str(k).lower() in keep else clean_tree(v, mask, keep)
                for k, v in data.items()}
    return data


def json_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings; linear time whatever the input."""
    outside = _JSON_STRING.sub("", text)
    if outside.count("[") + outside.count("{") <= MAX_DEPTH:
        return outside.count("[") + outside.count("{")
    marks = _KEEP_BRACKETS.sub("", outside.translate(_BRACKETS))
    return max(accumulate(1 if m == "\x01" else -1 for m in marks), default=0)


def load_json(body: bytes, mask: KeyMask = NO_MASK, keep: frozenset[str] = frozenset()) -> Any:
    """Parse an answer: ValueError for anything that is not JSON or nests deeper than MAX_DEPTH."""
    try:
        text = body.decode(json.detect_encoding(body))
    except (UnicodeDecodeError, LookupError):
        raise ValueError("not text") from None
    if json_depth(text) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(text)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ValueError("nested too deep") from None
    return clean_tree(data, mask, keep)
