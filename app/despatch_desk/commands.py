"""Command barcodes: a scan that starts with ``DD:`` is an instruction to the desk, not a reference.

A supervisor prints a sheet of them (``sheets.command_sheet``) and tapes it to the bench; the
operator scans one to switch group or undo without touching the mouse. No Qt here.

Texts (what a barcode carries; case, AIM prefix, spaces and control characters do not matter)::

    DD:GROUP:<code>       switch to a configured service group (``DD:GROUP:NEXTDAY`` -> ``nextDay``)
    DD:UNDO               undo (deallocate) the last allocation
    DD:REPRINT            reprint the last label
    DD:ACK                acknowledge the problem on screen
    DD:RECHECK            re-check the in-doubt queue
    DD:AUTOPRINT:ON|OFF|TOGGLE   switch automatic label printing

Why ``DD:`` can never be confused with a reference: after the scan normaliser
(``references.normalise_scan``, which this module uses too, so both see the same dirt removed) a
reference starts with ``EC``, a command with ``DD``; and ``:`` is a character a reference never has.
A group code outside printable ASCII (or holding ``%``) is percent-encoded as UTF-8 in the barcode,
which is safe because a group code never contains ``%`` and Code 128 set B carries only ASCII.
A scanner set up for a US keyboard on a German (QWERTZ) one types ``DDÖGROUPÖnextDaz``: a ``Ö``
after ``DD`` is read as that layout (``Ö`` -> ``:``, ``ß`` -> ``-``, ``?`` -> ``_``, Y <-> Z).

API (the scan dispatcher calls ``is_command`` first, then ``parse_command``)::

    is_command(text) -> bool                       cheap: does it carry the prefix?
    parse_command(text, *, groups) -> Command | None   None: not a command, treat as a reference;
                                                   raises UnknownCommand (a DeskError) otherwise
    encode(command) -> str                         the text for a barcode; parse_command(encode(c)) == c
    caption(command, group_names) -> str           "Switch to Heavy (heavy)", "Undo last allocation", ...
    sheet_commands(groups) -> list[Command]        every group, then every command: what a sheet shows
    COMMANDS: tuple[CommandSpec, ...]              the registry; adding a command is one entry here

``groups`` is the configured codes (``[g.code for g in settings.service_groups]``); ``group_names``
maps code -> display name. Group codes are matched case-insensitively, and with the dash look-alikes
the reference normaliser folds; a code that matches two configured groups is refused, never guessed.
"""

from __future__ import annotations

import enum
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .errors import EXIT_USAGE, DeskError
from .references import MAX_SCAN_LENGTH, normalise_scan

__all__ = [
    "PREFIX", "CommandKind", "Command", "CommandSpec", "COMMANDS", "UnknownCommand", "AUTOPRINT_CHOICES",
    "is_command", "parse_command", "encode", "caption", "sheet_commands", "spec_for",
]

PREFIX = "DD:"
AUTOPRINT_CHOICES = ("ON", "OFF", "TOGGLE")
# The German layout's "Ö" sits where the US ":" is; its evidence turns on the whole table below.
_QWERTZ_PREFIX = "DD\u00d6"
_QWERTZ_FROM_US = str.maketrans({"\u00d6": ":", "\u00df": "-", "?": "_", "Y": "Z", "Z": "Y"})
# Characters that stay readable in a barcode text; anything else in a group code is %XX-encoded.
_SAFE_IN_CODE = "".join(chr(c) for c in range(33, 127) if chr(c) not in "%")
_SHOWN = 40  # characters of a refused scan repeated back to the operator


class CommandKind(enum.StrEnum):
    GROUP = "GROUP"
    UNDO = "UNDO"
    REPRINT = "REPRINT"
    ACK = "ACK"
    RECHECK = "RECHECK"
    AUTOPRINT = "AUTOPRINT"


@dataclass(frozen=True, slots=True)
class Command:
    """``argument`` is the configured group code for GROUP, one of AUTOPRINT_CHOICES for AUTOPRINT, else None."""

    kind: CommandKind
    argument: str | None = None


class UnknownCommand(DeskError):
    """A ``DD:`` text that names no command (or no configured group); ``understood`` is the cleaned scan."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, understood: str) -> None:
        super().__init__(message)
        self.understood = understood


class Argument(enum.Enum):
    NONE = "none"
    GROUP = "group"
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One registry entry: the word after ``DD:``, what follows it, and how a sheet and a help list name it."""

    kind: CommandKind
    argument: Argument
    caption: Callable[[str | None, str], str]  # (argument, group display name) -> caption
    help: str
    # No defaults on purpose: a scan that lost ":OFF" must not turn into a toggle.
    choices: tuple[str, ...] = ()

    @property
    def word(self) -> str:
        return self.kind.value


def _group_caption(code: str | None, name: str) -> str:
    name = name.strip()
    return f"Switch to {name} ({code})" if name and name != code else f"Switch to {code}"


def _autoprint_caption(choice: str | None, _name: str) -> str:
    return {"ON": "Turn auto-print on", "OFF": "Turn auto-print off"}.get(choice or "", "Auto-print on/off")


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(CommandKind.GROUP, Argument.GROUP, _group_caption,
                "Allocate the next scans with this service group."),
    CommandSpec(CommandKind.UNDO, Argument.NONE, lambda _a, _n: "Undo last allocation",
                "Deallocate the consignment this desk allocated last."),
    CommandSpec(CommandKind.REPRINT, Argument.NONE, lambda _a, _n: "Reprint last label",
                "Print the label of the last allocation again."),
    CommandSpec(CommandKind.ACK, Argument.NONE, lambda _a, _n: "Acknowledge problem",
                "Clear the problem on screen, as Esc does."),
    CommandSpec(CommandKind.RECHECK, Argument.NONE, lambda _a, _n: "Re-check in-doubt scans",
                "Look up every in-doubt scan at SortedPRO (never sends an allocation)."),
    CommandSpec(CommandKind.AUTOPRINT, Argument.CHOICE, _autoprint_caption,
                "Switch automatic label printing after each allocation.",
                choices=AUTOPRINT_CHOICES),
)
_BY_WORD: dict[str, CommandSpec] = {spec.word: spec for spec in COMMANDS}
assert set(_BY_WORD) == {k.value for k in CommandKind}, "every CommandKind needs one registry entry"


def spec_for(kind: CommandKind) -> CommandSpec:
    return _BY_WORD[CommandKind(kind).value]


def _clean(text: str) -> str:
    """The scan as the reference normaliser sees it, with a QWERTZ-typed prefix translated back."""
    cleaned = normalise_scan(text)
    if cleaned.startswith(_QWERTZ_PREFIX):
        cleaned = cleaned.translate(_QWERTZ_FROM_US)
    return cleaned


def is_command(text: str) -> bool:
    """True when ``text`` carries the command prefix (then it is never a consignment reference)."""
    if not isinstance(text, str):
        return False
    return _clean(text[: MAX_SCAN_LENGTH * 2]).startswith(PREFIX)


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _fold(code: str) -> str:
    """What survives scanning: case, dash look-alikes and spaces do not count."""
    return normalise_scan(code).casefold()


def _resolve_group(argument: str, groups: Sequence[str], understood: str) -> str:
    try:
        wanted = urllib.parse.unquote(argument, errors="strict")
    except UnicodeDecodeError:
        wanted = argument
    matches = [code for code in dict.fromkeys(groups) if _fold(code) == _fold(wanted)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UnknownCommand(
            f"{_shown(understood)} matches more than one service group ({', '.join(matches[:4])}); "
            "nothing was done. Give the groups codes that differ by more than case or dashes.",
            understood=understood)
    have = ", ".join(_shown(code) for code in list(groups)[:6]) or "none"
    more = ", ..." if len(groups) > 6 else ""
    raise UnknownCommand(
        f"{_shown(understood)} names a service group this desk does not have (it has {have}{more}); "
        "nothing was done.", understood=understood)


def parse_command(text: str, *, groups: Sequence[str]) -> Command | None:
    """The command in a scan, or None when the scan is not a command at all (then it may be a reference).

    Raises :class:`UnknownCommand` with plain words for a ``DD:`` text the desk cannot act on."""
    if not isinstance(text, str):
        return None
    if len(text) > MAX_SCAN_LENGTH * 2:
        if is_command(text):
            raise UnknownCommand(
                f"That scan is {len(text)} characters long: not a command this desk knows; nothing was done.",
                understood=_clean(text[:_SHOWN]))
        return None
    understood = _clean(text)
    if not understood.startswith(PREFIX):
        return None
    word, _, argument = understood[len(PREFIX):].partition(":")
    spec = _BY_WORD.get(word)
    if spec is None:
        raise UnknownCommand(f"{_shown(understood)} is not a command this desk knows; nothing was done.",
                             understood=understood)
    if spec.argument is Argument.NONE:
        if argument or understood.endswith(":"):
            raise UnknownCommand(f"{_shown(understood)} is not a command this desk knows ({PREFIX}{spec.word} "
                                 "takes nothing after it); nothing was done.", understood=understood)
        return Command(spec.kind)
    if spec.argument is Argument.CHOICE:
        choice = argument
        if choice not in spec.choices:
            raise UnknownCommand(
                f"{_shown(understood)} is not a command this desk knows (after {PREFIX}{spec.word}: comes "
                f"{' or '.join(spec.choices)}); nothing was done.", understood=understood)
        return Command(spec.kind, choice)
    if not argument:
        raise UnknownCommand(f"{_shown(understood)} names no service group; nothing was done.",
                             understood=understood)
    return Command(spec.kind, _resolve_group(argument, groups, understood))


def encode(command: Command) -> str:
    """The barcode text for ``command`` (printable ASCII, so Code 128 set B carries it)."""
    spec = spec_for(command.kind)
    if spec.argument is Argument.NONE:
        return PREFIX + spec.word
    if spec.argument is Argument.CHOICE:
        choice = (command.argument or "").upper()
        if choice not in spec.choices:
            raise DeskError(f"{spec.word} takes {' or '.join(spec.choices)}, not '{_shown(str(command.argument))}'.")
        return f"{PREFIX}{spec.word}:{choice}"
    code = command.argument or ""
    if not code.strip():
        raise DeskError("A group command needs a service group code.")
    return f"{PREFIX}{spec.word}:{urllib.parse.quote(code, safe=_SAFE_IN_CODE)}"


def caption(command: Command, group_names: Mapping[str, str] | None = None) -> str:
    """What a sheet prints above the barcode and what the window says after the scan."""
    spec = spec_for(command.kind)
    name = (group_names or {}).get(command.argument or "", "") if spec.argument is Argument.GROUP else ""
    return spec.caption(command.argument, name or "")


def sheet_commands(groups: Sequence[str]) -> list[Command]:
    """Every configured group's switch, then every other command (auto-print on, off and toggle)."""
    out = [Command(CommandKind.GROUP, code) for code in dict.fromkeys(groups) if code.strip()]
    for spec in COMMANDS:
        if spec.argument is Argument.NONE:
            out.append(Command(spec.kind))
        elif spec.argument is Argument.CHOICE:
            out += [Command(spec.kind, choice) for choice in spec.choices]
    return out

