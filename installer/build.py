#!/usr/bin/env python3
"""Build, smoke-test and package Despatch Desk with PyInstaller (Linux, Windows, macOS).

    python installer/build.py                 # build + smoke test + package for this OS
    python installer/build.py --skip-smoke    # build + package only
    python installer/build.py --skip-package  # build + smoke test only (fast CI check)

Steps:
 1. PyInstaller with installer/despatch-desk.spec -> installer/dist/despatch-desk/ (one folder;
    on macOS also installer/dist/Despatch Desk.app). Timed.
 2. Smoke test of the frozen app: `despatch-desk --version` and `despatch-desk self-test`
    (QT_QPA_PLATFORM=offscreen when there is no display), plus on Linux a check that every bundled
    ELF file resolves its libraries. The self-test output is kept in installer/dist/self-test.txt.
 3. Size of the bundle, then a JSON summary line (also installer/dist/build-report.json):
    {"build_seconds", "bundle_mb" (MiB, like du -sh), "version", ...}.
 4. Package:
    Linux   installer/dist/despatch-desk-<version>-linux-<arch>.tar.gz (folder + .desktop + install.sh)
    Windows Inno Setup (ISCC) -> installer/dist/DespatchDesk-<version>-setup.exe, signed with
            signtool when DESPATCH_DESK_SIGN_CERT (.pfx path) and DESPATCH_DESK_SIGN_PASSWORD are
            set; a clear SKIP message otherwise, or when ISCC is not installed.
    macOS   installer/macos/build_dmg.sh: codesign + notarise + staple when the identities are
            set (DESPATCH_DESK_CODESIGN_IDENTITY, DESPATCH_DESK_NOTARY_PROFILE), then the DMG.

Exit status: 0 on success; 1 if the build, smoke test or packaging failed.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from buildinfo import (  # noqa: E402
    APP_NAME,
    DIST,
    EXE_NAME,
    INSTALLER_DIR,
    RESOURCES,
    ROOT,
    WINDOWS_APP_ID,
    WORK,
    numeric_version,
    read_version,
)

IS_WIN = sys.platform == "win32"
IS_MAC = sys.platform == "darwin"
IS_LINUX = sys.platform.startswith("linux")
SPEC = INSTALLER_DIR / "despatch-desk.spec"
REPORT = DIST / "build-report.json"
SELF_TEST_LOG = DIST / "self-test.txt"
# The smoke test runs the app with DESPATCH_DESK_HOME pointing here, so it never touches the
# builder's own settings/history, and `self-test` writes its report to <home>/logs/self-test.txt
# (a windowed Windows exe may have no stdout: the report file is the reliable channel).
SMOKE_HOME = DIST / "smoke-home"
BACKEND_RE = re.compile(r"keyring backend:\s*(\S+)")
INTERPRETER_RE = re.compile(r"interpreter: Python (\d+)\.(\d+)\.(\d+)")
# Bundles on these interpreters abort mid-shift (PySide6 frees None/True/False there): never ship one.
MIN_SAFE_PYTHON = (3, 12)


def log(msg: str) -> None:
    print(f"[build] {msg}", flush=True)


def _rel(path: Path) -> str:
    """A path for messages and the report: relative to the repository when inside it."""
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


class BuildError(RuntimeError):
    pass


# ----------------------------------------------------------------------------- paths
def onedir() -> Path:
    return DIST / EXE_NAME


def app_bundle() -> Path:
    return DIST / f"{APP_NAME}.app"


def frozen_exe() -> Path:
    if IS_MAC and app_bundle().exists():
        return app_bundle() / "Contents" / "MacOS" / EXE_NAME
    return onedir() / (EXE_NAME + (".exe" if IS_WIN else ""))


def shipped_tree() -> Path:
    """What ships: the .app on macOS, the one-folder directory elsewhere."""
    return app_bundle() if IS_MAC and app_bundle().exists() else onedir()


# ----------------------------------------------------------------------------- build
def run_pyinstaller(clean: bool) -> float:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise BuildError("PyInstaller is not installed: pip install '.[build]' (or pip install pyinstaller)")
    cmd = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
        "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC),
    ]  # fmt: skip
    if clean:
        cmd.insert(3, "--clean")
    log("running: " + " ".join(cmd))
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise BuildError(f"PyInstaller failed (exit {result.returncode})")
    if not frozen_exe().exists():
        raise BuildError(f"PyInstaller finished but {frozen_exe()} is missing")
    log(f"built {_rel(shipped_tree())} in {seconds:.1f} s")
    return seconds


def tree_size(path: Path) -> int:
    """Bytes in a tree, like `du --apparent-size`: files and symlinks themselves, each inode once."""
    total, seen = 0, set()
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            st = os.lstat(os.path.join(dirpath, name))
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += st.st_size
    return total


# ----------------------------------------------------------------------------- smoke test
def smoke_env(offscreen: bool) -> dict[str, str]:
    env = dict(os.environ)
    no_display = IS_LINUX and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if offscreen or no_display:
        env["QT_QPA_PLATFORM"] = "offscreen"
    env.setdefault("PYTHONUNBUFFERED", "1")
    shutil.rmtree(SMOKE_HOME, ignore_errors=True)
    SMOKE_HOME.mkdir(parents=True)
    env["DESPATCH_DESK_HOME"] = str(SMOKE_HOME)
    env.pop("DESPATCH_DESK_API_KEY", None)  # the self-test must exercise the real keyring
    return env


def self_test_args(offscreen: bool, require_keyring: bool) -> list[str]:
    args = ["self-test"]
    if offscreen:
        args.append("--offscreen")
    # Linux build machines rarely run a Secret Service: report the backend, don't fail on it.
    # installer/linux/run-frozen-selftest.sh checks the real round trip in a private D-Bus session
    # with GNOME Keyring. Windows and macOS always have their keyring: there it must work.
    if IS_LINUX and not require_keyring:
        log("Linux: self-test --skip-keyring (the keyring round trip is run-frozen-selftest.sh's job)")
        args.append("--skip-keyring")
    return args


def run_frozen(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [str(frozen_exe()), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace")
        raise BuildError(f"frozen `{EXE_NAME} {' '.join(args)}` did not finish in {timeout:.0f} s\n{out}")
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), time.perf_counter() - start


def check_linux_libraries(tree: Path) -> None:
    """Every bundled ELF file must find all its libraries (bundle first, then the host)."""
    if not shutil.which("ldd"):
        log("SKIP library check: ldd not found")
        return
    internal = tree / "_internal"
    lib_path = os.pathsep.join(
        str(p) for p in (internal, internal / "PySide6" / "Qt" / "lib") if p.is_dir()
    )
    env = dict(os.environ, LD_LIBRARY_PATH=lib_path)
    missing: list[str] = []
    checked = 0
    for path in sorted(tree.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
        checked += 1
        out = subprocess.run(["ldd", str(path)], env=env, capture_output=True, text=True).stdout
        missing += [f"{path.relative_to(tree)}: {line.strip()}" for line in out.splitlines() if "not found" in line]
    if missing:
        raise BuildError("unresolved libraries in the bundle:\n  " + "\n  ".join(missing))
    log(f"library check: {checked} ELF files, all dependencies resolve")


def smoke_test(version: str, offscreen: bool, require_keyring: bool) -> dict:
    env = smoke_env(offscreen)
    result: dict = {"qt_qpa_platform": env.get("QT_QPA_PLATFORM", "(native)")}
    if IS_LINUX:
        check_linux_libraries(onedir())

    code, out, seconds = run_frozen(["--version"], env, timeout=60)
    result["version_seconds"] = round(seconds, 3)
    log(f"--version: exit {code} in {seconds:.2f} s: {out.strip()[:200]!r}")
    if code != 0:
        raise BuildError(f"frozen --version failed (exit {code}):\n{out}")
    if out.strip() and version not in out:
        raise BuildError(f"frozen --version printed {out.strip()!r}, expected it to contain {version!r}")
    if not out.strip():
        log("note: --version printed nothing (windowed exe without a console); exit code 0 accepted")

    report_file = SMOKE_HOME / "logs" / "self-test.txt"
    code, out, seconds = run_frozen(self_test_args(offscreen, require_keyring), env, timeout=180)
    if report_file.exists() and not out.strip():
        out = report_file.read_text(encoding="utf-8", errors="replace")  # windowed exe: no stdout
    SELF_TEST_LOG.write_text(out, encoding="utf-8")
    result["self_test_seconds"] = round(seconds, 3)
    log(f"self-test: exit {code} in {seconds:.2f} s (output in {_rel(SELF_TEST_LOG)})")
    for line in out.strip().splitlines()[-40:]:
        print(f"    | {line}")
    if code == 2 and re.search(r"invalid choice|unrecognized arguments|usage:", out):
        # The app's `self-test` command does not exist yet: say so loudly, but don't fail the
        # packaging build on it. CI greps self-test.txt for the keyring backend separately.
        log("WARNING: this build of the app has no `self-test` command; only --version was checked")
        result["self_test"] = "unavailable"
        return result
    if code != 0:
        raise BuildError(f"frozen self-test failed (exit {code})")
    result["self_test"] = "passed"
    interp = INTERPRETER_RE.search(out)
    if not interp:
        raise BuildError("the frozen self-test did not say which Python it carries ('interpreter: Python x.y.z')")
    carried = tuple(int(p) for p in interp.groups())
    result["python"] = ".".join(map(str, carried))
    if carried[:2] < MIN_SAFE_PYTHON:
        raise BuildError(f"the bundle carries Python {result['python']}, which is known to crash the desk after "
                         f"a few hundred scans; build with Python {MIN_SAFE_PYTHON[0]}.{MIN_SAFE_PYTHON[1]}+")
    match = BACKEND_RE.search(out)
    result["keyring_backend"] = match.group(1) if match else None
    for key, pattern in (("time_to_window_ms", r"time to window:\s*(\d+)\s*ms"),
                         ("scan_to_result_ms", r"scan to result:\s*(\d+)\s*ms")):  # fmt: skip
        found = re.search(pattern, out)
        if found:
            result[key] = int(found.group(1))
    return result


# ----------------------------------------------------------------------------- packaging
def _tar_filter(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    return info


def package_linux(version: str) -> Path:
    arch = platform.machine().lower() or "x86_64"
    top = f"{EXE_NAME}-{version}"
    out = DIST / f"{EXE_NAME}-{version}-linux-{arch}.tar.gz"
    linux = INSTALLER_DIR / "linux"
    extras = {
        f"{top}/{EXE_NAME}.desktop": (linux / f"{EXE_NAME}.desktop").read_bytes(),
        f"{top}/install.sh": (linux / "install.sh").read_bytes(),
        f"{top}/{EXE_NAME}.png": (RESOURCES / "icon" / "png" / f"{EXE_NAME}-256.png").read_bytes(),
        f"{top}/{EXE_NAME}.svg": (RESOURCES / "icon" / f"{EXE_NAME}.svg").read_bytes(),
    }
    raw = io.BytesIO()
    # Reproducible: sorted entries, fixed owner and mtime, gzip header without a timestamp.
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(onedir(), arcname=f"{top}/{EXE_NAME}", filter=_tar_filter, recursive=False)
        for path in sorted(onedir().rglob("*")):
            tar.add(path, arcname=f"{top}/{EXE_NAME}/{path.relative_to(onedir()).as_posix()}",
                    filter=_tar_filter, recursive=False)  # fmt: skip
        for name, data in sorted(extras.items()):
            info = _tar_filter(tarfile.TarInfo(name))
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    with open(out, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    log(f"Linux archive: {_rel(out)} ({out.stat().st_size / 2**20:.1f} MiB)")
    return out


def _find_windows_tool(exe: str, candidates: list[Path]) -> Path | None:
    found = shutil.which(exe)
    if found:
        return Path(found)
    for c in candidates:
        if c.is_file():
            return c
    return None


def find_iscc() -> Path | None:
    roots = [os.environ.get(v) for v in ("ProgramFiles(x86)", "ProgramFiles", "LOCALAPPDATA")]
    cands = [Path(r) / "Inno Setup 6" / "ISCC.exe" for r in roots if r]
    cands += [Path(r) / "Programs" / "Inno Setup 6" / "ISCC.exe" for r in roots if r]
    return _find_windows_tool("ISCC.exe", cands) or _find_windows_tool("iscc", [])


def find_signtool() -> Path | None:
    kits = Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)")) / "Windows Kits" / "10" / "bin"
    cands = sorted(kits.glob("10.*/x64/signtool.exe"), reverse=True) if kits.is_dir() else []
    return _find_windows_tool("signtool.exe", cands + [kits / "x64" / "signtool.exe"])


def signing_args() -> list[str] | None:
    """signtool arguments from the environment, or None when signing is not configured."""
    cert = os.environ.get("DESPATCH_DESK_SIGN_CERT")
    password = os.environ.get("DESPATCH_DESK_SIGN_PASSWORD")
    if not cert or not password:
        return None
    if not Path(cert).is_file():
        raise BuildError(f"DESPATCH_DESK_SIGN_CERT={cert!r} is not a file")
    ts = os.environ.get("DESPATCH_DESK_TIMESTAMP_URL", "http://timestamp.digicert.com")
    return ["sign", "/f", cert, "/p", password, "/fd", "sha256", "/tr", ts, "/td", "sha256",
            "/d", APP_NAME]  # fmt: skip


def package_windows(version: str) -> Path | None:
    sign = signing_args()
    signtool = find_signtool() if sign else None
    if sign and not signtool:
        raise BuildError("signing requested (DESPATCH_DESK_SIGN_CERT set) but signtool.exe was not found")
    if sign:
        log(f"signing {frozen_exe().name} with {signtool}")
        if subprocess.run([str(signtool), *sign, str(frozen_exe())]).returncode != 0:
            raise BuildError("signtool failed on the application exe")
    else:
        log("SKIP signing: DESPATCH_DESK_SIGN_CERT and DESPATCH_DESK_SIGN_PASSWORD are not both set")

    iscc = find_iscc()
    if not iscc:
        log("SKIP installer: Inno Setup 6 (ISCC.exe) not found; install it (choco install innosetup) "
            "to build DespatchDesk-<version>-setup.exe. The one-folder build is in installer/dist.")
        return None
    numeric = ".".join(str(n) for n in numeric_version(version))
    cmd = [
        str(iscc), "/Q",
        f"/DAppVersion={version}", f"/DAppVersionNumeric={numeric}",
        f"/DSourceDir={onedir()}", f"/DOutputDir={DIST}", f"/DRepoRoot={ROOT}",
    ]  # fmt: skip
    if sign:
        # Inno Setup signs the setup exe and its uninstaller through a named sign tool:
        # /S<name>=<command> on the command line, SignTool=<name> in the script ($f = the file).
        # ISCC's own parser takes no backslash-escaped quotes: $q stands for a quote inside.
        quoted = " ".join(f"$q{a}$q" if " " in a else a for a in [str(signtool), *sign])
        cmd += [f"/Sddsign={quoted} $f", "/DSignToolName=ddsign"]
    cmd.append(str(INSTALLER_DIR / "windows" / "despatch-desk.iss"))
    shown = " ".join(cmd)
    if sign:
        shown = shown.replace(os.environ["DESPATCH_DESK_SIGN_PASSWORD"], "***")
    log("running Inno Setup: " + shown)
    if subprocess.run(cmd).returncode != 0:
        raise BuildError("ISCC failed")
    out = DIST / f"DespatchDesk-{version}-setup.exe"
    if not out.exists():
        raise BuildError(f"ISCC succeeded but {out} is missing")
    log(f"Windows installer: {_rel(out)} ({out.stat().st_size / 2**20:.1f} MiB)")
    return out


def package_macos(version: str) -> Path:
    script = INSTALLER_DIR / "macos" / "build_dmg.sh"
    arch = platform.machine().lower() or "arm64"
    out = DIST / f"DespatchDesk-{version}-macos-{arch}.dmg"
    if subprocess.run(["bash", str(script), str(app_bundle()), version, str(out)]).returncode != 0:
        raise BuildError("build_dmg.sh failed")
    if not out.exists():
        raise BuildError(f"build_dmg.sh succeeded but {out} is missing")
    return out


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build.py",
        description="Build, smoke-test and package Despatch Desk with PyInstaller.",
        epilog="Outputs go to installer/dist/; the summary is installer/dist/build-report.json.",
    )
    parser.add_argument("--skip-smoke", action="store_true", help="do not run the frozen app")
    parser.add_argument("--skip-package", action="store_true", help="no tar.gz / setup.exe / DMG")
    parser.add_argument("--skip-build", action="store_true", help="reuse the existing installer/dist build")
    parser.add_argument("--clean", action="store_true", help="clear PyInstaller's cache and work dir first")
    parser.add_argument("--require-keyring", action="store_true",
                        help="Linux: fail the self-test without a usable keyring (default there: report only)")  # fmt: skip
    parser.add_argument("--offscreen", action="store_true",
                        help="force QT_QPA_PLATFORM=offscreen for the smoke test (automatic without a display)")  # fmt: skip
    args = parser.parse_args(argv)

    version = read_version()
    report: dict = {"version": version, "platform": f"{sys.platform}-{platform.machine().lower()}"}
    try:
        if args.skip_build:
            if not frozen_exe().exists():
                raise BuildError(f"--skip-build: {frozen_exe()} does not exist")
            report["build_seconds"] = None
        else:
            report["build_seconds"] = round(run_pyinstaller(args.clean), 1)
        size = tree_size(shipped_tree())
        report["bundle_bytes"] = size
        report["bundle_mb"] = round(size / 2**20, 1)
        log(f"bundle size: {report['bundle_mb']} MiB ({size:,} bytes) in {shipped_tree().name}")
        if not args.skip_smoke:
            report.update(smoke_test(version, args.offscreen, args.require_keyring))
        if not args.skip_package:
            if IS_LINUX:
                artifact = package_linux(version)
            elif IS_WIN:
                artifact = package_windows(version)
            elif IS_MAC:
                artifact = package_macos(version)
            else:
                artifact = None
            report["artifact"] = _rel(artifact) if artifact else None
    except BuildError as exc:
        report["error"] = str(exc).splitlines()[0]
        _write_report(report)
        log(f"FAILED: {exc}")
        return 1
    _write_report(report)
    return 0


def _write_report(report: dict) -> None:
    DIST.mkdir(parents=True, exist_ok=True)
    line = json.dumps(report, sort_keys=True)
    REPORT.write_text(line + "\n", encoding="utf-8")
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
