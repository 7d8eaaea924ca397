"""UMAP's numba functions compiled once per machine, not once per process.

UMAP compiles its functions (the fuzzy simplicial set, the layout's epochs, its distances)
with numba on their first call in every new Python process, without numba's on-disk cache:
about 10 s of every topic fit on the reference machine, more than UMAP's own work on a
few thousand answers. Numba can keep the machine code beside the library's source (or in
``NUMBA_CACHE_DIR``), keyed by the function's source file, its argument types and the CPU,
as it does for the functions pynndescent declares ``cache=True``; this turns that cache on
for UMAP's. The code is the same code compiled once and loaded after, so results do not
change (the topic tests compare fits bit for bit).
"""

from __future__ import annotations

import functools


@functools.cache
def cache_umap_compilation() -> int:
    """Turn on numba's on-disk cache for UMAP's module-level compiled functions.

    Returns:
        How many compiled functions now keep their machine code on disk (once per
        process: later calls return the same number without doing anything).

    Example:
        >>> cache_umap_compilation() > 10
        True
    """
    import umap.distances
    import umap.layouts
    import umap.umap_
    import umap.utils
    from numba.core.dispatcher import Dispatcher

    enabled = 0
    for module in (umap.umap_, umap.layouts, umap.distances, umap.utils):
        for function in vars(module).values():
            # functions compiled for a signature given at import (umap.utils) are compiled already
            if isinstance(function, Dispatcher) and not function.signatures:
                function.enable_caching()
                enabled += 1
    return enabled
