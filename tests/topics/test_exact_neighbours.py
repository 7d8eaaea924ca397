"""Below 4,096 answers the topic model hands UMAP exact neighbours from one matrix
product: they must be the neighbours, and the distances, UMAP's own exact search finds,
so the reduction (and every topic) is what UMAP alone would give."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from analysis.topics._model import exact_cosine_neighbours

pytestmark = pytest.mark.slow


def umap_search(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """UMAP's exact search for small data: every pairwise cosine, then the k smallest."""
    import umap.distances as dist
    from umap.umap_ import nearest_neighbors

    matrix = dist.parallel_special_metric(np.asarray(vectors, np.float32), metric=dist.named_distances["cosine"])
    indices, distances, _ = nearest_neighbors(matrix, k, "precomputed", {}, False, None)
    return indices, distances


def test_the_neighbours_are_those_of_umaps_own_search(embedded_sample):
    _, vectors, _ = embedded_sample
    indices, distances = exact_cosine_neighbours(vectors, 15, block=100)  # several blocks
    expected_indices, expected_distances = umap_search(vectors, 15)
    assert indices.shape == (len(vectors), 15)
    assert (indices[:, 0] == np.arange(len(vectors))).all()  # each answer first in its own list
    assert np.array_equal(np.sort(indices, axis=1), np.sort(expected_indices, axis=1))
    assert np.array_equal(distances, expected_distances)  # the same numbers, not merely close
    assert (np.diff(distances, axis=1) >= 0).all()


def test_umap_given_them_reduces_exactly_as_without(embedded_sample):
    from umap import UMAP

    _, vectors, _ = embedded_sample
    settings = dict(n_neighbors=10, n_components=5, min_dist=0.0, metric="cosine", random_state=42)
    alone = UMAP(**settings).fit(vectors).embedding_
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        given = UMAP(**settings, precomputed_knn=exact_cosine_neighbours(vectors, 10)).fit(vectors).embedding_
    assert np.array_equal(alone, given)


def test_duplicates_and_a_zero_vector_keep_every_answer_first_in_its_own_list():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30, 8)).astype(np.float32)
    vectors[5] = vectors[4]  # the same answer twice
    vectors[7] = 0.0  # an empty text's vector
    indices, distances = exact_cosine_neighbours(vectors, 4)
    assert (indices[:, 0] == np.arange(30)).all()
    assert set(indices[4, :2]) == {4, 5} and distances[4, 1] == pytest.approx(0.0, abs=1e-6)
