"""The topic-model cache: small entries (no embedding model inside), a damaged entry is
a miss (logged, deleted, refitted), and a cached result still draws notebook 03's charts."""

from __future__ import annotations

import logging

import pytest

from analysis import fit_topics
from analysis.topics import TopicSettings

pytestmark = pytest.mark.slow


def fit(embedded_sample, cache_dir, loads):
    docs, vectors, embedder = embedded_sample

    def model():
        loads.append(1)
        return embedder.model

    return fit_topics(
        docs, vectors, TopicSettings(), seed=42, embedding_model=model, model_id=embedder.model_id, cache_dir=cache_dir
    )


def test_cache_entries_are_small_and_damaged_ones_are_refitted(embedded_sample, tmp_path, caplog):
    loads: list[int] = []
    first = fit(embedded_sample, tmp_path, loads)
    (entry,) = tmp_path.glob("topics-*.pkl")
    assert entry.stat().st_size < 2_000_000  # the embedding model (~90 MB) is not in it
    assert first.model.embedding_model is not None  # the fitted result keeps it
    for damaged in (entry.read_bytes()[: entry.stat().st_size // 2], b"", b"not a pickle"):
        entry.write_bytes(damaged)  # a full disk cut the write short, or something else wrote here
        with caplog.at_level(logging.WARNING):
            again = fit(embedded_sample, tmp_path, loads)
        assert not again.from_cache and "cannot be read" in caplog.text
        assert again.assignments.equals(first.assignments) and again.info.equals(first.info)
        caplog.clear()
    assert [p.name for p in tmp_path.iterdir()] == [entry.name]  # rewritten whole, no temporary left


def test_a_cached_result_draws_the_charts_without_loading_the_model(embedded_sample, tmp_path):
    from analysis.report import document_map, topic_barchart, topic_hierarchy, topics_per_interviewee

    docs, _, _ = embedded_sample
    loads: list[int] = []
    fitted = fit(embedded_sample, tmp_path, loads)
    cached = fit(embedded_sample, tmp_path, loads)
    assert cached.from_cache and len(loads) == 1  # only the fit loaded the model
    texts = docs["text"].tolist()
    for draw in (
        lambda r: topic_barchart(r.model),
        lambda r: topic_hierarchy(r.model, texts),
        lambda r: topics_per_interviewee(r.model, texts, docs["speaker_id"].tolist()),
    ):
        assert draw(cached).to_json() == draw(fitted).to_json()

    def points(result):  # BERTopic draws the map's points in a random order
        fig = document_map(result.model, texts, result.map_2d)
        traces = [t for t in fig.data if t.x is not None and t.hovertext is not None]
        return sorted((str(t.name), *map(str, p)) for t in traces for p in zip(list(t.x), list(t.y), list(t.hovertext)))

    assert points(cached) == points(fitted) and len(points(cached)) >= len(texts) - 1
    assert len(loads) == 1
    # a method that needs embeddings gets the model, loaded on demand
    words = cached.model._extract_embeddings(["label noise"], method="word")
    assert words.shape[0] == 1 and len(loads) == 2
