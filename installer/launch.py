"""PyInstaller entry script for Despatch Desk (see installer/despatch-desk.spec).

The frozen executable runs exactly what the `despatch-desk` console entry point runs:
`despatch_desk.cli:main`, so `despatch-desk --version` and `despatch-desk self-test` work from a
terminal, and no arguments opens the window.

freeze_support() must run first: without it a frozen child process started by multiprocessing
(spawn) would re-run main() and open a second window.
"""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()

    from despatch_desk.cli import main

    raise SystemExit(main())
