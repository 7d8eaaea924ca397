"""``python -m analysis.human_codes._print_cache CACHE_DIR PRINT...``: read Delve prints
into the cache; the worker process of ``_readers._fill_print_cache``."""

from __future__ import annotations

import sys
from pathlib import Path

from ._readers import fill_print_cache

if __name__ == "__main__":
    fill_print_cache([Path(p) for p in sys.argv[2:]], sys.argv[1])
