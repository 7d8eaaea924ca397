"""The stage coder's learned model: calibrated probabilities from the rule's signals.

Two small, regularised models read the signals the zero-shot rule uses, so their
parameters come from codes instead of hand-set weights:

* **gate**, P(coded): a logistic regression on the answer's length and issue
  similarity, the same over its episode (the answers to one interviewer question), its
  best stage score and cue hits, and what is already known around it: the coded share
  of its nearest labelled answers, of the labelled answers of its episode, and whether
  the answers just before and after it are labelled coded;
* **stage**, P(stage | coded): a conditional logit with weights shared by all stages
  (so a rare stage needs no examples of its own) over each stage's signals (answer,
  question, guide section, cue phrases, the rule's combined score) and the same votes
  of labelled answers (nearest, episode, neighbours), plus one intercept per stage.

"Labelled" answers are the training codes of other interviews and, in the researcher
loop, the answers the researcher reviewed. Training rows see the votes computed from a
random part of the *other* labelled answers of their own interview (as after a review)
and from none of them (as on a new interview), so the model weighs a vote by how often
one is there. An answer never votes for itself.

Example:
    >>> model = StageModel.fit(features, labels)      # doctest: +SKIP
    >>> p_coded, p_stage = model.predict(features)    # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from ._signals import StageSignals

NEIGHBOURS = 15
GATE_FEATURES = ("log_words", "issue", "episode_codability", "best_score", "best_cues", "substantive", "in_section",
                 "knn_coded", "episode_coded", "has_episode_vote", "prev_coded", "next_coded")
STAGE_FEATURES = ("score", "answer", "question", "section", "answer_cues", "question_cues",
                  "knn_stage", "episode_stage", "adjacent_stage")


def _z(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ref = values[mask] if mask.any() else values
    sd = ref.std() if len(ref) else 0.0
    return (values - (ref.mean() if len(ref) else 0.0)) / (sd if sd > 0 else 1.0)


@dataclass
class Votes:
    """What labelled answers say about each answer (never counting the answer itself)."""

    knn_coded: np.ndarray       # answers: coded share of the nearest labelled answers (0.5: none)
    knn_stage: np.ndarray       # answers x stages: stage shares among the nearest labelled coded answers
    episode_coded: np.ndarray   # answers: coded share of labelled answers of the episode (0 when none)
    has_episode_vote: np.ndarray
    episode_stage: np.ndarray   # answers x stages
    prev_coded: np.ndarray      # +1 labelled coded, -1 labelled not coded, 0 not labelled
    next_coded: np.ndarray
    adjacent_stage: np.ndarray  # answers x stages: the labelled neighbours' stages


def votes(signals: StageSignals, known: dict[int, set[str]], pool: np.ndarray | None = None) -> Votes:
    """The votes of labelled answers.

    Args:
        signals: the signals of every answer.
        known: answer row -> its stages (empty set: labelled not coded).
        pool: per answer, which labelled rows may vote for it (a boolean mask over the rows
            of ``known``'s keys order); ``None``: all of them.
    """
    answers = signals.answers
    n, ids = len(answers), signals.stage_ids
    rows = np.array(sorted(known), dtype=int)
    coded = np.array([bool(known[r]) for r in rows], dtype=float)
    onehot = np.array([[s in known[r] for s in ids] for r in rows], dtype=float).reshape(len(rows), len(ids))
    knn_coded = np.full(n, 0.5)
    knn_stage = np.zeros((n, len(ids)))
    if len(rows):
        vectors = signals.answer_vectors
        for start in range(0, n, 1024):
            block = slice(start, min(start + 1024, n))
            sims = vectors[block] @ vectors[rows].T
            self_hit = rows[None, :] == np.arange(block.start, block.stop)[:, None]
            sims[self_hit] = -np.inf
            if pool is not None:
                sims[~pool[block]] = -np.inf
            k = min(NEIGHBOURS, len(rows))
            nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            valid = np.isfinite(np.take_along_axis(sims, nearest, axis=1))
            counts = valid.sum(axis=1)
            with np.errstate(invalid="ignore"):
                share = (coded[nearest] * valid).sum(axis=1) / np.maximum(counts, 1)
                knn_coded[block] = np.where(counts > 0, share, 0.5)
                weights = coded[nearest] * valid
                stage_sum = (onehot[nearest] * weights[:, :, None]).sum(axis=1)
                knn_stage[block] = stage_sum / np.maximum(weights.sum(axis=1, keepdims=True), 1)
    episode = signals.episodes()
    episode_coded = np.zeros(n)
    has_vote = np.zeros(n)
    episode_stage = np.zeros((n, len(ids)))
    by_episode: dict[str, list[int]] = {}
    for k, r in enumerate(rows):
        by_episode.setdefault(episode[r], []).append(k)
    for i in range(n):
        members = [k for k in by_episode.get(episode[i], []) if rows[k] != i and (pool is None or pool[i, k])]
        if members:
            has_vote[i] = 1.0
            episode_coded[i] = coded[members].mean()
            weights = coded[members]
            if weights.sum():
                episode_stage[i] = (onehot[members] * weights[:, None]).sum(axis=0) / weights.sum()
    position = {r: k for k, r in enumerate(rows)}
    interview = answers["interview_id"].to_numpy()
    prev_coded, next_coded = np.zeros(n), np.zeros(n)
    adjacent = np.zeros((n, len(ids)))
    for i in range(n):
        for j, target in ((i - 1, prev_coded), (i + 1, next_coded)):
            k = position.get(j)
            if k is None or not 0 <= j < n or interview[j] != interview[i] or (pool is not None and not pool[i, k]):
                continue
            target[i] = 1.0 if coded[k] else -1.0
            adjacent[i] += onehot[k] / 2
    return Votes(knn_coded, knn_stage, episode_coded, has_vote, episode_stage, prev_coded, next_coded, adjacent)


@dataclass
class Features:
    """Model inputs of every answer."""

    gate: np.ndarray    # answers x len(GATE_FEATURES)
    stage: np.ndarray   # answers x stages x len(STAGE_FEATURES)


def features(signals: StageSignals, parts, rule_scores: np.ndarray, codability: np.ndarray, v: Votes) -> Features:
    """Features from the signals, the rule's smoothed parts and scores, and the votes.

    Every signal is standardised over the corpus's substantive answers, so the model
    reads relative standings and an embedder with other cosine ranges fits the same way.
    """
    answers = signals.answers
    substantive = answers["substantive"].to_numpy()
    words = np.log1p(answers["n_words"].to_numpy(dtype=float))
    gate = np.column_stack([
        _z(words, substantive), _z(signals.issue_similarity, substantive), _z(codability, substantive),
        _z(rule_scores.max(axis=1), substantive), np.minimum(signals.answer_cues.max(axis=1), 2),
        substantive.astype(float), (signals.section.sum(axis=1) > 0).astype(float),
        v.knn_coded - 0.5, v.episode_coded, v.has_episode_vote, v.prev_coded, v.next_coded,
    ])

    def per_stage(matrix: np.ndarray) -> np.ndarray:
        # relative to the answer's own mean over stages (a softmax reads only differences)
        ref = matrix[substantive] if substantive.any() else matrix
        sd = ref.std() or 1.0
        return (matrix - matrix.mean(axis=1, keepdims=True)) / sd

    stage = np.stack([
        per_stage(rule_scores), per_stage(parts.answer), per_stage(parts.question), parts.section,
        parts.answer_cues, parts.question_cues, v.knn_stage, v.episode_stage, v.adjacent_stage,
    ], axis=2)
    return Features(gate, stage)


def _conditional_logit(x: np.ndarray, y: np.ndarray, weights: np.ndarray, l2: float,
                       centre: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shared weights ``w`` and per-stage intercepts ``b`` of softmax(x @ w + b) by
    penalised maximum likelihood (L2 on both, towards ``centre`` when given: a prior's
    parameters, so a few codes move it only as far as they show)."""
    n, n_stages, n_feat = x.shape
    centre = np.zeros(n_feat + n_stages) if centre is None else centre

    def loss(theta):
        w, b = theta[:n_feat], theta[n_feat:]
        d = theta - centre
        logits = x @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        nll = -(weights * np.log(np.maximum(p[np.arange(n), y], 1e-12))).sum() / weights.sum()
        grad_logits = p.copy()
        grad_logits[np.arange(n), y] -= 1
        grad_logits *= (weights / weights.sum())[:, None]
        gw = np.einsum("ns,nsf->f", grad_logits, x) + l2 * d[:n_feat]
        gb = grad_logits.sum(axis=0) + l2 * d[n_feat:]
        return nll + 0.5 * l2 * (d @ d), np.concatenate([gw, gb])

    result = minimize(loss, centre.copy(), jac=True, method="L-BFGS-B")
    return result.x[:n_feat], result.x[n_feat:]


def _logistic_towards(x: np.ndarray, y: np.ndarray, weights: np.ndarray, c: float, gate: LogisticRegression
                      ) -> LogisticRegression:
    """A logistic regression penalised (L2, like scikit-learn's ``C``) towards the weights of
    ``gate`` instead of towards zero; the intercept is free, as in scikit-learn."""
    w0 = gate.coef_[0]
    sw = weights / weights.sum()

    def loss(theta):
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1 / (1 + np.exp(-z))
        nll = -(sw * (y * np.log(np.maximum(p, 1e-12)) + (1 - y) * np.log(np.maximum(1 - p, 1e-12)))).sum()
        d = w - w0
        reg = 0.5 / (c * weights.sum()) * (d @ d)
        g = sw * (p - y)
        return nll + reg, np.concatenate([x.T @ g + d / (c * weights.sum()), [g.sum()]])

    theta = minimize(loss, np.concatenate([w0, [gate.intercept_[0]]]), jac=True, method="L-BFGS-B").x
    out = LogisticRegression()
    out.classes_ = np.array([False, True])
    out.coef_ = theta[None, :-1]
    out.intercept_ = theta[-1:]
    return out


@dataclass
class StageModel:
    """The fitted gate and stage models."""

    stage_ids: list[str]
    gate: LogisticRegression | None = None
    stage_w: np.ndarray = field(default_factory=lambda: np.zeros(len(STAGE_FEATURES)))
    stage_b: np.ndarray | None = None

    @classmethod
    def fit(cls, x: Features, rows: np.ndarray, labels: list[set[str]], stage_ids: list[str],
            weights: np.ndarray | None = None, c: float = 1.0, prior: StageModel | None = None) -> StageModel:
        """Fit on the labelled ``rows`` of ``x`` (one label set per row; repeated rows are
        fine: two coders of one interview both count). With a ``prior``, the weights are
        pulled towards the prior's rather than towards zero (few codes, small moves)."""
        weights = np.ones(len(rows)) if weights is None else weights
        coded = np.array([bool(s) for s in labels])
        model = cls(stage_ids)
        if prior is not None and prior.gate is not None and coded.any() and (~coded).any():
            model.gate = _logistic_towards(x.gate[rows], coded.astype(float), weights, c, prior.gate)
        elif coded.any() and (~coded).any():
            model.gate = LogisticRegression(C=c, max_iter=2000).fit(x.gate[rows], coded, sample_weight=weights)
        elif prior is not None:
            model.gate = prior.gate
        stage_rows = [(r, sorted(s), w) for r, s, w in zip(rows, labels, weights) if s]
        if stage_rows:
            # an answer with two stages counts once for each, at half weight
            xs, ys, ws = [], [], []
            for r, stages, w in stage_rows:
                for s in stages:
                    if s in stage_ids:
                        xs.append(x.stage[r])
                        ys.append(stage_ids.index(s))
                        ws.append(w / len(stages))
            centre = None
            if prior is not None and prior.stage_b is not None:
                centre = np.concatenate([prior.stage_w, prior.stage_b])
            model.stage_w, model.stage_b = _conditional_logit(np.array(xs), np.array(ys), np.array(ws), l2=1.0 / c,
                                                              centre=centre)
        elif prior is not None:
            model.stage_w, model.stage_b = prior.stage_w, prior.stage_b
        return model

    def predict(self, x: Features) -> tuple[np.ndarray, np.ndarray]:
        """P(coded) per answer and P(stage | coded) per answer and stage."""
        if self.gate is not None:
            p_coded = self.gate.predict_proba(x.gate)[:, 1]
        else:
            p_coded = np.full(len(x.gate), 0.5)
        b = self.stage_b if self.stage_b is not None else np.zeros(len(self.stage_ids))
        logits = x.stage @ self.stage_w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p_coded, p / p.sum(axis=1, keepdims=True)

    def coefficients(self) -> pd.DataFrame:
        """The learned weights, for the reader (gate and shared stage weights)."""
        rows = []
        if self.gate is not None:
            gate = zip(GATE_FEATURES, self.gate.coef_[0])
            rows += [{"model": "gate", "feature": f, "weight": float(w)} for f, w in gate]
        rows += [{"model": "stage", "feature": f, "weight": float(w)} for f, w in zip(STAGE_FEATURES, self.stage_w)]
        return pd.DataFrame(rows)


def training_pool(signals: StageSignals, rows: np.ndarray, reveal: float | None,
                  rng: np.random.Generator) -> np.ndarray:
    """Which labelled rows may vote for each answer while training: every labelled answer
    of the *other* interviews, and a random ``reveal`` share of its own interview's (as
    after a review; 0: as on a new interview)."""
    interview = signals.answers["interview_id"].to_numpy()
    if reveal is None:  # no labelled answer at all: the zero-shot prior
        return np.zeros((len(interview), len(rows)), bool)
    other = interview[:, None] != interview[rows][None, :]
    revealed = rng.random(len(rows)) < reveal
    return other | revealed[None, :]


def fit_model(signals: StageSignals, parts, rule_scores: np.ndarray, codability: np.ndarray,
              docs: list[dict[str, set[str]]], seed: int = 42, c: float = 1.0,
              reveal: tuple[float | None, ...] = (None, 0.0, 0.5), prior: StageModel | None = None) -> StageModel:
    """Fit the model on labelled documents (``turn_id -> stages``; two coders of one
    interview are two documents), with the votes of the other labelled answers computed
    once per ``reveal`` share (see :func:`training_pool`)."""
    row_of = {t: i for i, t in enumerate(signals.answers["turn_id"])}
    known: dict[int, set[str]] = {}
    examples: list[tuple[int, set[str]]] = []
    for doc in docs:
        for turn_id, stages in doc.items():
            i = row_of.get(turn_id)
            if i is None:
                continue
            known.setdefault(i, set(stages))
            examples.append((i, set(stages)))
    rows = np.array(sorted(known), dtype=int)
    rng = np.random.default_rng(seed)
    stacked_gate, stacked_stage, ex_rows, ex_labels = [], [], [], []
    offset = 0
    for share in reveal:
        v = votes(signals, known, training_pool(signals, rows, share, rng))
        x = features(signals, parts, rule_scores, codability, v)
        stacked_gate.append(x.gate)
        stacked_stage.append(x.stage)
        ex_rows += [offset + i for i, _ in examples]
        ex_labels += [s for _, s in examples]
        offset += len(x.gate)
    stacked = Features(np.vstack(stacked_gate), np.concatenate(stacked_stage))
    return StageModel.fit(stacked, np.array(ex_rows), ex_labels, list(signals.stage_ids), c=c, prior=prior)


def f1_threshold(p_coded: np.ndarray) -> float:
    """The P(coded) above which answers are coded: the cut that maximises the F1 the
    probabilities themselves expect (plug-in decision rule; no codes are read).

    Example:
        >>> f1_threshold(np.array([0.9, 0.8, 0.3, 0.1]))
        0.8
    """
    if not len(p_coded):
        return 0.5
    order = np.sort(p_coded)[::-1]
    expected = 2 * np.cumsum(order) / (np.arange(1, len(order) + 1) + p_coded.sum())
    return float(order[int(np.argmax(expected))])


PRIOR_FILE = Path(__file__).with_name("prior_model.json")


def model_to_dict(model: StageModel) -> dict:
    """A JSON-able form of a fitted model."""
    gate = None
    if model.gate is not None:
        gate = {"coef": model.gate.coef_[0].tolist(), "intercept": float(model.gate.intercept_[0])}
    return {"gate_features": list(GATE_FEATURES), "stage_features": list(STAGE_FEATURES), "gate": gate,
            "stage_w": [float(w) for w in model.stage_w],
            "stage_b": dict(zip(model.stage_ids, [float(b) for b in model.stage_b]))
            if model.stage_b is not None else {}}


def model_from_dict(data: dict, stage_ids: list[str]) -> StageModel:
    """A model from :func:`model_to_dict`; stages it does not know get intercept 0."""
    if list(data["gate_features"]) != list(GATE_FEATURES) or list(data["stage_features"]) != list(STAGE_FEATURES):
        raise ValueError("the saved model was made for other features")
    model = StageModel(list(stage_ids))
    if data.get("gate"):
        gate = LogisticRegression()
        gate.classes_ = np.array([False, True])
        gate.coef_ = np.array([data["gate"]["coef"]])
        gate.intercept_ = np.array([data["gate"]["intercept"]])
        model.gate = gate
    model.stage_w = np.array(data["stage_w"], dtype=float)
    model.stage_b = np.array([data["stage_b"].get(s, 0.0) for s in stage_ids], dtype=float)
    return model


def prior_model(stage_ids: list[str]) -> StageModel:
    """The model learned from the reference study's codes (``prior_model.json``, made by
    ``benchmarks/stage_agreement.py --write-prior``): the zero-shot coder."""
    return model_from_dict(json.loads(PRIOR_FILE.read_text(encoding="utf-8")), stage_ids)
