"""``python -m helpers.sweep``: the sweep command line (:func:`helpers.sweep.cli.main`)."""

import sys

if __name__ == "__main__":
    # The importable module's main, so that tasks refer to helpers.sweep.*, not __main__.
    from helpers.sweep.cli import main

    sys.exit(main())
