"""Real BERTopic on real embeddings."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import fit_topics, load_corpus, topic_quality
from analysis.topics import TopicSettings, stop_words
from analysis.transcripts import SubstanceSettings, mark_substantive
from conftest import SAMPLE, TRANSCRIPTS

pytestmark = pytest.mark.slow


def answers_of(folder):
    turns = mark_substantive(load_corpus(folder).turns, SubstanceSettings())
    return turns[turns["substantive"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    from analysis import Embedder

    return Embedder(cache_dir=tmp_path_factory.mktemp("emb"), show_progress=False)


@pytest.fixture(scope="module")
def sample(embedder):
    docs = answers_of(SAMPLE)
    return docs, embedder.embed(docs["text"].tolist())


def test_sample_gets_several_clean_topics_with_quotes(sample, embedder):
    docs, vectors = sample
    settings = TopicSettings()
    result = fit_topics(docs, vectors, settings, embedding_model=embedder.model)
    quality = topic_quality(result.info, result.assignments, settings)
    assert quality["topics"] >= 3
    assert quality["topics_with_stop_or_filler_words"] == []
    assert quality["outlier_share"] <= 0.15
    assert result.assignments["turn_id"].tolist() == docs["turn_id"].tolist()
    # quotes belong to their topic and cite interview and line
    merged = result.quotes.merge(result.assignments, on="turn_id", suffixes=("", "_assigned"))
    assert (merged["topic"] == merged["topic_assigned"]).all()
    assert merged["line_start"].gt(0).all()
    assert result.map_2d.shape == (len(docs), 2)


def test_same_seed_same_topics_and_cache_hit(sample, embedder, tmp_path):
    docs, vectors = sample
    settings = TopicSettings()
    a = fit_topics(docs, vectors, settings, seed=7, embedding_model=embedder.model, cache_dir=tmp_path)
    b = fit_topics(docs, vectors, settings, seed=7, embedding_model=embedder.model)
    assert a.assignments["topic"].tolist() == b.assignments["topic"].tolist()
    calls = []
    c = fit_topics(docs, vectors, settings, seed=7, embedding_model=lambda: calls.append(1), cache_dir=tmp_path)
    assert c.from_cache and not calls  # no model load, no refit
    pd.testing.assert_frame_equal(a.assignments, c.assignments)


def test_word_ranking_reads_the_answers_vectors_and_embeds_only_words(sample, embedder, monkeypatch):
    """KeyBERTInspired ranks each topic's candidate words against its representative answers:
    their vectors are the ones the answers already have, so the model embeds words only."""
    docs, vectors = sample
    asked: list[str] = []
    encode = embedder.model.encode

    def recording(texts, *args, **kwargs):
        asked.extend([texts] if isinstance(texts, str) else texts)
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(embedder.model, "encode", recording)
    result = fit_topics(docs, vectors, TopicSettings(), seed=3, embedding_model=embedder.model)
    assert (result.info["topic"] >= 0).sum() >= 2  # topics, so their words were ranked
    words = {w for ws in result.info["words"] for w in ws}
    assert words <= set(asked)  # every topic word was among the embedded candidates
    assert not set(asked) & set(docs["text"])  # and no answer was embedded again


def test_tiny_corpus_does_not_crash(sample, embedder):
    docs, vectors = sample
    result = fit_topics(docs.head(5), vectors[:5], TopicSettings(), embedding_model=embedder.model)
    assert result.assignments["topic"].tolist() == [0] * 5
    assert len(result.info) == 1


@pytest.mark.corpus
def test_reference_corpus_topics_are_not_degenerate(embedder):
    docs = answers_of(TRANSCRIPTS)
    vectors = embedder.embed(docs["text"].tolist())
    settings = TopicSettings()
    result = fit_topics(docs, vectors, settings, embedding_model=embedder.model)
    quality = topic_quality(result.info, result.assignments, settings)
    # BERTopic's defaults give 2 topics, the first `the_uh_to_and` with 99% of turns.
    assert quality["topics"] >= 15
    assert quality["largest_topic_share"] <= 0.15
    assert quality["outlier_share"] <= 0.15
    banned = set(stop_words(settings))
    for words in result.info.loc[result.info["topic"] != -1, "words"]:
        assert not {tok for w in list(words)[:10] for tok in w.split()} & banned
