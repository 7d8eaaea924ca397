"""The stage-coding rules on small tables whose answer vectors are set by hand, so what
each rule must do is known exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stages import (
    FEW_SHOT_GRID,
    StageCoder,
    StageSettings,
    StageSignals,
    codability,
    cue_hits,
    load_taxonomy,
    read_stage_csv,
    write_stage_csv,
)
from conftest import TAXONOMY

IDS = ["data", "model_evaluation"]


def _signals(
    vectors: np.ndarray,
    interview: list[str],
    episode: list[str | None],
    words: list[int] | None = None,
    stage: np.ndarray | None = None,
) -> StageSignals:
    n = len(vectors)
    answers = pd.DataFrame(
        {
            "interview_id": interview,
            "turn_id": [f"t{i}" for i in range(n)],
            "turn_index": range(n),
            "source_file": "x.txt",
            "line_start": range(1, n + 1),
            "line_end": range(1, n + 1),
            "text": [f"answer {i}" for i in range(n)],
            "substantive": True,
            "n_words": words or [20] * n,
            "question_turn_id": episode,
        }
    )
    stage = np.zeros((n, len(IDS))) if stage is None else stage
    return StageSignals(
        answers=answers,
        answer_vectors=vectors.astype(np.float32),
        question_vectors=np.zeros_like(vectors, np.float32),
        answer_stage=stage,
        question_stage=np.zeros_like(stage),
        section=np.zeros_like(stage),
        answer_cues=np.zeros_like(stage),
        question_cues=np.zeros_like(stage),
        matched_cues=[{}] * n,
        issue_similarity=np.zeros(n),
        fix_similarity=np.full(n, -1.0),
        stage_ids=IDS,
    )


def _two_kinds_of_answer(n_per_kind: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around two directions: 'problem' answers and 'small talk' answers."""
    rng = np.random.default_rng(seed)
    kind = np.array([1] * n_per_kind + [0] * n_per_kind)
    rng.shuffle(kind)
    centre = np.where(kind[:, None] == 1, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    vectors = centre + rng.normal(0, 0.15, (len(kind), 3))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), kind


def _coded(coding) -> np.ndarray:
    return coding.table["stages"].map(len).to_numpy() > 0


def test_neighbour_vote_follows_the_training_codes_and_never_counts_the_answer_itself():
    vectors, kind = _two_kinds_of_answer(20)
    # one more answer, apart from both groups but nearer the 'problem' answers: the 15
    # training answers most like it are problems, and it is among no other answer's 15
    lonely_vector = np.array([0.6, 0.0, 0.8])
    vectors = np.vstack([vectors, lonely_vector])
    kind = np.append(kind, 1)
    lonely = len(kind) - 1
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    assert (kind[np.argsort(-sims[lonely])[:15]] == 1).all()
    assert not (np.argsort(-sims[:lonely], axis=1)[:, :15] == lonely).any()
    # every answer looks equally codable, so only the neighbour vote tells them apart
    signals = _signals(vectors, ["1"] * len(kind), [f"q{i}" for i in range(len(kind))])

    def coding(codes):
        train = {f"t{i}": ({"data"} if c else set()) for i, c in enumerate(codes)}
        return StageCoder(StageSettings()).fit(signals, train).predict(signals)

    as_coded = coding(kind)
    assert as_coded.fit.used
    assert (_coded(as_coded) == (kind == 1)).all()
    # the answer coded the other way keeps the vote of its neighbours: its own code
    # (which would be its nearest neighbour) does not count
    flipped = kind.copy()
    flipped[lonely] = 0
    against = coding(flipped)
    assert _coded(against)[lonely]
    pd.testing.assert_frame_equal(against.table, as_coded.table)
    # codes the other way round: the vote follows them
    reversed_codes = 1 - kind
    reversed_codes[lonely] = 0
    assert (_coded(coding(reversed_codes))[:lonely] == (kind[:lonely] == 0)).all()


def test_few_shot_codes_what_the_researcher_coded_in_other_interviews():
    vectors, kind = _two_kinds_of_answer(30)
    interview = ["1"] * 40 + ["2"] * 20
    stage = np.column_stack([vectors[:, 0], vectors[:, 1]])  # 'problem' answers lean to data
    signals = _signals(vectors, interview, [f"q{i}" for i in range(60)], stage=stage)
    # the researcher coded interview 1 only: its problem answers as data
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(40)}]
    held_out = np.array([i >= 40 for i in range(60)])
    coding = StageCoder(StageSettings(episode_weight=0.0)).fit(signals, train).predict(signals, mask=held_out)
    assert coding.fit.used and coding.mode == "few-shot"
    assert (coding.fit.training_documents, coding.fit.training_answers) == (1, 40)
    assert {k: coding.fit.chosen[k] in v for k, v in FEW_SHOT_GRID.items()} == dict.fromkeys(FEW_SHOT_GRID, True)
    assert coding.describe().startswith("few-shot (calibrated on 1 coded files, 40 answers")
    predicted = coding.table["stages"].tolist()
    assert all(p == [] for p in predicted[:40])  # only the answers to predict are coded
    coded_problems = np.array([p == ["data"] for p in predicted[40:]]) & (kind[40:] == 1)
    coded_small_talk = np.array([p != [] for p in predicted[40:]]) & (kind[40:] == 0)
    # the share coded is one of the grid's; whatever it is, problems come first
    assert coded_problems.sum() >= min(kind[40:].sum(), int(FEW_SHOT_GRID["coded_share"][0] * 60 * 0.5))
    assert not coded_small_talk.any()


def test_few_shot_with_too_few_codes_says_so_and_codes_zero_shot():
    vectors, kind = _two_kinds_of_answer(10)
    signals = _signals(vectors, ["1"] * 20, [f"q{i}" for i in range(20)])
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(20)}]  # 10 coded, 10 not: enough
    assert StageCoder(StageSettings()).fit(signals, train).predict(signals).fit.used
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(19)}]  # 9 uncoded or coded: too few
    few = StageCoder(StageSettings()).fit(signals, train).predict(signals)
    assert not few.fit.used and "fewer than 10" in few.fit.reason
    assert few.mode == "zero-shot" and "fewer than 10" in few.describe()
    zero = StageCoder(StageSettings()).predict(signals)
    assert zero.fit is None and zero.describe() == "zero-shot"
    pd.testing.assert_frame_equal(few.table, zero.table)


def test_codability_is_shared_by_the_answers_of_one_episode():
    vectors, _ = _two_kinds_of_answer(4)
    words = [200, 5, 6, 7, 210, 190, 8, 9]
    episode = ["q1", "q1", "q2", "q2", "q3", "q3", None, None]
    signals = _signals(vectors, ["1"] * 8, episode, words=words)
    alone = codability(signals, StageSettings(episode_weight=0.0))
    together = codability(signals, StageSettings(episode_weight=1.0))
    assert together[0] == together[1] and together[2] == together[3] and together[4] == together[5]
    assert alone[0] != alone[1]
    # answers with no question are episodes of their own
    assert together[6] != together[7]
    # a short answer inside a long story ranks above a short answer in a short exchange
    assert together[1] > together[2] and alone[1] < alone[3]


def test_one_stage_per_coded_answer_unless_a_margin_is_set():
    vectors, _ = _two_kinds_of_answer(5)
    stage = np.tile([0.50, 0.49], (10, 1))
    signals = _signals(vectors, ["1"] * 10, [f"q{i}" for i in range(10)], stage=stage)
    single = StageCoder(StageSettings(coded_share=1.0, context_weight=0.0)).predict(signals).table
    assert single["stages"].tolist() == [["data"]] * 10
    margin = StageSettings(coded_share=1.0, context_weight=0.0, second_stage_margin=0.02)
    double = StageCoder(margin).predict(signals).table
    assert double["stages"].tolist() == [["data", "model_evaluation"]] * 10


def test_stage_csv_joins_the_stage_lists_and_reads_them_back(tmp_path):
    vectors, _ = _two_kinds_of_answer(3)
    stage = np.tile([0.50, 0.49], (6, 1))
    signals = _signals(
        vectors, ["1"] * 3 + ["2"] * 3, [f"q{i}" for i in range(6)], words=[5, 200, 6, 210, 7, 190], stage=stage
    )
    settings = StageSettings(coded_share=0.5, context_weight=0.0, second_stage_margin=0.02)
    table = StageCoder(settings).predict(signals).table
    assert [len(s) for s in table["stages"]] == [0, 2, 0, 2, 0, 2]  # the long answers
    path = write_stage_csv(table, tmp_path / "stages.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw["stages"].tolist() == [";".join(s) for s in table["stages"]]
    assert set(raw["stages"]) == {"", "data;model_evaluation"}
    back = read_stage_csv(path)
    assert back["stages"].tolist() == table["stages"].tolist()
    assert back["interview_id"].tolist() == table["interview_id"].tolist()


def test_a_cue_phrase_said_outweighs_a_slightly_closer_embedding_and_is_shown_as_evidence():
    vectors, _ = _two_kinds_of_answer(2)
    stage = np.tile([0.50, 0.47], (4, 1))
    signals = _signals(vectors, ["1"] * 4, ["q1", "q2", "q3", "q4"], stage=stage)
    signals.answer_cues = np.array([[0, 1], [0, 0], [0, 2], [1, 0]], float)
    signals.matched_cues = [
        {"model_evaluation": ["metrics"]},
        {},
        {"model_evaluation": ["metrics", "test set"]},
        {"data": ["labels"]},
    ]
    table = StageCoder(StageSettings(coded_share=1.0, context_weight=0.0, cue_weight=0.08)).predict(signals).table
    assert table["stages"].tolist() == [["model_evaluation"], ["data"], ["model_evaluation"], ["data"]]
    assert table["matched_cues"].tolist() == ["metrics", "", "metrics; test set", "labels"]
    without = StageCoder(StageSettings(coded_share=1.0, context_weight=0.0, cue_weight=0.0)).predict(signals).table
    assert without["stages"].tolist() == [["data"]] * 4


def test_cue_phrases_match_whole_words_in_any_inflection():
    taxonomy = load_taxonomy(TAXONOMY)
    counts, found = cue_hits(
        [
            "We had concept drifts, so we are retraining every week.",
            "The tabular data was fine.",
            "Labelling took ages; the annotators disagreed.",
        ],
        taxonomy,
    )
    ids = taxonomy.ids
    assert "concept drift" in found[0]["model_maintenance"] and counts[0, ids.index("model_maintenance")] >= 2
    assert found[1] == {}  # 'data' alone is no cue, 'tabular' holds no 'table'
    assert {"labelling", "annotators"} <= set(found[2]["data"])
