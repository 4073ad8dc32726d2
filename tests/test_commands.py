"""Command barcodes: the DD: texts survive scanner dirt, round trip, and never pass for references."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from despatch_desk import commands
from despatch_desk.commands import Command, CommandKind, UnknownCommand, caption, encode, is_command, parse_command
from despatch_desk.errors import EXIT_USAGE, DeskError, explain
from despatch_desk.references import InvalidReference, normalise_scan, parse_reference
from despatch_desk.sheets import code128

GROUPS = ["nextDay", "economy", "heavy", "valuableGoods", "next-day-2", "int_l", "café"]
NAMES = {"heavy": "Heavy", "nextDay": "Next day", "café": "Café"}
FUZZ = settings(max_examples=300, deadline=None)

# What a US-configured scanner types on a German (QWERTZ) keyboard layout.
US_TO_QWERTZ = str.maketrans({":": "Ö", "-": "ß", "_": "?", "y": "z", "z": "y", "Y": "Z", "Z": "Y"})


def dirty(text: str) -> str:
    """Scanner dirt the reference normaliser removes: AIM prefix, case, blanks, GS, CR LF."""
    return f"  ]C0{text.lower()}\x1d\r\n"


@pytest.mark.parametrize(
    ("scan", "expected"),
    [
        ("DD:UNDO", Command(CommandKind.UNDO)),
        ("dd:undo", Command(CommandKind.UNDO)),
        ("  ]C0DD:REPRINT\r\n", Command(CommandKind.REPRINT)),
        ("]c0 dd:ack \t", Command(CommandKind.ACK)),
        ("\x1dDD:RECHECK\x1d", Command(CommandKind.RECHECK)),
        ("DD:AUTOPRINT:toggle", Command(CommandKind.AUTOPRINT, "TOGGLE")),
        ("dd:autoprint:on", Command(CommandKind.AUTOPRINT, "ON")),
        ("DD:AUTOPRINT:OFF", Command(CommandKind.AUTOPRINT, "OFF")),
        ("DD:GROUP:NEXTDAY", Command(CommandKind.GROUP, "nextDay")),
        ("dd:group:valuablegoods", Command(CommandKind.GROUP, "valuableGoods")),
        ("ＤＤ：ＧＲＯＵＰ：ｈｅａｖｙ", Command(CommandKind.GROUP, "heavy")),  # full-width, as an IME types
        ("DD:GROUP:NEXT\u2013DAY\u20132", Command(CommandKind.GROUP, "next-day-2")),  # en dash for the hyphen
        ("DD:GROUP:NEXTßDAYß2", Command(CommandKind.GROUP, "next-day-2")),  # German layout's key for "-"
        ("DD:GROUP:int-l", Command(CommandKind.GROUP, "int_l")),  # the normaliser folds "_" with "-"
        ("DD:GROUP:caf%c3%a9", Command(CommandKind.GROUP, "café")),  # non-ASCII travels percent-encoded
        ("DDÖGROUPÖNEXTDAZ", Command(CommandKind.GROUP, "nextDay")),  # US scanner on a QWERTZ layout
        ("ddöautoprintöoff", Command(CommandKind.AUTOPRINT, "OFF")),
    ],
)
def test_parse_survives_scanner_dirt(scan, expected):
    assert is_command(scan)
    assert parse_command(scan, groups=GROUPS) == expected


@pytest.mark.parametrize("scan", ["EC-000-DSK-001", "ec-000-dsk-001", "]C0EC00005BMMA", "", "   ", "hello",
                                  "D", "DD", "DD-UNDO", "DDUNDO", "XDD:UNDO", "EC-DD:-UND-O00"])
def test_not_a_command_is_none(scan):
    assert not is_command(scan)
    assert parse_command(scan, groups=GROUPS) is None


@pytest.mark.parametrize(
    ("scan", "words"),
    [
        ("DD:FOO", "DD:FOO is not a command this desk knows; nothing was done"),
        ("dd:undo:now", "DD:UNDO:NOW is not a command this desk knows"),
        ("DD:UNDO:", "DD:UNDO: is not a command this desk knows"),
        ("DD:UND", "DD:UND is not a command this desk knows"),  # a character lost on the way
        ("DD:", "DD: is not a command this desk knows"),
        ("DD:AUTOPRINT", "comes ON or OFF or TOGGLE"),  # no default: a lost ":OFF" must not toggle
        ("DD:AUTOPRINT:", "comes ON or OFF or TOGGLE"),
        ("DD:AUTOPRINT:MAYBE", "comes ON or OFF or TOGGLE"),
        ("DD:GROUP:", "names no service group; nothing was done"),
        ("DD:GROUP:NEXTDA", "DD:GROUP:NEXTDA names a service group this desk does not have (it has nextDay,"),
        ("DD:GROUP:%FF%FE", "names a service group this desk does not have"),
        ("DD:" + "X" * 500, "characters long: not a command this desk knows; nothing was done"),
    ],
)
def test_unknown_commands_get_plain_words(scan, words):
    with pytest.raises(UnknownCommand) as caught:
        parse_command(scan, groups=GROUPS)
    error = caught.value
    assert isinstance(error, DeskError) and error.exit_code == EXIT_USAGE
    assert words in error.message and explain(error) == error.message
    assert "Traceback" not in error.message and len(error.message) < 300


def test_unknown_group_message_is_cut_and_clean():
    scan = "DD:GROUP:" + "\u202e" + "A" * 150 + "\x07"
    with pytest.raises(UnknownCommand) as caught:
        parse_command(scan, groups=[f"g{i}" for i in range(20)])
    message = caught.value.message
    assert "\u202e" not in message and "\x07" not in message
    assert "AAA..." in message and "g5, ..." in message and "g6" not in message


def test_group_that_matches_two_configured_codes_is_refused_not_guessed():
    with pytest.raises(UnknownCommand, match="more than one service group"):
        parse_command("DD:GROUP:NEXT-DAY", groups=["next-day", "next_day"])


def test_round_trip_for_every_command_and_group():
    sheet = commands.sheet_commands(GROUPS)
    assert [c.argument for c in sheet if c.kind is CommandKind.GROUP] == GROUPS
    assert {c.kind for c in sheet} == set(CommandKind)
    assert [c.argument for c in sheet if c.kind is CommandKind.AUTOPRINT] == ["ON", "OFF", "TOGGLE"]
    for command in sheet:
        text = encode(command)
        assert code128.can_encode(text), text
        assert parse_command(text, groups=GROUPS) == command
        assert parse_command(dirty(text), groups=GROUPS) == command
        with pytest.raises(InvalidReference):
            parse_reference(text)
    assert encode(Command(CommandKind.GROUP, "café")) == "DD:GROUP:caf%C3%A9"
    assert encode(Command(CommandKind.GROUP, "a%b c")) == "DD:GROUP:a%25b%20c"
    assert parse_command("DD:GROUP:a%25b%20c", groups=["a%b c"]) == Command(CommandKind.GROUP, "a%b c")


def test_encode_refuses_what_it_cannot_carry():
    with pytest.raises(DeskError, match="needs a service group code"):
        encode(Command(CommandKind.GROUP, " "))
    with pytest.raises(DeskError, match="takes ON or OFF or TOGGLE"):
        encode(Command(CommandKind.AUTOPRINT, "SOMETIMES"))
    assert encode(Command(CommandKind.AUTOPRINT, "on")) == "DD:AUTOPRINT:ON"


def test_captions():
    assert caption(Command(CommandKind.GROUP, "heavy"), NAMES) == "Switch to Heavy (heavy)"
    assert caption(Command(CommandKind.GROUP, "economy"), NAMES) == "Switch to economy"
    assert caption(Command(CommandKind.GROUP, "economy"), {"economy": "economy"}) == "Switch to economy"
    assert caption(Command(CommandKind.UNDO), NAMES) == "Undo last allocation"
    assert caption(Command(CommandKind.REPRINT)) == "Reprint last label"
    assert caption(Command(CommandKind.ACK)) == "Acknowledge problem"
    assert caption(Command(CommandKind.RECHECK)) == "Re-check in-doubt scans"
    assert caption(Command(CommandKind.AUTOPRINT, "ON")) == "Turn auto-print on"
    assert caption(Command(CommandKind.AUTOPRINT, "OFF")) == "Turn auto-print off"
    assert caption(Command(CommandKind.AUTOPRINT, "TOGGLE")) == "Auto-print on/off"


def test_registry_has_one_entry_per_kind_with_help():
    assert [spec.kind for spec in commands.COMMANDS] == list(CommandKind)
    assert all(spec.help.endswith(".") and spec.word == spec.kind.value for spec in commands.COMMANDS)


def test_is_command_is_cheap_on_huge_input():
    assert is_command("DD:UNDO" + "x" * 1_000_000)
    assert not is_command("EC" + "-" * 1_000_000)
    assert not is_command(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------ properties

_ALNUM = string.ascii_uppercase + string.digits
_chunk = st.text(_ALNUM, min_size=3, max_size=3)
references = st.builds(lambda a, b, c: f"EC-{a}-{b}-{c}", _chunk, _chunk, _chunk)
# What settings accept as a group code: one word without / ? # or %.
group_codes = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#% \t\r\n"),
                      min_size=1, max_size=30).filter(lambda c: c.strip() and normalise_scan(c))
group_lists = st.lists(group_codes, min_size=1, max_size=8, unique_by=lambda c: normalise_scan(c).casefold())


@FUZZ
@given(references, st.sampled_from(["{}", "{} ", " ]C0{}", "]E0{}\r\n", "\x1d{}\x1d"]), st.booleans())
def test_no_reference_is_a_command(reference, dirt, lower):
    scan = dirt.format(reference.lower() if lower else reference)
    assert parse_reference(scan).reference == reference
    assert not is_command(scan)
    assert parse_command(scan, groups=GROUPS) is None


@FUZZ
@given(st.text(max_size=60) | st.text("DdEeCc:-]0 \x1dÖö" + _ALNUM, max_size=30))
def test_no_text_is_both(scan):
    try:
        parse_reference(scan)
    except InvalidReference:
        is_reference = False
    else:
        is_reference = True
    if is_reference:
        assert not is_command(scan) and parse_command(scan, groups=GROUPS) is None
    try:
        command = parse_command(scan, groups=GROUPS)
    except UnknownCommand:
        command = "refused"
    assert (command is not None) == is_command(scan)
    assert not (is_reference and command is not None)


@FUZZ
@given(group_lists, st.data())
def test_every_group_round_trips_with_dirt(groups, data):
    code = data.draw(st.sampled_from(groups))
    command = Command(CommandKind.GROUP, code)
    text = encode(command)
    assert code128.can_encode(text)
    with pytest.raises(InvalidReference):
        parse_reference(text)
    assert parse_command(text, groups=groups) == command
    assert parse_command(dirty(text), groups=groups) == command


@FUZZ
@given(st.lists(st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=20), min_size=1,
                max_size=6, unique_by=lambda c: normalise_scan(c).casefold()), st.data())
def test_qwertz_layout_scans_resolve_to_the_same_group(groups, data):
    code = data.draw(st.sampled_from(groups))
    scanned = encode(Command(CommandKind.GROUP, code)).translate(US_TO_QWERTZ)
    assert is_command(scanned)
    assert parse_command(scanned, groups=groups) == Command(CommandKind.GROUP, code)
