"""``python -m analysis``: the command line (:mod:`analysis.cli`)."""

import sys

from .cli import main

# Dask's local workers start by importing the parent's __main__: they must not run the CLI
if __name__ == "__main__":
    sys.exit(main())
