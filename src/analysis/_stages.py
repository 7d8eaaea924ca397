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
classifier per stage (see :func:`code_stages_few_shot`).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._agreement import agreement
from ._ingest import natural_sorted
from ._taxonomy import Taxonomy

STAGE_COLUMNS = ["interview_id", "turn_id", "turn_index", "source_file", "line_start", "line_end", "text", "stages", "kind"]

# Few-shot: the rule's weights tried on the researcher's codes (round values only).
FEW_SHOT_GRID = {
    "section_weight": (0.05, 0.1, 0.2),
    "question_weight": (0.3, 0.5),
    "stage_calibration": (0.0, 0.02, 0.05),
    "cue_weight": (0.0, 0.08),
    "coded_share": (0.35, 0.45, 0.55),
}
NEIGHBOURS = 15
CUE_CAP = 2   # more than two cue phrases of one stage add no more evidence


@dataclass(frozen=True)
class StageSettings:
    """Weights of the zero-shot rule (chosen as round values, then measured)."""

    coded_share: float = 0.5
    question_weight: float = 0.5
    section_weight: float = 0.1
    stage_calibration: float = 0.0
    cue_weight: float = 0.08
    guide_threshold: float = 0.5
    context_weight: float = 0.33
    topic_weight: float = 0.3
    episode_weight: float = 0.5
    second_stage_margin: float = 0.0
    seed: int = 42


@dataclass
class StageSignals:
    """Per interviewee turn (rows of ``answers``), the signals the coders use."""

    answers: pd.DataFrame          # interviewee turns, in transcript order
    answer_vectors: np.ndarray     # zero rows for turns that were not embedded
    question_vectors: np.ndarray
    answer_stage: np.ndarray       # answers x stages: similarity of the answer to each stage
    question_stage: np.ndarray     # answers x stages: similarity of its question to each stage
    section: np.ndarray            # answers x stages, one-hot of the guide section (or zeros)
    answer_cues: np.ndarray        # answers x stages: cue phrases said in the answer (capped)
    question_cues: np.ndarray      # answers x stages: cue phrases said in its question (capped)
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


_SUFFIXES = ("ibility", "ability", "ations", "ation", "ible", "able", "ings", "ing", "ness", "ities", "ity", "ies", "es", "ed", "s", "e", "y", "ly")


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
        >>> from analysis._taxonomy import Stage, Taxonomy
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
    # (Also taking a turn that names one stage's section cues, "moving on to deployment",
    # as a section start matched the question ids the coders wrote less often: 67% vs 76%.)
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
    answer_cues, matched = cue_hits(answers["text"].fillna("").tolist(), taxonomy)
    question_texts = answers["question_text"] if "question_text" in answers else pd.Series([""] * len(answers))
    question_cues, _ = cue_hits(question_texts.fillna("").tolist(), taxonomy)
    return StageSignals(
        answers=answers, answer_vectors=answer_vectors, question_vectors=question_vectors,
        answer_stage=top3(answer_vectors), question_stage=top3(question_vectors), section=section_all[answers_mask],
        answer_cues=np.minimum(answer_cues, CUE_CAP), question_cues=np.minimum(question_cues, CUE_CAP), matched_cues=matched,
        issue_similarity=(answer_vectors @ issue_vectors.T).max(axis=1),
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
            out = out + settings.stage_calibration * (out - ref.mean(axis=0)) / np.where(ref.std(axis=0) > 0, ref.std(axis=0), 1.0)
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
    settings = settings or StageSettings()
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


def _assemble(signals: StageSignals, coded: np.ndarray, scores: np.ndarray, margin: float, fix: np.ndarray) -> pd.DataFrame:
    ids = signals.stage_ids
    filled = _fill_backchannels(signals, _choose(scores, coded, ids, margin))
    kinds = [("fix" if f else "issue") if stages else "" for stages, f in zip(filled, fix)]
    out = signals.answers[["interview_id", "turn_id", "turn_index", "source_file", "line_start", "line_end", "text"]].copy()
    out["stages"] = [";".join(s) for s in filled]
    out["kind"] = kinds
    for k, stage in enumerate(ids):
        out[f"score_{stage}"] = np.round(scores[:, k], 4)
    # The evidence a reviewer can check: the cue phrases of the chosen stages said in the answer.
    out["matched_cues"] = ["; ".join(c for s in stages for c in found.get(s, [])) for stages, found in zip(filled, signals.matched_cues)]
    return out.reset_index(drop=True)


def code_stages_zero_shot(signals: StageSignals, settings: StageSettings, topics: pd.Series | None = None) -> pd.DataFrame:
    """Stages for every interviewee turn from the taxonomy alone.

    Returns:
        One row per interviewee turn: ids, source position, text, ``stages`` (ids joined
        by ``;``, empty when none), ``kind`` and one ``score_<stage>`` column per stage.
    """
    substantive = signals.answers["substantive"].to_numpy()
    scores = stage_scores(signals, settings, topics)
    coded = _coded_top_share(codability(signals, settings), substantive, settings.coded_share)
    fix = signals.fix_similarity > signals.issue_similarity
    return _assemble(signals, coded, scores, settings.second_stage_margin, fix)


def reference_labels(answers: pd.DataFrame, codes: pd.DataFrame, documents: pd.DataFrame, stage_ids: list[str]) -> dict[str, set[str]]:
    """turn_id -> set of stages, for the interviewee turns inside each coded document's
    coded range (first to last coded turn); the agreement units. When several documents
    code the same interview, the later one wins (see :func:`training_labels` to keep each)."""
    labels: dict[str, set[str]] = {}
    for doc_labels in training_labels(answers, codes, documents, stage_ids):
        labels.update(doc_labels)
    return labels


def training_labels(answers: pd.DataFrame, codes: pd.DataFrame, documents: pd.DataFrame, stage_ids: list[str]) -> list[dict[str, set[str]]]:
    """One ``turn_id -> stages`` mapping per coded document (its coded range), so that two
    coders of one interview both count as examples."""
    from ._evaluate import _document_labels

    return [_document_labels(answers, codes, doc.interview_id, doc.source_file, int(doc.first_coded_turn), int(doc.last_coded_turn), stage_ids)
            for doc in documents[documents["has_codes"]].itertuples() if not pd.isna(doc.first_coded_turn)]


def reference_kinds(answers: pd.DataFrame, codes: pd.DataFrame) -> dict[str, str]:
    """turn_id -> ``fix`` when any of the turn's mapped codes is a fix, else ``issue``."""
    mapped = codes[codes["status"] == "mapped"]
    kinds = mapped.groupby(["interview_id", "turn_index"])["kind"].agg(lambda k: "fix" if (k == "fix").any() else "issue")
    key = dict(zip(zip(answers["interview_id"], answers["turn_index"]), answers["turn_id"]))
    return {key[k]: v for k, v in kinds.items() if k in key}


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


def code_stages_few_shot(signals: StageSignals, train: list[dict[str, set[str]]] | dict[str, set[str]], settings: StageSettings,
                         train_kinds: dict[str, str] | None = None, topics: pd.Series | None = None,
                         predict_mask: np.ndarray | None = None) -> pd.DataFrame:
    """Stages calibrated on human codes of some interviews.

    Args:
        signals: signals of all turns (training and to predict).
        train: the coded training turns, one ``turn_id -> stages`` mapping per coded
            document (:func:`training_labels`; a single mapping is accepted).
        train_kinds: turn_id -> ``issue``/``fix`` of coded training turns.
        predict_mask: answers to code (default: all); the others get no stages.

    What is learned, and why (measured leave-one-interview-out on the reference study;
    ``benchmarks/stage_agreement.py``):

    * **whether** an answer is coded: the zero-shot codability plus the coded share of
      its 15 most similar training answers (a nearest-neighbour vote on the answer
      embeddings);
    * **the rule's weights**: question and section weight, stage calibration and coded
      share, each from a few round values (``FEW_SHOT_GRID``), the combination that
      agrees best with the training codes (macro-F1 + alpha);
    * **issue vs fix**, when the codes mark mitigations, by a logistic regression on the
      answer embeddings.

    The stage itself stays the (re-weighted) zero-shot choice: classifiers that learned
    it from the other coded interviews (per stage or one multinomial model, on answer plus
    question embeddings or on the score components) agreed less with the consensus
    (macro-F1 0.10-0.23 against 0.25-0.28), as the rarer stages have a handful of
    examples; so did per-stage score offsets fitted to the codes (0.22), and nearest
    coded answers as extra stage prototypes (0.21). When the codes are too few (fewer
    than 10 coded and 10 uncoded training answers), the zero-shot rule is used.
    The chosen weights are in the returned table's ``attrs["few_shot"]``.
    """
    from sklearn.linear_model import LogisticRegression

    docs = [train] if isinstance(train, dict) else list(train)
    answers = signals.answers
    ids = signals.stage_ids
    substantive = answers["substantive"].to_numpy()
    row_of = {t: i for i, t in enumerate(answers["turn_id"])}
    votes: dict[int, list[bool]] = {}
    for doc in docs:
        for turn_id, stages in doc.items():
            i = row_of.get(turn_id)
            if i is not None and substantive[i]:
                votes.setdefault(i, []).append(bool(stages))
    train_rows = np.array(sorted(votes), dtype=int)
    train_coded = np.array([np.mean(votes[i]) for i in train_rows])
    if (train_coded >= 0.5).sum() < 10 or (train_coded < 0.5).sum() < 10:
        table = code_stages_zero_shot(signals, settings, topics)
        table.attrs["few_shot"] = {"used": False, "reason": "fewer than 10 coded and 10 uncoded training answers"}
        return table

    gate = _zscore(_neighbour_codedness(signals, train_rows, train_coded), substantive) + codability(signals, settings)
    parts = _SmoothedParts(signals, topics, settings)
    # Training units, one per (document, turn), as the agreement is measured.
    units_ref, units_row = {}, {}
    for d, doc in enumerate(docs):
        for turn_id, stages in doc.items():
            if turn_id in row_of:
                units_ref[f"{d}|{turn_id}"] = stages
                units_row[f"{d}|{turn_id}"] = row_of[turn_id]
    best = None
    for values in itertools.product(*FEW_SHOT_GRID.values()):
        candidate = dataclasses.replace(settings, **dict(zip(FEW_SHOT_GRID, values)))
        coded = _coded_top_share(gate, substantive, candidate.coded_share)
        labels = _fill_backchannels(signals, _choose(parts.scores(candidate), coded, ids, candidate.second_stage_margin))
        result = agreement(units_ref, {u: set(labels[r]) for u, r in units_row.items()}, ids)
        fit = (result["macro_f1"] or 0.0) + (result["alpha"] or 0.0)
        if best is None or fit > best[0] + 1e-12:
            best = (fit, candidate)
    chosen = best[1]
    coded = _coded_top_share(gate, substantive, chosen.coded_share)
    if predict_mask is not None:
        coded &= predict_mask
    fix = signals.fix_similarity > signals.issue_similarity
    if train_kinds:
        in_training = np.zeros(len(answers), bool)
        in_training[train_rows] = True
        kind_rows = np.array([t in train_kinds for t in answers["turn_id"]]) & in_training
        y_kind = np.array([train_kinds.get(t) == "fix" for t in answers["turn_id"]])
        if kind_rows.sum() >= 10 and 0 < y_kind[kind_rows].sum() < kind_rows.sum():
            kind_model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
            kind_model.fit(signals.answer_vectors[kind_rows], y_kind[kind_rows])
            fix = kind_model.predict(signals.answer_vectors).astype(bool)
    table = _assemble(signals, coded, parts.scores(chosen), chosen.second_stage_margin, fix)
    table.attrs["few_shot"] = {"used": True, "training_documents": len(docs), "training_answers": int(len(train_rows)),
                               "fit_macro_f1_plus_alpha": round(best[0], 4),
                               **{k: getattr(chosen, k) for k in FEW_SHOT_GRID}}
    return table


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


def few_shot_leave_one_out(signals: StageSignals, reference, settings: StageSettings, topics: pd.Series | None = None,
                           extra: tuple = ()) -> dict[str, set[str]]:
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
        table = code_stages_few_shot(signals, train, settings, kinds, topics, predict_mask=held_out)
        for turn_id, stages in zip(table.loc[held_out, "turn_id"], table.loc[held_out, "stages"]):
            pooled[turn_id] = {s for s in stages.split(";") if s}
    return pooled
