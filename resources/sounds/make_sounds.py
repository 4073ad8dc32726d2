#!/usr/bin/env python3
"""Generate the Despatch Desk feedback sounds (16-bit mono 44.1 kHz PCM WAV, stdlib only).

    python resources/sounds/make_sounds.py           # (re)write success/failure/warning.wav
    python resources/sounds/make_sounds.py --check   # exit 1 if the committed files are stale

* success.wav  ~250 ms  bright rising two-tone chime (A5 -> E6, bell-like decay): "allocated"
* warning.wav  ~350 ms  two short mid-pitch beeps (660 Hz): "already allocated" / in doubt
* failure.wav  ~450 ms  low buzzy descending double tone (233 -> 175 Hz, harmonic-rich): "problem"
* group.wav    ~330 ms  three quick rising pure notes (523 -> 659 -> 784 Hz): "the service group changed"

The three differ in pitch, rhythm and timbre, so an operator two metres away can tell them
apart without looking. Every tone has a short linear fade in and out (no clicks). Output is
deterministic: pure arithmetic, no randomness, no timestamps in the WAV container.
"""

from __future__ import annotations

import argparse
import io
import math
import struct
import sys
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The WAVs ship inside the package (loaded with importlib.resources): this folder keeps only their source.
OUT = HERE.parents[1] / "app" / "despatch_desk" / "assets" / "sounds"
RATE = 44_100
FADE_IN_S = 0.004
FADE_OUT_S = 0.012


def silence(seconds: float) -> list[float]:
    return [0.0] * round(seconds * RATE)


def tone(
    freq: float,
    seconds: float,
    *,
    harmonics: tuple[float, ...] = (1.0,),
    decay: float = 0.0,
    level: float = 1.0,
) -> list[float]:
    """A tone made of harmonics (amplitude of partial n+1 = harmonics[n]), optional exponential
    decay (1/s), and linear fades at both ends."""
    n = round(seconds * RATE)
    fade_in = max(1, round(FADE_IN_S * RATE))
    fade_out = max(1, round(FADE_OUT_S * RATE))
    norm = sum(abs(h) for h in harmonics)
    out = []
    for i in range(n):
        t = i / RATE
        s = sum(h * math.sin(2 * math.pi * freq * (k + 1) * t) for k, h in enumerate(harmonics)) / norm
        env = math.exp(-decay * t) if decay else 1.0
        env *= min(1.0, i / fade_in, (n - 1 - i) / fade_out)
        out.append(level * env * s)
    return out


def normalise(samples: list[float], peak_dbfs: float) -> list[float]:
    target = 10 ** (peak_dbfs / 20)
    peak = max(abs(s) for s in samples) or 1.0
    return [s * target / peak for s in samples]


def to_wav_bytes(samples: list[float]) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(struct.pack("<h", max(-32767, min(32767, round(s * 32767)))) for s in samples))
    return buf.getvalue()


def success() -> list[float]:
    bell = (1.0, 0.35, 0.12)  # bright: fundamental + 2nd + 3rd partials
    return normalise(
        tone(880.0, 0.100, harmonics=bell, decay=6.0) + tone(1318.5, 0.150, harmonics=bell, decay=9.0),
        peak_dbfs=-3.0,
    )


def warning() -> list[float]:
    beep = (1.0, 0.0, 0.15)  # soft square-ish: fundamental + a little 3rd
    return normalise(
        tone(660.0, 0.120, harmonics=beep) + silence(0.080) + tone(660.0, 0.150, harmonics=beep),
        peak_dbfs=-5.0,
    )


def failure() -> list[float]:
    buzz = (1.0, 0.5, 0.33, 0.25, 0.2, 0.17, 0.14)  # sawtooth-like: low and rasping
    return normalise(
        tone(233.1, 0.200, harmonics=buzz) + silence(0.030) + tone(174.6, 0.220, harmonics=buzz),
        peak_dbfs=-2.0,
    )


def group() -> list[float]:
    pure = (1.0, 0.1)  # soft and round: a notice, not a result
    return normalise(
        tone(523.3, 0.080, harmonics=pure) + silence(0.025) + tone(659.3, 0.080, harmonics=pure)
        + silence(0.025) + tone(784.0, 0.120, harmonics=pure, decay=4.0),
        peak_dbfs=-4.0,
    )


SOUNDS = {"success.wav": success, "warning.wav": warning, "failure.wav": failure, "group.wav": group}


def generate() -> dict[Path, bytes]:
    return {OUT / name: to_wav_bytes(make()) for name, make in SOUNDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are up to date")
    args = parser.parse_args(argv)
    files = generate()
    stale = [p for p, data in files.items() if not p.exists() or p.read_bytes() != data]
    if args.check:
        for p in stale:
            print(f"stale: {p.name}")
        return 1 if stale else 0
    for path, data in files.items():
        if path in stale:
            path.write_bytes(data)
        frames = (len(data) - 44) // 2
        print(f"{'wrote' if path in stale else 'same '} {path.name}: {frames / RATE * 1000:.0f} ms, {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
