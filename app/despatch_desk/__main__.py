"""``python -m despatch_desk``: the same as the ``despatch-desk`` command."""

from despatch_desk.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
