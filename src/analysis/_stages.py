"""Lifecycle-stage coding of interviewee turns, zero-shot or learned from human codes.

Signals (each measured against the consensus coding of the reference study; see
``benchmarks/stage_agreement.py``):

* **stage similarity**: cosine of the answer to the stage's description and cues
  (mean of its three best matches), plus half that of the question it answers;
* **guide section**: the stage whose interview-guide question the interviewer last
  asked (cosine to the guide's question at least ``guide_threshold``); a small bonus;
* **neighbours and topics**: scores are smoothed with the neighbouring answers (coders
  code passages, not single turns) and with the answer's topic;
* **codability**: whether a turn carries a code at all depends far more on its length
  and on how much it reads like a reported problem than on its stage, so it is decided
  separately: the top ``coded_share`` of substantive answers by
  z(log words) + z(similarity to the taxonomy's issue examples) are coded;
* **kind**: ``issue`` or ``fix`` by similarity to the taxonomy's examples of each.

Few-shot mode learns the codability decision (and issue vs fix) from the researcher's
codes; the stage choice stays the zero-shot one (see :func:`code_stages_few_shot`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._ingest import natural_sorted
from ._taxonomy import Taxonomy

STAGE_COLUMNS = ["interview_id", "turn_id", "turn_index", "source_file", "line_start", "line_end", "text", "stages", "kind"]


@dataclass(frozen=True)
class StageSettings:
    """Weights of the zero-shot rule (chosen as round values, then measured)."""

    coded_share: float = 0.45
    question_weight: float = 0.5
    section_weight: float = 0.1
    guide_threshold: float = 0.5
    context_weight: float = 0.33
    topic_weight: float = 0.3
    second_stage_margin: float = 0.03
    seed: int = 42


@dataclass
class StageSignals:
    """Per interviewee turn (rows of ``answers``), the signals the coders use."""

    answers: pd.DataFrame          # interviewee turns, in transcript order
    answer_vectors: np.ndarray     # zero rows for turns that were not embedded
    question_vectors: np.ndarray
    stage_scores: np.ndarray       # answers x stages, before smoothing
    section: np.ndarray            # answers x stages, one-hot of the guide section (or zeros)
    issue_similarity: np.ndarray
    fix_similarity: np.ndarray
    stage_ids: list[str]


def _strip_id(question: str) -> str:
    return re.sub(r"^\s*\[[^\]]*\]\s*", "", question)


def stage_signals(turns: pd.DataFrame, embed, taxonomy: Taxonomy, settings: StageSettings, kinds: dict[str, list[str]]) -> StageSignals:
    """Compute the signals for every interviewee turn of ``turns``.

    Args:
        turns: the turns table (all roles: questions and guide sections come from
            interviewer turns).
        embed: a function from a list of texts to unit vectors (an ``Embedder.embed``).
        taxonomy: the stages.
        kinds: example sentences of an ``issue`` and of a ``fix``.
    """
    rank = {v: k for k, v in enumerate(natural_sorted(turns["interview_id"].unique()))}
    ordered = turns.assign(_rank=turns["interview_id"].map(rank)).sort_values(["_rank", "turn_index"]).drop(columns="_rank")
    ordered = ordered.reset_index(drop=True)
    texts = ordered["text"].fillna("")
    has_text = texts.str.strip() != ""
    to_embed = ordered["role"].isin(["interviewer"]) & has_text | (ordered["role"] == "interviewee") & ordered.get("substantive", has_text)
    embedded = embed(texts[to_embed].tolist())
    dim = embedded.shape[1]
    vectors = np.zeros((len(ordered), dim), dtype=np.float32)
    vectors[to_embed.to_numpy()] = embedded
    by_id = dict(zip(ordered["turn_id"], range(len(ordered))))

    protos = [embed(s.prototype_texts()) for s in taxonomy.stages]
    guide_texts, guide_stage = [], []
    for k, stage in enumerate(taxonomy.stages):
        for q in stage.guide_questions:
            guide_texts.append(_strip_id(q))
            guide_stage.append(k)
    for q in taxonomy.other_guide_questions:
        guide_texts.append(_strip_id(q))
        guide_stage.append(-1)
    guide_vectors = embed(guide_texts) if guide_texts else np.zeros((0, dim), np.float32)
    issue_vectors, fix_vectors = embed(kinds["issue"]), embed(kinds["fix"])

    def top3(matrix: np.ndarray) -> np.ndarray:
        return np.column_stack([np.sort(matrix @ p.T, axis=1)[:, -min(3, len(p)):].mean(axis=1) for p in protos])

    # Guide section: carried forward from the last interviewer turn that is a guide question.
    n_stages = len(taxonomy.stages)
    section_all = np.zeros((len(ordered), n_stages))
    current, previous_interview = None, None
    for i, row in enumerate(ordered.itertuples()):
        if row.interview_id != previous_interview:
            current, previous_interview = None, row.interview_id
        if row.role == "interviewer" and len(guide_texts) and vectors[i].any():
            sims = guide_vectors @ vectors[i]
            best = int(np.argmax(sims))
            if sims[best] >= settings.guide_threshold:
                current = guide_stage[best]
        if current is not None and current >= 0:
            section_all[i, current] = 1.0

    answers_mask = (ordered["role"] == "interviewee").to_numpy()
    answers = ordered[answers_mask].reset_index(drop=True)
    answer_vectors = vectors[answers_mask]
    question_rows = [by_id.get(q) for q in answers["question_turn_id"]]
    question_vectors = np.vstack([vectors[r] if r is not None else np.zeros(dim, np.float32) for r in question_rows]) if len(answers) else np.zeros((0, dim))
    scores = top3(answer_vectors) + settings.question_weight * top3(question_vectors) + settings.section_weight * section_all[answers_mask]
    return StageSignals(
        answers=answers, answer_vectors=answer_vectors, question_vectors=question_vectors, stage_scores=scores,
        section=section_all[answers_mask], issue_similarity=(answer_vectors @ issue_vectors.T).max(axis=1),
        fix_similarity=(answer_vectors @ fix_vectors.T).max(axis=1), stage_ids=taxonomy.ids,
    )


def _smooth(signals: StageSignals, scores: np.ndarray, topics: pd.Series | None, settings: StageSettings) -> np.ndarray:
    answers = signals.answers
    substantive = answers["substantive"].to_numpy()
    interview = answers["interview_id"].to_numpy()
    out = scores.copy()
    if settings.context_weight:
        for i in np.flatnonzero(substantive):
            neighbours = [scores[j] for j in (i - 1, i + 1) if 0 <= j < len(scores) and interview[j] == interview[i] and substantive[j]]
            if neighbours:
                out[i] = (1 - settings.context_weight) * scores[i] + settings.context_weight * np.mean(neighbours, axis=0)
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


def _zscore(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ref = values[mask]
    return (values - ref.mean()) / (ref.std() or 1.0) if len(ref) else values


def codability(signals: StageSignals) -> np.ndarray:
    """How much each answer looks like it would carry a code: z(log words) + z(issue)."""
    substantive = signals.answers["substantive"].to_numpy()
    words = np.log1p(signals.answers["n_words"].to_numpy(dtype=float))
    return _zscore(words, substantive) + _zscore(signals.issue_similarity, substantive)


def _assemble(signals: StageSignals, coded: np.ndarray, scores: np.ndarray, margin: float, fix: np.ndarray) -> pd.DataFrame:
    ids = signals.stage_ids
    labels: list[list[str]] = []
    for is_coded, row in zip(coded, scores):
        if not is_coded:
            labels.append([])
            continue
        best = row.max()
        labels.append([ids[j] for j in np.argsort(-row, kind="stable") if row[j] >= best - margin])
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
    kinds = [("fix" if f else "issue") if stages else "" for stages, f in zip(filled, fix)]
    out = answers[["interview_id", "turn_id", "turn_index", "source_file", "line_start", "line_end", "text"]].copy()
    out["stages"] = [";".join(s) for s in filled]
    out["kind"] = kinds
    for k, stage in enumerate(ids):
        out[f"score_{stage}"] = np.round(scores[:, k], 4)
    return out.reset_index(drop=True)


def code_stages_zero_shot(signals: StageSignals, settings: StageSettings, topics: pd.Series | None = None) -> pd.DataFrame:
    """Stages for every interviewee turn from the taxonomy alone.

    Returns:
        One row per interviewee turn: ids, source position, text, ``stages`` (ids joined
        by ``;``, empty when none), ``kind`` and one ``score_<stage>`` column per stage.
    """
    substantive = signals.answers["substantive"].to_numpy()
    scores = _smooth(signals, signals.stage_scores, topics, settings)
    code_score = codability(signals)
    coded = np.zeros(len(substantive), bool)
    if substantive.any():
        threshold = np.quantile(code_score[substantive], 1 - settings.coded_share)
        coded = substantive & (code_score >= threshold)
    fix = signals.fix_similarity > signals.issue_similarity
    return _assemble(signals, coded, scores, settings.second_stage_margin, fix)


def reference_labels(answers: pd.DataFrame, codes: pd.DataFrame, documents: pd.DataFrame, stage_ids: list[str]) -> dict[str, set[str]]:
    """turn_id -> set of stages, for the interviewee turns inside each coded document's
    coded range (first to last coded turn); the agreement units."""
    labels: dict[str, set[str]] = {}
    mapped = codes[codes["status"] == "mapped"]
    for doc in documents[documents["has_codes"]].itertuples():
        if pd.isna(doc.first_coded_turn):
            continue
        doc_codes = mapped[(mapped["interview_id"] == doc.interview_id) & (mapped["source_file"] == doc.source_file)]
        by_turn = doc_codes.groupby("turn_index")["stage"].agg(lambda s: set(s) & set(stage_ids))
        unit = answers[(answers["interview_id"] == doc.interview_id) & answers["turn_index"].between(doc.first_coded_turn, doc.last_coded_turn)]
        for row in unit.itertuples():
            labels[row.turn_id] = set(by_turn.get(row.turn_index, set()))
    return labels


def reference_kinds(answers: pd.DataFrame, codes: pd.DataFrame) -> dict[str, str]:
    """turn_id -> ``fix`` when any of the turn's mapped codes is a fix, else ``issue``."""
    mapped = codes[codes["status"] == "mapped"]
    kinds = mapped.groupby(["interview_id", "turn_index"])["kind"].agg(lambda k: "fix" if (k == "fix").any() else "issue")
    key = dict(zip(zip(answers["interview_id"], answers["turn_index"]), answers["turn_id"]))
    return {key[k]: v for k, v in kinds.items() if k in key}


def code_stages_few_shot(signals: StageSignals, train: dict[str, set[str]], settings: StageSettings,
                         train_kinds: dict[str, str] | None = None, topics: pd.Series | None = None,
                         predict_mask: np.ndarray | None = None) -> pd.DataFrame:
    """Stages learned from human codes of some interviews.

    Args:
        signals: signals of all turns (training and to predict).
        train: turn_id -> stages of the coded training turns (the units of
            :func:`reference_labels`).
        train_kinds: turn_id -> ``issue``/``fix`` of coded training turns.
        predict_mask: answers to code (default: all); the others get no stages.

    What is learned is *whether* an answer is coded: a class-balanced logistic
    regression on five signals (log words, similarity to the issue examples, best stage
    score, whether the interview is in a guide section, the zero-shot codability), and,
    when the codes mark mitigations, issue vs fix from the answer embeddings. The stage
    itself is the zero-shot choice: measured leave-one-interview-out on the reference
    study, classifiers that also learn the stage (on the stage scores, or on answer and
    question embeddings) agreed less with the consensus (macro-F1 0.17-0.18 against
    0.24), as eight coded interviews hold too few examples of the rarer stages. When the
    codes are too few to train (fewer than 10 coded and 10 uncoded training answers),
    the zero-shot rule is used.
    """
    from sklearn.linear_model import LogisticRegression

    answers = signals.answers
    substantive = answers["substantive"].to_numpy()
    in_train = answers["turn_id"].isin(train.keys()).to_numpy() & substantive
    y_coded = np.array([bool(train.get(t)) for t in answers["turn_id"]])
    if (in_train & ~y_coded).sum() < 10 or (in_train & y_coded).sum() < 10:
        return code_stages_zero_shot(signals, settings, topics)
    scores = _smooth(signals, signals.stage_scores, topics, settings)
    gate_x = np.column_stack([np.log1p(answers["n_words"].to_numpy(dtype=float)), signals.issue_similarity,
                              scores.max(axis=1), signals.section.max(axis=1), codability(signals)])
    gate = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000).fit(gate_x[in_train], y_coded[in_train])
    coded = substantive & (gate.predict_proba(gate_x)[:, 1] >= 0.5)
    if predict_mask is not None:
        coded &= predict_mask
    fix = signals.fix_similarity > signals.issue_similarity
    if train_kinds:
        kind_rows = np.array([t in train_kinds for t in answers["turn_id"]]) & in_train & y_coded
        y_kind = np.array([train_kinds.get(t) == "fix" for t in answers["turn_id"]])
        if kind_rows.sum() >= 10 and 0 < y_kind[kind_rows].sum() < kind_rows.sum():
            kind_model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
            kind_model.fit(signals.answer_vectors[kind_rows], y_kind[kind_rows])
            fix = kind_model.predict(signals.answer_vectors).astype(bool)
    return _assemble(signals, coded, scores, settings.second_stage_margin, fix)


def topic_stage_mix(stages: pd.DataFrame, topics: pd.DataFrame, stage_ids: list[str]) -> pd.DataFrame:
    """Per topic, the share of its coded answers in each stage and its primary stage.

    Topics whose answers carry no stage get their mix from the mean stage scores.
    """
    merged = topics[["turn_id", "topic"]].merge(stages, on="turn_id", how="left")
    rows = []
    for topic, group in merged.groupby("topic"):
        counts = dict.fromkeys(stage_ids, 0.0)
        for value in group["stages"].fillna(""):
            picked = [s for s in value.split(";") if s]
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
        rows.append({"topic": int(topic), "primary_stage": primary, "primary_share": round(mix[primary], 3),
                     "coded_answers": int((group["stages"].fillna("") != "").sum()), "answers": len(group), "basis": basis,
                     **{f"share_{s}": round(mix[s], 3) for s in stage_ids}})
    return pd.DataFrame(rows)


def few_shot_leave_one_out(signals: StageSignals, codes: pd.DataFrame, documents: pd.DataFrame,
                           settings: StageSettings, topics: pd.Series | None = None) -> dict[str, set[str]]:
    """Few-shot predictions for each coded interview from a model trained on the other
    coded interviews; the held-out predictions pooled (turn_id -> stages)."""
    ids = signals.stage_ids
    coded_docs = documents[documents["has_codes"]]
    pooled: dict[str, set[str]] = {}
    for interview_id in coded_docs["interview_id"].unique():
        train_docs = coded_docs[coded_docs["interview_id"] != interview_id]
        train = reference_labels(signals.answers, codes, train_docs, ids)
        kinds = reference_kinds(signals.answers, codes[codes["interview_id"] != interview_id])
        held_out = (signals.answers["interview_id"] == interview_id).to_numpy()
        table = code_stages_few_shot(signals, train, settings, kinds, topics, predict_mask=held_out)
        for turn_id, stages in zip(table.loc[held_out, "turn_id"], table.loc[held_out, "stages"]):
            pooled[turn_id] = {s for s in stages.split(";") if s}
    return pooled
