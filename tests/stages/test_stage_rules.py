"""The stage-coding rules on small tables whose answer vectors are set by hand, so what
each rule must do is known exactly; and the cache of Delve prints on a real print."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis._codes import read_delve_pdf
from analysis._stages import (FEW_SHOT_GRID, StageSettings, StageSignals, _neighbour_codedness, code_stages_few_shot,
                              code_stages_zero_shot, codability, training_labels)

from conftest import CORPUS

IDS = ["data", "model_evaluation"]


def _signals(vectors: np.ndarray, interview: list[str], episode: list[str | None], words: list[int] | None = None,
             stage: np.ndarray | None = None) -> StageSignals:
    n = len(vectors)
    answers = pd.DataFrame({
        "interview_id": interview, "turn_id": [f"t{i}" for i in range(n)], "turn_index": range(n),
        "source_file": "x.txt", "line_start": range(1, n + 1), "line_end": range(1, n + 1), "text": [f"answer {i}" for i in range(n)],
        "substantive": True, "n_words": words or [20] * n, "question_turn_id": episode,
    })
    stage = np.zeros((n, len(IDS))) if stage is None else stage
    return StageSignals(answers=answers, answer_vectors=vectors.astype(np.float32), question_vectors=np.zeros_like(vectors, np.float32),
                        answer_stage=stage, question_stage=np.zeros_like(stage), section=np.zeros_like(stage),
                        answer_cues=np.zeros_like(stage), question_cues=np.zeros_like(stage), matched_cues=[{}] * n,
                        issue_similarity=np.zeros(n), fix_similarity=np.full(n, -1.0), stage_ids=IDS)


def _two_kinds_of_answer(n_per_kind: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around two directions: 'problem' answers and 'small talk' answers."""
    rng = np.random.default_rng(seed)
    kind = np.array([1] * n_per_kind + [0] * n_per_kind)
    rng.shuffle(kind)
    centre = np.where(kind[:, None] == 1, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    vectors = centre + rng.normal(0, 0.15, (len(kind), 3))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), kind


def test_neighbour_vote_follows_the_training_codes_and_never_counts_the_answer_itself():
    vectors, kind = _two_kinds_of_answer(20)
    signals = _signals(vectors, ["1"] * 40, [f"q{i}" for i in range(40)])
    train_rows = np.arange(40)
    vote = _neighbour_codedness(signals, train_rows, kind.astype(float))
    assert (vote[kind == 1] > 0.9).all() and (vote[kind == 0] < 0.1).all()
    # one 'problem' answer coded the other way: its own code must not move its vote
    flipped = kind.astype(float)
    lonely = int(np.flatnonzero(kind == 1)[0])
    flipped[lonely] = 0.0
    assert _neighbour_codedness(signals, train_rows, flipped)[lonely] == pytest.approx(vote[lonely])


def test_few_shot_codes_what_the_researcher_coded_in_other_interviews():
    vectors, kind = _two_kinds_of_answer(30)
    interview = ["1"] * 40 + ["2"] * 20
    stage = np.column_stack([vectors[:, 0], vectors[:, 1]])  # 'problem' answers lean to data
    signals = _signals(vectors, interview, [f"q{i}" for i in range(60)], stage=stage)
    # the researcher coded interview 1 only: its problem answers as data
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(40)}]
    held_out = np.array([i >= 40 for i in range(60)])
    table = code_stages_few_shot(signals, train, StageSettings(episode_weight=0.0), predict_mask=held_out)
    assert table.attrs["few_shot"]["used"]
    assert {k: table.attrs["few_shot"][k] in v for k, v in FEW_SHOT_GRID.items()} == dict.fromkeys(FEW_SHOT_GRID, True)
    predicted = table["stages"].to_numpy()
    assert (predicted[:40] == "").all()  # only the answers to predict are coded
    coded_problems = (predicted[40:] == "data") & (kind[40:] == 1)
    coded_small_talk = (predicted[40:] != "") & (kind[40:] == 0)
    # the share coded is one of the grid's; whatever it is, problems come first
    assert coded_problems.sum() >= min(kind[40:].sum(), int(FEW_SHOT_GRID["coded_share"][0] * 60 * 0.5))
    assert not coded_small_talk.any()


def test_few_shot_with_too_few_codes_says_so_and_codes_zero_shot():
    vectors, kind = _two_kinds_of_answer(10)
    signals = _signals(vectors, ["1"] * 20, [f"q{i}" for i in range(20)])
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(20)}]  # 10 coded, 10 not: enough
    assert code_stages_few_shot(signals, train, StageSettings()).attrs["few_shot"]["used"]
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(19)}]  # 9 uncoded or coded: too few
    few = code_stages_few_shot(signals, train, StageSettings())
    assert not few.attrs["few_shot"]["used"] and "fewer than 10" in few.attrs["few_shot"]["reason"]
    pd.testing.assert_frame_equal(few, code_stages_zero_shot(signals, StageSettings()))


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
    single = code_stages_zero_shot(signals, StageSettings(coded_share=1.0, context_weight=0.0))
    assert set(single["stages"]) == {"data"}
    double = code_stages_zero_shot(signals, StageSettings(coded_share=1.0, context_weight=0.0, second_stage_margin=0.02))
    assert set(double["stages"]) == {"data;model_evaluation"}


def test_training_labels_keep_each_coder_of_an_interview():
    answers = pd.DataFrame({"interview_id": ["7"] * 4, "turn_id": ["a", "b", "c", "d"], "turn_index": [1, 2, 3, 4]})
    codes = pd.DataFrame({"interview_id": ["7", "7", "7"], "source_file": ["c1.pdf", "c1.pdf", "c2.pdf"], "turn_index": [1, 3, 3],
                          "stage": ["data", "data", "model_evaluation"], "status": "mapped", "kind": "issue"})
    documents = pd.DataFrame({"interview_id": ["7", "7"], "source_file": ["c1.pdf", "c2.pdf"], "has_codes": True,
                              "first_coded_turn": [1, 3], "last_coded_turn": [3, 3]})
    assert training_labels(answers, codes, documents, IDS) == [{"a": {"data"}, "b": set(), "c": {"data"}},
                                                               {"c": {"model_evaluation"}}]


@pytest.mark.corpus
def test_a_cached_delve_print_reads_back_the_same_without_opening_the_pdf(tmp_path, monkeypatch):
    import analysis._codes as codes

    path = CORPUS / "coded" / "moderation" / "2023-06-04-Interview 11 - Amin.pdf"
    first = read_delve_pdf(path, tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 1

    def no_pdf(*_args):
        raise AssertionError("the PDF was parsed again")

    monkeypatch.setattr(codes, "_parse_delve_pdf", no_pdf)
    again = read_delve_pdf(path, tmp_path)
    assert (again.interview_id, again.coder, again.title) == (first.interview_id, first.coder, first.title)
    assert again.turns == first.turns and again.has_codes
    # another file is another key: it is parsed, not served from the cache
    with pytest.raises(AssertionError, match="parsed again"):
        read_delve_pdf(CORPUS / "coded" / "moderation" / "2023-06-04-Interview 20 - Mouna.txt.pdf", tmp_path)


def test_a_cue_phrase_said_outweighs_a_slightly_closer_embedding_and_is_shown_as_evidence():
    vectors, _ = _two_kinds_of_answer(2)
    stage = np.tile([0.50, 0.47], (4, 1))
    signals = _signals(vectors, ["1"] * 4, ["q1", "q2", "q3", "q4"], stage=stage)
    signals.answer_cues = np.array([[0, 1], [0, 0], [0, 2], [1, 0]], float)
    signals.matched_cues = [{"model_evaluation": ["metrics"]}, {}, {"model_evaluation": ["metrics", "test set"]},
                            {"data": ["labels"]}]
    table = code_stages_zero_shot(signals, StageSettings(coded_share=1.0, context_weight=0.0, cue_weight=0.08))
    assert table["stages"].tolist() == ["model_evaluation", "data", "model_evaluation", "data"]
    assert table["matched_cues"].tolist() == ["metrics", "", "metrics; test set", "labels"]
    without = code_stages_zero_shot(signals, StageSettings(coded_share=1.0, context_weight=0.0, cue_weight=0.0))
    assert set(without["stages"]) == {"data"}


def test_cue_phrases_match_whole_words_in_any_inflection():
    from analysis import load_taxonomy
    from analysis._stages import cue_hits

    from conftest import ROOT

    taxonomy = load_taxonomy(ROOT / "config" / "stages.yaml")
    counts, found = cue_hits(["We had concept drifts, so we are retraining every week.",
                              "The tabular data was fine.", "Labelling took ages; the annotators disagreed."], taxonomy)
    ids = taxonomy.ids
    assert "concept drift" in found[0]["model_maintenance"] and counts[0, ids.index("model_maintenance")] >= 2
    assert found[1] == {}  # 'data' alone is no cue, 'tabular' holds no 'table'
    assert {"labelling", "annotators"} <= set(found[2]["data"])
