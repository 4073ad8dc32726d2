# Sourced by tools/demo.sh and tools/test.sh: find Python 3.12 or newer, make .venv (once) with it and
# install the project into it. Re-installs only when pyproject.toml changed since the last install.
#
# Why 3.12+: on Python 3.11, PySide6 6.12 drops references to None/True/False on every signal emit and
# key event; the desk aborts ("deallocating None") after about 200 scans. From 3.12 those objects are
# immortal and cannot be freed (ARCHITECTURE.md, "Known platform bugs").
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
need_major=3 need_minor=12

good_python() {  # prints the interpreter's path if it runs and is new enough
  "$1" -c "import sys; sys.exit(sys.version_info < ($need_major, $need_minor)); " 2>/dev/null &&
    "$1" -c 'import sys; print(sys.executable)' 2>/dev/null
}

find_python() {
  local c found
  if [ -n "${PYTHON:-}" ]; then
    good_python "$PYTHON" && return 0
    echo "Despatch Desk needs Python $need_major.$need_minor or newer; PYTHON=$PYTHON is $("$PYTHON" --version 2>&1 || echo 'not runnable')." >&2
    return 1
  fi
  for c in python3.13 python3.12 python3 python py; do
    command -v "$c" >/dev/null 2>&1 || continue
    if [ "$c" = py ]; then  # the Windows launcher
      for v in 3.13 3.12; do found=$(good_python_py "$v") && { echo "$found"; return 0; }; done
      continue
    fi
    found=$(good_python "$c") && { echo "$found"; return 0; }
  done
  # pyenv: the python3.12 shim runs only when that version is selected, so ask pyenv for its interpreters.
  if command -v pyenv >/dev/null 2>&1; then
    local root; root=$(pyenv root 2>/dev/null) || root=
    for c in $(ls -d "$root"/versions/3.1[2-9]* "$root"/versions/3.[2-9][0-9]* 2>/dev/null | sort -rV); do
      [ -x "$c/bin/python3" ] && found=$(good_python "$c/bin/python3") && { echo "$found"; return 0; }
    done
  fi
  echo "Despatch Desk needs Python $need_major.$need_minor or newer, and none was found (tried python3.13, python3.12, python3, python, py, pyenv)." >&2
  echo "Install Python 3.12+ from python.org (or your package manager), or set PYTHON=/path/to/python3.12." >&2
  return 1
}
good_python_py() { py "-$1" -c "import sys; print(sys.executable)" 2>/dev/null; }

venv="$repo/.venv"
if [ -x "$venv/bin/python" ]; then vpy="$venv/bin/python"; else vpy="$venv/Scripts/python.exe"; fi
if [ -x "$vpy" ] && ! good_python "$vpy" >/dev/null; then
  echo "Removing $venv: it was made with $("$vpy" --version 2>&1), and Despatch Desk needs $need_major.$need_minor+." >&2
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ] && [ ! -x "$venv/Scripts/python.exe" ]; then
  python=$(find_python) || exit 2
  echo "Creating $venv with $python ($("$python" --version 2>&1)) ..."
  "$python" -m venv "$venv"
fi
if [ -x "$venv/bin/python" ]; then vpy="$venv/bin/python"; else vpy="$venv/Scripts/python.exe"; fi
echo "Using $("$vpy" --version 2>&1) in $venv" >&2
extras=${DESPATCH_DESK_EXTRAS:-test}
stamp="$venv/.installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Despatch Desk and its dependencies into .venv ..."
  "$vpy" -m pip install --disable-pip-version-check -q --upgrade pip
  "$vpy" -m pip install --disable-pip-version-check -q -e ".[$extras]"
  touch "$stamp"
fi
