"""Large corpora: the model is fitted on a seeded sample and the other answers are
assigned with ``transform``; below the sample size nothing changes. The document map
reuses the clustering's reduction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import fit_topics
from analysis.topics import TopicSettings

pytestmark = pytest.mark.slow


def fit(embedded_sample, **settings):
    docs, vectors, embedder = embedded_sample
    return fit_topics(docs, vectors, TopicSettings(**settings), seed=42, embedding_model=embedder.model)


def test_below_the_sample_size_the_fit_is_unchanged(embedded_sample):
    docs, _, _ = embedded_sample
    whole = fit(embedded_sample, fit_sample=None)
    at_size = fit(embedded_sample, fit_sample=len(docs))
    pd.testing.assert_frame_equal(whole.assignments, at_size.assignments)
    pd.testing.assert_frame_equal(whole.info, at_size.info)
    assert np.array_equal(whole.map_2d, at_size.map_2d)


def test_a_larger_corpus_is_fitted_on_a_sample_and_every_answer_assigned(embedded_sample):
    docs, vectors, _ = embedded_sample
    size = int(len(docs) * 0.7)
    result = fit(embedded_sample, fit_sample=size)
    a = result.assignments
    assert a["turn_id"].tolist() == docs["turn_id"].tolist()  # every answer, in order
    assert len(result.model.topics_) == len(docs)  # the model's own table covers every answer too
    assert result.info["size"].sum() == len(docs)
    assert a["topic"].nunique() >= 2 and a["probability"].between(0, 1).all()
    assert result.map_2d.shape == (len(docs), 2) and np.isfinite(result.map_2d).all()
    again = fit(embedded_sample, fit_sample=size)
    pd.testing.assert_frame_equal(a, again.assignments)  # the sample is drawn with the seed
    assert np.array_equal(result.map_2d, again.map_2d)
    # sampled or assigned by transform, answers sit with their topic: nearer its centroid than others'
    topics = a["topic"].to_numpy()
    real = sorted(t for t in set(topics) if t != -1)
    centroids = np.vstack([vectors[topics == t].mean(axis=0) for t in real])
    clustered = np.flatnonzero(topics != -1)
    nearest = np.asarray(real)[np.argmax(vectors[clustered] @ centroids.T, axis=1)]
    assert (nearest == topics[clustered]).mean() >= 0.6


def test_the_document_map_separates_topics(embedded_sample):
    result = fit(embedded_sample)
    topics = result.assignments["topic"].to_numpy()
    keep = topics != -1
    xy = result.map_2d[keep]
    labels = topics[keep]
    # each answer's nearest neighbour on the map mostly shares its topic
    dist = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(dist, np.inf)
    same = (labels[np.argmin(dist, axis=1)] == labels).mean()
    largest = pd.Series(labels).value_counts(normalize=True).iloc[0]
    assert same > largest + 0.2


def test_a_sampled_fit_takes_its_words_from_a_capped_sample_and_its_sizes_from_every_answer(embedded_sample):
    from analysis.topics._model import _word_rows

    docs, _, _ = embedded_sample
    budget = 20  # well below the sample's answers: the sampled path, and topics larger than the cap
    result = fit(embedded_sample, fit_sample=budget)
    topics = result.assignments["topic"].to_numpy()
    rows = _word_rows(topics, budget, seed=42)
    per_topic = pd.Series(topics[rows]).value_counts()
    sizes = pd.Series(topics).value_counts()
    assert len(rows) <= budget < len(docs) and set(per_topic.index) == set(sizes.index)  # every topic has words
    capped = sizes[sizes > per_topic.reindex(sizes.index)].index
    assert len(capped) and per_topic[capped].nunique() == 1  # topics above the cap are cut to it...
    assert (per_topic[sizes.index.difference(capped)] == sizes[sizes.index.difference(capped)]).all()  # ...others whole
    # the words' vocabulary is that of the capped sample's texts (min_df 1 at this size), not of every answer
    # (unigrams: BERTopic joins a topic's answers into one text, so bigrams also span two answers)
    model = result.model
    analyse = model.vectorizer_model.build_analyzer()

    def unigrams(texts):
        return {term for doc in model._preprocess_text(texts) for term in analyse(doc) if " " not in term}

    texts = docs["text"].tolist()
    vocabulary = {term for term in model.vectorizer_model.vocabulary_ if " " not in term}
    assert vocabulary == unigrams([texts[i] for i in rows]) != unigrams(texts)
    # sizes and the model's assignments still count every answer
    assert model.topics_ == topics.tolist()
    assert dict(model.topic_sizes_) == sizes.to_dict()
    assert result.info.set_index("topic")["size"].to_dict() == sizes.to_dict()
    # the same seed draws the same sample and gives the same words
    again = fit(embedded_sample, fit_sample=budget)
    pd.testing.assert_frame_equal(result.info, again.info)
