"""Outliers join a topic by a threshold relative to the corpus (a quantile of the
clustered answers' cosines to their own topic), not by a fixed cosine."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import fit_topics
from analysis.topics import TopicSettings, outlier_threshold_for
from analysis.topics._model import _reassign_outliers, _topic_cosines

EDGE = 0.05  # cosine: how near the threshold an outlier must be to change sides under the lift


def _unit(rows) -> np.ndarray:
    vectors = np.asarray(rows, dtype=float)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _lifted(vectors: np.ndarray, lift: float) -> np.ndarray:
    """The vectors of an embedder whose cosines all sit higher: a constant extra dimension
    maps each cosine c of two answers to (c + lift**2) / (1 + lift**2)."""
    lifted = np.hstack([vectors, np.full((len(vectors), 1), lift, vectors.dtype)])
    return lifted / np.linalg.norm(lifted, axis=1, keepdims=True)


def test_the_threshold_is_the_quantile_and_the_ends_are_switches():
    cosines = np.array([0.7, 0.2, 0.5, 0.4, 0.6])
    assert outlier_threshold_for(cosines, 0.5) == pytest.approx(0.5)
    assert outlier_threshold_for(cosines, 0.25) == pytest.approx(0.4)
    assert outlier_threshold_for(cosines, 1.0) == np.inf  # no outlier joins, even one nearer than every member
    assert outlier_threshold_for(cosines, 0.0) == -np.inf  # every outlier joins its nearest topic
    assert outlier_threshold_for(np.zeros(0), 0.5) == np.inf  # no member to compare with: none joins


def test_a_member_is_measured_against_the_other_members_of_its_topic():
    vectors = _unit([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1], [1, 1, 1]])
    topics = np.array([0, 0, 1, 1, -1])
    centroids, member_cosines = _topic_cosines(vectors, topics)
    # a two-answer topic: each member's cosine to the other, not to a centroid it is half of
    np.testing.assert_allclose(member_cosines, [np.sqrt(0.5)] * 4)
    np.testing.assert_allclose(centroids[0], _unit([[2 + np.sqrt(2), np.sqrt(2), 0]])[0])


def test_an_outlier_joins_its_nearest_topic_only_when_as_close_as_its_members():
    members = [[1, 0.1, 0], [1, -0.1, 0], [1, 0, 0.1], [0, 1, 0.1], [0, 1, -0.1], [0.1, 1, 0]]
    # as near topic 0 as its members, as near topic 1, nearest topic 1 but less near, near neither
    outliers = [[1, 0.05, 0.05], [0.05, 1, 0.02], [0.5, 1, 0], [0, 0, 1]]
    vectors = _unit(members + outliers)
    topics = np.array([0, 0, 0, 1, 1, 1, -1, -1, -1, -1])
    probability = np.array([0.9] * 6 + [0.0] * 4)

    new_topics, new_probability, assignment, threshold = _reassign_outliers(vectors, topics, probability, 0.025)
    assert new_topics.tolist() == [0, 0, 0, 1, 1, 1, 0, 1, -1, -1]
    assert assignment.tolist() == ["cluster"] * 6 + ["reassigned", "reassigned", "outlier", "outlier"]
    assert 0.98 < threshold < 0.99  # the least typical member: cosine 0.988 to the other two
    centroid = _unit([np.sum(members[:3], axis=0)])[0]
    assert new_probability[6] == pytest.approx(vectors[6] @ centroid)  # a reassigned outlier: its cosine
    assert (new_probability[8:] == 0.0).all() and (new_probability[:6] == 0.9).all()
    assert topics[6] == -1  # the input is left as it was

    nobody = _reassign_outliers(vectors, topics, probability, 1.0)
    assert nobody[0].tolist() == topics.tolist() and np.isinf(nobody[3])
    everyone = _reassign_outliers(vectors, topics, probability, 0.0)
    assert (everyone[0] != -1).all()


@pytest.mark.slow
def test_reassigned_outliers_do_not_depend_on_the_embedders_similarity_scale(embedded_sample):
    docs, vectors, embedder = embedded_sample
    result = fit_topics(docs, vectors, TopicSettings(), seed=42, embedding_model=embedder.model)
    a = result.assignments
    clustered = np.where(a["assignment"] == "cluster", a["topic"], -1).astype(int)  # HDBSCAN's, before reassignment
    n_outliers = int((clustered == -1).sum())
    assert n_outliers >= 5

    # the fit used this function: same answers reassigned, to the same topics, at the threshold it reports
    default = _reassign_outliers(vectors, clustered, np.zeros(len(a)), TopicSettings().outlier_quantile)
    assert default[0].tolist() == a["topic"].tolist() and default[3] == result.outlier_threshold
    # leaving each member out of its centroid keeps small topics from looking tight: most
    # outliers of the sample are as close to a topic as the least typical members are
    assert (a["assignment"] == "reassigned").sum() >= n_outliers / 2

    lifted = _lifted(vectors, 1.5)
    none = np.zeros(len(a))
    centroids_plain, _ = _topic_cosines(vectors, clustered)
    best_plain = (vectors @ centroids_plain.T).max(axis=1)  # each answer's cosine to its nearest topic
    for quantile in (TopicSettings().outlier_quantile, 0.3):
        _, _, how_plain, threshold_plain = _reassign_outliers(vectors, clustered, none, quantile)
        _, _, how_lifted, threshold_lifted = _reassign_outliers(lifted, clustered, none, quantile)
        joined_plain = set(np.flatnonzero(how_plain == "reassigned"))
        joined_lifted = set(np.flatnonzero(how_lifted == "reassigned"))
        assert threshold_lifted > threshold_plain + 0.3  # the threshold moved up with the cosines ...
        # ... so the same outliers join, but for those at the edge: the lift is affine on the
        # cosines of two answers, not quite on those to a renormalised centroid
        changed = np.array(sorted(joined_plain ^ joined_lifted), dtype=int)
        assert len(changed) <= n_outliers / 4
        assert (np.abs(best_plain[changed] - threshold_plain) < EDGE).all(), best_plain[changed] - threshold_plain
        outlier_gaps = best_plain[clustered == -1] - threshold_plain
        assert outlier_gaps.max() - outlier_gaps.min() > 4 * EDGE  # the edge is a narrow band of the outliers
        # the plain run's threshold as a fixed cosine: with the lifted model every outlier joins
        centroids, _ = _topic_cosines(lifted, clustered)
        assert ((lifted[clustered == -1] @ centroids.T).max(axis=1) >= threshold_plain).all()
    assert len(joined_plain) <= n_outliers / 2  # at 0.3 the quantile keeps many outliers out
