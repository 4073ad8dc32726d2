#!/usr/bin/env python3
"""Render the Despatch Desk icon SVGs to PNG, ICO and ICNS files.

despatch-desk.svg is the icon; despatch-desk-16.svg is its small-size variant (16-unit grid,
bolder tick) used for the 16, 24 and 32 px renders so the mark stays readable in title bars,
the taskbar and file lists.

    python resources/icon/make_icons.py           # (re)write png/*.png, .ico and .icns
    python resources/icon/make_icons.py --check   # exit 1 if the committed files are stale

Qt renders the SVG off screen (QT_QPA_PLATFORM=offscreen is set if unset). The PNG, ICO and
ICNS containers are written here, not by Qt's image plugins, so the output is byte-for-byte
deterministic for a given Qt version: no timestamps, no gamma or text chunks, fixed zlib level.

* png/despatch-desk-<N>.png for N in 16, 24, 32, 48, 64, 128, 256, 512, 1024
* despatch-desk.ico: 16, 24, 32, 48, 64, 128, 256, every entry PNG-compressed (Vista+)
* despatch-desk.icns: icp4 16, icp5 32, icp6 64, ic07 128, ic08 256, ic09 512, ic10 1024
  and the Retina aliases ic11 (16@2x), ic12 (32@2x), ic13 (128@2x), ic14 (256@2x)
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SVG = HERE / "despatch-desk.svg"
SMALL_SVG = HERE / "despatch-desk-16.svg"
SMALL_MAX = 32  # sizes up to this use SMALL_SVG
PNG_DIR = HERE / "png"
ICO = HERE / "despatch-desk.ico"
ICNS = HERE / "despatch-desk.icns"
# The window icon ships inside the package (importlib.resources); the rest here is for the installers.
ASSETS = HERE.parents[1] / "app" / "despatch_desk" / "assets" / "icon"

PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# (OSType, pixel size) in the order iconutil writes them.
ICNS_ENTRIES = (
    ("icp4", 16),
    ("icp5", 32),
    ("icp6", 64),
    ("ic07", 128),
    ("ic08", 256),
    ("ic09", 512),
    ("ic10", 1024),  # 512@2x
    ("ic11", 32),  # 16@2x
    ("ic12", 64),  # 32@2x
    ("ic13", 256),  # 128@2x
    ("ic14", 512),  # 256@2x
)


def png_path(size: int) -> Path:
    return PNG_DIR / f"despatch-desk-{size}.png"


# --------------------------------------------------------------------------- rendering
def render_rgba(svg: Path, size: int) -> bytes:
    """Render the SVG at size x size; return straight (non-premultiplied) RGBA rows."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841 (fonts, etc.)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"Qt could not parse {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    stride = image.bytesPerLine()
    raw = bytes(image.constBits())[: stride * size]
    row = size * 4
    return b"".join(raw[y * stride : y * stride + row] for y in range(size))


def encode_png(rgba: bytes, width: int, height: int) -> bytes:
    """Minimal deterministic PNG encoder: 8-bit RGBA, filter None, zlib level 9."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    row = width * 4
    scanlines = b"".join(b"\x00" + rgba[y * row : (y + 1) * row] for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(scanlines, 9))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- containers
def build_ico(pngs: dict[int, bytes]) -> bytes:
    """ICONDIR + ICONDIRENTRY[] + PNG images (width/height byte 0 means 256)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = [], []
    for size in sizes:
        data = pngs[size]
        dim = 0 if size >= 256 else size
        entries.append(struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset))
        blobs.append(data)
        offset += len(data)
    return header + b"".join(entries) + b"".join(blobs)


def build_icns(pngs: dict[int, bytes]) -> bytes:
    """'icns' + total length, then (OSType, length incl. 8-byte header, PNG data) records."""
    body = b"".join(
        kind.encode("ascii") + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
        for kind, size in ICNS_ENTRIES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def generate() -> dict[Path, bytes]:
    pngs = {
        size: encode_png(render_rgba(SMALL_SVG if size <= SMALL_MAX else SVG, size), size, size)
        for size in PNG_SIZES
    }
    out = {png_path(size): data for size, data in pngs.items()}
    out[ICO] = build_ico({s: pngs[s] for s in ICO_SIZES})
    out[ICNS] = build_icns(pngs)
    out[ASSETS / "despatch-desk-256.png"] = pngs[256]
    out[ASSETS / "despatch-desk.svg"] = SVG.read_bytes()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are up to date")
    args = parser.parse_args(argv)
    files = generate()
    stale = [p for p, data in files.items() if not p.exists() or p.read_bytes() != data]
    if args.check:
        for p in stale:
            print(f"stale: {p.relative_to(HERE.parent.parent)}")
        return 1 if stale else 0
    PNG_DIR.mkdir(exist_ok=True)
    ASSETS.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        if path in stale:
            path.write_bytes(data)
        print(f"{'wrote' if path in stale else 'same '} {path.relative_to(HERE.parent.parent)} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
