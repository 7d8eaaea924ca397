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
  ``outlier_threshold``; the rest stay ``-1``;
* topic words come from c-TF-IDF (frequent words down-weighted) re-ranked with
  KeyBERTInspired, so labels read as phrases of the topic rather than frequent words;
* corpora too small for UMAP/HDBSCAN (fewer than ``MIN_DOCS_FOR_CLUSTERING`` answers)
  get a single topic instead of a crash.

Fitting is cached by the hash of the texts, their vectors and the settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from .._settings import Settings
from ..files import atomic_pickle

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
        outlier_threshold: cosine to the nearest topic an outlier needs to join it.
    """

    fillers: tuple[str, ...] = DEFAULT_FILLERS
    ngram_range: tuple[int, int] = (1, 2)
    min_df: int | None = Field(None, ge=1)
    umap_n_neighbors: int = Field(15, ge=2, le=200)
    umap_n_components: int = Field(5, ge=2, le=50)
    min_cluster_size: int | None = Field(None, ge=2)
    min_samples: int | None = Field(None, ge=1)
    cluster_selection_method: Literal["leaf", "eom"] = "leaf"
    outlier_threshold: float = Field(0.35, ge=0.0, le=1.0)
    top_n_words: int = Field(10, ge=3, le=30)
    label_words: int = Field(3, ge=1, le=10)

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


@dataclass
class TopicResult:
    """Assignments, topic table, quotes and the fitted model.

    Attributes:
        assignments: one row per modelled turn: ``turn_id``, ``topic`` (-1 outlier),
            ``probability`` (HDBSCAN membership, or cosine to the topic for reassigned
            outliers), ``assignment`` (``cluster`` / ``reassigned`` / ``outlier``).
        info: one row per topic: ``topic``, ``label``, ``size``, ``share``, ``words``.
        quotes: representative quotes per topic, nearest to the topic's centroid.
        model: the fitted BERTopic model.
        map_2d: 2-D coordinates of the answers for the document map.
    """

    assignments: pd.DataFrame
    info: pd.DataFrame
    quotes: pd.DataFrame
    model: object
    map_2d: np.ndarray
    from_cache: bool = False


class _SingleCluster:
    """Cluster model for tiny corpora: everything is topic 0."""

    def fit(self, X, y=None):
        self.labels_ = np.zeros(len(X), dtype=int)
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


def _build_model(n_docs: int, settings: TopicSettings, embedding_model, seed: int):
    # heavy (numba compiles on import, seconds): loaded only when a model is fitted
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.representation import KeyBERTInspired
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
        representation_model=KeyBERTInspired(top_n_words=settings.top_n_words, random_state=seed),
        top_n_words=settings.top_n_words,
        calculate_probabilities=False,
        verbose=False,
    )


def _cache_key(texts: list[str], embeddings: np.ndarray, settings: TopicSettings, model_id: str, seed: int) -> str:
    import bertopic  # heavy: only its version is read, and only for a cache key

    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "settings": settings.model_dump(mode="json"),
                "seed": seed,
                "model": model_id,
                "bertopic": bertopic.__version__,
                "version": 1,
            },
            sort_keys=True,
        ).encode()
    )
    for text in texts:
        digest.update(text.encode("utf-8") + b"\x00")
    digest.update(np.ascontiguousarray(embeddings, dtype=np.float32).tobytes())
    return digest.hexdigest()[:20]


def _representative_quotes(
    docs_frame: pd.DataFrame, embeddings: np.ndarray, topics: np.ndarray, per_topic: int
) -> pd.DataFrame:
    rows = []
    for topic in sorted(set(topics.tolist())):
        if topic == -1:
            continue
        idx = np.flatnonzero(topics == topic)
        centroid = embeddings[idx].mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        sims = embeddings[idx] @ centroid
        order = np.lexsort((idx, -sims))[:per_topic]  # ties broken by position: deterministic
        for rank, k in enumerate(order, start=1):
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


def _reassign_outliers(
    model,
    texts: list[str],
    embeddings: np.ndarray,
    topics: np.ndarray,
    probability: np.ndarray,
    settings: TopicSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outliers join the nearest topic when their cosine to it reaches
    ``settings.outlier_threshold``; returns topics, probabilities and how each was assigned."""
    assignment = np.where(topics == -1, "outlier", "cluster").astype(object)
    if (topics == -1).any() and (topics != -1).any():
        new_topics = np.asarray(
            model.reduce_outliers(
                texts,
                topics.tolist(),
                strategy="embeddings",
                embeddings=embeddings,
                threshold=settings.outlier_threshold,
            )
        )
        moved = (topics == -1) & (new_topics != -1)
        if moved.any():
            # BERTopic warns that manual assignments must come last; they do here.
            logging.getLogger("BERTopic").setLevel(logging.ERROR)
            topic_vectors = np.asarray(model.topic_embeddings_)[model._outliers :]
            sims = embeddings[moved] @ (topic_vectors / np.linalg.norm(topic_vectors, axis=1, keepdims=True)).T
            probability[moved] = sims.max(axis=1)
            assignment[moved] = "reassigned"
            model.update_topics(
                texts,
                topics=new_topics.tolist(),
                top_n_words=settings.top_n_words,
                vectorizer_model=model.vectorizer_model,
                ctfidf_model=model.ctfidf_model,
                representation_model=model.representation_model,
            )
        topics = new_topics
    probability[topics == -1] = 0.0
    return topics, probability, assignment


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
    model = _build_model(n_docs, settings, embedding_model, seed)
    topics, probs = model.fit_transform(texts, embeddings=embeddings)
    topics = np.asarray(topics)
    probability = np.asarray(probs, dtype=float) if probs is not None else np.ones(n_docs)
    if probability.ndim != 1:
        probability = probability.max(axis=1)
    topics, probability, assignment = _reassign_outliers(model, texts, embeddings, topics, probability, settings)
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
    map_2d = _map_2d(embeddings, settings, seed)
    result = TopicResult(assignments, info, quotes, model, map_2d)
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


def _map_2d(embeddings: np.ndarray, settings: TopicSettings, seed: int) -> np.ndarray:
    """2-D layout of the answers for BERTopic's document map."""
    n = len(embeddings)
    if n < MIN_DOCS_FOR_CLUSTERING:
        if n < 3:
            return np.zeros((n, 2))
        return PCA(n_components=2, random_state=seed).fit_transform(embeddings)
    from umap import UMAP  # heavy (numba): only for the document map

    return UMAP(
        n_neighbors=max(2, min(settings.umap_n_neighbors, n - 1)),
        n_components=2,
        min_dist=0.0,
        metric="cosine",
        random_state=seed,
        init="spectral" if n >= 50 else "random",
    ).fit_transform(embeddings)


def topic_quality(info: pd.DataFrame, assignments: pd.DataFrame, settings: TopicSettings) -> dict:
    """The figures the topic bars are judged by.

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
    return {
        "answers": n,
        "topics": int(len(real)),
        "largest_topic_share": round(float(real["size"].max() / n), 4) if len(real) else 0.0,
        "outlier_share": round(float((assignments["topic"] == -1).mean()), 4),
        "topics_with_stop_or_filler_words": dirty,
    }
