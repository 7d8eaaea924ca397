"""Which answers a researcher should code next, so a few minutes teach the coder most.

Not simply the most uncertain answers (those cluster on noise: backchannels, garbled
turns): an answer's priority is its uncertainty (the entropy of "no stage" vs each
stage) times how far a code of it travels (the not-yet-reviewed answers of its episode,
which its code votes for), and a batch takes at most one answer per episode and goes
round the interviews in turn, so the codes spread over interviews, topics and stages.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def review_priority(table: pd.DataFrame, stage_ids: list[str], episodes: np.ndarray) -> np.ndarray:
    """Per answer: entropy of (no stage, stage 1..n) times log(1 + answers in its episode)."""
    p_coded = table["p_coded"].to_numpy(dtype=float)
    p_stage = table[[f"p_{s}" for s in stage_ids]].to_numpy(dtype=float)
    p = np.column_stack([1 - p_coded, p_stage])
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    entropy = -(p * np.log(np.maximum(p, 1e-12))).sum(axis=1)
    reach = pd.Series(episodes).map(pd.Series(episodes).value_counts()).to_numpy(dtype=float)
    return entropy * np.log1p(reach)


def review_queue(coding, reviewed: Iterable[str] = (), size: int = 10, seed: int = 42,
                 episodes: np.ndarray | None = None, candidates: np.ndarray | None = None,
                 strategy: str = "active") -> pd.DataFrame:
    """The next ``size`` answers to review, in serving order.

    Args:
        coding: a :class:`StageCoding` (its table carries ``p_coded`` and ``p_<stage>``).
        reviewed: turn ids already decided (never served again).
        size: answers in the batch.
        seed: for ``strategy="random"`` and to break ties.
        episodes: the episode of each row (default: the question each answer replies to,
            from the table's ``question_turn_id`` when present, else the answer itself).
        candidates: a boolean mask of rows that may be served (default: substantive
            answers coded by the suite).
        strategy: ``active`` (the priority above) or ``random`` (for comparison).

    Returns:
        ``turn_id, interview_id, turn_index, priority, why``.
    """
    table = coding.table.reset_index(drop=True)
    done = set(reviewed)
    if episodes is None:
        question = table["question_turn_id"] if "question_turn_id" in table else pd.Series([None] * len(table))
        episodes = np.where(question.isna(), "own:" + table["turn_id"].astype(str), question.astype(str))
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
        priority = review_priority(table, coding.stage_ids, np.asarray(episodes))
        picked, why = _spread(table, rows, priority, np.asarray(episodes), size, rng)
    out = table.loc[picked, ["turn_id", "interview_id", "turn_index"]].copy()
    out["priority"] = np.round(priority[picked], 4)
    out["why"] = [why[r] for r in picked]
    return out.reset_index(drop=True)


def _spread(table: pd.DataFrame, rows: np.ndarray, priority: np.ndarray, episodes: np.ndarray, size: int,
            rng: np.random.Generator) -> tuple[list[int], dict[int, str]]:
    """Round-robin over interviews, best priority first, one answer per episode."""
    jitter = rng.random(len(table)) * 1e-9  # ties broken by seed, not by table order
    by_interview: dict[str, list[int]] = {}
    for r in sorted(rows, key=lambda r: -(priority[r] + jitter[r])):
        by_interview.setdefault(str(table.at[r, "interview_id"]), []).append(r)
    order = sorted(by_interview, key=lambda i: -priority[by_interview[i][0]])
    picked, seen, why = [], set(), {}
    while len(picked) < size and any(by_interview.values()):
        for interview in order:
            queue = by_interview[interview]
            while queue and episodes[queue[0]] in seen:
                queue.pop(0)
            if queue and len(picked) < size:
                r = queue.pop(0)
                picked.append(r)
                seen.add(episodes[r])
                p_coded = float(table.at[r, "p_coded"])
                reach = int(np.sum(episodes == episodes[r]))
                why[r] = f"p(coded) {p_coded:.2f}; its code informs {reach} answer{'s' if reach != 1 else ''}"
        if all(not by_interview[i] for i in order):
            break
    return picked, why


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


def simulate_review(coder_factory, signals, topics, train: list[dict[str, set[str]]], kinds: dict[str, str],
                    oracle: Oracle, candidates: np.ndarray, budget: float, strategy: str = "active",
                    batches: int = 10, seed: int = 42, log=None):
    """Code a new study as a researcher would with the suite: start from ``train``, ask the
    oracle for ``budget`` (a share of the ``candidates`` answers) in ``batches`` batches,
    retrain after each, and return the final :class:`StageCoding` (reviewed answers keep
    the oracle's codes, ``source == "researcher"``) and the decisions.

    Args:
        coder_factory: a zero-argument callable returning a fresh :class:`StageCoder`.
        candidates: boolean mask over ``signals.answers`` of the answers that may be asked.
    """
    n_ask = int(round(budget * int(np.sum(candidates))))
    per_batch = max(1, int(np.ceil(n_ask / batches))) if n_ask else 0
    reviewed: dict[str, set[str]] = {}
    episodes = signals.episodes()
    rng_seed = seed
    while True:
        coder = coder_factory()
        if train or reviewed:
            coder.fit(signals, train, kinds, topics, reviewed=reviewed)
        coding = coder.predict(signals, topics)
        if len(reviewed) >= n_ask:
            return coding, reviewed
        batch = review_queue(coding, reviewed, size=min(per_batch, n_ask - len(reviewed)), seed=rng_seed,
                             episodes=episodes, candidates=candidates, strategy=strategy)
        rng_seed += 1
        if batch.empty:
            return coding, reviewed
        reviewed.update(oracle.ask(batch["turn_id"].tolist()))
        if log:
            log(f"  reviewed {len(reviewed)}/{n_ask}")
