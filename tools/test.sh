#!/usr/bin/env bash
# Run the whole test suite. Tests that need Xvfb or a Secret Service skip (saying why) on a
# machine without them; with CI=true they run or fail. Extra arguments go to pytest.
DESPATCH_DESK_EXTRAS=test,build source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
exec "$vpy" -m pytest "$@"
