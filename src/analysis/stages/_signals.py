"""The signals the stage coder reads, per interviewee turn: similarity of the answer and
of its question to each stage, cue phrases said word for word, the guide section the
interview is in, and similarity to the taxonomy's examples of an issue and a fix."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._ids import natural_sorted
from ._taxonomy import Taxonomy

CUE_CAP = 2  # more than two cue phrases of one stage add no more evidence


@dataclass
class StageSignals:
    """Per interviewee turn (rows of ``answers``), the signals the coders use."""

    answers: pd.DataFrame  # interviewee turns, in transcript order
    answer_vectors: np.ndarray  # zero rows for turns that were not embedded
    question_vectors: np.ndarray
    answer_stage: np.ndarray  # answers x stages: similarity of the answer to each stage
    question_stage: np.ndarray  # answers x stages: similarity of its question to each stage
    section: np.ndarray  # answers x stages, one-hot of the guide section (or zeros)
    answer_cues: np.ndarray  # answers x stages: cue phrases said in the answer (capped)
    question_cues: np.ndarray  # answers x stages: cue phrases said in its question (capped)
    matched_cues: list[dict[str, list[str]]]  # per answer, stage -> cue phrases found in the answer
    issue_similarity: np.ndarray
    fix_similarity: np.ndarray
    stage_ids: list[str]

    def episodes(self) -> np.ndarray:
        """Episode of each answer: the interviewer question it answers (answers with no
        question form an episode of their own)."""
        q = self.answers["question_turn_id"]
        own = "own:" + self.answers["turn_id"].astype(str)
        return np.where(q.isna(), own, q.astype(str))


def _strip_id(question: str) -> str:
    return re.sub(r"^\s*\[[^\]]*\]\s*", "", question)


_SUFFIXES = (
    "ibility",
    "ability",
    "ations",
    "ation",
    "ible",
    "able",
    "ings",
    "ing",
    "ness",
    "ities",
    "ity",
    "ies",
    "es",
    "ed",
    "s",
    "e",
    "y",
    "ly",
)


@functools.lru_cache(maxsize=1 << 16)  # spoken words repeat: 300k words, a few thousand distinct
def _stem(word: str) -> str:
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _normalise(text: str) -> str:
    """Lower-case, light-stemmed words between spaces, so that a cue phrase matches whole
    words in any inflection ("labels" and "labelling" both say "label").

    Example:
        >>> _normalise("Concept drifts, retraining!") == _normalise("concept drift retrain")
        True
    """
    return " " + " ".join(_stem(w) for w in re.findall(r"[A-Za-z0-9]+", text)) + " "


def cue_hits(texts: list[str], taxonomy: Taxonomy) -> tuple[np.ndarray, list[dict[str, list[str]]]]:
    """Texts x stages: how many of each stage's cue phrases a text contains word for
    word (after :func:`_normalise`), and which.

    Example:
        >>> from analysis.stages import Stage, Taxonomy
        >>> tax = Taxonomy((Stage("maint", "Maintenance", "d", cues=("concept drift", "monitoring")),
        ...                 Stage("data", "Data", "d", cues=("labels",))))
        >>> counts, found = cue_hits(["We monitor concept drifts.", "No label at all."], tax)
        >>> counts.tolist(), found[0]
        ([[2.0, 0.0], [0.0, 1.0]], {'maint': ['concept drift', 'monitoring']})
    """
    phrases = [[(cue, _normalise(cue)) for cue in stage.cues if _normalise(cue).strip()] for stage in taxonomy.stages]
    counts = np.zeros((len(texts), len(phrases)))
    found: list[dict[str, list[str]]] = []
    for i, text in enumerate(texts):
        said = _normalise(text) if isinstance(text, str) else " "
        matched = {}
        for k, stage_phrases in enumerate(phrases):
            hits = [cue for cue, norm in stage_phrases if norm in said]
            counts[i, k] = len(hits)
            if hits:
                matched[taxonomy.stages[k].id] = hits
        found.append(matched)
    return counts, found


def _guide_questions(taxonomy: Taxonomy) -> tuple[list[str], list[int]]:
    """The interview guide's questions and the index of their stage (-1: no stage)."""
    texts, stage_of = [], []
    for k, stage in enumerate(taxonomy.stages):
        for q in stage.guide_questions:
            texts.append(_strip_id(q))
            stage_of.append(k)
    for q in taxonomy.other_guide_questions:
        texts.append(_strip_id(q))
        stage_of.append(-1)
    return texts, stage_of


def guide_threshold_for(similarities: np.ndarray, quantile: float) -> float:
    """The cosine an interviewer turn needs to its closest guide question to count as
    asking it: the ``quantile`` of all turn-to-guide-question cosines of the corpus.

    Relative, not absolute, because embedders differ in how high unrelated texts score:
    with all-MiniLM-L6-v2 a fixed 0.5 let 42% of interviewer turns count as guide
    questions, with another model 100%.

    Example:
        >>> sims = np.array([[0.1, 0.2, 0.9], [0.3, 0.1, 0.2]])
        >>> round(guide_threshold_for(sims, 0.8), 2)
        0.3
    """
    if similarities.size == 0:
        return float("inf")
    return float(np.quantile(similarities, quantile))


def _guide_sections(
    ordered: pd.DataFrame,
    asks: np.ndarray,
    ask_vectors: np.ndarray,
    guide_vectors: np.ndarray,
    guide_stage: list[int],
    n_stages: int,
    guide_quantile: float,
) -> np.ndarray:
    """Turns x stages, one-hot of the guide section each turn is in: carried forward from
    the last interviewer turn that is a guide question. ``asks``: the interviewer turns
    with a vector (a mask over ``ordered``), ``ask_vectors`` their vectors, in order."""
    # (Also taking a turn that names one stage's section cues, "moving on to deployment",
    # as a section start matched the question ids the coders wrote less often: 67% vs 76%.)
    section_all = np.zeros((len(ordered), n_stages))
    if not len(guide_stage) or not asks.any():
        return section_all
    sims = ask_vectors @ guide_vectors.T
    threshold = guide_threshold_for(sims, guide_quantile)
    asked = np.full(len(ordered), -2)  # -2: not a guide question
    best = sims.argmax(axis=1)
    asked[np.flatnonzero(asks)] = np.where(sims.max(axis=1) >= threshold, np.asarray(guide_stage)[best], -2)
    current, previous_interview = None, None
    for i, interview in enumerate(ordered["interview_id"].to_numpy()):
        if interview != previous_interview:
            current, previous_interview = None, interview
        if asked[i] != -2:
            current = int(asked[i])
        if current is not None and current >= 0:
            section_all[i, current] = 1.0
    return section_all


def stage_signals(
    turns: pd.DataFrame, embed, taxonomy: Taxonomy, kinds: dict[str, list[str]], *, guide_quantile: float = 0.93
) -> StageSignals:
    """Compute the signals for every interviewee turn of ``turns``.

    Args:
        turns: the turns table (all roles: questions and guide sections come from
            interviewer turns).
        embed: a function from a list of texts to unit vectors (an ``Embedder.embed``).
        taxonomy: the stages.
        kinds: example sentences of an ``issue`` and of a ``fix``.
        guide_quantile: an interviewer turn counts as a guide question when its cosine
            to the closest one reaches this quantile of all turn-to-question cosines.
    """
    rank = {v: k for k, v in enumerate(natural_sorted(turns["interview_id"].unique()))}
    ordered = (
        turns.assign(_rank=turns["interview_id"].map(rank)).sort_values(["_rank", "turn_index"]).drop(columns="_rank")
    )
    ordered = ordered.reset_index(drop=True)
    texts = ordered["text"].fillna("")
    has_text = texts.str.strip() != ""
    to_embed = ordered["role"].isin(["interviewer"]) & has_text | (ordered["role"] == "interviewee") & ordered.get(
        "substantive", has_text
    )
    embedded = embed(texts[to_embed].tolist())
    dim = embedded.shape[1]
    # each turn's row of `embedded` (-1: not embedded), instead of a copy of the vectors
    # into a matrix of every turn (at 230k answers: 0.6 GB more at the step's peak)
    row_of_turn = np.full(len(ordered), -1)
    row_of_turn[to_embed.to_numpy()] = np.arange(int(to_embed.sum()))

    def vectors_of(turn_rows: np.ndarray) -> np.ndarray:
        """The vectors of these turns (rows of ``ordered``; -1 or not embedded: zeros)."""
        rows = np.where(turn_rows >= 0, row_of_turn[np.maximum(turn_rows, 0)], -1)
        if not len(embedded):
            return np.zeros((len(rows), dim), dtype=np.float32)
        found = embedded[np.maximum(rows, 0)]
        found[rows < 0] = 0.0
        return found

    by_id = dict(zip(ordered["turn_id"], range(len(ordered))))

    protos = [embed(s.prototype_texts()) for s in taxonomy.stages]
    guide_texts, guide_stage = _guide_questions(taxonomy)
    guide_vectors = embed(guide_texts) if guide_texts else np.zeros((0, dim), np.float32)
    issue_vectors, fix_vectors = embed(kinds["issue"]), embed(kinds["fix"])

    def top3(matrix: np.ndarray) -> np.ndarray:
        return np.column_stack([np.sort(matrix @ p.T, axis=1)[:, -min(3, len(p)) :].mean(axis=1) for p in protos])

    asks = (ordered["role"] == "interviewer").to_numpy() & (row_of_turn >= 0)
    section_all = _guide_sections(
        ordered, asks, vectors_of(np.flatnonzero(asks)), guide_vectors, guide_stage, len(taxonomy.stages),
        guide_quantile,
    )

    answers_mask = (ordered["role"] == "interviewee").to_numpy()
    answers = ordered[answers_mask].reset_index(drop=True)
    answer_vectors = vectors_of(np.flatnonzero(answers_mask))
    question_rows = np.array([by_id.get(q, -1) for q in answers["question_turn_id"]], dtype=int)
    question_vectors = vectors_of(question_rows)
    answer_cues, matched = cue_hits(answers["text"].fillna("").tolist(), taxonomy)
    question_texts = answers["question_text"] if "question_text" in answers else pd.Series([""] * len(answers))
    question_cues, _ = cue_hits(question_texts.fillna("").tolist(), taxonomy)
    return StageSignals(
        answers=answers,
        answer_vectors=answer_vectors,
        question_vectors=question_vectors,
        answer_stage=top3(answer_vectors),
        question_stage=top3(question_vectors),
        section=section_all[answers_mask],
        answer_cues=np.minimum(answer_cues, CUE_CAP),
        question_cues=np.minimum(question_cues, CUE_CAP),
        matched_cues=matched,
        issue_similarity=(answer_vectors @ issue_vectors.T).max(axis=1),
        fix_similarity=(answer_vectors @ fix_vectors.T).max(axis=1),
        stage_ids=taxonomy.ids,
    )
