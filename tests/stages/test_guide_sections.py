"""The guide-section signal holds when the embedder's similarity scale changes: its
threshold is a quantile of the corpus's own cosines, not a fixed cosine."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.pipeline import load_taxonomy_and_codes, make_embedder, read_corpus
from analysis.stages import stage_signals

pytestmark = pytest.mark.slow


def _lifted(embed, lift: float):
    """The same embedder with every cosine raised: a constant extra dimension maps each
    cosine c to (c + lift**2) / (1 + lift**2), an increasing map, as a model whose
    unrelated texts score high would."""

    def embed_lifted(texts):
        vectors = embed(texts)
        lifted = np.hstack([vectors, np.full((len(vectors), 1), lift, vectors.dtype)])
        return lifted / np.linalg.norm(lifted, axis=1, keepdims=True)

    return embed_lifted


def test_guide_sections_do_not_depend_on_the_embedders_similarity_scale(sample_run):
    cfg, _ = sample_run
    turns = read_corpus(cfg).turns
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    embed = make_embedder(cfg, show_progress=False).embed
    kinds = taxonomy.kind_examples()

    plain = stage_signals(turns, embed, taxonomy, kinds, guide_quantile=cfg.stages.guide_quantile)
    lifted_embed = _lifted(embed, 1.5)
    lifted = stage_signals(turns, lifted_embed, taxonomy, kinds, guide_quantile=cfg.stages.guide_quantile)

    in_section = plain.section.any(axis=1)
    assert 0 < in_section.mean() < 1  # some answers follow a guide question, not all
    np.testing.assert_array_equal(lifted.section, plain.section)

    # what a fixed cosine of 0.5 would have done with the lifted model: every interviewer
    # turn a guide question
    questions = turns[(turns["role"] == "interviewer") & (turns["text"].str.strip() != "")]["text"].tolist()
    guide = [q for stage in taxonomy.stages for q in stage.guide_questions]
    assert (lifted_embed(questions) @ lifted_embed(guide).T).max(axis=1).min() >= 0.5
