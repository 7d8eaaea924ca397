"""Which answers a researcher should code next, so a few minutes teach the coder most.

An answer's value to the review is twofold: its own code replaces the suite's (direct
correction: worth the errors the suite would have made on it), and the code teaches the
model and votes for the answer's neighbours (its episode: the answers to one interviewer
question). Not simply the most uncertain answers: those cluster on noise (backchannels,
garbled turns) and on a few episodes, so a batch may go round the interviews in turn and
take at most one answer per episode (the *spread*).

A few principled acquisition functions (:data:`ACQUISITIONS`) weigh these differently:

* ``entropy_reach``: entropy of (no stage, stage 1..n) times log(1 + episode size), spread;
* ``expected_errors``: the expected stage errors the suite's coding of the answer carries
  (what a review removes from the pooled per-stage decisions the agreement counts), spread;
* ``expected_errors_reach``: the same times log(1 + episode size), spread;
* ``expected_errors_greedy``: the expected errors, best first, without the spread.

**Shipped default** (:data:`DEFAULT_ACQUISITION`, used by ``review_queue(strategy="active")``,
the review widget, ``review`` and ``review-simulate``): the acquisition that nested
validation chooses on the eight reference interviews (``benchmarks/review_curve.py
--acquisition nested``: each reference interview in turn is the simulated researcher, the
others and the single coders' codings train, review at a 20% budget, best mean alpha over
all answers). The choice never read an outer score; the honest figure for the active queue
is the nested one that benchmark prints (each outer interview's acquisition chosen on the
other seven only), not any fixed candidate's outer figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def _reach(episodes: np.ndarray) -> np.ndarray:
    """Per answer: the answers of its episode (itself included), whose votes its code joins."""
    series = pd.Series(episodes)
    return series.map(series.value_counts()).to_numpy(dtype=float)


def review_priority(table: pd.DataFrame, stage_ids: list[str], episodes: np.ndarray) -> np.ndarray:
    """Per answer: entropy of (no stage, stage 1..n) times log(1 + answers in its episode).

    Why: the entropy is high where the coder cannot tell "no stage" from the stages or the
    stages apart, and the log reach favours answers whose code travels (it votes for every
    answer of its episode), with diminishing returns for long episodes.
    """
    p_coded = table["p_coded"].to_numpy(dtype=float)
    p_stage = table[[f"p_{s}" for s in stage_ids]].to_numpy(dtype=float)
    p = np.column_stack([1 - p_coded, p_stage])
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    entropy = -(p * np.log(np.maximum(p, 1e-12))).sum(axis=1)
    return entropy * np.log1p(_reach(episodes))


def expected_errors(table: pd.DataFrame, stage_ids: list[str], episodes: np.ndarray | None = None) -> np.ndarray:
    """Per answer: the expected number of wrong stage decisions in the suite's coding of it.

    Why: the agreement pools one yes/no decision per answer and stage, and a reviewed
    answer carries the researcher's codes, so reviewing it removes exactly the errors the
    suite's decisions would have made there. With ``p_<stage>`` the probability that the
    answer carries the stage, a stage the suite wrote is wrong with probability
    ``1 - p``, a stage it left out with probability ``p``; their sum is the expected
    Hamming loss the review removes (the decisions written, with the coder's own
    threshold, not a 0.5 cut; ``min(p, 1 - p)`` when the table has no ``stages``).
    """
    p_stage = table[[f"p_{s}" for s in stage_ids]].to_numpy(dtype=float)
    if "stages" not in table:
        return np.minimum(p_stage, 1 - p_stage).sum(axis=1)
    written = np.array([[s in set(stages or ()) for s in stage_ids] for stages in table["stages"]], bool)
    written = written.reshape(len(table), len(stage_ids))
    return np.where(written, 1 - p_stage, p_stage).sum(axis=1)


def expected_errors_reach(table: pd.DataFrame, stage_ids: list[str], episodes: np.ndarray) -> np.ndarray:
    """Per answer: :func:`expected_errors` times log(1 + answers in its episode).

    Why: the direct correction plus what the code teaches: a code votes for the other
    answers of its episode, so of two answers the suite is equally likely to get wrong,
    the one in a longer episode is worth more (log: diminishing returns).
    """
    return expected_errors(table, stage_ids) * np.log1p(_reach(episodes))


@dataclass(frozen=True)
class Acquisition:
    """How the active queue ranks answers.

    Attributes:
        name: the name ``review_queue(acquisition=...)`` takes.
        priority: ``(table, stage_ids, episodes) -> value per row`` (higher: served first).
        spread: serve round-robin over interviews and at most one answer per episode
            (``False``: the best ``size`` answers as they come).
    """

    name: str
    priority: Callable[[pd.DataFrame, list[str], np.ndarray], np.ndarray]
    spread: bool


ACQUISITIONS: dict[str, Acquisition] = {
    a.name: a
    for a in (
        Acquisition("entropy_reach", review_priority, spread=True),
        Acquisition("expected_errors", expected_errors, spread=True),
        Acquisition("expected_errors_reach", expected_errors_reach, spread=True),
        # the same score without the spread: does serving one answer per episode pay?
        Acquisition("expected_errors_greedy", expected_errors, spread=False),
    )
}
# Chosen by nested validation on the eight reference interviews (see the module docstring):
# mean inner alpha at a 20% budget in 2 batches, expected_errors_reach 0.635, expected_errors
# 0.629, entropy_reach 0.627, expected_errors_greedy 0.617 (close: the choice matters little).
DEFAULT_ACQUISITION = "expected_errors_reach"


def review_queue(coding, reviewed: Iterable[str] = (), size: int = 10, seed: int = 42,
                 episodes: np.ndarray | None = None, candidates: np.ndarray | None = None,
                 strategy: str = "active", acquisition: str | None = None) -> pd.DataFrame:
    """The next ``size`` answers to review, in serving order.

    Args:
        coding: a :class:`StageCoding` (its table carries ``p_coded``, ``p_<stage>`` and
            ``stages``).
        reviewed: turn ids already decided (never served again).
        size: answers in the batch.
        seed: for ``strategy="random"`` and to break ties.
        episodes: the episode of each row (default: the question each answer replies to,
            from the table's ``question_turn_id`` when present, else the answer itself).
        candidates: a boolean mask of rows that may be served (default: substantive
            answers coded by the suite).
        strategy: ``active`` (ranked by ``acquisition``) or ``random`` (for comparison).
        acquisition: a name of :data:`ACQUISITIONS` (default :data:`DEFAULT_ACQUISITION`).

    Returns:
        ``turn_id, interview_id, turn_index, priority, why``.
    """
    if strategy not in ("active", "random"):
        raise ValueError(f"strategy {strategy!r}: expected 'active' or 'random'")
    chosen = ACQUISITIONS.get(acquisition or DEFAULT_ACQUISITION)
    if chosen is None:
        raise ValueError(f"acquisition {acquisition!r}: expected one of {', '.join(ACQUISITIONS)}")
    table = coding.table.reset_index(drop=True)
    done = set(reviewed)
    if episodes is None:
        question = table["question_turn_id"] if "question_turn_id" in table else pd.Series([None] * len(table))
        episodes = np.where(question.isna(), "own:" + table["turn_id"].astype(str), question.astype(str))
    episodes = np.asarray(episodes)
    allowed = np.ones(len(table), bool) if candidates is None else np.asarray(candidates, bool)
    if "substantive" in table:
        allowed &= table["substantive"].to_numpy(bool)
    if "source" in table:
        allowed &= (table["source"] != "researcher").to_numpy()
    allowed &= ~table["turn_id"].isin(done).to_numpy()
    rows = np.flatnonzero(allowed)
    columns = ["turn_id", "interview_id", "turn_index", "priority", "why"]
    if not len(rows) or size <= 0:
        return pd.DataFrame(columns=columns)
    rng = np.random.default_rng(seed)
    if strategy == "random":
        picked = list(rng.choice(rows, size=min(size, len(rows)), replace=False))
        priority = np.zeros(len(table))
        why = {r: "random" for r in picked}
    else:
        priority = np.asarray(chosen.priority(table, coding.stage_ids, episodes), dtype=float)
        jitter = rng.random(len(table)) * 1e-9  # ties broken by seed, not by table order
        if chosen.spread:
            picked = _spread(table, rows, priority + jitter, episodes, size)
        else:
            picked = list(rows[np.argsort(-(priority + jitter)[rows], kind="stable")[:size]])
        why = {r: _why(table, episodes, r) for r in picked}
    out = table.loc[picked, ["turn_id", "interview_id", "turn_index"]].copy()
    out["priority"] = np.round(priority[picked], 4)
    out["why"] = [why[r] for r in picked]
    return out.reset_index(drop=True)


def _why(table: pd.DataFrame, episodes: np.ndarray, r: int) -> str:
    p_coded = float(table.at[r, "p_coded"])
    reach = int(np.sum(episodes == episodes[r]))
    return f"p(coded) {p_coded:.2f}; its code informs {reach} answer{'s' if reach != 1 else ''}"


def _spread(table: pd.DataFrame, rows: np.ndarray, priority: np.ndarray, episodes: np.ndarray,
            size: int) -> list[int]:
    """Round-robin over interviews, best priority first, one answer per episode."""
    by_interview: dict[str, list[int]] = {}
    for r in sorted(rows, key=lambda r: -priority[r]):
        by_interview.setdefault(str(table.at[r, "interview_id"]), []).append(r)
    order = sorted(by_interview, key=lambda i: -priority[by_interview[i][0]])
    picked, seen = [], set()
    while len(picked) < size and any(by_interview.values()):
        for interview in order:
            queue = by_interview[interview]
            while queue and episodes[queue[0]] in seen:
                queue.pop(0)
            if queue and len(picked) < size:
                r = queue.pop(0)
                picked.append(r)
                seen.add(episodes[r])
        if all(not by_interview[i] for i in order):
            break
    return picked


class Oracle:
    """A stand-in researcher: answers with known codes, and only for the answers asked.

    Args:
        codes: turn_id -> stages of the oracle's coded units (answers outside them are
            answered "no stage", as a coder who left them uncoded).
    """

    def __init__(self, codes: dict[str, set[str]]):
        self._codes = codes
        self.asked: list[str] = []

    def ask(self, turn_ids: Iterable[str]) -> dict[str, set[str]]:
        out = {}
        for turn_id in turn_ids:
            self.asked.append(turn_id)
            out[turn_id] = set(self._codes.get(turn_id, set()))
        return out


def _fresh_coder(coder_factory, previous):
    # the rule's parts do not depend on the codes: computed once per review, not per retraining
    return coder_factory().reuse_parts(previous)


def simulate_review(coder_factory, signals, topics, train: list[dict[str, set[str]]], kinds: dict[str, str],
                    oracle: Oracle, candidates: np.ndarray, budget: float, strategy: str = "active",
                    batches: int = 10, seed: int = 42, log=None, acquisition: str | None = None, start=None):
    """Code a new study as a researcher would with the suite: start from ``train``, ask the
    oracle for ``budget`` (a share of the ``candidates`` answers) in ``batches`` batches,
    retrain after each, and return the final :class:`StageCoding` (reviewed answers keep
    the oracle's codes, ``source == "researcher"``) and the decisions.

    Args:
        coder_factory: a zero-argument callable returning a fresh :class:`StageCoder`.
        candidates: boolean mask over ``signals.answers`` of the answers that may be asked.
        log: called with a line per batch (answers reviewed, seconds of the retraining).
        acquisition: the active queue's ranking (a name of :data:`ACQUISITIONS`).
        start: a coder already fitted on ``train`` alone (the same for every strategy and
            budget): its coding is the first, which saves one retraining.
    """
    n_ask = int(round(budget * int(np.sum(candidates))))
    per_batch = max(1, int(np.ceil(n_ask / batches))) if n_ask else 0
    reviewed: dict[str, set[str]] = {}
    episodes = signals.episodes()
    rng_seed = seed
    coder = start
    while True:
        started = time.perf_counter()
        if coder is None or reviewed:
            coder = _fresh_coder(coder_factory, coder)
            if train or reviewed:
                coder.fit(signals, train, kinds, topics, reviewed=reviewed)
        coding = coder.predict(signals, topics)
        if log:
            step = f"reviewed {len(reviewed)}/{n_ask}; retraining" if reviewed else "first coding (no review yet)"
            log(f"  {step} {time.perf_counter() - started:.1f} s")
        if len(reviewed) >= n_ask:
            return coding, reviewed
        batch = review_queue(coding, reviewed, size=min(per_batch, n_ask - len(reviewed)), seed=rng_seed,
                             episodes=episodes, candidates=candidates, strategy=strategy, acquisition=acquisition)
        rng_seed += 1
        if batch.empty:
            return coding, reviewed
        reviewed.update(oracle.ask(batch["turn_id"].tolist()))


@dataclass
class NestedChoice:
    """What :func:`choose_acquisition` found: the chosen acquisition, each candidate's mean
    alpha over the inner folds, and the alpha per inner oracle interview and candidate."""

    best: str
    mean_alpha: dict[str, float]
    per_interview: dict[str, dict[str, float]] = field(default_factory=dict)


def _alpha_over_all_answers(table: pd.DataFrame, codes: dict[str, set[str]], stage_ids: list[str]) -> float:
    from ..human_codes import agreement  # the metric the benchmarks report

    predicted = {t: set(s) for t, s in zip(table["turn_id"], table["stages"])}
    units = {t: s for t, s in codes.items() if t in predicted}
    alpha = agreement(units, {t: predicted[t] for t in units}, stage_ids)["alpha"]
    return float("nan") if alpha is None else float(alpha)


def choose_acquisition(coder_factory, signals, topics, interviews: list[str],
                       training: Callable[[set[str]], tuple[list[dict[str, set[str]]], dict[str, str]]],
                       codes_of: Callable[[str], dict[str, set[str]]], held_out: str | None = None,
                       budget: float = 0.2, batches: int = 2, seed: int = 42,
                       acquisitions: Iterable[str] | None = None, log=None) -> NestedChoice:
    """Choose the active queue's acquisition by leave-one-interview-out review simulation
    on ``interviews`` only: each in turn is the oracle, the others' codes train, every
    candidate reviews ``budget`` of its substantive answers, and the candidate with the best
    mean alpha over all its answers (reviewed ones carry the oracle's codes) wins (ties:
    the order of :data:`ACQUISITIONS`).

    Args:
        interviews: the coded interviews the choice may read (the inner folds).
        training: ``excluded interview ids -> (training documents, kinds)`` without the codes
            of the excluded interviews.
        codes_of: ``interview id -> turn_id -> stages`` of its coded answers (an inner
            oracle's codes).
        held_out: the outer fold's oracle interview: never an inner oracle, always excluded
            from training (checked), so its codes never touch the choice.
        budget: the share of an inner oracle's substantive answers reviewed.
        batches: the batches the inner budget is asked in (fewer than outside saves time).

    Raises:
        ValueError: when ``held_out`` is among ``interviews`` or a training document holds
            an answer of the held-out or the inner oracle interview.
    """
    names = list(acquisitions or ACQUISITIONS)
    if held_out is not None and held_out in interviews:
        raise ValueError(f"interview {held_out} is held out: it cannot be an inner oracle")
    answers = signals.answers
    interview_of = dict(zip(answers["turn_id"], answers["interview_id"].astype(str)))
    substantive = answers["substantive"].to_numpy(bool)
    per_interview: dict[str, dict[str, float]] = {}
    for inner in interviews:
        excluded = {str(inner)} | ({str(held_out)} if held_out is not None else set())
        train, kinds = training(excluded)
        leaked = {interview_of.get(t) for doc in train for t in doc} & excluded
        if leaked:
            raise ValueError(f"training codes hold answers of interview(s) {sorted(leaked)}, held out of this fold")
        codes = codes_of(inner)
        in_inner = (answers["interview_id"].astype(str) == str(inner)).to_numpy()
        start = coder_factory()
        if train:
            start.fit(signals, train, kinds, topics)
        per_interview[inner] = {}
        for name in names:
            coding, _ = simulate_review(coder_factory, signals, topics, train, kinds, Oracle(codes),
                                        in_inner & substantive, budget, "active", batches=batches, seed=seed,
                                        acquisition=name, start=start)
            per_interview[inner][name] = _alpha_over_all_answers(coding.table[in_inner], codes, signals.stage_ids)
        if log:
            log(f"  inner oracle {inner}: " + ", ".join(f"{n} {a:.3f}" for n, a in per_interview[inner].items()))
    mean_alpha = {n: float(np.nanmean([per_interview[i][n] for i in interviews])) for n in names}
    best = max(names, key=lambda n: (mean_alpha[n], -names.index(n)))
    return NestedChoice(best, mean_alpha, per_interview)
