"""The review queue's acquisition functions on hand-set probabilities, and the nested
choice among them on small synthetic interviews whose codes are known exactly."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.stages import (
    ACQUISITIONS,
    DEFAULT_ACQUISITION,
    StageCoder,
    StageSettings,
    StageSignals,
    choose_acquisition,
    review_queue,
)
from analysis.stages._review import expected_errors
from conftest import synthetic_stage_signals

IDS = ["data", "model_evaluation"]


def _coding(p_coded, p_data, p_evaluation, stages, interview=None, episode=None):
    """A coding whose probabilities and written stages are set by hand."""
    n = len(p_coded)
    table = pd.DataFrame(
        {
            "turn_id": [f"t{i}" for i in range(n)],
            "interview_id": interview or ["1"] * n,
            "turn_index": range(n),
            "question_turn_id": episode or [f"q{i}" for i in range(n)],
            "substantive": True,
            "source": "suite",
            "stages": stages,
            "p_coded": p_coded,
            "p_data": p_data,
            "p_model_evaluation": p_evaluation,
        }
    )
    return SimpleNamespace(table=table, stage_ids=IDS)


@pytest.mark.parametrize("name", list(ACQUISITIONS))
def test_each_acquisition_serves_an_answer_the_suite_is_unsure_of_before_a_sure_one(name):
    # t0: a coin toss between "no stage" and data; t1: surely data; same episode size
    coding = _coding([0.99, 0.5], [0.99, 0.5], [0.0, 0.0], [["data"], []])
    batch = review_queue(coding, size=1, acquisition=name)
    assert batch["turn_id"].tolist() == ["t1"]
    both = review_queue(coding, size=2, acquisition=name)
    assert both["turn_id"].tolist() == ["t1", "t0"] and both["priority"].iloc[0] > both["priority"].iloc[1]


def test_expected_errors_count_the_stage_decisions_the_suite_wrote():
    coding = _coding(
        p_coded=[0.9, 0.9, 0.3],
        p_data=[0.3, 0.3, 0.2],
        p_evaluation=[0.6, 0.6, 0.1],
        stages=[["model_evaluation"], ["data"], []],
    )
    errors = expected_errors(coding.table, IDS)
    # written evaluation: wrong with 1 - 0.6, data left out: wrong with 0.3
    np.testing.assert_allclose(errors, [0.4 + 0.3, 0.7 + 0.6, 0.2 + 0.1])
    # the same probabilities, but the suite wrote the less likely stage: more to correct
    assert review_queue(coding, size=1, acquisition="expected_errors")["turn_id"].tolist() == ["t1"]


def test_the_spread_takes_one_answer_per_episode_and_greedy_takes_the_best_wherever_they_are():
    # t0 and t1 answer one question and are the least sure; t2 answers another
    coding = _coding([0.5, 0.5, 0.8], [0.5, 0.5, 0.8], [0.0, 0.0, 0.0], [[], [], ["data"]],
                     episode=["q0", "q0", "q1"])
    spread = review_queue(coding, size=2, acquisition="expected_errors")
    greedy = review_queue(coding, size=2, acquisition="expected_errors_greedy")
    assert sorted(greedy["turn_id"]) == ["t0", "t1"]
    assert "t2" in set(spread["turn_id"]) and len(set(spread["turn_id"]) & {"t0", "t1"}) == 1


def test_reach_breaks_a_tie_in_expected_errors_towards_the_longer_episode():
    # t0 and t1 are equally unsure; t1's episode has two more answers its code votes for
    coding = _coding([0.5, 0.5, 0.99, 0.99], [0.5, 0.5, 0.99, 0.99], [0.0] * 4, [[], [], ["data"], ["data"]],
                     episode=["q0", "q1", "q1", "q1"])
    candidates = np.array([True, True, False, False])
    plain = review_queue(coding, size=2, acquisition="expected_errors", candidates=candidates)
    assert plain["priority"].iloc[0] == plain["priority"].iloc[1]
    reach = review_queue(coding, size=1, acquisition="expected_errors_reach", candidates=candidates)
    assert reach["turn_id"].tolist() == ["t1"]


def test_an_unknown_acquisition_is_refused_and_the_default_is_a_candidate():
    coding = _coding([0.5], [0.5], [0.0], [[]])
    assert DEFAULT_ACQUISITION in ACQUISITIONS
    with pytest.raises(ValueError, match="acquisition"):
        review_queue(coding, size=1, acquisition="most_uncertain")


def _three_interviews(n: int = 24) -> tuple[StageSignals, dict[str, dict[str, set[str]]]]:
    """Three interviews of ``n`` answers; odd answers are about data (and coded so), even
    ones small talk; each answer its own episode."""
    rng = np.random.default_rng(0)
    total = 3 * n
    kind = np.arange(total) % 2
    centre = np.where(kind[:, None] == 1, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    vectors = centre + rng.normal(0, 0.3, (total, 3))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stage = np.column_stack([vectors[:, 0], vectors[:, 1]])
    interview = [str(1 + i // n) for i in range(total)]
    signals = synthetic_stage_signals(vectors, interview, [f"q{i}" for i in range(total)], stage=stage)
    answers = signals.answers
    codes = {i: {} for i in "123"}
    for t, i, k in zip(answers["turn_id"], interview, kind):
        codes[i][t] = {"data"} if k else set()
    return signals, codes


def test_the_nested_choice_never_reads_the_outer_oracle_and_never_trains_on_it():
    signals, codes = _three_interviews()
    excluded_seen, asked = [], []

    def training(excluded):
        excluded_seen.append(set(excluded))
        return [c for i, c in codes.items() if i not in excluded], {}

    def codes_of(interview):
        asked.append(interview)
        if interview == "1":
            raise AssertionError("the outer oracle's codes were read")
        return codes[interview]

    choice = choose_acquisition(lambda: StageCoder(StageSettings()), signals, None, ["2", "3"], training, codes_of,
                                held_out="1", budget=0.25, batches=2)
    assert asked == ["2", "3"]  # only the inner oracles were asked for codes
    assert excluded_seen == [{"1", "2"}, {"1", "3"}]  # the outer oracle never trains
    assert set(choice.per_interview) == {"2", "3"} and set(choice.mean_alpha) == set(ACQUISITIONS)
    assert choice.best == max(ACQUISITIONS, key=lambda n: (choice.mean_alpha[n], -list(ACQUISITIONS).index(n)))
    assert all(0.0 < a <= 1.0 for a in choice.mean_alpha.values())  # the codes are learnable: agreement above 0

    # the outer oracle cannot be an inner one, and training codes that hold it are refused
    with pytest.raises(ValueError, match="held out"):
        choose_acquisition(lambda: StageCoder(StageSettings()), signals, None, ["1", "2"], training, codes_of,
                           held_out="1")
    with pytest.raises(ValueError, match="training codes"):
        choose_acquisition(lambda: StageCoder(StageSettings()), signals, None, ["2"],
                           lambda excluded: (list(codes.values()), {}), codes_of, held_out="1")


def test_a_retrained_coder_reuses_the_parts_of_the_last_one_and_codes_the_same():
    signals, codes = _three_interviews()
    train = [codes["1"], codes["2"]]
    first = StageCoder(StageSettings()).fit(signals, train)
    reused = StageCoder(StageSettings()).reuse_parts(first)
    assert reused._parts is first._parts  # not computed again
    fresh = StageCoder(StageSettings())
    pd.testing.assert_frame_equal(reused.fit(signals, train).predict(signals).table,
                                  fresh.fit(signals, train).predict(signals).table)
    assert fresh._parts is not first._parts

    other = StageCoder(StageSettings(uncertain_margin=0.2)).reuse_parts(first)  # other settings: nothing taken
    assert other._parts is None
    assert StageCoder(StageSettings()).reuse_parts(None)._parts is None
