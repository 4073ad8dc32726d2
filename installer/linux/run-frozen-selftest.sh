#!/usr/bin/env bash
# Self-test the FROZEN Linux build against a real Secret Service, the way an operator's desktop
# has one: a private D-Bus session (dbus-run-session) with GNOME Keyring's secrets component,
# unlocked with a throwaway password fed on stdin. Nothing touches a real keyring: HOME and
# XDG_RUNTIME_DIR point into a temporary folder.
#
#   installer/linux/run-frozen-selftest.sh [EXE] [-- SELF-TEST-ARGS...]
#
# EXE defaults to installer/dist/despatch-desk/despatch-desk (run `python installer/build.py`
# first). Needs the Debian packages dbus and gnome-keyring.
#
# Exit status: 0 self-test passed with the Secret Service backend; 1 the self-test failed;
# 2 the keyring backend was not SecretService.Keyring (fail/null/chainer-only: the frozen app lost
# its keyring backends, e.g. missing hidden imports or entry-point metadata); 3 setup problem.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ -z "${_DD_INSIDE_SESSION:-}" ]; then
    exe=${1:-$repo/installer/dist/despatch-desk/despatch-desk}
    [ $# -gt 0 ] && shift
    [ "${1:-}" = "--" ] && shift
    if [ ! -x "$exe" ]; then
        echo "run-frozen-selftest: no frozen executable at $exe (run: python installer/build.py)" >&2
        exit 3
    fi
    for tool in dbus-run-session gnome-keyring-daemon; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "run-frozen-selftest: $tool not found (apt-get install dbus gnome-keyring)" >&2
            exit 3
        fi
    done
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/despatch-desk-frozen-selftest.XXXXXX")
    trap 'rm -rf "$scratch"' EXIT
    mkdir -p "$scratch/run" "$scratch/home"
    chmod 700 "$scratch/run"
    # Everything the session and the app write goes into $scratch.
    status=0
    env -u DESPATCH_DESK_API_KEY \
        _DD_INSIDE_SESSION=1 _DD_EXE="$exe" _DD_SCRATCH="$scratch" \
        HOME="$scratch/home" XDG_RUNTIME_DIR="$scratch/run" \
        XDG_DATA_HOME="$scratch/home/.local/share" XDG_CONFIG_HOME="$scratch/home/.config" \
        DESPATCH_DESK_HOME="$scratch/desk" QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" \
        dbus-run-session -- "${BASH_SOURCE[0]}" "$@" || status=$?
    exit "$status"
fi

# ------------------------------------------------------------------ inside the D-Bus session
if ! printf '%s' "despatch-desk-frozen-selftest" \
        | gnome-keyring-daemon --unlock --components=secrets >"$_DD_SCRATCH/keyring.env" 2>&1; then
    echo "run-frozen-selftest: gnome-keyring-daemon did not start:" >&2
    cat "$_DD_SCRATCH/keyring.env" >&2
    exit 3
fi

out=$_DD_SCRATCH/self-test.out
start=${EPOCHREALTIME:-0}
code=0
"$_DD_EXE" self-test "$@" >"$out" 2>&1 || code=$?
end=${EPOCHREALTIME:-0}
# A windowed build may print nothing: fall back to the report file the self-test writes.
if [ ! -s "$out" ] && [ -f "$DESPATCH_DESK_HOME/logs/self-test.txt" ]; then
    cp "$DESPATCH_DESK_HOME/logs/self-test.txt" "$out"
fi
sed 's/^/    | /' "$out"
ms=$(( (${end/[.,]/} - ${start/[.,]/}) / 1000 ))
echo "run-frozen-selftest: self-test exit $code in ${ms} ms"

if [ "$code" -ne 0 ]; then
    echo "run-frozen-selftest: FAIL: the frozen self-test failed (exit $code)" >&2
    exit 1
fi
backend=$(sed -n 's/^keyring backend:[[:space:]]*//p' "$out" | head -n 1)
case "$backend" in
    "")
        echo "run-frozen-selftest: FAIL: no 'keyring backend:' line in the self-test output" >&2
        exit 2 ;;
    *SecretService.Keyring*)
        ;;
    *)
        echo "run-frozen-selftest: FAIL: keyring backend is '$backend', expected" \
             "keyring.backends.SecretService.Keyring (fail/null/chainer-only means the frozen" \
             "app lost its keyring backends)" >&2
        exit 2 ;;
esac
if ! grep -q '^keyring round trip: ok' "$out"; then
    echo "run-frozen-selftest: FAIL: no successful keyring round trip in the self-test output" >&2
    exit 2
fi
echo "run-frozen-selftest: PASS (keyring backend: $backend)"
