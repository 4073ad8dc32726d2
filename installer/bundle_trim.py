"""Trim a PyInstaller Analysis of Despatch Desk (PySide6) down to what the app uses.

Used by installer/despatch-desk.spec: install_plugin_filter() before Analysis() (so unwanted
plugins, and the libraries they link, are never collected), then prune() after Analysis() and
before PYZ/EXE/COLLECT, in three steps:

1. Qt plugins: PyInstaller's Qt hooks collect *every* plugin of each type a module declares
   (all platforms, all image formats, Wayland, EGLFS, VNC, ...). Keep only the allow-list
   below for the current OS; plugin types not listed are dropped whole.
2. Translations: keep English only (`*_en.qm`); the UI is English.
3. Orphaned Qt libraries: a dropped plugin's Qt libraries (e.g. libQt6WaylandClient,
   libQt6Quick via the wayland or qtvirtualkeyboard plugins) were already pulled into the
   Analysis by link-time dependency analysis. Walk the link-time imports of everything that
   stays (extension modules, kept plugins, non-Qt libraries) and drop the libraries that live in
   PySide6's own folders that nothing still references. Only files inside the PySide6 package are
   ever candidates: system libraries and ctypes-loaded libraries are left alone.

4. Linux only: leave the desktop's own base libraries to the host (HOST_LIBS_LINUX below).

Set DESPATCH_DESK_NO_QT_PRUNE=1 to skip step 3 when diagnosing a "library not found" on a new
Qt version (steps 1-2 never remove a linked library, only runtime-loaded plugins and data).

PyInstaller has no hook option to choose Qt plugins (hooksconfig covers gi and matplotlib
only), so filtering the Analysis TOCs in the spec is the supported way (a TOC is a list of
(dest_name, src_path, typecode) tuples since PyInstaller 6).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import PurePath

Entry = tuple[str, str, str]  # (dest_name, src_name, typecode)

# Plugin type -> allowed plugin base names (None = keep every plugin of that type).
# Base name = file name without "lib" prefix, extension, and Windows debug "d" handling.
_COMMON: dict[str, set[str] | None] = {
    "imageformats": {"qsvg", "qico", "qicns"},  # the icon, window icons; PNG is built into QtGui
    "iconengines": {"qsvgicon"},  # QIcon from SVG
    "styles": None,  # native widget styles (qmodernwindowsstyle, qmacstyle)
    "tls": None,  # QtNetwork TLS backends (OpenSSL / Schannel / Secure Transport / cert-only)
    "printsupport": None,  # CUPS on Linux: label printing later
}
PLUGIN_ALLOW: dict[str, dict[str, set[str] | None]] = {
    "linux": {
        **_COMMON,
        # xcb for a desktop (X11 and XWayland), offscreen/minimal for headless self-tests.
        "platforms": {"qxcb", "qoffscreen", "qminimal"},
        "xcbglintegrations": None,
        "platformthemes": {"qxdgdesktopportal"},  # file dialogs via the portal; qgtk3 needs GTK
        "platforminputcontexts": {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"},
    },
    "win32": {**_COMMON, "platforms": {"qwindows", "qoffscreen", "qminimal"}},
    "darwin": {**_COMMON, "platforms": {"qcocoa", "qoffscreen", "qminimal"}},
}

_PLUGIN_RE = re.compile(r"(?:^|/)Qt6?/plugins/([^/]+(?:/[^/]+)*)/([^/]+)$|(?:^|/)PySide6/plugins/([^/]+)/([^/]+)$")


def _platform_key(platform: str = sys.platform) -> str:
    return "linux" if platform.startswith("linux") else platform


def _norm(dest: str) -> str:
    return str(dest).replace("\\", "/")


def plugin_of(dest: str) -> tuple[str, str] | None:
    """'PySide6/Qt/plugins/platforms/libqxcb.so' -> ('platforms', 'qxcb'); None if not a plugin."""
    m = _PLUGIN_RE.search(_norm(dest))
    if not m:
        return None
    ptype, fname = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    base = fname.split(".", 1)[0]
    if base.startswith("lib"):
        base = base[3:]
    return ptype, base


def keep_plugin(dest: str, platform: str = sys.platform) -> bool:
    found = plugin_of(dest)
    if found is None:
        return True
    ptype, base = found
    allow = PLUGIN_ALLOW[_platform_key(platform)]
    if ptype not in allow:
        return False
    names = allow[ptype]
    if names is None:
        return True
    return base in names


def install_plugin_filter(platform: str = sys.platform, log=print) -> bool:
    """Make PyInstaller's Qt hooks collect only the allowed plugins, *before* Analysis runs.

    Filtering the TOC afterwards (prune()) removes the plugin files, but by then binary
    dependency analysis has already pulled in what they link: e.g. the qgtk3 platform theme
    drags in GTK 3, cairo and pango from the build machine (~20 MB). Wrapping
    QtLibraryInfo.collect_plugins stops that at the source. It is an internal PyInstaller API:
    if it is missing, warn and rely on prune() alone. Returns True if installed.
    """
    try:
        from PyInstaller.utils.hooks import qt as pyi_qt

        original = pyi_qt.QtLibraryInfo.collect_plugins
    except (ImportError, AttributeError) as exc:  # pragma: no cover - depends on PyInstaller version
        log(f"bundle_trim: cannot pre-filter Qt plugins ({exc}); falling back to TOC filtering only")
        return False
    if getattr(original, "_despatch_desk_filter", False):
        return True

    def collect_plugins(self, plugin_type):
        collected = original(self, plugin_type)
        kept = [
            (src, dst) for src, dst in collected
            if keep_plugin(f"{_norm(dst)}/{PurePath(_norm(src)).name}", platform)
        ]  # fmt: skip
        if len(kept) != len(collected):
            log(f"bundle_trim: plugins/{plugin_type}: keeping {len(kept)} of {len(collected)}")
        return kept

    collect_plugins._despatch_desk_filter = True
    pyi_qt.QtLibraryInfo.collect_plugins = collect_plugins
    return True


def keep_translation(dest: str) -> bool:
    d = _norm(dest)
    if "/translations/" not in d or not d.endswith(".qm"):
        return True
    return d.endswith("_en.qm")


def _in_pyside(dest: str) -> bool:
    d = _norm(dest)
    return d.startswith(("PySide6/", "shiboken6/"))


# Loaded at run time with dlopen/LoadLibrary, never linked, yet wanted: OpenSSL for Qt's TLS
# backend (Windows and macOS PySide6 wheels may ship their own copy). Never orphan-pruned.
_RUNTIME_LOADED = re.compile(r"^lib(ssl|crypto)[-.\d_a-z]*\.(dll|so[.\d]*|dylib)$", re.IGNORECASE)


def _is_plugin_or_extension(entry: Entry) -> bool:
    return (
        entry[2] == "EXTENSION"
        or plugin_of(entry[0]) is not None
        or bool(_RUNTIME_LOADED.match(PurePath(_norm(entry[0])).name))
    )


def _framework_of(dest: str) -> str | None:
    m = re.search(r"(^|/)([^/]+\.framework)(/|$)", _norm(dest))
    return m.group(2) if m else None


def _key(name: str) -> str:
    """Compare library references by lower-cased base name: 'libQt6Gui.so.6', 'Qt6Gui.dll',
    '@rpath/QtGui.framework/Versions/A/QtGui' -> 'qtgui'."""
    return PurePath(_norm(name)).name.lower()


def prune_orphans(
    binaries: list[Entry],
    get_imports: Callable[[str], Iterable[tuple[str, str | None]]],
) -> tuple[list[Entry], list[Entry]]:
    """Return (kept, dropped). Candidates are non-extension, non-plugin binaries inside PySide6/
    or shiboken6/; roots are everything else. A candidate is kept if any kept binary imports it."""
    candidates = {_key(e[0]): e for e in binaries if _in_pyside(e[0]) and not _is_plugin_or_extension(e)}
    roots = [e for e in binaries if _key(e[0]) not in candidates or _is_plugin_or_extension(e)]
    needed: set[str] = set()
    queue = list(roots)
    while queue:
        entry = queue.pop()
        try:
            imports = get_imports(entry[1])
        except Exception:  # unreadable/odd file: keep everything it might need
            imports = []
        for name, _path in imports:
            k = _key(name)
            if k in candidates and k not in needed:
                needed.add(k)
                queue.append(candidates[k])
    kept = [e for e in binaries if _key(e[0]) not in candidates or _key(e[0]) in needed]
    dropped = [e for e in binaries if _key(e[0]) in candidates and _key(e[0]) not in needed]
    return kept, dropped


# Linux base libraries that PySide6's own manylinux wheel already expects the host to provide
# (libQt6Core/Gui/Network/DBus link glib, fontconfig, freetype, X11, xkbcommon, D-Bus, GSSAPI
# and libstdc++, and take libGL, libEGL and libxcb from the system, which PyInstaller never
# bundles), plus their dependencies. Bundling old copies of these can even break the host: a
# bundled libstdc++ older than the one the host's GL driver needs fails to load it. The X11
# plumbing Qt's xcb plugin needs that a desktop may lack (libxcb-cursor, -icccm, -image,
# -keysyms, -render-util, libxkbcommon-x11), OpenSSL, SQLite and libffi stay bundled.
HOST_LIBS_LINUX = re.compile(
    r"^(libX11(-xcb)?|libXau|libXdmcp|libbsd|libmd|libfontconfig|libfreetype|libpng16|"
    r"libbrotli(common|dec|enc)|libexpat|libz|libglib-2\.0|libgthread-2\.0|libpcre2-8|libdbus-1|"
    r"libsystemd|libcap|libgcrypt|libgpg-error|liblz4|liblzma|libzstd|libstdc\+\+|libgcc_s|"
    r"libxkbcommon|libgssapi_krb5|libkrb5|libk5crypto|libkrb5support|libcom_err|libkeyutils|"
    # The printing stack (Qt's CUPS plugin links libcups): it must match the host's cupsd, and a desk
    # that prints has it; without it Qt simply lists no system:// printers.
    r"libcups|libgnutls|libp11-kit|libunistring|libidn2|libnettle|libhogweed|libgmp|libtasn1|"
    r"libavahi-client|libavahi-common)"
    r"\.so(\.\d+)*$"
)


def is_host_library(dest: str, platform: str = sys.platform) -> bool:
    """True for a top-level Linux library in HOST_LIBS_LINUX (never a file inside a package)."""
    d = _norm(dest)
    return _platform_key(platform) == "linux" and "/" not in d and bool(HOST_LIBS_LINUX.match(d))


def prune(binaries: list[Entry], datas: list[Entry], platform: str = sys.platform, log=print):
    """Apply steps 1-4; return (binaries, datas). Logs what was removed and how much."""
    before = _size(binaries) + _size(datas)
    dropped_plugins = [e for e in binaries if not keep_plugin(e[0], platform)]
    binaries = [e for e in binaries if keep_plugin(e[0], platform)]
    datas = [e for e in datas if keep_plugin(e[0], platform) and keep_translation(e[0])]
    dropped_libs: list[Entry] = []
    if os.environ.get("DESPATCH_DESK_NO_QT_PRUNE") != "1":
        from PyInstaller.depend.bindepend import get_imports

        binaries, dropped_libs = prune_orphans(binaries, get_imports)
        # A dropped macOS framework leaves its Resources/ and symlinks behind: drop them too,
        # or codesign rejects the half framework.
        gone = {_framework_of(e[0]) for e in dropped_libs} - {None}
        if gone:
            datas = [e for e in datas if _framework_of(e[0]) not in gone]
            binaries = [e for e in binaries if _framework_of(e[0]) not in gone]
    host = [e for e in binaries if is_host_library(e[0], platform)]
    binaries = [e for e in binaries if not is_host_library(e[0], platform)]
    if host:
        log(f"bundle_trim: left {len(host)} base libraries to the host: "
            + " ".join(sorted(_norm(e[0]) for e in host)))
    after = _size(binaries) + _size(datas)
    log(f"bundle_trim: dropped {len(dropped_plugins)} plugins, {len(dropped_libs)} orphaned libraries, "
        f"{(before - after) / 1e6:.1f} MB")
    for e in sorted(dropped_libs):
        log(f"bundle_trim:   - {_norm(e[0])}")
    return binaries, datas


_QT_IMPORT_RE = re.compile(
    r"PySide6\.(Qt\w+)|from[ \t]+PySide6[ \t]+import[ \t]+(?:\(([^)]*)\)|([^\n]+))"
)


def qt_modules_used(src_root) -> set[str]:
    """Every 'PySide6.QtX' module named in the .py files under src_root."""
    from pathlib import Path

    used: set[str] = set()
    for py in Path(src_root).rglob("*.py"):
        for m in _QT_IMPORT_RE.finditer(py.read_text(encoding="utf-8", errors="replace")):
            if m.group(1):
                used.add(f"PySide6.{m.group(1)}")
            else:
                names = m.group(2) if m.group(2) is not None else m.group(3)
                used.update(f"PySide6.{n}" for n in re.findall(r"\bQt\w+", names))
    return used


def _size(entries: list[Entry]) -> int:
    total = 0
    for _dest, src, _code in entries:
        try:
            total += os.path.getsize(src) if src and os.path.isfile(src) else 0
        except OSError:
            pass
    return total
