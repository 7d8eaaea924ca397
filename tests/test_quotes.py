"""The quote picker the topic table and the theme pages share: nearest answers first,
then the clearest, different speakers first, ties by position."""

from __future__ import annotations

import numpy as np

from analysis._quotes import best_excerpt, centre_similarity, quote_clarity, rank_quotes
from analysis.report import quote_clarity as report_quote_clarity

CLEAR = "We check every new batch of labels against a held-out set before it goes into training."
CLEARER = (
    "We relabel the noisy images by hand every month, and we keep a list of the classes where the annotators disagree."
)
MUDDLED = "and then, uh, the, the thing with the labels was that"
FILLER = "Okay. Yeah. Um."


def test_only_the_answers_nearest_the_centre_are_candidates():
    texts = [MUDDLED, CLEAR, CLEARER]
    # the clearest answer is the farthest from the centre: outside a pool of two it is never quoted
    ranked = rank_quotes(texts, similarity=[0.9, 0.8, 0.1], pool=2)
    assert ranked["position"].tolist() == [1, 0]
    assert rank_quotes(texts, similarity=[0.9, 0.8, 0.1], pool=3)["position"].tolist() == [2, 1, 0]


def test_without_closeness_every_answer_is_a_candidate_clearest_first():
    ranked = rank_quotes([FILLER, MUDDLED, CLEAR, CLEARER], pool=2)
    assert ranked["position"].tolist() == [3, 2, 1, 0]
    assert ranked["clarity"].is_monotonic_decreasing and ranked["similarity"].isna().all()
    assert ranked["clarity"].iloc[0] == best_excerpt(CLEARER)[1]


def test_different_speakers_are_quoted_before_a_speakers_second_answer():
    texts = [CLEARER, CLEAR, MUDDLED]
    ranked = rank_quotes(texts, similarity=[0.5, 0.5, 0.5], speakers=["I1", "I1", "I2"])
    assert ranked["position"].tolist() == [0, 2, 1]


def test_ties_fall_to_the_input_order_and_missing_closeness_comes_last():
    same = [CLEAR, CLEAR, CLEAR]
    assert rank_quotes(same, similarity=[0.7, 0.7, 0.7])["position"].tolist() == [0, 1, 2]
    # an answer without a vector is a candidate only after those with one
    assert rank_quotes(same, similarity=[np.nan, 0.2, 0.7], pool=2)["position"].tolist() == [2, 1]


def test_centre_similarity_is_the_cosine_to_the_mean_direction():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 5)) * rng.uniform(0.5, 3, size=(6, 1))  # lengths differ
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    centre = unit.mean(axis=0)
    expected = unit @ centre / np.linalg.norm(centre)
    assert np.allclose(centre_similarity(vectors), expected)
    assert np.allclose(centre_similarity(unit), expected)  # the length of a vector does not count


def test_the_report_names_the_same_scoring():
    assert report_quote_clarity is quote_clarity
    assert quote_clarity(CLEAR) > quote_clarity(MUDDLED) > quote_clarity(FILLER)
