#!/bin/sh
# Install Despatch Desk for the current user, no root needed. Run from the unpacked archive:
#
#   ./install.sh               install or upgrade (replaces the program, keeps your data)
#   ./install.sh --uninstall   remove the program, menu entry and icon (keeps your data)
#
# Program:   ${DESPATCH_DESK_PREFIX:-~/.local/opt/despatch-desk}
# Menu:      ~/.local/share/applications/despatch-desk.desktop
# Icon:      ~/.local/share/icons/hicolor/{256x256,scalable}/apps/despatch-desk.{png,svg}
# Command:   ~/.local/bin/despatch-desk (symlink)
# Settings, history and the API key (in the desktop keyring) are never touched by this script.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
prefix=${DESPATCH_DESK_PREFIX:-$HOME/.local/opt/despatch-desk}
apps=$data_home/applications
icons=$data_home/icons/hicolor
bindir=$HOME/.local/bin
name=despatch-desk

refresh() {  # best effort: menus pick up changes without these too, just later
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$apps" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$icons" || true
    fi
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$apps/$name.desktop" "$icons/256x256/apps/$name.png" "$icons/scalable/apps/$name.svg"
    if [ -L "$bindir/$name" ]; then rm -f "$bindir/$name"; fi
    rm -rf "$prefix"
    refresh
    echo "Despatch Desk removed. Your settings, history and saved API key were kept."
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--uninstall]" >&2
    exit 2
fi

if [ ! -x "$here/$name/$name" ]; then
    echo "error: $here/$name/$name not found: run install.sh from the unpacked archive" >&2
    exit 1
fi

# Copy next to the old version, then swap, so a failed copy leaves the old install working.
mkdir -p "$(dirname -- "$prefix")"
rm -rf "$prefix.new"
cp -R "$here/$name" "$prefix.new"
rm -rf "$prefix"
mv "$prefix.new" "$prefix"

mkdir -p "$apps" "$icons/256x256/apps" "$icons/scalable/apps" "$bindir"
cp "$here/$name.png" "$icons/256x256/apps/$name.png"
cp "$here/$name.svg" "$icons/scalable/apps/$name.svg"
exe=$prefix/$name
# Desktop Entry spec: quote Exec arguments; escape backslash, quote, backtick and dollar.
quoted=$(printf '%s' "$exe" | sed 's/[\\"`$]/\\&/g')
sed -e "s|^Exec=.*|Exec=\"$quoted\"|" -e "s|^TryExec=.*|TryExec=$exe|" \
    "$here/$name.desktop" > "$apps/$name.desktop.tmp"
mv "$apps/$name.desktop.tmp" "$apps/$name.desktop"
ln -sfn "$exe" "$bindir/$name"
refresh

echo "Despatch Desk installed in $prefix"
echo "Start it from the applications menu, or run: $bindir/$name"
case ":$PATH:" in *":$bindir:"*) ;; *) echo "(add $bindir to PATH to run '$name' by name)" ;; esac
