"""Code 128 (code set B) encoding: symbol values with the check symbol, bar modules and bar runs.

Stdlib only; used by the printable sheets and (through a re-export) by the sandbox's labels.

API:
  ``encode_b(text) -> list[int]``   start B, one value per character, check symbol, stop
  ``modules(text) -> str``          '1' bar / '0' space per module, no quiet zones
  ``module_count(text) -> int``     ``len(modules(text))`` without building it
  ``bar_runs(text) -> list[(start, width)]``  every bar in modules, for drawing rectangles
  ``can_encode(text) -> bool``      every character is printable ASCII (32-126)
  ``BarcodeTextError``              a ``DeskError`` and a ``ValueError``: a character set B has no symbol for
"""

from __future__ import annotations

from ..errors import DeskError

__all__ = [
    "PATTERNS", "START_B", "STOP", "QUIET_ZONE_MODULES", "BarcodeTextError",
    "can_encode", "encode_b", "modules", "module_count", "bar_runs",
]

# Bar/space widths (in modules) of the 107 symbols, values 0..106. 106 is the stop symbol
# (7 elements, 13 modules, the trailing 2-module bar is the termination bar).
PATTERNS: tuple[str, ...] = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
)
START_B = 104
STOP = 106
QUIET_ZONE_MODULES = 10  # the standard's minimum each side


class BarcodeTextError(DeskError, ValueError):
    """The text has a character Code 128 set B cannot carry (only printable ASCII)."""


def can_encode(text: str) -> bool:
    return all(32 <= ord(ch) <= 126 for ch in text)


def encode_b(text: str) -> list[int]:
    """Symbol values for ``text`` in code set B: start, data, check symbol, stop."""
    values = [START_B]
    for ch in text:
        code = ord(ch)
        if not 32 <= code <= 126:
            raise BarcodeTextError(
                f"The character {ch!r} cannot be put in a Code 128 barcode (only plain ASCII letters, "
                "digits and punctuation can)."
            )
        values.append(code - 32)
    checksum = START_B + sum(i * v for i, v in enumerate(values[1:], start=1))
    values.append(checksum % 103)
    values.append(STOP)
    return values


def module_count(text: str) -> int:
    """Modules of the symbol without quiet zones: 11 per symbol (start, data, check) + 13 for the stop."""
    encode_b(text)  # validates
    return 11 * (len(text) + 2) + 13


def modules(text: str) -> str:
    """The barcode as a string of '1' (bar) and '0' (space) modules, without quiet zones."""
    out: list[str] = []
    for value in encode_b(text):
        for i, width in enumerate(PATTERNS[value]):
            out.append(("1" if i % 2 == 0 else "0") * int(width))
    return "".join(out)


def bar_runs(text: str) -> list[tuple[int, int]]:
    """(start module, width in modules) of every bar, for drawing rectangles."""
    runs: list[tuple[int, int]] = []
    pos = 0
    for value in encode_b(text):
        for i, width in enumerate(PATTERNS[value]):
            w = int(width)
            if i % 2 == 0:
                runs.append((pos, w))
            pos += w
    return runs
