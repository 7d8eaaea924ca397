"""Lifecycle-stage coding of interviewee turns, zero-shot or learned from human codes.

Signals (each measured against the consensus coding of the reference study; see
``benchmarks/stage_agreement.py``):

* **stage similarity**: cosine of the answer to the stage's description and cues
  (mean of its three best matches), plus ``question_weight`` times that of the question
  it answers;
* **cue phrases said**: how many of the stage's cue phrases the answer (and, at
  ``question_weight``, its question) contains word for word, up to two, after light
  stemming, times ``cue_weight``; the matched phrases are shown as the coding's evidence
  (``matched_cues``). Embeddings blur a passing "explainability" or "drift" into the
  talk around it, while coders react to such words;
* **guide section**: the stage whose interview-guide question the interviewer last
  asked (cosine to the guide's question at least ``guide_threshold``); a bonus of
  ``section_weight``;
* **neighbours and topics**: scores are smoothed with the neighbouring answers (coders
  code passages, not single turns) and with the answer's topic;
* **codability**: whether a turn carries a code at all depends far more on its length
  and on how much it reads like a reported problem than on its stage, so it is decided
  separately: z(log words) + z(similarity to the taxonomy's issue examples), mixed with
  the mean of the same over the *episode* (the answers to one interviewer question),
  because coders code passages: in the reference study 92% of the answers of an episode
  share its coded-or-not status. The top ``coded_share`` of substantive answers are coded;
* **one stage per coded answer** by default (``second_stage_margin: 0``): 93% of the
  answers human coders coded carry a single stage;
* **kind**: ``issue`` or ``fix`` by similarity to the taxonomy's examples of each.

Few-shot mode calibrates this rule on the researcher's codes instead of learning a
classifier per stage (see :class:`StageCoder`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.linear_model import LogisticRegression

from .._ids import natural_sorted
from .._settings import Settings
from ..human_codes import agreement, reference_kinds, training_labels
from ._signals import StageSignals

# Few-shot: the rule's weights tried on the researcher's codes (round values only).
FEW_SHOT_GRID = {
    "section_weight": (0.05, 0.1, 0.2),
    "question_weight": (0.3, 0.5),
    "stage_calibration": (0.0, 0.02, 0.05),
    "cue_weight": (0.0, 0.08),
    "coded_share": (0.35, 0.45, 0.55),
}
NEIGHBOURS = 15
MIN_TRAINING_ANSWERS = 10  # coded and uncoded training answers each, for few-shot


class StageSettings(Settings):
    """The stage taxonomy, the code-to-stage table, and the weights of the zero-shot rule
    (chosen as round values, then measured; few-shot re-chooses those in ``FEW_SHOT_GRID``).

    Attributes:
        taxonomy: the stages (ids, names, descriptions, cues, guide questions).
        code_map: how the names of human codes map to stage ids.
        coded_share: share of substantive answers that get a stage.
        question_weight: weight of the question's similarity to a stage.
        section_weight: bonus for the stage of the guide section the interview is in.
        stage_calibration: weight of each stage's score relative to its own spread.
        cue_weight: per cue phrase of a stage said in the answer (up to two).
        guide_threshold: cosine for an interviewer turn to count as a guide question.
        context_weight: smoothing with the neighbouring answers.
        topic_weight: smoothing with the answer's topic.
        episode_weight: codability: weight of the episode (answers to one question).
        second_stage_margin: a second stage is kept when its score is this close to the best.
    """

    taxonomy: Path = Path("config/taxonomy.yaml")
    code_map: Path = Path("config/code_map.yaml")
    coded_share: float = Field(0.5, gt=0.0, le=1.0)
    question_weight: float = Field(0.5, ge=0.0)
    section_weight: float = Field(0.1, ge=0.0)
    stage_calibration: float = Field(0.0, ge=0.0)
    cue_weight: float = Field(0.08, ge=0.0)
    guide_threshold: float = Field(0.5, ge=0.0, le=1.0)
    context_weight: float = Field(0.33, ge=0.0, le=1.0)
    topic_weight: float = Field(0.3, ge=0.0, le=1.0)
    episode_weight: float = Field(0.5, ge=0.0, le=1.0)
    second_stage_margin: float = Field(0.0, ge=0.0)


def _smooth(signals: StageSignals, scores: np.ndarray, topics: pd.Series | None, settings: StageSettings) -> np.ndarray:
    answers = signals.answers
    substantive = answers["substantive"].to_numpy()
    interview = answers["interview_id"].to_numpy()
    out = scores.copy()
    if settings.context_weight:
        for i in np.flatnonzero(substantive):
            neighbours = [
                scores[j]
                for j in (i - 1, i + 1)
                if 0 <= j < len(scores) and interview[j] == interview[i] and substantive[j]
            ]
            if neighbours:
                out[i] = (1 - settings.context_weight) * scores[i] + settings.context_weight * np.mean(
                    neighbours, axis=0
                )
    if topics is not None and settings.topic_weight:
        topic = answers["turn_id"].map(topics).to_numpy()
        smoothed = out.copy()
        for t in pd.unique(topic[~pd.isna(topic)]):
            if t == -1:
                continue
            idx = np.flatnonzero(topic == t)
            smoothed[idx] = (1 - settings.topic_weight) * out[idx] + settings.topic_weight * out[idx].mean(axis=0)
        out = smoothed
    return out


class _SmoothedParts:
    """The three score components, each smoothed once (smoothing is linear, so any
    weighting of the parts equals the smoothing of the weighted sum)."""

    def __init__(self, signals: StageSignals, topics: pd.Series | None, settings: StageSettings):
        self.answer = _smooth(signals, signals.answer_stage, topics, settings)
        self.question = _smooth(signals, signals.question_stage, topics, settings)
        self.section = _smooth(signals, signals.section, topics, settings)
        self.answer_cues = _smooth(signals, signals.answer_cues, topics, settings)
        self.question_cues = _smooth(signals, signals.question_cues, topics, settings)
        self.substantive = signals.answers["substantive"].to_numpy()

    def scores(self, settings: StageSettings) -> np.ndarray:
        out = self.answer + settings.question_weight * self.question + settings.section_weight * self.section
        if settings.cue_weight:
            out = out + settings.cue_weight * (self.answer_cues + settings.question_weight * self.question_cues)
        if settings.stage_calibration and self.substantive.any():
            # Each stage's standing relative to its own spread, so a stage whose cues sit
            # closer to everyday talk does not win every close call.
            ref = out[self.substantive]
            out = out + settings.stage_calibration * (out - ref.mean(axis=0)) / np.where(
                ref.std(axis=0) > 0, ref.std(axis=0), 1.0
            )
        return out


def stage_scores(signals: StageSignals, settings: StageSettings, topics: pd.Series | None = None) -> np.ndarray:
    """Answers x stages: the weighted, smoothed (and optionally calibrated) stage scores."""
    return _SmoothedParts(signals, topics, settings).scores(settings)


def _zscore(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ref = values[mask]
    return (values - ref.mean()) / (ref.std() or 1.0) if len(ref) else values


def codability(signals: StageSignals, settings: StageSettings | None = None) -> np.ndarray:
    """How much each answer looks like it would carry a code.

    z(log words) + z(issue similarity) of the answer, mixed (``episode_weight``) with
    the mean of the same over the substantive answers of its episode.
    """
    settings = settings if settings is not None else StageSettings()
    substantive = signals.answers["substantive"].to_numpy()
    words = np.log1p(signals.answers["n_words"].to_numpy(dtype=float))
    turn = _zscore(words, substantive) + _zscore(signals.issue_similarity, substantive)
    if not settings.episode_weight or not substantive.any():
        return turn
    frame = pd.DataFrame({"episode": signals.episodes(), "score": np.where(substantive, turn, np.nan)})
    episode = frame.groupby("episode")["score"].transform("mean").fillna(0.0).to_numpy()
    w = settings.episode_weight
    return (1 - w) * _zscore(turn, substantive) + w * _zscore(episode, substantive)


def _coded_top_share(score: np.ndarray, substantive: np.ndarray, share: float) -> np.ndarray:
    if not substantive.any():
        return np.zeros(len(score), bool)
    return substantive & (score >= np.quantile(score[substantive], 1 - share))


def _choose(scores: np.ndarray, coded: np.ndarray, stage_ids: list[str], margin: float) -> list[list[str]]:
    labels = []
    for is_coded, row in zip(coded, scores):
        if not is_coded:
            labels.append([])
            continue
        best = row.max()
        labels.append([stage_ids[j] for j in np.argsort(-row, kind="stable") if row[j] >= best - margin])
    return labels


def _fill_backchannels(signals: StageSignals, labels: list[list[str]]) -> list[list[str]]:
    # A backchannel between two answers coded alike belongs to the same coded passage.
    answers = signals.answers
    substantive = answers["substantive"].to_numpy()
    interview = answers["interview_id"].to_numpy()
    filled = list(labels)
    for i in range(1, len(labels) - 1):
        if not substantive[i] and interview[i - 1] == interview[i] == interview[i + 1]:
            shared = [s for s in labels[i - 1] if s in labels[i + 1]]
            if shared:
                filled[i] = shared
    return filled


def _assemble(
    signals: StageSignals, coded: np.ndarray, scores: np.ndarray, margin: float, fix: np.ndarray
) -> pd.DataFrame:
    ids = signals.stage_ids
    filled = _fill_backchannels(signals, _choose(scores, coded, ids, margin))
    kinds = [("fix" if f else "issue") if stages else "" for stages, f in zip(filled, fix)]
    out = signals.answers[
        ["interview_id", "turn_id", "turn_index", "source_file", "line_start", "line_end", "text"]
    ].copy()
    out["stages"] = [list(s) for s in filled]
    out["kind"] = kinds
    for k, stage in enumerate(ids):
        out[f"score_{stage}"] = np.round(scores[:, k], 4)
    # The evidence a reviewer can check: the cue phrases of the chosen stages said in the answer.
    out["matched_cues"] = [
        "; ".join(c for s in stages for c in found.get(s, [])) for stages, found in zip(filled, signals.matched_cues)
    ]
    return out.reset_index(drop=True)


def _neighbour_codedness(signals: StageSignals, train_rows: np.ndarray, train_coded: np.ndarray) -> np.ndarray:
    """Per answer, the coded share of its ``NEIGHBOURS`` most similar training answers
    (an answer is never its own neighbour)."""
    vectors = signals.answer_vectors
    k = min(NEIGHBOURS, len(train_rows) - 1)
    out = np.zeros(len(vectors))
    for start in range(0, len(vectors), 1024):
        block = slice(start, min(start + 1024, len(vectors)))
        sims = vectors[block] @ vectors[train_rows].T
        own = np.flatnonzero((train_rows >= block.start) & (train_rows < block.stop))
        sims[train_rows[own] - block.start, own] = -np.inf
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out[block] = train_coded[nearest].mean(axis=1)
    return out


def topic_stage_mix(stages: pd.DataFrame, topics: pd.DataFrame, stage_ids: list[str]) -> pd.DataFrame:
    """Per topic, the share of its coded answers in each stage and its primary stage.

    Topics whose answers carry no stage get their mix from the mean stage scores.
    """
    merged = topics[["turn_id", "topic"]].merge(stages, on="turn_id", how="left")
    rows = []
    for topic, group in merged.groupby("topic"):
        counts = dict.fromkeys(stage_ids, 0.0)
        for picked in group["stages"]:
            picked = stage_list(picked)
            for s in picked:
                counts[s] += 1 / len(picked)
        total = sum(counts.values())
        if total:
            mix = {s: counts[s] / total for s in stage_ids}
            basis = "coded answers"
        else:
            means = group[[f"score_{s}" for s in stage_ids]].mean().to_numpy()
            weights = np.exp((means - means.max()) * 20)
            mix = dict(zip(stage_ids, weights / weights.sum()))
            basis = "mean scores"
        primary = max(stage_ids, key=lambda s: (mix[s], -stage_ids.index(s)))
        rows.append(
            {
                "topic": int(topic),
                "primary_stage": primary,
                "primary_share": round(mix[primary], 3),
                "coded_answers": int(group["stages"].map(lambda v: bool(stage_list(v))).sum()),
                "answers": len(group),
                "basis": basis,
                **{f"share_{s}": round(mix[s], 3) for s in stage_ids},
            }
        )
    return pd.DataFrame(rows)


def stage_list(value) -> list[str]:
    """The stage ids of one cell: a list, an array (from parquet), ``"a;b"`` (from a
    CSV) or empty.

    Example:
        >>> stage_list("data;model_training"), stage_list(None), stage_list(["data"])
        (['data', 'model_training'], [], ['data'])
    """
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, str):
        return [s for s in value.split(";") if s]
    return [str(s) for s in value]


def write_stage_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a coding table as the ``code-stages`` CSV: stage ids joined by ``;``."""
    out = table.copy()
    out["stages"] = [";".join(stage_list(v)) for v in out["stages"]]
    out.to_csv(path, index=False)
    return Path(path)


def read_stage_csv(path: str | Path) -> pd.DataFrame:
    """Read a ``code-stages`` CSV back, stage ids as lists."""
    table = pd.read_csv(path, dtype={"interview_id": str, "stages": str}, keep_default_na=False)
    if "stages" in table:
        table["stages"] = [stage_list(v) for v in table["stages"]]
    return table


@dataclass(frozen=True)
class FewShotFit:
    """What few-shot calibration chose, or why it was not used."""

    used: bool
    reason: str = ""
    training_documents: int = 0
    training_answers: int = 0
    fit_macro_f1_plus_alpha: float | None = None
    chosen: dict[str, float] = field(default_factory=dict)


@dataclass
class StageCoding:
    """A coding of every interviewee turn.

    Attributes:
        table: one row per interviewee turn: ids, source position, text, ``stages`` (a
            list of stage ids, empty when none), ``kind`` (``issue``/``fix``/empty), one
            ``score_<stage>`` column per stage and ``matched_cues``.
        stage_ids: the taxonomy's stage ids, in order.
        fit: the few-shot calibration, or ``None`` when none was asked for.
    """

    table: pd.DataFrame
    stage_ids: list[str]
    fit: FewShotFit | None = None

    @property
    def mode(self) -> str:
        """``few-shot`` or ``zero-shot``."""
        return "few-shot" if self.fit is not None and self.fit.used else "zero-shot"

    def describe(self) -> str:
        """One line on how the coding was made."""
        if self.fit is None:
            return "zero-shot"
        if not self.fit.used:
            return f"zero-shot (few-shot asked, but {self.fit.reason or 'no usable codes'})"
        chosen = ", ".join(
            f"{k} {self.fit.chosen[k]:g}"
            for k in ("question_weight", "section_weight", "stage_calibration", "coded_share")
        )
        return (
            f"few-shot (calibrated on {self.fit.training_documents} coded files, "
            f"{self.fit.training_answers} answers: {chosen})"
        )


class StageCoder:
    """Codes interviewee turns with lifecycle stages: the zero-shot rule, calibrated on
    human codes when :meth:`fit` is given some (scikit-learn's fit/predict shape).

    What few-shot learns, and why (measured leave-one-interview-out on the reference
    study; ``benchmarks/stage_agreement.py``):

    * **whether** an answer is coded: the zero-shot codability plus the coded share of
      its 15 most similar training answers (a nearest-neighbour vote on the answer
      embeddings);
    * **the rule's weights**: question and section weight, stage calibration, cue weight
      and coded share, each from a few round values (``FEW_SHOT_GRID``), the combination
      that agrees best with the training codes (macro-F1 + alpha);
    * **issue vs fix**, when the codes mark mitigations, by a logistic regression on the
      answer embeddings.

    The stage itself stays the (re-weighted) zero-shot choice: classifiers that learned
    it from the other coded interviews agreed less with the consensus (macro-F1
    0.10-0.23 against 0.25-0.28), as the rarer stages have a handful of examples. With
    fewer than 10 coded and 10 uncoded training answers the zero-shot rule is used.

    Example:
        >>> coder = StageCoder(StageSettings())                     # doctest: +SKIP
        >>> coding = coder.fit(signals, train, kinds).predict(signals)  # doctest: +SKIP
        >>> coding.describe()                                       # doctest: +SKIP
        'few-shot (calibrated on 8 coded files, 590 answers: ...)'
    """

    def __init__(self, settings: StageSettings | None = None):
        self.settings = settings if settings is not None else StageSettings()
        self.fit_: FewShotFit | None = None
        self.chosen_: StageSettings = self.settings
        self._train_turns: list[str] = []
        self._train_coded = np.zeros(0)
        self._kind_model = None

    def fit(
        self,
        signals: StageSignals,
        train: list[dict[str, set[str]]] | dict[str, set[str]],
        kinds: dict[str, str] | None = None,
        topics: pd.Series | None = None,
    ) -> StageCoder:
        """Calibrate the rule on human codes.

        Args:
            signals: signals of all turns (training and to predict).
            train: the coded training turns, one ``turn_id -> stages`` mapping per coded
                document (:func:`analysis.human_codes.training_labels`; one mapping is
                accepted).
            kinds: turn_id -> ``issue``/``fix`` of coded training turns.
            topics: turn_id -> topic, for smoothing.
        """
        docs = [train] if isinstance(train, dict) else list(train)
        train_rows, train_coded = _training_votes(signals, docs)
        if (train_coded >= 0.5).sum() < MIN_TRAINING_ANSWERS or (train_coded < 0.5).sum() < MIN_TRAINING_ANSWERS:
            self.fit_ = FewShotFit(False, reason="fewer than 10 coded and 10 uncoded training answers")
            self.chosen_ = self.settings
            return self
        self._train_turns = signals.answers["turn_id"].to_numpy()[train_rows].tolist()
        self._train_coded = train_coded
        gate = self._gate(signals)
        score, self.chosen_ = _best_weights(
            signals, docs, gate, _SmoothedParts(signals, topics, self.settings), self.settings
        )
        self._kind_model = _fit_kind_model(signals, train_rows, kinds or {})
        self.fit_ = FewShotFit(
            True,
            training_documents=len(docs),
            training_answers=int(len(train_rows)),
            fit_macro_f1_plus_alpha=round(score, 4),
            chosen={k: getattr(self.chosen_, k) for k in FEW_SHOT_GRID},
        )
        return self

    def _gate(self, signals: StageSignals) -> np.ndarray:
        row_of = {t: i for i, t in enumerate(signals.answers["turn_id"])}
        rows = np.array([row_of[t] for t in self._train_turns], dtype=int)
        substantive = signals.answers["substantive"].to_numpy()
        return _zscore(_neighbour_codedness(signals, rows, self._train_coded), substantive) + codability(
            signals, self.settings
        )

    def predict(
        self, signals: StageSignals, topics: pd.Series | None = None, mask: np.ndarray | None = None
    ) -> StageCoding:
        """Code every interviewee turn of ``signals`` (only those in ``mask``, if given)."""
        substantive = signals.answers["substantive"].to_numpy()
        few_shot = self.fit_ is not None and self.fit_.used
        chosen = self.chosen_ if few_shot else self.settings
        gate = self._gate(signals) if few_shot else codability(signals, self.settings)
        coded = _coded_top_share(gate, substantive, chosen.coded_share)
        if mask is not None:
            coded &= mask
        fix = signals.fix_similarity > signals.issue_similarity
        if self._kind_model is not None:
            fix = self._kind_model.predict(signals.answer_vectors).astype(bool)
        scores = _SmoothedParts(signals, topics, self.settings).scores(chosen)
        table = _assemble(signals, coded, scores, chosen.second_stage_margin, fix)
        return StageCoding(table, list(signals.stage_ids), self.fit_)


def _training_votes(signals: StageSignals, docs: list[dict[str, set[str]]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the substantive training answers and the share of documents coding each."""
    substantive = signals.answers["substantive"].to_numpy()
    row_of = {t: i for i, t in enumerate(signals.answers["turn_id"])}
    votes: dict[int, list[bool]] = {}
    for doc in docs:
        for turn_id, stages in doc.items():
            i = row_of.get(turn_id)
            if i is not None and substantive[i]:
                votes.setdefault(i, []).append(bool(stages))
    rows = np.array(sorted(votes), dtype=int)
    return rows, np.array([np.mean(votes[i]) for i in rows])


def _best_weights(
    signals: StageSignals,
    docs: list[dict[str, set[str]]],
    gate: np.ndarray,
    parts: _SmoothedParts,
    settings: StageSettings,
) -> tuple[float, StageSettings]:
    """The grid combination that agrees best (macro-F1 + alpha) with the training codes,
    one unit per (document, turn), as the agreement is measured."""
    ids = signals.stage_ids
    substantive = signals.answers["substantive"].to_numpy()
    row_of = {t: i for i, t in enumerate(signals.answers["turn_id"])}
    units_ref, units_row = {}, {}
    for d, doc in enumerate(docs):
        for turn_id, stages in doc.items():
            if turn_id in row_of:
                units_ref[f"{d}|{turn_id}"] = stages
                units_row[f"{d}|{turn_id}"] = row_of[turn_id]
    best = None
    for values in itertools.product(*FEW_SHOT_GRID.values()):
        candidate = settings.model_copy(update=dict(zip(FEW_SHOT_GRID, values)))
        coded = _coded_top_share(gate, substantive, candidate.coded_share)
        labels = _fill_backchannels(
            signals, _choose(parts.scores(candidate), coded, ids, candidate.second_stage_margin)
        )
        result = agreement(units_ref, {u: set(labels[r]) for u, r in units_row.items()}, ids)
        fit = (result["macro_f1"] or 0.0) + (result["alpha"] or 0.0)
        if best is None or fit > best[0] + 1e-12:
            best = (fit, candidate)
    return best


def _fit_kind_model(signals: StageSignals, train_rows: np.ndarray, kinds: dict[str, str]):
    """Issue vs fix from the answer embeddings, when the training codes mark enough of both."""
    answers = signals.answers
    in_training = np.zeros(len(answers), bool)
    in_training[train_rows] = True
    kind_rows = np.array([t in kinds for t in answers["turn_id"]]) & in_training
    y_kind = np.array([kinds.get(t) == "fix" for t in answers["turn_id"]])
    if not kinds or kind_rows.sum() < MIN_TRAINING_ANSWERS or not 0 < y_kind[kind_rows].sum() < kind_rows.sum():
        return None
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
    return model.fit(signals.answer_vectors[kind_rows], y_kind[kind_rows])


def few_shot_leave_one_out(
    signals: StageSignals, reference, settings: StageSettings, topics: pd.Series | None = None, extra: tuple = ()
) -> dict[str, set[str]]:
    """Few-shot predictions for each interview coded in ``reference``, calibrated on the
    codes of the *other* interviews (the other reference files, plus every file of
    ``extra`` code folders, e.g. single coders' codings, that belongs to another
    interview); the held-out predictions pooled (turn_id -> stages).

    No file of the held-out interview is ever used to predict it.
    """
    ids = signals.stage_ids
    sources = [reference, *extra]
    pooled: dict[str, set[str]] = {}
    for interview_id in natural_sorted(reference.coded()["interview_id"].unique()):
        train, kind_codes = [], []
        for source in sources:
            others = source.documents[source.documents["interview_id"] != interview_id]
            train += training_labels(signals.answers, source.codes, others, ids)
            kind_codes.append(source.codes[source.codes["interview_id"] != interview_id])
        kinds = reference_kinds(signals.answers, pd.concat(kind_codes, ignore_index=True))
        held_out = (signals.answers["interview_id"] == interview_id).to_numpy()
        table = StageCoder(settings).fit(signals, train, kinds, topics).predict(signals, topics, mask=held_out).table
        for turn_id, stages in zip(table.loc[held_out, "turn_id"], table.loc[held_out, "stages"]):
            pooled[turn_id] = set(stages)
    return pooled
