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
  asked (cosine to the guide's question in the top ``1 - guide_quantile`` of the corpus's
  turn-to-question cosines); a bonus of
  ``section_weight``;
* **neighbours and topics**: scores are smoothed with the neighbouring answers (coders
  code passages, not single turns) and with the answer's topic;
* **codability**: whether a turn carries a code at all depends far more on its length
  and on how much it reads like a reported problem than on its stage, so it is decided
  separately: z(log words) + z(similarity to the taxonomy's issue examples), mixed with
  the mean of the same over the *episode* (the answers to one interviewer question),
  because coders code passages: in the reference study 92% of the answers of an episode
  share its coded-or-not status;
* **kind**: ``issue`` or ``fix`` by similarity to the taxonomy's examples of each.

These signals are the inputs of a small learned model (P(coded), P(stage | coded);
:mod:`analysis.stages._learned`) whose weights come from codes: the reference study's
when a study has none (zero-shot), the researcher's own otherwise (few-shot, and the
review loop). One stage per coded answer: 93% of the answers human coders coded carry
a single stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.linear_model import LogisticRegression

from .._ids import natural_sorted
from .._settings import Settings
from ..errors import AnalysisError
from ..files import atomic_to_csv, restore_table
from ..human_codes import reference_kinds, training_labels
from ._learned import StageModel, f1_threshold, features, fit_model, prior_model, votes
from ._signals import StageSignals

MIN_TRAINING_ANSWERS = 10  # coded and uncoded training answers each, for few-shot


class StageSettings(Settings):
    """The stage taxonomy, the code-to-stage table, and the weights of the zero-shot rule
    (round values: the learned model re-weighs the parts they combine), and when an
    answer is worth a person's check.

    Attributes:
        taxonomy: the stages (ids, names, descriptions, cues, guide questions).
        code_map: how the names of human codes map to stage ids.
        question_weight: weight of the question's similarity to a stage.
        section_weight: bonus for the stage of the guide section the interview is in.
        stage_calibration: weight of each stage's score relative to its own spread.
        cue_weight: per cue phrase of a stage said in the answer (up to two).
        guide_quantile: an interviewer turn counts as a guide question when its cosine to
            the closest one reaches this quantile of all the corpus's turn-to-question
            cosines (relative, so that another embedder's similarity scale does not matter;
            0.93 is where all-MiniLM-L6-v2's former fixed 0.5 fell on the reference corpus).
        context_weight: smoothing with the neighbouring answers.
        topic_weight: smoothing with the answer's topic.
        episode_weight: codability: weight of the episode (answers to one question).
        uncertain_margin: answers whose P(coded) lies within this of the coding threshold
            (the band where the decision could go either way) are marked uncertain.
        uncertain_stage: a coded answer whose stage has P(stage | coded) below this is
            marked uncertain.
    """

    taxonomy: Path = Path("config/taxonomy.yaml")
    code_map: Path = Path("config/code_map.yaml")
    question_weight: float = Field(0.5, ge=0.0)
    section_weight: float = Field(0.1, ge=0.0)
    stage_calibration: float = Field(0.0, ge=0.0)
    cue_weight: float = Field(0.08, ge=0.0)
    guide_quantile: float = Field(0.93, gt=0.0, lt=1.0)
    context_weight: float = Field(0.33, ge=0.0, le=1.0)
    topic_weight: float = Field(0.3, ge=0.0, le=1.0)
    episode_weight: float = Field(0.5, ge=0.0, le=1.0)
    uncertain_margin: float = Field(0.1, ge=0.0, le=1.0)
    uncertain_stage: float = Field(0.5, ge=0.0, le=1.0)


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


def _choose(scores: np.ndarray, coded: np.ndarray, stage_ids: list[str]) -> list[list[str]]:
    """The best stage of each coded answer (several only on an exact tie)."""
    labels = []
    for is_coded, row in zip(coded, scores):
        if not is_coded:
            labels.append([])
            continue
        best = row.max()
        labels.append([stage_ids[j] for j in np.argsort(-row, kind="stable") if row[j] >= best])
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
    signals: StageSignals, coded: np.ndarray, p_stage: np.ndarray, rule: np.ndarray, fix: np.ndarray
) -> pd.DataFrame:
    """The coding table: the most probable stage of each coded answer, the rule's scores
    (``score_<stage>``) and the cue phrases said as evidence."""
    ids = signals.stage_ids
    filled = _fill_backchannels(signals, _choose(p_stage, coded, ids))
    kinds = [("fix" if f else "issue") if stages else "" for stages, f in zip(filled, fix)]
    out = signals.answers[
        ["interview_id", "turn_id", "turn_index", "source_file", "line_start", "line_end", "text"]
    ].copy()
    out["stages"] = [list(s) for s in filled]
    out["kind"] = kinds
    for k, stage in enumerate(ids):
        out[f"score_{stage}"] = np.round(rule[:, k], 4)
    # The evidence a reviewer can check: the cue phrases of the chosen stages said in the answer.
    out["matched_cues"] = [
        "; ".join(c for s in stages for c in found.get(s, [])) for stages, found in zip(filled, signals.matched_cues)
    ]
    return out.reset_index(drop=True)


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
    """Write a coding table as the ``code-stages`` CSV: stage ids joined by ``;``; text
    cells neutralised for spreadsheets (a ``'`` before ``= + - @``, tab, CR), atomically."""
    out = table.copy()
    out["stages"] = [";".join(stage_list(v)) for v in out["stages"]]
    return atomic_to_csv(out, path, neutralise=True, index=False)


def read_stage_csv(path: str | Path) -> pd.DataFrame:
    """Read a ``code-stages`` CSV back, stage ids as lists and text as written.

    Raises:
        AnalysisError: unreadable, binary or empty, missing columns, or a ``turn_index``
            that is not a number; the message names the file and line.
    """
    expected = "expected the CSV that code-stages writes (interview_id, turn_index, ..., stages)"
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise AnalysisError(f"{path}: cannot read predictions ({exc.strerror or exc})") from None
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise AnalysisError(f"{path}, line {line}: not UTF-8 text (a binary file?); {expected}") from None
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise AnalysisError(f"{path}, line {line}: NUL bytes (a binary file?); {expected}")
    if not raw.strip():
        raise AnalysisError(f"{path}, line 1: empty file; {expected}")
    try:
        table = restore_table(pd.read_csv(path, dtype={"interview_id": str, "stages": str}, keep_default_na=False))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise AnalysisError(f"{path}: cannot read predictions ({exc}); {expected}") from None
    missing = {"interview_id", "turn_index", "stages"} - set(table.columns)
    if missing:
        raise AnalysisError(f"{path}, line 1: missing column(s) {', '.join(sorted(missing))}; {expected}")
    for row, value in enumerate(table["turn_index"].astype(str), start=1):
        if not value.strip().lstrip("-").isdigit():  # rows, not lines: a quoted text may span lines
            raise AnalysisError(f"{path}, row {row} below the header: turn_index {value!r} is not a number; {expected}")
    table["stages"] = [stage_list(v) for v in table["stages"]]
    return table


@dataclass(frozen=True)
class FewShotFit:
    """What calibration on human codes learned, or why it was not used."""

    used: bool
    reason: str = ""
    training_documents: int = 0
    training_answers: int = 0
    reviewed_answers: int = 0
    threshold: float | None = None
    coefficients: dict[str, float] = field(default_factory=dict)


@dataclass
class StageCoding:
    """A coding of every interviewee turn.

    Attributes:
        table: one row per interviewee turn: ids, source position, text, ``stages`` (a
            list of stage ids, empty when none), ``kind`` (``issue``/``fix``/empty), one
            ``score_<stage>`` column per stage, ``matched_cues``, ``p_coded`` (the
            probability the answer carries a stage), one ``p_<stage>`` per stage (the
            probability it carries that stage), ``uncertain`` (in the band a person should
            check) and ``source`` (``suite``, or ``researcher`` for a reviewed answer).
        stage_ids: the taxonomy's stage ids, in order.
        fit: the calibration on human codes, or ``None`` when none was asked for.
        threshold: the ``p_coded`` from which an answer is coded.
    """

    table: pd.DataFrame
    stage_ids: list[str]
    fit: FewShotFit | None = None
    threshold: float | None = None

    @property
    def mode(self) -> str:
        """``few-shot`` or ``zero-shot``."""
        return "few-shot" if self.fit is not None and self.fit.used else "zero-shot"

    def describe(self) -> str:
        """One line on how the coding was made."""
        uncertain = int(self.table["uncertain"].sum()) if "uncertain" in self.table else 0
        tail = f"; {uncertain} uncertain answers to check"
        if self.fit is None:
            return "zero-shot (the reference study's model, no codes of this study)" + tail
        if not self.fit.used:
            return f"zero-shot (few-shot asked, but {self.fit.reason or 'no usable codes'})" + tail
        reviewed = f", {self.fit.reviewed_answers} reviewed by the researcher" if self.fit.reviewed_answers else ""
        return (f"few-shot (learned from {self.fit.training_documents} coded files, "
                f"{self.fit.training_answers} answers{reviewed}; coded from p {self.threshold:.2f})" + tail)


def _label_docs(docs: list[dict[str, set[str]]]) -> dict[str, set[str]]:
    """turn_id -> stages over documents (the first document that labels a turn wins)."""
    known: dict[str, set[str]] = {}
    for doc in docs:
        for turn_id, stages in doc.items():
            known.setdefault(turn_id, set(stages))
    return known


class StageCoder:
    """Codes interviewee turns with lifecycle stages, with calibrated probabilities
    (scikit-learn's fit/predict shape).

    The rule's signals (see the module docstring) are the inputs of a small learned
    model (:mod:`analysis.stages._learned`): P(coded) and P(stage | coded), with
    weights shared by all stages. Without codes of the study (zero-shot), the model
    learned from the reference study's codes is used (``prior_model.json``); ``fit``
    learns it again from the researcher's codes (other interviews, and answers the
    researcher reviewed, whose neighbours and episodes then vote). An answer is coded
    when its P(coded) reaches the cut that maximises the F1 the probabilities expect;
    it gets its most probable stage. Answers whose P(coded) is within
    ``stages.uncertain_margin`` of that cut, or coded with a stage of P(stage | coded)
    below ``stages.uncertain_stage``, are marked ``uncertain``. With fewer than 10 coded
    and 10 uncoded training answers the zero-shot model is kept.

    Example:
        >>> coder = StageCoder(StageSettings())                          # doctest: +SKIP
        >>> coding = coder.fit(signals, train, kinds).predict(signals)   # doctest: +SKIP
        >>> coding.table[["stages", "p_coded", "uncertain"]].head()      # doctest: +SKIP
    """

    def __init__(self, settings: StageSettings | None = None, seed: int = 42, prior: StageModel | None = None):
        self.settings = settings if settings is not None else StageSettings()
        self.seed = seed
        self.prior = prior  # the zero-shot model; None: the reference study's (prior_model.json)
        self.fit_: FewShotFit | None = None
        self.model_: StageModel | None = None
        self.known_: dict[str, set[str]] = {}
        self.reviewed_: dict[str, set[str]] = {}
        self._kind_model = None
        self._parts_for, self._parts = None, None

    def fit(self, signals: StageSignals, train: list[dict[str, set[str]]] | dict[str, set[str]],
            kinds: dict[str, str] | None = None, topics: pd.Series | None = None,
            reviewed: dict[str, set[str]] | None = None) -> StageCoder:
        """Learn from human codes.

        Args:
            signals: signals of all turns (training and to predict).
            train: coded training turns, one ``turn_id -> stages`` mapping per coded
                document (:func:`analysis.human_codes.training_labels`; one mapping is
                accepted).
            kinds: turn_id -> ``issue``/``fix`` of coded training turns.
            topics: turn_id -> topic, for smoothing.
            reviewed: turn_id -> stages the researcher gave answers of this study; they
                train the model, vote for their neighbours, and keep their codes.
        """
        docs = [train] if isinstance(train, dict) else list(train)
        train_docs = list(docs)
        self.reviewed_ = dict(reviewed or {})
        if self.reviewed_:
            docs = docs + [self.reviewed_]
        substantive = dict(zip(signals.answers["turn_id"], signals.answers["substantive"]))
        known = {t: s for t, s in _label_docs(docs).items() if substantive.get(t)}
        n_coded = sum(bool(s) for s in known.values())
        if n_coded < MIN_TRAINING_ANSWERS or len(known) - n_coded < MIN_TRAINING_ANSWERS:
            self.fit_ = FewShotFit(False, reason="fewer than 10 coded and 10 uncoded training answers",
                                   reviewed_answers=len(self.reviewed_))
            self.known_ = _label_docs([self.reviewed_])
            return self
        parts, rule, cod = self._rule_parts(signals, topics)
        # Only the researcher's reviews: a few codes of one study move the zero-shot model,
        # they do not replace it (refitted from ~100 answers alone it generalised worse).
        prior = (self.prior or prior_model(list(signals.stage_ids))) if not any(len(d) for d in train_docs) else None
        self.model_ = fit_model(signals, parts, rule, cod, docs, seed=self.seed, prior=prior)
        self.known_ = _label_docs(docs)
        row_of = {t: i for i, t in enumerate(signals.answers["turn_id"])}
        train_rows = np.array(sorted(row_of[t] for t in known), dtype=int)
        self._kind_model = _fit_kind_model(signals, train_rows, kinds or {})
        weights = self.model_.coefficients()
        self.fit_ = FewShotFit(True, training_documents=len(train_docs), training_answers=len(known),
                               reviewed_answers=len(self.reviewed_),
                               coefficients=dict(zip(weights["model"] + ":" + weights["feature"],
                                                     weights["weight"].round(4))))
        return self

    def reuse_parts(self, other: StageCoder | None) -> StageCoder:
        """Take ``other``'s rule parts, which depend on the signals, topics and settings but
        not on the codes, so a retraining on more codes does not compute them again (a
        review's retraining steps). Nothing is taken when the settings differ or ``other``
        has none yet; parts for other signals or topics are recomputed when used.

        Returns:
            this coder.
        """
        if other is not None and other.settings == self.settings and other._parts_for is not None:
            self._parts_for, self._parts = other._parts_for, other._parts
        return self

    def _rule_parts(self, signals: StageSignals, topics: pd.Series | None):
        # fit and predict read the same parts; the smoothing loops over every answer
        if self._parts_for is None or self._parts_for[0] is not signals or self._parts_for[1] is not topics:
            self._parts, self._parts_for = _rule_parts(signals, topics, self.settings), (signals, topics)
        return self._parts

    def predict(self, signals: StageSignals, topics: pd.Series | None = None,
                mask: np.ndarray | None = None) -> StageCoding:
        """Code every interviewee turn of ``signals`` (only those in ``mask``, if given)."""
        answers = signals.answers
        substantive = answers["substantive"].to_numpy()
        parts, rule, cod = self._rule_parts(signals, topics)
        model = self.model_ or self.prior or prior_model(list(signals.stage_ids))
        row_of = {t: i for i, t in enumerate(answers["turn_id"])}
        known = {row_of[t]: s for t, s in self.known_.items() if t in row_of}
        p_coded, p_stage = model.predict(features(signals, parts, rule, cod, votes(signals, known)))
        target = substantive if mask is None else substantive & mask
        threshold = f1_threshold(p_coded[target])
        coded = target & (p_coded >= threshold)
        fix = signals.fix_similarity > signals.issue_similarity
        if self._kind_model is not None:
            fix = self._kind_model.predict(signals.answer_vectors).astype(bool)
        table = _assemble(signals, coded, p_stage, rule, fix)
        table["p_coded"] = np.round(p_coded, 4)
        for k, stage in enumerate(signals.stage_ids):
            table[f"p_{stage}"] = np.round(p_coded * p_stage[:, k], 4)
        best_stage = p_stage.max(axis=1)
        near = np.abs(p_coded - threshold) <= self.settings.uncertain_margin
        table["uncertain"] = target & (near | (coded & (best_stage < self.settings.uncertain_stage)))
        table["source"] = "suite"
        for turn_id, stages in self.reviewed_.items():
            i = row_of.get(turn_id)
            if i is not None:
                table.at[i, "stages"] = sorted(stages, key=list(signals.stage_ids).index)
                # the suite's issue/fix guess stays for a reviewed answer with stages
                table.at[i, "kind"] = (table.at[i, "kind"] or "issue") if stages else ""
                table.at[i, "uncertain"] = False
                table.at[i, "source"] = "researcher"
        return StageCoding(table, list(signals.stage_ids), self.fit_, threshold)


def _rule_parts(signals: StageSignals, topics: pd.Series | None, settings: StageSettings):
    """The zero-shot rule's smoothed parts, combined scores and codability: the model's inputs."""
    parts = _SmoothedParts(signals, topics, settings)
    return parts, parts.scores(settings), codability(signals, settings)


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


def leave_one_interview_out(signals: StageSignals, reference, settings: StageSettings,
                            topics: pd.Series | None = None, extra: tuple = (), use_votes: bool = True,
                            seed: int = 42) -> pd.DataFrame:
    """Each interview coded in ``reference`` coded by a coder that learned from the codes
    of the *other* interviews only (the other reference files, plus every file of
    ``extra`` code folders, e.g. single coders' codings, that belongs to another
    interview); the held-out rows of every fold, concatenated.

    Every choice that reads codes (the model's weights, the coding threshold, which is
    read off the model's own probabilities) is made inside the fold, so the figure is a
    nested estimate. ``use_votes=False`` predicts without the other interviews' codes
    voting (as the zero-shot model meets a new study).
    """
    ids = signals.stage_ids
    sources = [reference, *extra]
    held: list[pd.DataFrame] = []
    for interview_id in natural_sorted(reference.coded()["interview_id"].unique()):
        train, kind_codes = [], []
        for source in sources:
            others = source.documents[source.documents["interview_id"] != interview_id]
            train += training_labels(signals.answers, source.codes, others, ids)
            kind_codes.append(source.codes[source.codes["interview_id"] != interview_id])
        kinds = reference_kinds(signals.answers, pd.concat(kind_codes, ignore_index=True))
        held_out = (signals.answers["interview_id"] == interview_id).to_numpy()
        coder = StageCoder(settings, seed=seed).fit(signals, train, kinds, topics)
        if not use_votes:
            coder.known_ = {}
        table = coder.predict(signals, topics, mask=held_out).table
        held.append(table[held_out])
    return pd.concat(held, ignore_index=True) if held else pd.DataFrame()


def few_shot_leave_one_out(signals: StageSignals, reference, settings: StageSettings, topics: pd.Series | None = None,
                           extra: tuple = ()) -> dict[str, set[str]]:
    """The held-out stages of :func:`leave_one_interview_out`, turn_id -> stages.

    No file of the held-out interview is ever used to predict it.
    """
    table = leave_one_interview_out(signals, reference, settings, topics, extra)
    return {t: set(s) for t, s in zip(table["turn_id"], table["stages"])} if len(table) else {}
