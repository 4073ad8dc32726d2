# Sourced by tools/demo.sh and tools/test.sh: make .venv (once) and install the project into it.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Despatch Desk needs Python 3.11 or newer; '$python' is $("$python" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 2
fi
venv="$repo/.venv"
if [ ! -x "$venv/bin/python" ] && [ ! -x "$venv/Scripts/python.exe" ]; then
  echo "Creating $venv ..."
  "$python" -m venv "$venv"
fi
if [ -x "$venv/bin/python" ]; then vpy="$venv/bin/python"; else vpy="$venv/Scripts/python.exe"; fi
extras=${DESPATCH_DESK_EXTRAS:-test}
stamp="$venv/.installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Despatch Desk and its dependencies into .venv ..."
  "$vpy" -m pip install --disable-pip-version-check -q --upgrade pip
  "$vpy" -m pip install --disable-pip-version-check -q -e ".[$extras]"
  touch "$stamp"
fi
