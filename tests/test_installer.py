"""Fast checks of the packaging files (installer/, .github/workflows/release.yml), no build.

The real frozen build is `python installer/build.py` (minutes, not part of the unit suite);
these tests catch the mistakes that would only show up on a Windows or macOS runner: a spec
that no longer parses, a lost AppId or version define, an invalid plist or workflow, a shell
syntax error, and the bundle-trimming rules.
"""

from __future__ import annotations

import ast
import configparser
import os
import plistlib
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"
sys.path.insert(0, str(INSTALLER))

import buildinfo  # noqa: E402
import bundle_trim  # noqa: E402

SPEC = INSTALLER / "despatch-desk.spec"
ISS = INSTALLER / "windows" / "despatch-desk.iss"
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
SHELL_SCRIPTS = [
    INSTALLER / "linux" / "install.sh",
    INSTALLER / "linux" / "run-frozen-selftest.sh",
    INSTALLER / "macos" / "build_dmg.sh",
]


# --------------------------------------------------------------------------- version
def test_version_read_from_the_package_matches_the_import():
    import despatch_desk

    assert buildinfo.read_version() == despatch_desk.__version__


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2", (1, 2, 0, 0)), ("2.10.3rc1", (2, 10, 3, 0)), ("1.2.3.4.5", (1, 2, 3, 4))],
)
def test_numeric_version(text, expected):
    assert buildinfo.numeric_version(text) == expected


def test_numeric_version_rejects_non_numbers():
    with pytest.raises(ValueError):
        buildinfo.numeric_version("dev")


# --------------------------------------------------------------------------- spec
def _spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def test_spec_compiles():
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")


def _call(tree: ast.Module, name: str) -> ast.Call:
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]
    assert len(calls) == 1, f"expected one {name}(...) in the spec"
    return calls[0]


def _kw(call: ast.Call, name: str) -> ast.expr:
    return next(k.value for k in call.keywords if k.arg == name)


def test_spec_is_one_folder_windowed_without_upx():
    tree = _spec_tree()
    exe = _call(tree, "EXE")
    assert ast.literal_eval(_kw(exe, "exclude_binaries")) is True
    assert ast.literal_eval(_kw(exe, "console")) is False
    assert ast.literal_eval(_kw(exe, "upx")) is False
    _call(tree, "COLLECT")
    analysis = _call(tree, "Analysis")
    assert "launch.py" in ast.unparse(analysis.args[0])
    assert "APP_SRC" in ast.unparse(_kw(analysis, "pathex"))


def test_spec_keeps_keyring_backends_and_metadata():
    text = SPEC.read_text(encoding="utf-8")
    for backend in ("SecretService", "Windows", "macOS", "kwallet", "chainer", "fail", "null"):
        assert f'"keyring.backends.{backend}"' in text
    assert 'collect_submodules("keyring.backends")' in text
    assert 'copy_metadata("keyring")' in text
    for module in ('"truststore"', '"platformdirs"', '"secretstorage"', '"jeepney"', '"win32ctypes.core"'):
        assert module in text


def test_spec_bundles_the_package_assets_where_importlib_finds_them():
    text = SPEC.read_text(encoding="utf-8")
    assert 'Path("despatch_desk") / "assets"' in text
    assets = ROOT / "app" / "despatch_desk" / "assets"
    for pattern in ("icon/*.png", "icon/*.svg", "sounds/*.wav"):
        assert list(assets.glob(pattern)), f"nothing matches assets/{pattern}"
    for pattern in ("icon/*.ico", "icon/*.icns", "icon/png/*.png"):  # the installers' own icons
        assert list((ROOT / "resources").glob(pattern)), f"nothing matches resources/{pattern}"


def test_spec_qt_excludes_never_cover_what_is_kept():
    tree = _spec_tree()
    assign = next(n for n in ast.walk(tree) if isinstance(n, ast.Assign)
                  and getattr(n.targets[0], "id", None) == "QT_EXCLUDES")  # fmt: skip
    excluded = set(ast.literal_eval(assign.value))
    for kept in ("QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtSvg", "QtPrintSupport", "QtPdf"):
        assert f"PySide6.{kept}" not in excluded
    assert {"PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PySide6.QtPdfWidgets"} <= excluded


def test_app_qt_imports_are_detected_so_the_spec_never_excludes_them():
    used = bundle_trim.qt_modules_used(ROOT / "app")
    assert {"PySide6.QtCore", "PySide6.QtWidgets"} <= used


def test_qt_modules_used_reads_every_import_form(tmp_path):
    (tmp_path / "a.py").write_text(
        "from PySide6.QtWidgets import QApplication\n"
        "from PySide6 import QtCore, QtSvg\n"
        "from PySide6 import (\n    QtGui,\n    QtNetwork,\n)\n"
        "import PySide6.QtTest\n",
        encoding="utf-8",
    )
    assert bundle_trim.qt_modules_used(tmp_path) == {
        f"PySide6.{m}" for m in ("QtWidgets", "QtCore", "QtSvg", "QtGui", "QtNetwork", "QtTest")
    }


def test_macos_bundle_info_plist():
    tree = _spec_tree()
    bundle = _call(tree, "BUNDLE")
    assert ast.unparse(_kw(bundle, "bundle_identifier")) == "BUNDLE_ID"
    assert buildinfo.BUNDLE_ID == "com.despatchdesk.app"
    namespace = {"APP_NAME": buildinfo.APP_NAME, "VERSION": "1.2.3",
                 "numeric_version": buildinfo.numeric_version}  # fmt: skip
    info = eval(compile(ast.Expression(_kw(bundle, "info_plist")), "spec", "eval"), namespace)
    assert info["CFBundleShortVersionString"] == "1.2.3"
    assert info["CFBundleVersion"] == "1.2.3"
    assert info["NSHighResolutionCapable"] is True
    assert info["LSMinimumSystemVersion"] == "11.0"
    assert plistlib.loads(plistlib.dumps(info)) == info


# --------------------------------------------------------------------------- bundle trimming
@pytest.mark.parametrize(
    ("dest", "platform", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "linux", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", "linux", True),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", "linux", False),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", "linux", False),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "linux", False),
        ("PySide6/Qt/plugins/wayland-shell-integration/libxdg-shell.so", "linux", False),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", "linux", True),
        ("PySide6/Qt/plugins/imageformats/libqjpeg.so", "linux", False),
        ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", "linux", True),
        ("PySide6/Qt/plugins/tls/libqopensslbackend.so", "linux", True),
        ("PySide6/Qt/plugins/networkinformation/libqnetworkmanager.so", "linux", False),
        ("PySide6\\plugins\\platforms\\qwindows.dll", "win32", True),
        ("PySide6\\plugins\\platforms\\qdirect2d.dll", "win32", False),
        ("PySide6\\plugins\\styles\\qmodernwindowsstyle.dll", "win32", True),
        ("PySide6\\plugins\\imageformats\\qico.dll", "win32", True),
        ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", "darwin", True),
        ("PySide6/Qt/plugins/platforms/libqxcb.dylib", "darwin", False),
        ("PySide6/Qt/plugins/styles/libqmacstyle.dylib", "darwin", True),
        ("PySide6/Qt/lib/libQt6Core.so.6", "linux", True),  # not a plugin: untouched
    ],
)
def test_plugin_allow_list(dest, platform, kept):
    assert bundle_trim.keep_plugin(dest, platform) is kept


def test_only_english_translations_are_kept():
    assert bundle_trim.keep_translation("PySide6/Qt/translations/qtbase_en.qm")
    assert not bundle_trim.keep_translation("PySide6/Qt/translations/qtbase_de.qm")
    assert bundle_trim.keep_translation("despatch_desk/assets/sounds/success.wav")


@pytest.mark.parametrize(
    ("dest", "platform", "host"),
    [
        ("libstdc++.so.6", "linux", True),
        ("libglib-2.0.so.0", "linux", True),
        ("libX11.so.6", "linux", True),
        ("libxcb-cursor.so.0", "linux", False),  # a desktop may lack it: stays bundled
        ("libssl.so.3", "linux", False),
        ("libpython3.13.so.1.0", "linux", False),
        ("libcups.so.2", "linux", True),  # the printing stack must match the host's cupsd
        ("libgnutls.so.30", "linux", True),
        ("libcups.so.2", "darwin", False),
        ("PySide6/Qt/lib/libstdc++.so.6", "linux", False),  # inside a package: never
        ("libz.so.1", "win32", False),
    ],
)
def test_host_libraries_linux_only(dest, platform, host):
    assert bundle_trim.is_host_library(dest, platform) is host


def test_orphaned_pyside_libraries_are_dropped_and_linked_ones_kept():
    binaries = [
        ("PySide6/QtWidgets.abi3.so", "/src/QtWidgets.abi3.so", "EXTENSION"),
        ("PySide6/Qt/lib/libQt6Widgets.so.6", "/src/libQt6Widgets.so.6", "BINARY"),
        ("PySide6/Qt/lib/libQt6Core.so.6", "/src/libQt6Core.so.6", "BINARY"),
        ("PySide6/Qt/lib/libQt6WaylandClient.so.6", "/src/libQt6WaylandClient.so.6", "BINARY"),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "/src/libqxcb.so", "BINARY"),
        ("PySide6/Qt/lib/libQt6XcbQpa.so.6", "/src/libQt6XcbQpa.so.6", "BINARY"),
        ("libssl.so.3", "/usr/lib/libssl.so.3", "BINARY"),  # outside PySide6: never a candidate
        ("PySide6/libssl-3-x64.dll", "/src/libssl-3-x64.dll", "BINARY"),  # dlopen'ed by Qt: kept
        ("PySide6/opengl32sw.dll", "/src/opengl32sw.dll", "BINARY"),  # software GL: dropped
    ]
    imports = {
        "/src/QtWidgets.abi3.so": ["libQt6Widgets.so.6"],
        "/src/libQt6Widgets.so.6": ["libQt6Core.so.6"],
        "/src/libqxcb.so": ["libQt6XcbQpa.so.6"],
    }
    kept, dropped = bundle_trim.prune_orphans(binaries, lambda src: [(n, None) for n in imports.get(src, [])])
    assert [e[0] for e in dropped] == ["PySide6/Qt/lib/libQt6WaylandClient.so.6", "PySide6/opengl32sw.dll"]
    assert len(kept) == len(binaries) - 2


# --------------------------------------------------------------------------- Windows
def test_windows_version_resource_renders():
    sys.path.insert(0, str(INSTALLER / "windows"))
    import version_info

    text = version_info.render("1.4.2")

    def record(name):
        return lambda *args, **kwargs: (name, args, kwargs)

    names = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct",
             "VarFileInfo", "VarStruct")  # fmt: skip
    tree = eval(text, {n: record(n) for n in names})
    assert tree[0] == "VSVersionInfo"
    ffi = tree[2]["ffi"]
    assert ffi[2]["filevers"] == (1, 4, 2, 0) == ffi[2]["prodvers"]
    assert "StringStruct('ProductVersion', '1.4.2')" in text
    assert "despatch-desk.exe" in text


def _iss() -> str:
    return ISS.read_text(encoding="utf-8")


def test_inno_setup_script_upgrades_in_place_per_user():
    iss = _iss()
    guid = buildinfo.WINDOWS_APP_ID.strip("{}")
    assert re.search(r"^AppId=\{\{" + re.escape(guid) + r"\}\s*$", iss, re.M), "AppId must stay fixed"
    assert re.search(r"^PrivilegesRequired=lowest\s*$", iss, re.M)
    assert re.search(r"^CloseApplications=yes\s*$", iss, re.M)
    assert re.search(r"^AppVersion=\{#AppVersion\}\s*$", iss, re.M)
    assert "#ifndef AppVersion" in iss and "#error" in iss
    assert re.search(r"^OutputBaseFilename=DespatchDesk-\{#AppVersion\}-setup\s*$", iss, re.M)
    assert re.search(r"^SetupIconFile=.*despatch-desk\.ico\s*$", iss, re.M)
    assert (ROOT / "resources" / "icon" / "despatch-desk.ico").is_file()
    assert re.search(r'^Name: "desktopicon".*Flags: unchecked', iss, re.M)


def test_inno_setup_signs_only_when_asked():
    iss = _iss()
    sign = iss.index("SignTool={#SignToolName}")
    assert iss.rindex("#ifdef SignToolName", 0, sign) < sign < iss.index("#endif", sign)


def test_inno_setup_never_deletes_user_data():
    deleting = "\n".join(
        line for line in _iss().splitlines()
        if line.startswith("Type:") and ("Delete" in line or "files" in line or "dir" in line)
    )  # fmt: skip
    for constant in ("{userappdata}", "{localappdata}", "{appdata}", "{userdocs}", "{commonappdata}"):
        assert constant not in deleting
    for line in deleting.splitlines():
        assert '"{app}' in line, f"deletes outside the install folder: {line}"


def test_build_py_passes_the_defines_the_script_uses():
    build = (INSTALLER / "build.py").read_text(encoding="utf-8")
    for define in re.findall(r"\{#(\w+)\}", _iss()):
        if define in ("AppName", "AppExeName", "AppPublisher", "SignToolName"):
            continue
        assert f"/D{define}=" in build or f"#ifndef {define}" in _iss(), define


# --------------------------------------------------------------------------- macOS
def test_entitlements_plist_is_valid_and_minimal():
    ent = plistlib.loads((INSTALLER / "macos" / "entitlements.plist").read_bytes())
    assert ent == {"com.apple.security.cs.allow-unsigned-executable-memory": True}


def test_build_dmg_uses_hardened_runtime_and_notary_profile():
    script = (INSTALLER / "macos" / "build_dmg.sh").read_text(encoding="utf-8")
    for needle in ("--options runtime", "--timestamp", "--entitlements", "notarytool submit",
                   "--keychain-profile", "stapler staple", "hdiutil create", "/Applications",
                   "DESPATCH_DESK_CODESIGN_IDENTITY", "DESPATCH_DESK_NOTARY_PROFILE"):  # fmt: skip
        assert needle in script


# --------------------------------------------------------------------------- shell, desktop, workflow
@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_syntax(script):
    bash = shutil.which("bash")
    if not bash:
        pytest.skip("bash not available")
    result = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout


def test_desktop_entry():
    parser = configparser.RawConfigParser(delimiters=("=",))
    parser.optionxform = str
    parser.read(INSTALLER / "linux" / "despatch-desk.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Despatch Desk"
    assert entry["Icon"] == "despatch-desk"
    assert entry["Exec"].startswith("despatch-desk")
    assert entry["Terminal"] == "false"


def test_release_workflow():
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed")
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on:` key as True
    assert on["push"]["tags"] == ["v*"]
    build = wf["jobs"]["build"]
    oses = {item["os"]: item["backend"] for item in build["strategy"]["matrix"]["include"]}
    assert oses == {"windows-latest": "Windows.WinVaultKeyring", "macos-14": "macOS.Keyring",
                    "ubuntu-latest": "SecretService.Keyring"}  # fmt: skip
    runs = "\n".join(step.get("run", "") for step in build["steps"])
    assert "python installer/build.py" in runs
    assert 'pip install ".[build]"' in runs
    assert "installer/linux/run-frozen-selftest.sh" in runs
    assert "secrets." not in runs, "secrets must reach scripts through env:, not inline in run:"
    assert wf["jobs"]["release"]["if"].startswith("startsWith(github.ref, 'refs/tags/v')")


# --------------------------------------------------------------------------- build.py
def test_build_py_help():
    result = subprocess.run([sys.executable, str(INSTALLER / "build.py"), "--help"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    for option in ("--skip-smoke", "--skip-package", "--offscreen"):
        assert option in result.stdout


@pytest.fixture()
def build_module(tmp_path, monkeypatch):
    import importlib.util

    # Loaded by path under its own name: "build" would clash with PyPA's build package.
    spec = importlib.util.spec_from_file_location("despatch_desk_installer_build", INSTALLER / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    dist = tmp_path / "dist"
    fake = dist / "despatch-desk"
    (fake / "_internal" / "resources").mkdir(parents=True)
    exe = fake / "despatch-desk"
    exe.write_text("#!/bin/sh\necho despatch-desk 9.9.9\n", encoding="utf-8")
    exe.chmod(0o755)
    (fake / "_internal" / "resources" / "x.txt").write_text("x" * 1000, encoding="utf-8")
    monkeypatch.setattr(build, "DIST", dist)
    return build


def test_tree_size_counts_files(build_module):
    size = build_module.tree_size(build_module.onedir())
    assert size == 1000 + len("#!/bin/sh\necho despatch-desk 9.9.9\n")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX archive layout and modes")
def test_linux_archive_is_complete_and_reproducible(build_module):
    first = build_module.package_linux("9.9.9").read_bytes()
    out = build_module.package_linux("9.9.9")
    assert out.read_bytes() == first, "the archive must be byte-for-byte reproducible"
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        top = "despatch-desk-9.9.9"
        assert {f"{top}/despatch-desk/despatch-desk", f"{top}/install.sh", f"{top}/despatch-desk.desktop",
                f"{top}/despatch-desk.png", f"{top}/despatch-desk/_internal/resources/x.txt"} <= names  # fmt: skip
        assert tar.getmember(f"{top}/install.sh").mode & 0o111
        assert tar.getmember(f"{top}/despatch-desk/despatch-desk").mode & 0o111
        assert {m.mtime for m in tar.getmembers()} == {0}


@pytest.mark.skipif(sys.platform == "win32" or not shutil.which("sh"), reason="needs a POSIX shell")
def test_install_sh_installs_for_the_user_and_uninstall_keeps_data(build_module, tmp_path):
    archive = build_module.package_linux("9.9.9")
    unpack = tmp_path / "unpack"
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "tar_filter"):  # Python 3.11.4+: say what we trust (our own archive)
            tar.extractall(unpack, filter="tar")
        else:
            tar.extractall(unpack)
    home = tmp_path / "home dir"  # a space, to exercise the quoting
    data = home / ".local" / "share" / "despatch-desk"  # where the app keeps history
    data.mkdir(parents=True)
    (data / "history.sqlite3").write_text("keep me", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), PATH=os.environ.get("PATH", "/usr/bin:/bin"))
    script = unpack / "despatch-desk-9.9.9" / "install.sh"
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    installed = home / ".local" / "opt" / "despatch-desk" / "despatch-desk"
    assert installed.is_file()
    desktop = (home / ".local" / "share" / "applications" / "despatch-desk.desktop").read_text(encoding="utf-8")
    assert f'Exec="{installed}"' in desktop
    assert (home / ".local" / "share" / "icons" / "hicolor" / "256x256" / "apps" / "despatch-desk.png").is_file()
    assert subprocess.run([str(home / ".local" / "bin" / "despatch-desk")], capture_output=True,
                          text=True).stdout.strip() == "despatch-desk 9.9.9"  # fmt: skip
    # Upgrade in place, then uninstall: the program goes, the operator's data stays.
    assert subprocess.run([str(script)], env=env, capture_output=True, timeout=60).returncode == 0
    gone = subprocess.run([str(script), "--uninstall"], env=env, capture_output=True, text=True, timeout=60)
    assert gone.returncode == 0, gone.stderr
    assert not installed.exists()
    assert not (home / ".local" / "share" / "applications" / "despatch-desk.desktop").exists()
    assert (data / "history.sqlite3").read_text(encoding="utf-8") == "keep me"


@pytest.mark.skipif(sys.platform == "win32" or not shutil.which("bash"), reason="bash script")
def test_frozen_selftest_script_reports_a_missing_build(tmp_path):
    result = subprocess.run([str(INSTALLER / "linux" / "run-frozen-selftest.sh"), str(tmp_path / "nope")],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 3
    assert "no frozen executable" in result.stderr
