"""UMAP's numba functions are compiled once per machine: a second process loads the machine
code from numba's cache instead of compiling it again, and reduces exactly as the first."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.slow

# A process that fits UMAP the way the topic model does (exact neighbours given, the
# clustering's settings) on fixed points and saves the reduction.
FIT = textwrap.dedent(
    """
    import sys

    import numpy as np
    from umap import UMAP
    from analysis.topics._compiled import cache_umap_compilation
    from analysis.topics._model import exact_cosine_neighbours

    cache_umap_compilation()
    points = np.random.default_rng(3).normal(size=(300, 24)).astype(np.float32)
    indices, distances = exact_cosine_neighbours(points, 15)
    reducer = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42,
                   precomputed_knn=(indices, distances, None))
    np.save(sys.argv[1], reducer.fit_transform(points))
    """
)


def fit_in_a_new_process(out, cache_dir) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "NUMBA_DEBUG_CACHE": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", FIT, str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def umap_lines(log: str, what: str) -> set[str]:
    """The UMAP functions (``module.function``) the numba cache log says it ``what``
    ("data saved", "data loaded"): lines such as ``data saved to '.../umap_<hash>/layouts.rdist-31.py311.1.nbc'``."""
    return {m.group(1) for m in re.finditer(rf"{what} (?:to|from) '[^']*/umap[^/']*/(\w+\.\w+)-\d+", log)}


def test_a_second_process_loads_umaps_compiled_code_and_reduces_the_same(tmp_path):
    cache_dir = tmp_path / "numba"
    first = fit_in_a_new_process(tmp_path / "first.npy", cache_dir)
    saved = umap_lines(first, "data saved")
    # the fuzzy graph and the layout: the functions that took ~10 s to compile in every process
    assert {"umap_.smooth_knn_dist", "umap_.compute_membership_strengths"} <= saved, saved
    assert any(name.startswith("layouts.") for name in saved), saved

    second = fit_in_a_new_process(tmp_path / "second.npy", cache_dir)
    assert umap_lines(second, "data saved") == set()  # nothing compiled again
    loaded = umap_lines(second, "data loaded")  # (helpers inlined into others are not loaded on their own)
    assert {"umap_.smooth_knn_dist", "umap_.compute_membership_strengths"} <= loaded, loaded
    assert any(name.startswith("layouts.") for name in loaded), loaded
    # the first process compiled the code, the second loaded it: the same reduction, bit for bit
    assert np.array_equal(np.load(tmp_path / "first.npy"), np.load(tmp_path / "second.npy"))
