"""Topic modelling of interview answers with BERTopic, configured for speech.

Out of the box BERTopic on transcripts returns a topic of fillers (``the_uh_to_and``)
holding nearly every answer. Here:

* the vectorizer drops English stop words and a configurable list of spoken fillers,
  keeps 1-2 grams of letters only, and ignores terms in a single answer (``min_df``);
* UMAP takes the configured seed (single-threaded, so runs are identical);
* HDBSCAN's ``min_cluster_size`` follows the number of answers (about 0.6% of them,
  at least 3), with ``leaf`` cluster selection so that one broad cluster cannot
  swallow the corpus;
* outliers are reassigned to the nearest topic by embedding cosine when it is at least
  the ``outlier_quantile`` of the clustered answers' cosines to their own topic (a
  threshold relative to the corpus, so another embedder does not shift it); the rest
  stay ``-1``;
* topic words come from c-TF-IDF (frequent words down-weighted) re-ranked with
  KeyBERTInspired, so labels read as phrases of the topic rather than frequent words
  (run once, on the final assignments: it embeds candidate words and is the costliest
  part of the fit after UMAP);
* corpora too small for UMAP/HDBSCAN (fewer than ``MIN_DOCS_FOR_CLUSTERING`` answers)
  get a single topic instead of a crash;
* corpora larger than ``fit_sample`` answers are fitted on a seeded sample of that size
  and the other answers are assigned with ``transform`` (UMAP and HDBSCAN cost grows
  faster than linearly; below the sample size nothing changes); their topic words come
  from a seeded sample of each topic's answers, capped so that about ``fit_sample``
  answers are read in all (sizes still count every answer), so memory stays bounded;
* the document map is a 2-D layout of the neighbour graph UMAP built for the clusters
  (the costly nearest-neighbour search is not run a second time);
* below UMAP's exact-search size (4,096 answers, all fitted) the nearest neighbours come from one
  matrix product (:func:`exact_cosine_neighbours`), not from UMAP's own exact search,
  which calls its cosine once per pair of answers from Python (9 of UMAP's 13 s on
  3,324 answers); the neighbours are the same exact ones.

Fitting is cached by the hash of the texts, their vectors and the settings.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from .._quotes import QUOTE_POOL, centre_similarity, rank_quotes
from .._settings import Settings
from ..files import atomic_pickle
from ._compiled import cache_umap_compilation

logger = logging.getLogger(__name__)

DEFAULT_FILLERS = tuple(
    (
        "uh um uhm erm er ah oh eh hmm mm mhm yeah yep yup yes okay ok like know mean gonna wanna "
        "gotta kind sort actually really basically just right think thing things stuff lot lots "
        "guess maybe probably pretty quite bit little sure way want say said saying tell talk "
        "talking going got get getting don didn doesn isn wasn aren weren haven hasn won wouldn "
        "couldn shouldn ve ll re let let's yeah alright okay so well oh also even still "
        "something someone somebody anything everything different example specific "
        "good great definitely exactly absolutely totally honestly obviously usually generally "
        "currently especially make makes making use used using need needs needed able point course"
    ).split()
)
# Stop words of NLTK's and spaCy's English lists that scikit-learn's list lacks.
EXTRA_STOP_WORDS = (
    "did does doing having has had just now ain aren couldn didn doesn hadn hasn haven isn ma mightn "
    "mustn needn shan shouldn wasn weren won wouldn don ll re ve using used various really quite say make "
    "regarding unless whereas whether yes"
).split()
MIN_DOCS_FOR_CLUSTERING = 12
# UMAP searches neighbours exactly below this many answers (NN-descent above).
UMAP_EXACT_SEARCH_BELOW = 4096
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"


class SpokenCountVectorizer(CountVectorizer):
    """CountVectorizer that also drops n-grams repeating one word ("data data"), which
    speech produces ("the data, the data") and which make unreadable topic labels."""

    def build_analyzer(self):
        analyze = super().build_analyzer()

        def no_repeats(doc):
            return [term for term in analyze(doc) if len(set(term.split())) == len(term.split())]

        return no_repeats


class TopicSettings(Settings):
    """Settings of the topic model; ``None`` sizes follow the corpus size.

    Attributes:
        fillers: spoken fillers left out of topic words (``null``: the built-in list).
        ngram_range: word n-grams of the topic words, ``[low, high]``.
        outlier_quantile: an outlier joins its nearest topic when its cosine to it is at
            least this quantile of the clustered answers' cosines to their own topic
            (:func:`outlier_threshold_for`); ``1.0``: no outlier joins a topic, ``0.0``:
            every outlier joins its nearest topic.
        fit_sample: answers the model is fitted on at most; the others are assigned to
            its topics (``transform``). ``None``: always fit on every answer.
    """

    fillers: tuple[str, ...] = DEFAULT_FILLERS
    ngram_range: tuple[int, int] = (1, 2)
    min_df: int | None = Field(None, ge=1)
    umap_n_neighbors: int = Field(15, ge=2, le=200)
    umap_n_components: int = Field(5, ge=2, le=50)
    min_cluster_size: int | None = Field(None, ge=2)
    min_samples: int | None = Field(None, ge=1)
    cluster_selection_method: Literal["leaf", "eom"] = "leaf"
    outlier_quantile: float = Field(0.025, ge=0.0, le=1.0)
    top_n_words: int = Field(10, ge=3, le=30)
    label_words: int = Field(3, ge=1, le=10)
    fit_sample: int | None = Field(20_000, ge=MIN_DOCS_FOR_CLUSTERING)

    @field_validator("fillers", mode="before")
    @classmethod
    def _built_in_when_null(cls, value):
        return DEFAULT_FILLERS if value is None else value

    @field_validator("ngram_range")
    @classmethod
    def _low_to_high(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if low < 1 or high < low:
            raise ValueError(f"expected [low, high] with 1 <= low <= high, e.g. [1, 2]; got [{low}, {high}]")
        return value

    def sizes(self, n_docs: int) -> dict:
        """Concrete sizes for a corpus of ``n_docs`` answers."""
        mcs = self.min_cluster_size or max(3, round(0.006 * n_docs))
        return {
            "min_cluster_size": mcs,
            "min_samples": self.min_samples or max(2, mcs // 3),
            "n_neighbors": max(2, min(self.umap_n_neighbors, n_docs - 1)),
            "n_components": max(2, min(self.umap_n_components, n_docs - 2)),
            "min_df": self.min_df or (2 if n_docs >= 100 else 1),
        }


def stop_words(settings: TopicSettings) -> list[str]:
    return sorted(set(ENGLISH_STOP_WORDS) | set(EXTRA_STOP_WORDS) | {w.lower() for w in settings.fillers})


TRANSFORM_BLOCK = 20_000  # answers reduced by UMAP at a time when assigned to a fitted model
MAP_EPOCHS = 200  # layout epochs of the document map: 500 (UMAP's default below 10k answers) took 2.5x longer


@dataclass
class TopicResult:
    """Assignments, topic table, quotes and the fitted model.

    Attributes:
        assignments: one row per modelled turn: ``turn_id``, ``topic`` (-1 outlier),
            ``probability`` (HDBSCAN membership, or cosine to the topic for reassigned
            outliers), ``assignment`` (``cluster`` / ``reassigned`` / ``outlier``).
        info: one row per topic: ``topic``, ``label``, ``size``, ``share``, ``words``.
        quotes: representative quotes per topic, the clearest among the answers nearest its
            centroid (picked as the theme pages pick them).
        model: the fitted BERTopic model.
        map_2d: 2-D coordinates of the answers for the document map.
        outlier_threshold: the cosine to its nearest topic an outlier needed to join it
            (``settings.outlier_quantile`` of the clustered answers' cosines); ``None``
            when there was no outlier or no topic.
    """

    assignments: pd.DataFrame
    info: pd.DataFrame
    quotes: pd.DataFrame
    model: object
    map_2d: np.ndarray
    from_cache: bool = False
    outlier_threshold: float | None = None


class _SingleCluster:
    """Cluster model for tiny corpora: everything is topic 0."""

    def fit(self, X, y=None):
        self.labels_ = np.zeros(len(X), dtype=int)
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


def exact_cosine_neighbours(vectors: np.ndarray, k: int, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Every vector's ``k`` nearest vectors by cosine distance (itself first), as UMAP's
    exact search below 4,096 points finds them, without its pairwise loop.

    Candidates come from a float64 matrix product in blocks of ``block`` rows (memory
    ``block`` x n); their distances are then computed with UMAP's own cosine (numba,
    float32 vectors), so they are the very numbers UMAP's search would hand to its graph,
    and ranked by them (ties: itself first, then the lower index). Five spare candidates absorb
    the last-digit differences between the two computations.

    Args:
        vectors: one row per point (need not be unit length).
        k: neighbours per point, at most the number of points.

    Returns:
        ``(indices, distances)``, each ``(n, k)``: ``int32`` neighbour indices and
        ``float64`` cosine distances, nearest first.

    Example:
        >>> idx, dist = exact_cosine_neighbours(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]]), 2)
        >>> idx.tolist(), dist[:, 0].tolist()
        ([[0, 2], [1, 2], [2, 0]], [0.0, 0.0, 0.0])
    """
    from umap.distances import cosine  # heavy (numba): loaded with UMAP anyway

    points = np.ascontiguousarray(vectors, dtype=np.float32)  # what UMAP measures
    unit = points.astype(np.float64)
    norms = np.linalg.norm(unit, axis=1, keepdims=True)
    unit = np.divide(unit, norms, out=np.zeros_like(unit), where=norms > 0)
    n = len(unit)
    spare = min(n, k + 5)
    indices = np.empty((n, k), dtype=np.int32)
    distances = np.empty((n, k), dtype=np.float64)
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        product = 1.0 - unit[rows] @ unit.T
        product[np.arange(len(rows)), rows] = -1.0  # itself among the candidates
        candidates = np.argpartition(product, spare - 1, axis=1)[:, :spare]
        for row, near in zip(rows, candidates):
            exact = np.array([cosine(points[row], points[j]) for j in near])
            order = np.lexsort((near, near != row, exact))[:k]  # ties: itself, then the lower index
            indices[row], distances[row] = near[order], exact[order]
    return indices, distances


def _build_model(n_docs: int, settings: TopicSettings, embedding_model, seed: int, neighbours=None):
    # heavy (numba compiles on import, seconds): loaded only when a model is fitted
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.vectorizers import ClassTfidfTransformer
    from hdbscan import HDBSCAN
    from umap import UMAP

    sizes = settings.sizes(n_docs)
    vectorizer = SpokenCountVectorizer(
        stop_words=stop_words(settings),
        ngram_range=tuple(settings.ngram_range),
        min_df=sizes["min_df"],
        token_pattern=TOKEN_PATTERN,
        lowercase=True,
    )
    if n_docs < MIN_DOCS_FOR_CLUSTERING:
        umap_model, cluster_model = BaseDimensionalityReduction(), _SingleCluster()
    else:
        umap_model = UMAP(
            n_neighbors=sizes["n_neighbors"],
            n_components=sizes["n_components"],
            min_dist=0.0,
            metric="cosine",
            random_state=seed,
            init="spectral" if n_docs >= 50 else "random",
            precomputed_knn=(None, None, None) if neighbours is None else neighbours,
        )
        cluster_model = HDBSCAN(
            min_cluster_size=sizes["min_cluster_size"],
            min_samples=sizes["min_samples"],
            metric="euclidean",
            cluster_selection_method=settings.cluster_selection_method,
            prediction_data=True,
        )
    return BERTopic(
        embedding_model=embedding_model,
        umap_model=umap_model,
        hdbscan_model=cluster_model,
        vectorizer_model=vectorizer,
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        representation_model=None,  # c-TF-IDF words only: KeyBERTInspired runs once, in _final_words
        top_n_words=settings.top_n_words,
        calculate_probabilities=False,
        verbose=False,
    )


def _cache_key(texts: list[str], embeddings: np.ndarray, settings: TopicSettings, model_id: str, seed: int) -> str:
    from importlib.metadata import version  # BERTopic's version without importing it (seconds)

    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "settings": settings.model_dump(mode="json"),
                "seed": seed,
                "model": model_id,
                "bertopic": version("bertopic"),
                # 2: quotes ranked by clarity among the nearest (cached results hold quotes);
                # 3: a sampled fit's words from a capped sample of each topic (below fit_sample: as 2);
                # 4: exact neighbours from one matrix product below 4,096 answers;
                # 5: KeyBERTInspired reads the answers' own vectors (not embedded again)
                "version": 5,
            },
            sort_keys=True,
        ).encode()
    )
    for text in texts:
        digest.update(text.encode("utf-8") + b"\x00")
    digest.update(memoryview(np.ascontiguousarray(embeddings, dtype=np.float32)))  # no copy of float32 vectors
    return digest.hexdigest()[:20]


def _representative_quotes(
    docs_frame: pd.DataFrame, embeddings: np.ndarray, topics: np.ndarray, per_topic: int
) -> pd.DataFrame:
    """The ``per_topic`` answers quoted for each topic: the clearest among the
    ``QUOTE_POOL`` nearest its centroid, different interviewees first
    (:func:`analysis._quotes.rank_quotes`, as the theme pages pick them)."""
    rows = []
    for topic in sorted(set(topics.tolist())):
        if topic == -1:
            continue
        idx = np.flatnonzero(topics == topic)
        sims = centre_similarity(embeddings[idx])
        ranked = rank_quotes(
            docs_frame["text"].iloc[idx].tolist(),
            sims,
            docs_frame["speaker_id"].iloc[idx].tolist(),
            pool=QUOTE_POOL,
        )
        for rank, k in enumerate(ranked["position"].head(per_topic), start=1):
            row = docs_frame.iloc[idx[k]]
            rows.append(
                {
                    "topic": topic,
                    "rank": rank,
                    "turn_id": row["turn_id"],
                    "interview_id": row["interview_id"],
                    "speaker_id": row["speaker_id"],
                    "source_file": row["source_file"],
                    "line_start": int(row["line_start"]),
                    "similarity": float(sims[k]),
                    "text": row["text"],
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "topic",
            "rank",
            "turn_id",
            "interview_id",
            "speaker_id",
            "source_file",
            "line_start",
            "similarity",
            "text",
        ],
    )


def _topic_cosines(embeddings: np.ndarray, topics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit centroids of the topics (row ``k``: topic ``k``) and each clustered answer's
    cosine to the centroid of the *other* answers of its topic, in row order.

    Leaving the answer out of its own centroid measures members as outliers are measured
    (an outlier is in no centroid). With it in, small topics look tighter than they are:
    on the sample (topics of about five answers) every member is at cosine 0.57 or more
    to its topic, above all 10 outliers, so no quantile lets one join; left out, the
    2.5% quantile is 0.357, which 9 of the 10 reach (as 9 reached the former fixed
    0.35). Answers alone in their topic have no such cosine and are left out.
    """
    n_topics = int(topics.max()) + 1 if len(topics) else 0
    centroids = np.zeros((n_topics, embeddings.shape[1]))
    member_cosines = []
    for topic in range(n_topics):
        # float64 copies of at most TRANSFORM_BLOCK members at a time (one block, as
        # before, below that size: the same sums to the last bit)
        rows = np.flatnonzero(topics == topic)
        blocks = [rows[start : start + TRANSFORM_BLOCK] for start in range(0, len(rows), TRANSFORM_BLOCK)] or [rows]
        total = embeddings[blocks[0]].astype(np.float64).sum(axis=0)
        for block in blocks[1:]:
            total += embeddings[block].astype(np.float64).sum(axis=0)
        centroids[topic] = total / (np.linalg.norm(total) or 1.0)
        if len(rows) > 1:
            for block in blocks:
                members = embeddings[block].astype(np.float64)
                others = total - members  # each row: the sum of the topic's other answers
                norms = np.linalg.norm(members, axis=1) * np.linalg.norm(others, axis=1)
                member_cosines.append((members * others).sum(axis=1) / np.where(norms > 0, norms, 1.0))
    return centroids, np.concatenate(member_cosines) if member_cosines else np.zeros(0)


def outlier_threshold_for(member_cosines: np.ndarray, quantile: float) -> float:
    """The cosine to its nearest topic an outlier needs to join it: the ``quantile`` of
    the clustered answers' cosines to their own topic.

    Relative, not absolute, because embedders differ in how high unrelated texts score:
    the fixed 0.35 this replaces, tuned to all-MiniLM-L6-v2 (the 2.6% quantile of these
    cosines on the sample, 3.4% on the reference corpus), lets every outlier join with a
    model whose cosines all sit higher.
    ``1.0`` (no outlier joins: infinity) and ``0.0`` (every outlier joins its nearest
    topic: minus infinity) are switches, not quantiles; so is an empty ``member_cosines``
    (no outlier joins).

    Example:
        >>> cosines = np.array([0.2, 0.4, 0.5, 0.6, 0.7])
        >>> round(outlier_threshold_for(cosines, 0.25), 2)
        0.4
        >>> outlier_threshold_for(cosines, 1.0), outlier_threshold_for(cosines, 0.0)
        (inf, -inf)
    """
    if quantile >= 1.0 or len(member_cosines) == 0:
        return float("inf")
    if quantile <= 0.0:
        return float("-inf")
    return float(np.quantile(member_cosines, quantile))


def _reassign_outliers(
    embeddings: np.ndarray, topics: np.ndarray, probability: np.ndarray, quantile: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
    """Outliers join the topic with the nearest centroid when their cosine to it reaches
    :func:`outlier_threshold_for` of the clustered answers (the ``quantile`` of their
    cosines to their own topic).

    Centroids are the means of the clustered answers, as BERTopic's topic embeddings
    (its ``reduce_outliers(strategy="embeddings")`` decides the same way, with a fixed
    threshold). Returns topics, probabilities (for a reassigned outlier: its cosine to the
    topic; for one left out: 0), how each answer was assigned and the threshold used
    (``None`` when there was no outlier or no topic).
    """
    topics, probability = topics.copy(), np.asarray(probability, dtype=float).copy()
    outlier = topics == -1
    assignment = np.where(outlier, "outlier", "cluster").astype(object)
    threshold = None
    if outlier.any() and (~outlier).any():
        centroids, member_cosines = _topic_cosines(embeddings, topics)
        threshold = outlier_threshold_for(member_cosines, quantile)
        outliers, joined = np.flatnonzero(outlier), 0
        for start in range(0, len(outliers), TRANSFORM_BLOCK):  # float64 copies of a block at a time
            block = outliers[start : start + TRANSFORM_BLOCK]
            vectors = embeddings[block].astype(np.float64)
            sims = vectors @ centroids.T / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            best = sims.max(axis=1)
            joins = best >= threshold
            rows = block[joins]
            topics[rows] = sims.argmax(axis=1)[joins]
            probability[rows] = best[joins]
            assignment[rows] = "reassigned"
            joined += int(joins.sum())
        logger.info("%d of %d outliers joined a topic (cosine >= %.3f)", joined, len(outliers), threshold)
    probability[topics == -1] = 0.0
    return topics, probability, assignment, threshold


def _word_rows(topics: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """Rows whose texts give the topic words of a sampled fit: every answer of a topic
    (outliers count as one) up to a cap, a seeded sample of the cap above it, so that
    about ``budget`` answers are read in all.

    The cap is the largest that keeps the total within ``budget`` (at least one answer a
    topic): small topics keep all their answers, large ones are cut to the same size.
    c-TF-IDF and KeyBERTInspired then cost what a fit of ``budget`` answers costs,
    whatever the corpus size (over every answer, their word lists grew with it).

    Example:
        >>> rows = _word_rows(np.array([0, 0, 0, 0, 0, 0, 1, 1, -1]), 6, seed=0)
        >>> len(rows), [int(p) for p in rows[-3:]]  # 3 of topic 0's 6, then topic 1's 2 and the outlier
        (6, [6, 7, 8])
    """
    labels, sizes = np.unique(topics, return_counts=True)
    ascending = np.sort(sizes)
    cap = int(ascending[-1])  # every answer fits
    for i, size in enumerate(ascending):  # the first topic that cannot keep all its answers sets the cap
        kept = int(ascending[:i].sum())
        if kept + int(size) * (len(ascending) - i) > budget:
            cap = max(1, (budget - kept) // (len(ascending) - i))
            break
    rng = np.random.default_rng(seed)
    rows = []
    for label in labels:
        members = np.flatnonzero(topics == label)
        rows.append(members if len(members) <= cap else rng.choice(members, size=cap, replace=False))
    return np.sort(np.concatenate(rows))


def _answer_vectors_backend(texts: list[str], embeddings: np.ndarray, backend):
    """A BERTopic embedding backend that gives the answers of this fit the vectors they
    already have, and embeds any other text (KeyBERTInspired's candidate words) with
    ``backend``, in the order given: the same word vectors as ``backend`` alone.

    KeyBERTInspired averages the vectors of each topic's representative answers; through
    the model it would embed those answers a second time (180 answers, seconds, for 36
    topics; BERTopic's own way to pass them, ``embeddings=``, indexes the answers by their
    rank among the representatives, and ``update_topics`` does not take it)."""
    from bertopic.backend import BaseEmbedder  # heavy: loaded with BERTopic

    row_of = {text: row for row, text in enumerate(texts)}

    class AnswerVectors(BaseEmbedder):
        def embed(self, documents, verbose: bool = False) -> np.ndarray:
            rows = np.array([row_of.get(d, -1) for d in documents], dtype=np.int64)
            out = np.empty((len(documents), embeddings.shape[1]), dtype=np.float32)
            known = rows >= 0
            out[known] = embeddings[rows[known]]
            if not known.all():
                others = [d for d, k in zip(documents, known) if not k]
                out[~known] = backend.embed(others, verbose)
            return out

    return AnswerVectors()


def _final_words(
    model,
    texts: list[str],
    embeddings: np.ndarray,
    topics: np.ndarray,
    settings: TopicSettings,
    seed: int,
    rows: np.ndarray | None = None,
) -> None:
    """Topic words of the final assignments (reassigned outliers and, for a sampled fit,
    every answer: the model's table of topics then covers all answers, as charts expect),
    re-ranked once with KeyBERTInspired, which reads the answers' own vectors
    (:func:`_answer_vectors_backend`) and embeds only the candidate words.

    ``rows`` (a sampled fit, :func:`_word_rows`): the words come from these answers only;
    the model's assignments and topic sizes still cover every answer.
    """
    from bertopic.representation import KeyBERTInspired  # heavy: loaded with BERTopic

    # BERTopic warns that manual assignments must come last; they do here.
    logging.getLogger("BERTopic").setLevel(logging.ERROR)
    backend = model.embedding_model
    if backend is not None:
        model.embedding_model = _answer_vectors_backend(texts, embeddings, backend)
    try:
        model.update_topics(
            texts if rows is None else [texts[i] for i in rows],
            topics=topics.tolist() if rows is None else topics[rows].tolist(),
            top_n_words=settings.top_n_words,
            vectorizer_model=model.vectorizer_model,
            ctfidf_model=model.ctfidf_model,
            representation_model=KeyBERTInspired(top_n_words=settings.top_n_words, random_state=seed),
        )
    finally:  # the fitted model keeps the plain backend (nothing of these answers)
        model.embedding_model = backend
    if rows is not None:  # as update_topics sets them, from every answer
        model.topics_ = topics.astype(int).tolist()
        model.topic_sizes_ = collections.Counter(model.topics_)


def _topic_info(model, topics: np.ndarray, settings: TopicSettings) -> pd.DataFrame:
    """One row per topic: label (its top words), size, share and words."""
    labels = model.generate_topic_labels(nr_words=settings.label_words, topic_prefix=False, separator=", ")
    model.set_topic_labels(labels)
    label_of = dict(zip(sorted(model.get_topics()), labels))
    sizes = pd.Series(topics).value_counts()
    n_docs = len(topics)
    return pd.DataFrame(
        [
            {
                "topic": t,
                "label": "outliers" if t == -1 else label_of.get(t, str(t)),
                "size": int(sizes.get(t, 0)),
                "share": float(sizes.get(t, 0)) / n_docs,
                "words": [w for w, _ in (model.get_topic(t) or [])][: settings.top_n_words] if t != -1 else [],
            }
            for t in sorted(sizes.index)
        ]
    )


def fit_topics(
    docs_frame: pd.DataFrame,
    embeddings: np.ndarray,
    settings: TopicSettings,
    *,
    seed: int = 42,
    embedding_model=None,
    model_id: str = "",
    cache_dir: str | Path | None = None,
    quotes_per_topic: int = 3,
) -> TopicResult:
    """Fit topics on the answers of ``docs_frame`` (rows aligned with ``embeddings``).

    Args:
        docs_frame: turns to model, with ``turn_id``, ``text``, ``interview_id``,
            ``speaker_id``, ``source_file``, ``line_start``.
        embeddings: unit-length vectors, one row per turn.
        settings: :class:`TopicSettings`.
        seed: seed of UMAP and of the word representation.
        embedding_model: a SentenceTransformer, used by KeyBERTInspired to rank words.
            May be a zero-argument callable returning one, so a cached run never loads it.
        model_id: embedding model identity (part of the cache key).
        cache_dir: where fitted models are cached; ``None`` for no cache.

    Returns:
        A :class:`TopicResult`.
    """
    texts = docs_frame["text"].tolist()
    n_docs = len(texts)
    if n_docs == 0:
        raise ValueError(
            "no answers to model: every interviewee turn is a backchannel, too short or in another language"
        )
    key = _cache_key(texts, embeddings, settings, model_id, seed)
    cache_file = Path(cache_dir) / f"topics-{key}.pkl" if cache_dir else None
    result = _read_cached(cache_file, embedding_model) if cache_file else None
    if result is not None:
        return result

    if callable(embedding_model) and not hasattr(embedding_model, "encode"):
        embedding_model = embedding_model()
    cache_umap_compilation()  # before UMAP's first call in this process: its code loads from disk
    fit_rows = _fit_rows(n_docs, settings, seed)
    neighbours = None
    n_neighbors = settings.sizes(len(fit_rows))["n_neighbors"]
    # not for a sampled fit: UMAP's transform of the other answers needs its own search index
    if MIN_DOCS_FOR_CLUSTERING <= n_docs < UMAP_EXACT_SEARCH_BELOW and len(fit_rows) == n_docs and n_neighbors < n_docs:
        neighbours = exact_cosine_neighbours(embeddings[fit_rows], n_neighbors)
    model = _build_model(len(fit_rows), settings, embedding_model, seed, neighbours)
    topics, probability, reduced = _fit_and_assign(model, texts, embeddings, fit_rows)
    topics, probability, assignment, threshold = _reassign_outliers(
        embeddings, topics, probability, settings.outlier_quantile
    )
    sampled = len(fit_rows) < n_docs
    word_rows = _word_rows(topics, settings.fit_sample, seed) if sampled else None
    _final_words(model, texts, embeddings, topics, settings, seed, word_rows)
    info = _topic_info(model, topics, settings)
    assignments = pd.DataFrame(
        {
            "turn_id": docs_frame["turn_id"].to_numpy(),
            "topic": topics.astype(int),
            "probability": probability.round(6),
            "assignment": assignment.astype(str),
        }
    )
    quotes = _representative_quotes(docs_frame.reset_index(drop=True), embeddings, topics, quotes_per_topic)
    map_2d = _map_2d(model.umap_model, embeddings, reduced, fit_rows, seed)
    result = TopicResult(assignments, info, quotes, model, map_2d, outlier_threshold=threshold)
    if cache_file:
        _write_cached(cache_file, result)
    return result


class _LazyEmbedder:
    """Stands in for the embedding model of a cached topic model: loads it (through the
    zero-argument callable given to :func:`fit_topics`) only when BERTopic embeds."""

    def __init__(self, load):
        self._load = load
        self._backend = None

    def _get(self):
        if self._backend is None:
            from bertopic.backend._utils import select_backend  # heavy: only when a cached model embeds

            model = self._load() if callable(self._load) and not hasattr(self._load, "encode") else self._load
            self._backend = select_backend(model)
        return self._backend

    def embed(self, documents, verbose: bool = False):
        return self._get().embed(documents, verbose)

    def embed_documents(self, documents, verbose: bool = False):
        return self._get().embed_documents(documents, verbose)

    def embed_words(self, words, verbose: bool = False):
        return self._get().embed_words(words, verbose)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._get(), name)


def _read_cached(cache_file: Path, embedding_model) -> TopicResult | None:
    """The cached result, or ``None`` on a miss; an entry that cannot be read (truncated
    by a full disk, from another version) is a miss: logged, deleted, refitted."""
    if not cache_file.is_file():
        return None
    try:
        with cache_file.open("rb") as fh:
            result = pickle.load(fh)
        if not isinstance(result, TopicResult):
            raise TypeError(f"holds a {type(result).__name__}, not a topic result")
    except Exception as exc:  # noqa: BLE001 - any unreadable entry is a miss, never a crash
        logger.warning("topic cache entry %s cannot be read (%r); deleted, refitting", cache_file, exc)
        cache_file.unlink(missing_ok=True)
        return None
    if embedding_model is not None:
        result.model.embedding_model = _LazyEmbedder(embedding_model)
    result.from_cache = True
    return result


def _write_cached(cache_file: Path, result: TopicResult) -> None:
    """Pickle ``result`` atomically without its embedding model (a cached entry gets the
    model back lazily, see :class:`_LazyEmbedder`); a failed write only loses the cache."""
    model = result.model
    embedder = getattr(model, "embedding_model", None)
    model.embedding_model = None  # the SentenceTransformer: 90 MB per entry, and loaded anyway
    try:
        atomic_pickle(cache_file, result)
    except OSError as exc:  # a full disk must not fail a fit that succeeded
        logger.warning("topic cache entry %s not written (%s)", cache_file, exc)
    finally:
        model.embedding_model = embedder


def _fit_rows(n_docs: int, settings: TopicSettings, seed: int) -> np.ndarray:
    """Rows the model is fitted on: all of them, or a seeded sample of ``fit_sample``."""
    if settings.fit_sample is None or n_docs <= settings.fit_sample:
        return np.arange(n_docs)
    return np.sort(np.random.default_rng(seed).choice(n_docs, size=settings.fit_sample, replace=False))


def _fit_and_assign(
    model, texts: list[str], embeddings: np.ndarray, fit_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``model`` on ``fit_rows`` and assign the other answers with ``transform``.

    Returns topics, probabilities (HDBSCAN membership) and the reduced vectors the
    clusters live in (UMAP's, or the vectors themselves for a tiny corpus), one row each.
    """
    n_docs = len(texts)
    fitted = len(fit_rows) == n_docs
    with warnings.catch_warnings():
        # exact neighbours given (small corpora): UMAP warns that it then has no search
        # index for transform, which only a sampled fit (never small) uses
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        topics, probs = model.fit_transform(
            texts if fitted else [texts[i] for i in fit_rows],
            embeddings=embeddings if fitted else embeddings[fit_rows],
        )
    probability = np.asarray(probs, dtype=float) if probs is not None else np.ones(len(fit_rows))
    if probability.ndim != 1:
        probability = probability.max(axis=1)
    umap_model = model.umap_model
    reduced_fit = getattr(umap_model, "embedding_", None)
    if reduced_fit is None:  # a tiny corpus: no reduction
        reduced_fit = embeddings[fit_rows]
    if fitted:
        return np.asarray(topics), probability, np.asarray(reduced_fit)

    from bertopic.dimensionality import BaseDimensionalityReduction  # heavy: only for a sampled fit

    rest = np.setdiff1d(np.arange(n_docs), fit_rows)
    reduced = np.empty((n_docs, reduced_fit.shape[1]), dtype=np.float32)
    reduced[fit_rows] = reduced_fit
    for start in range(0, len(rest), TRANSFORM_BLOCK):  # bounded memory for UMAP's neighbour search
        block = rest[start : start + TRANSFORM_BLOCK]
        reduced[block] = umap_model.transform(embeddings[block])
    # BERTopic's transform maps HDBSCAN's labels to its topic ids; it gets the reduced
    # vectors through an identity reduction, so UMAP runs once per answer.
    model.umap_model = BaseDimensionalityReduction()
    try:
        rest_topics, rest_probs = model.transform([texts[i] for i in rest], embeddings=reduced[rest])
    finally:
        model.umap_model = umap_model
    all_topics = np.empty(n_docs, dtype=int)
    all_topics[fit_rows], all_topics[rest] = topics, rest_topics
    all_probability = np.empty(n_docs, dtype=float)
    all_probability[fit_rows], all_probability[rest] = probability, np.asarray(rest_probs, dtype=float)
    return all_topics, all_probability, reduced


def _map_2d(umap_model, embeddings: np.ndarray, reduced: np.ndarray, fit_rows: np.ndarray, seed: int) -> np.ndarray:
    """2-D layout of the answers for BERTopic's document map.

    The fitted UMAP's fuzzy neighbour graph (the same graph a second 2-D UMAP of the
    vectors would build) is laid out in 2-D: measured on 1,500 reference answers, this
    separates topics as well as the second UMAP did (10-NN topic accuracy 0.82 vs 0.83;
    PCA of the 5-D reduction: 0.72) in a ninth of its time (5 s against 47 s). Answers outside a sampled
    fit sit at the mean position of their 5 nearest fitted answers in the 5-D reduction.
    A tiny corpus (no UMAP) gets a PCA of its vectors.
    """
    n = len(embeddings)
    graph = getattr(umap_model, "graph_", None)
    if graph is None:
        if n < 3:
            return np.zeros((n, 2))
        return PCA(n_components=2, random_state=seed).fit_transform(embeddings)
    from umap.umap_ import find_ab_params, simplicial_set_embedding  # heavy (numba): only for the map

    a, b = find_ab_params(1.0, 0.0)  # spread 1, min_dist 0, as the clustering's UMAP
    layout, _ = simplicial_set_embedding(
        data=embeddings[fit_rows],
        graph=graph.copy(),  # the layout prunes weak edges in place
        n_components=2,
        initial_alpha=1.0,
        a=a,
        b=b,
        gamma=1.0,
        negative_sample_rate=5,
        n_epochs=MAP_EPOCHS,
        init="spectral" if len(fit_rows) >= 50 else "random",
        random_state=np.random.RandomState(seed),
        metric="cosine",
        metric_kwds={},
        densmap=False,
        densmap_kwds={},
        output_dens=False,
    )
    if len(fit_rows) == n:
        return layout
    from sklearn.neighbors import NearestNeighbors

    out = np.empty((n, 2), dtype=layout.dtype)
    out[fit_rows] = layout
    rest = np.setdiff1d(np.arange(n), fit_rows)
    neighbours = NearestNeighbors(n_neighbors=min(5, len(fit_rows))).fit(reduced[fit_rows])
    for start in range(0, len(rest), TRANSFORM_BLOCK):
        block = rest[start : start + TRANSFORM_BLOCK]
        _, idx = neighbours.kneighbors(reduced[block])
        out[block] = layout[idx].mean(axis=1)
    return out


def topic_quality(
    info: pd.DataFrame, assignments: pd.DataFrame, settings: TopicSettings, outlier_threshold: float | None = None
) -> dict:
    """The figures the topic bars are judged by; with the assignments' ``assignment``
    column, how many outliers joined a topic, and with ``outlier_threshold``
    (:attr:`TopicResult.outlier_threshold`), the cosine they needed.

    Example:
        >>> info = pd.DataFrame({"topic": [-1, 0], "size": [1, 3], "words": [[], ["data drift", "labels"]]})
        >>> a = pd.DataFrame({"topic": [-1, 0, 0, 0]})
        >>> topic_quality(info, a, TopicSettings())["largest_topic_share"]
        0.75
    """
    banned = set(stop_words(settings))
    real = info[info["topic"] != -1]
    n = len(assignments)
    dirty = [int(r.topic) for r in real.itertuples() if any(tok in banned for w in r.words[:10] for tok in w.split())]
    quality = {
        "answers": n,
        "topics": int(len(real)),
        "largest_topic_share": round(float(real["size"].max() / n), 4) if len(real) else 0.0,
        "outlier_share": round(float((assignments["topic"] == -1).mean()), 4),
        "topics_with_stop_or_filler_words": dirty,
    }
    if "assignment" in assignments:
        quality["outliers_joined_a_topic"] = int((assignments["assignment"] == "reassigned").sum())
    if outlier_threshold is not None and np.isfinite(outlier_threshold):
        quality["cosine_an_outlier_needed"] = round(float(outlier_threshold), 3)
    return quality
