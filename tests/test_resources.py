"""Checks on the committed icon and sound files (the package's assets/ and resources/), no Qt needed.

The generators are resources/icon/make_icons.py and resources/sounds/make_sounds.py; these tests
only read the committed outputs, so they run anywhere in well under a second.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RES = ROOT / "resources"
ICON = RES / "icon"
SOUNDS = ROOT / "app" / "despatch_desk" / "assets" / "sounds"  # shipped inside the package
PNG_SIG = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIG, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------- sounds
# name -> (min ms, max ms)
SOUND_BOUNDS = {
    "success.wav": (150, 350),
    "warning.wav": (250, 450),
    "failure.wav": (350, 600),
}


def read_wav(name: str) -> tuple[wave._wave_params, bytes]:
    with wave.open(str(SOUNDS / name), "rb") as w:
        return w.getparams(), w.readframes(w.getnframes())


@pytest.mark.parametrize("name", sorted(SOUND_BOUNDS))
def test_sound_is_16bit_mono_44k_within_duration(name: str) -> None:
    params, frames = read_wav(name)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 44_100)
    assert params.comptype == "NONE"
    ms = params.nframes / params.framerate * 1000
    lo, hi = SOUND_BOUNDS[name]
    assert lo <= ms <= hi, f"{name}: {ms:.0f} ms not in [{lo}, {hi}]"
    samples = struct.unpack(f"<{params.nframes}h", frames)
    peak = max(abs(s) for s in samples)
    assert 0.25 * 32767 < peak < 32767, f"{name}: peak {peak} too quiet or clipping"
    # faded in and out: no click at either end
    assert abs(samples[0]) < 200 and abs(samples[-1]) < 200
    assert max(abs(s) for s in samples[:20]) < 0.2 * peak


def test_sounds_are_distinct() -> None:
    frames = {name: read_wav(name)[1] for name in SOUND_BOUNDS}
    assert len(set(frames.values())) == len(frames)
    lengths = {name: len(f) for name, f in frames.items()}
    assert lengths["success.wav"] < lengths["warning.wav"] < lengths["failure.wav"]


def zero_crossings_per_second(name: str) -> float:
    params, frames = read_wav(name)
    samples = struct.unpack(f"<{params.nframes}h", frames)
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    return crossings / 2 / (params.nframes / params.framerate)


def test_failure_is_lower_pitched_than_success() -> None:
    # Rough pitch via zero crossings: the failure buzz must sound low, the chime bright.
    assert zero_crossings_per_second("failure.wav") < 0.5 * zero_crossings_per_second("success.wav")


# --------------------------------------------------------------------------- icon
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)


def test_svg_sources_exist_and_use_plain_shapes() -> None:
    for name in ("despatch-desk.svg", "despatch-desk-16.svg"):
        text = (ICON / name).read_text(encoding="utf-8")
        assert "<svg" in text
        for banned in ("<filter", "<style", "<text", "<image", "<script"):
            assert banned not in text, f"{name} uses {banned}: QtSvg may not render it"


@pytest.mark.parametrize("size", PNG_SIZES)
def test_png_exists_at_each_size(size: int) -> None:
    data = (ICON / "png" / f"despatch-desk-{size}.png").read_bytes()
    assert png_size(data) == (size, size)
    assert data[24:26] == bytes([8, 6]), "expected 8-bit RGBA"


def test_ico_container() -> None:
    data = (ICON / "despatch-desk.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind) == (0, 1)
    assert count == 7
    sizes = []
    for i in range(count):
        w, h, colors, res, planes, bpp, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        size = w or 256
        assert (h or 256) == size and colors == 0 and res == 0 and planes == 1 and bpp == 32
        blob = data[offset : offset + length]
        assert len(blob) == length
        assert png_size(blob) == (size, size)
        sizes.append(size)
    assert sizes == [16, 24, 32, 48, 64, 128, 256]


def test_icns_container() -> None:
    data = (ICON / "despatch-desk.icns").read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    expected = {
        b"icp4": 16, b"icp5": 32, b"icp6": 64, b"ic07": 128, b"ic08": 256, b"ic09": 512,
        b"ic10": 1024, b"ic11": 32, b"ic12": 64, b"ic13": 256, b"ic14": 512,
    }  # fmt: skip
    found = {}
    pos = 8
    while pos < len(data):
        kind = data[pos : pos + 4]
        length = struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        assert length > 8 and pos + length <= len(data)
        found[kind] = png_size(data[pos + 8 : pos + length])[0]
        pos += length
    assert pos == len(data)
    assert found == expected


def test_icon_pngs_match_icns_and_ico() -> None:
    # The containers embed exactly the committed PNGs (generated together, never hand-edited).
    png256 = (ICON / "png" / "despatch-desk-256.png").read_bytes()
    assert png256 in (ICON / "despatch-desk.ico").read_bytes()
    assert png256 in (ICON / "despatch-desk.icns").read_bytes()
