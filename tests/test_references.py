"""Scan normalisation: dirty scanner text in, a reference or a plain-words refusal out."""

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from despatch_desk.references import InvalidReference, normalise_scan, parse_reference

ALNUM = string.ascii_uppercase + string.digits
block = st.text(alphabet=ALNUM, min_size=3, max_size=3)
references = st.builds(lambda a, b, c: f"EC-{a}-{b}-{c}", block, block, block)


@pytest.mark.parametrize(
    "raw",
    [
        "EC-000-05B-MMA",
        "  ec-000-05b-mma  ",
        "]C0EC-000-05B-MMA",
        "]Q3ec-000-05b-mma\r\n",
        "EC-000-05B-MMA\x1d",
        "\x02EC-000-05B-MMA\x03",
        "EC–000–05B–MMA",          # en dashes from a word processor
        "ECß000ß05BßMMA",          # German layout types ß for -
        "EC00005BMMA",              # hyphens lost
        "EC-000 -05B-MMA",
        "ＥＣ-０００-０５Ｂ-ＭＭＡ",     # full-width characters (IME)
    ],
)
def test_dirty_scans_are_understood(raw):
    assert parse_reference(raw).reference == "EC-000-05B-MMA"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "empty"),
        ("   \x1d ", "empty"),
        ("EC-000-05B-MM", "1 character(s) short"),
        ("EC-000-05B-MMAA", "too long"),
        ("5012345678900", "not a SortedPRO consignment reference"),
        ("EC-000-05B-MM$", "characters a reference never has"),
        ("EC-0000-5B-MMA", "not in the form"),
        ("x" * 500, "500 characters long"),
    ],
)
def test_bad_scans_are_refused_in_plain_words(raw, words):
    with pytest.raises(InvalidReference) as caught:
        parse_reference(raw)
    assert words in caught.value.message


@given(references, st.sampled_from(["", " ", "\t", "\r\n", "\x1d", "]C0", "]d2"]),
       st.sampled_from(["", " ", "\n", "\r", "\x1d\x04"]), st.booleans())
def test_wrapped_references_survive(ref, prefix, suffix, lower):
    raw = prefix + (ref.lower() if lower else ref) + suffix
    assert parse_reference(raw).reference == ref


@given(st.text(max_size=300))
def test_any_text_gives_a_reference_or_a_message(raw):
    try:
        parsed = parse_reference(raw)
    except InvalidReference as exc:
        assert exc.message and "\n" not in exc.message
    else:
        assert len(parsed.reference) == 14 and parsed.reference.startswith("EC-")


@given(st.text(max_size=100))
def test_normalise_is_idempotent(raw):
    once = normalise_scan(raw)
    assume(not once.startswith("]"))  # a second pass may strip what now looks like an AIM prefix
    assert normalise_scan(once) == once


@given(st.text(max_size=100))
def test_normalised_text_has_no_control_characters_or_blanks(raw):
    out = normalise_scan(raw)
    assert not any(ch.isspace() or ord(ch) < 32 for ch in out)


def test_a_us_scanner_on_a_qwertz_keyboard_never_yields_another_valid_reference():
    # The layout types ß for "-" and swaps Y and Z: EC-000-DSK-00Y must not become EC-000-DSK-00Z.
    us_to_qwertz = str.maketrans({"-": "ß", "Y": "Z", "Z": "Y", "y": "z", "z": "y"})
    for reference in ("EC-000-DSK-00Y", "EC-ZZZ-YYY-0Z9", "EC-000-05B-MMA"):
        assert parse_reference(reference.translate(us_to_qwertz)).reference == reference
        assert parse_reference(reference.lower().translate(us_to_qwertz)).reference == reference
    swiss = str.maketrans({"-": "'", "Y": "Z", "Z": "Y"})
    assert parse_reference("EC-000-DSK-00Y".translate(swiss)).reference == "EC-000-DSK-00Y"
    # Without the layout's dashes nothing is swapped: a plain Y stays Y.
    assert parse_reference("EC-000-DSK-00Y").reference == "EC-000-DSK-00Y"
