#!/usr/bin/env bash
# Launch Despatch Desk in demo mode: the built-in SortedPRO sandbox, no account or key needed.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$vpy" -m despatch_desk --demo "$@"
