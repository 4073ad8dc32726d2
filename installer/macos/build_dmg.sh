#!/usr/bin/env bash
# Sign, notarise, staple and package "Despatch Desk.app" into a DMG (macOS only).
#
#   installer/macos/build_dmg.sh "installer/dist/Despatch Desk.app" 0.1.0 installer/dist/DespatchDesk-0.1.0-macos-arm64.dmg
#
# Called by installer/build.py after the PyInstaller build and the smoke test.
#
# Environment (all optional; without them the DMG is built unsigned, with a clear message):
#   DESPATCH_DESK_CODESIGN_IDENTITY  "Developer ID Application: Name (TEAMID)" from the keychain
#   DESPATCH_DESK_NOTARY_PROFILE     notarytool keychain profile, made once with
#                                    xcrun notarytool store-credentials <profile> --apple-id ... --team-id ...
#   DESPATCH_DESK_KEYCHAIN           keychain holding the identity (CI: a temporary keychain)
#
# Steps: codesign every Mach-O inside the app, then the app (hardened runtime, secure timestamp,
# installer/macos/entitlements.plist); verify; run the signed app once; notarise the app and staple
# it; build the DMG (app + /Applications link); sign, notarise and staple the DMG.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 APP_PATH VERSION OUT_DMG" >&2
    exit 2
fi
app=$1
version=$2
dmg=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
entitlements=$here/entitlements.plist
identity=${DESPATCH_DESK_CODESIGN_IDENTITY:-}
profile=${DESPATCH_DESK_NOTARY_PROFILE:-}
keychain=${DESPATCH_DESK_KEYCHAIN:-}
volname="Despatch Desk"
exe_name=despatch-desk

say() { echo "[build_dmg] $*"; }

if [ "$(uname -s)" != "Darwin" ]; then
    echo "build_dmg.sh: macOS only (codesign, notarytool, hdiutil)" >&2
    exit 2
fi
if [ ! -d "$app" ] || [ ! -x "$app/Contents/MacOS/$exe_name" ]; then
    echo "build_dmg.sh: $app is not a built Despatch Desk.app" >&2
    exit 1
fi

keychain_args=()
if [ -n "$keychain" ]; then
    keychain_args=(--keychain "$keychain")  # codesign and notarytool both take --keychain
fi

sign() {  # sign FILE [extra codesign args...]
    local target=$1
    shift
    # ${arr[@]+...}: an empty array under `set -u` is an error in macOS's bash 3.2.
    codesign --force --timestamp --options runtime --sign "$identity" \
        ${keychain_args[@]+"${keychain_args[@]}"} "$@" "$target"
}

notarise() {  # notarise FILE (a .zip or .dmg); waits for Apple's verdict
    local file=$1
    say "notarising $(basename "$file") (this usually takes a few minutes)"
    if ! xcrun notarytool submit "$file" --keychain-profile "$profile" \
            ${keychain_args[@]+"${keychain_args[@]}"} --wait --timeout 30m \
            --output-format plist >"$file.notary.plist"; then
        cat "$file.notary.plist" >&2 || true
        echo "build_dmg.sh: notarytool submit failed" >&2
        exit 1
    fi
    local status
    status=$(/usr/libexec/PlistBuddy -c "Print :status" "$file.notary.plist" 2>/dev/null || echo unknown)
    if [ "$status" != "Accepted" ]; then
        local id
        id=$(/usr/libexec/PlistBuddy -c "Print :id" "$file.notary.plist" 2>/dev/null || echo "")
        echo "build_dmg.sh: notarisation status '$status'" >&2
        if [ -n "$id" ]; then
            xcrun notarytool log "$id" --keychain-profile "$profile" \
                ${keychain_args[@]+"${keychain_args[@]}"} >&2 || true
        fi
        exit 1
    fi
    rm -f "$file.notary.plist"
}

# ------------------------------------------------------------------ 1. code signing
if [ -n "$identity" ]; then
    say "signing with '$identity' (hardened runtime, timestamp)"
    # Inside out: every Mach-O file (dylibs, Python extensions, Qt frameworks' binaries) first,
    # then the app bundle with the entitlements (--deep catches any nested bundle missed above).
    while IFS= read -r -d '' f; do
        if file -b "$f" | grep -q 'Mach-O'; then
            sign "$f"
        fi
    done < <(find "$app/Contents/Frameworks" "$app/Contents/Resources" -type f -print0 2>/dev/null)
    sign "$app" --deep --entitlements "$entitlements"
    codesign --verify --deep --strict --verbose=2 "$app"
    say "signature verified"
    # The signed app must still start under the hardened runtime.
    "$app/Contents/MacOS/$exe_name" --version
else
    say "SKIP signing: DESPATCH_DESK_CODESIGN_IDENTITY is not set (the app keeps PyInstaller's"
    say "     ad-hoc signature; Gatekeeper will block it on other Macs until it is signed and notarised)"
fi

# ------------------------------------------------------------------ 2. notarise + staple the app
if [ -n "$identity" ] && [ -n "$profile" ]; then
    zip=$(dirname "$dmg")/DespatchDesk-$version-app.zip
    rm -f "$zip"
    ditto -c -k --sequesterRsrc --keepParent "$app" "$zip"
    notarise "$zip"
    rm -f "$zip"
    xcrun stapler staple "$app"
    xcrun stapler validate "$app"
    say "app notarised and stapled"
elif [ -n "$identity" ]; then
    say "SKIP notarisation: DESPATCH_DESK_NOTARY_PROFILE is not set"
else
    say "SKIP notarisation: the app is not signed"
fi

# ------------------------------------------------------------------ 3. DMG
staging=$(mktemp -d "${TMPDIR:-/tmp}/despatch-desk-dmg.XXXXXX")
trap 'rm -rf "$staging"' EXIT
ditto "$app" "$staging/$(basename "$app")"  # ditto keeps symlinks, xattrs and signatures
ln -s /Applications "$staging/Applications"
rm -f "$dmg"
hdiutil create -volname "$volname" -srcfolder "$staging" -fs HFS+ -format UDZO -imagekey zlib-level=9 -ov "$dmg" >/dev/null
say "DMG: $dmg ($(du -h "$dmg" | cut -f1))"

if [ -n "$identity" ]; then
    codesign --force --timestamp --sign "$identity" ${keychain_args[@]+"${keychain_args[@]}"} "$dmg"
    if [ -n "$profile" ]; then
        notarise "$dmg"
        xcrun stapler staple "$dmg"
        say "DMG signed, notarised and stapled"
    else
        say "DMG signed (not notarised)"
    fi
fi
