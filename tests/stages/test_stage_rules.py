"""The stage-coding rules on small tables whose answer vectors are set by hand, so what
each rule must do is known exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stages import (
    Oracle,
    StageCoder,
    StageSettings,
    codability,
    cue_hits,
    load_taxonomy,
    read_stage_csv,
    review_queue,
    simulate_review,
    write_stage_csv,
)
from conftest import TAXONOMY, synthetic_stage_signals

IDS = ["data", "model_evaluation"]


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
    signals = synthetic_stage_signals(vectors, ["1"] * len(kind), [f"q{i}" for i in range(len(kind))])

    def coding(codes):
        train = {f"t{i}": ({"data"} if c else set()) for i, c in enumerate(codes)}
        return StageCoder(StageSettings()).fit(signals, train).predict(signals)

    def p(coding_):
        return coding_.table["p_coded"].to_numpy()

    as_coded = coding(kind)
    assert as_coded.fit.used
    assert p(as_coded)[kind == 1].min() > p(as_coded)[kind == 0].max()
    assert _coded(as_coded)[kind == 1].all()
    # the answer coded the other way keeps the vote of its neighbours: its own code
    # (which would be its nearest neighbour) does not count
    flipped = kind.copy()
    flipped[lonely] = 0
    against = coding(flipped)
    assert p(against)[lonely] > p(against)[:lonely][kind[:lonely] == 0].max()
    assert _coded(against)[lonely]
    # codes the other way round: the vote follows them
    reversed_codes = 1 - kind
    reversed_codes[lonely] = 0
    back = p(coding(reversed_codes))[:lonely]
    assert back[kind[:lonely] == 0].min() > back[kind[:lonely] == 1].max()


def test_few_shot_codes_what_the_researcher_coded_in_other_interviews():
    vectors, kind = _two_kinds_of_answer(30)
    interview = ["1"] * 40 + ["2"] * 20
    stage = np.column_stack([vectors[:, 0], vectors[:, 1]])  # 'problem' answers lean to data
    signals = synthetic_stage_signals(vectors, interview, [f"q{i}" for i in range(60)], stage=stage)
    # the researcher coded interview 1 only: its problem answers as data
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(40)}]
    held_out = np.array([i >= 40 for i in range(60)])
    coding = StageCoder(StageSettings(episode_weight=0.0)).fit(signals, train).predict(signals, mask=held_out)
    assert coding.fit.used and coding.mode == "few-shot"
    assert (coding.fit.training_documents, coding.fit.training_answers) == (1, 40)
    assert coding.describe().startswith("few-shot (learned from 1 coded files, 40 answers")
    predicted = coding.table["stages"].tolist()
    assert all(p == [] for p in predicted[:40])  # only the answers to predict are coded
    coded = np.array([p != [] for p in predicted[40:]])
    # probabilities: the problem answers are likely coded, the small talk is not
    p = coding.table["p_coded"].to_numpy()[40:]
    assert p[kind[40:] == 1].min() > p[kind[40:] == 0].max()
    # every problem answer is coded, as the researcher coded them: data
    assert all(s == ["data"] for s in np.array(predicted[40:], dtype=object)[kind[40:] == 1])
    # coded exactly from the threshold up
    assert (coded == (p >= coding.threshold)).all()


def test_few_shot_with_too_few_codes_says_so_and_codes_zero_shot():
    vectors, kind = _two_kinds_of_answer(10)
    signals = synthetic_stage_signals(vectors, ["1"] * 20, [f"q{i}" for i in range(20)])
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(20)}]  # 10 coded, 10 not: enough
    assert StageCoder(StageSettings()).fit(signals, train).predict(signals).fit.used
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(19)}]  # 9 uncoded or coded: too few
    few = StageCoder(StageSettings()).fit(signals, train).predict(signals)
    assert not few.fit.used and "fewer than 10" in few.fit.reason
    assert few.mode == "zero-shot" and "fewer than 10" in few.describe()
    zero = StageCoder(StageSettings()).predict(signals)
    assert zero.fit is None and zero.describe().startswith("zero-shot (the reference study's model")
    pd.testing.assert_frame_equal(few.table, zero.table)


def test_codability_is_shared_by_the_answers_of_one_episode():
    vectors, _ = _two_kinds_of_answer(4)
    words = [200, 5, 6, 7, 210, 190, 8, 9]
    episode = ["q1", "q1", "q2", "q2", "q3", "q3", None, None]
    signals = synthetic_stage_signals(vectors, ["1"] * 8, episode, words=words)
    alone = codability(signals, StageSettings(episode_weight=0.0))
    together = codability(signals, StageSettings(episode_weight=1.0))
    assert together[0] == together[1] and together[2] == together[3] and together[4] == together[5]
    assert alone[0] != alone[1]
    # answers with no question are episodes of their own
    assert together[6] != together[7]
    # a short answer inside a long story ranks above a short answer in a short exchange
    assert together[1] > together[2] and alone[1] < alone[3]


def test_probabilities_are_consistent_and_coded_answers_carry_their_most_probable_stage():
    vectors, kind = _two_kinds_of_answer(15)
    stage = np.column_stack([vectors[:, 0], vectors[:, 1]])
    signals = synthetic_stage_signals(vectors, ["1"] * 30, [f"q{i}" for i in range(30)], stage=stage)
    train = {f"t{i}": ({"data"} if kind[i] else set()) for i in range(30)}
    table = StageCoder(StageSettings()).fit(signals, train).predict(signals).table
    p_stage = table[["p_data", "p_model_evaluation"]].to_numpy()
    assert ((table["p_coded"] >= 0) & (table["p_coded"] <= 1)).all()
    np.testing.assert_allclose(p_stage.sum(axis=1), table["p_coded"], atol=2e-4)
    for stages, row in zip(table["stages"], p_stage):
        assert stages == [] or stages == [IDS[int(np.argmax(row))]]  # one stage, the most probable
    coding = StageCoder(StageSettings()).fit(signals, train).predict(signals)
    near = (coding.table["p_coded"] - coding.threshold).abs() <= StageSettings().uncertain_margin
    assert coding.table.loc[near, "uncertain"].all()
    far = ~near & (coding.table["stages"].map(len) == 0)
    assert not coding.table.loc[far, "uncertain"].any()
    assert set(table["source"]) == {"suite"}


def test_stage_csv_joins_the_stage_lists_and_reads_them_back(tmp_path):
    table = pd.DataFrame({"interview_id": ["1", "1", "2"], "turn_index": [0, 1, 0], "text": ["a", "=b", "c"],
                          "stages": [[], ["data", "model_evaluation"], ["data"]]})
    path = write_stage_csv(table, tmp_path / "stages.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw["stages"].tolist() == ["", "data;model_evaluation", "data"]
    back = read_stage_csv(path)
    assert back["stages"].tolist() == table["stages"].tolist()
    assert back["interview_id"].tolist() == table["interview_id"].tolist()
    assert back["text"].tolist() == table["text"].tolist()


def test_a_cue_phrase_said_outweighs_a_slightly_closer_embedding_and_is_shown_as_evidence():
    vectors, _ = _two_kinds_of_answer(2)
    stage = np.tile([0.50, 0.47], (4, 1))
    signals = synthetic_stage_signals(vectors, ["1"] * 4, ["q1", "q2", "q3", "q4"], stage=stage)
    signals.answer_cues = np.array([[0, 1], [0, 0], [0, 2], [1, 0]], float)
    signals.matched_cues = [
        {"model_evaluation": ["metrics"]},
        {},
        {"model_evaluation": ["metrics", "test set"]},
        {"data": ["labels"]},
    ]
    table = StageCoder(StageSettings(context_weight=0.0, cue_weight=0.08)).predict(signals).table
    odds = (table["p_model_evaluation"] / table["p_data"]).to_numpy()
    # the same embedding scores: each cue phrase said moves the odds to its stage
    assert odds[2] > odds[0] > odds[1] > odds[3]
    assert odds[2] > 1 > odds[3]  # two cues said outweigh a slightly closer embedding
    for stages, cues, found in zip(table["stages"], table["matched_cues"], signals.matched_cues):
        assert cues == "; ".join(c for s in stages for c in found.get(s, []))


def test_review_queue_spreads_over_interviews_and_episodes_and_skips_what_was_reviewed():
    vectors, kind = _two_kinds_of_answer(20)
    interview = ["1"] * 20 + ["2"] * 20
    episode = [f"q{i // 4}" for i in range(40)]  # ten episodes of four answers
    signals = synthetic_stage_signals(vectors, interview, episode)
    coding = StageCoder(StageSettings()).predict(signals)
    episodes = signals.episodes()
    batch = review_queue(coding, reviewed={"t0", "t1"}, size=6, episodes=episodes)
    assert len(batch) == 6 and not {"t0", "t1"} & set(batch["turn_id"])
    rows = [int(t[1:]) for t in batch["turn_id"]]
    assert len({episodes[r] for r in rows}) == 6  # one answer per episode
    assert batch["interview_id"].tolist()[:2] in (["1", "2"], ["2", "1"])  # the interviews take turns
    assert (batch["priority"].diff().dropna() <= 1e-9).sum() >= 0 and batch["why"].str.contains("p\\(coded\\)").all()
    again = review_queue(coding, reviewed=set(batch["turn_id"]) | {"t0", "t1"}, size=40, episodes=episodes)
    assert not set(again["turn_id"]) & set(batch["turn_id"])
    random = review_queue(coding, size=5, strategy="random", seed=3)
    assert len(random) == 5 and random.equals(review_queue(coding, size=5, strategy="random", seed=3))


def test_simulated_review_asks_only_its_budget_and_reads_no_other_oracle_code():
    vectors, kind = _two_kinds_of_answer(30)
    interview = ["1"] * 30 + ["2"] * 30
    stage = np.column_stack([vectors[:, 0], vectors[:, 1]])
    signals = synthetic_stage_signals(vectors, interview, [f"q{i}" for i in range(60)], stage=stage)
    train = [{f"t{i}": ({"data"} if kind[i] else set()) for i in range(30)}]
    truth = {f"t{i}": ({"data"} if kind[i] else set()) for i in range(30, 60)}

    class Strict(Oracle):
        def __init__(self, codes):
            super().__init__({})
            self._truth = codes

        def ask(self, turn_ids):
            out = {}
            for t in turn_ids:  # the only door to the codes: what was asked
                self.asked.append(t)
                out[t] = set(self._truth[t])
            return out

    oracle = Strict(truth)
    candidates = np.array([i >= 30 for i in range(60)])
    coding, reviewed = simulate_review(lambda: StageCoder(StageSettings()), signals, None, train, {}, oracle,
                                       candidates, budget=0.2, batches=3)
    assert len(oracle.asked) == len(set(oracle.asked)) == 6 == len(reviewed)
    assert set(oracle.asked) == set(reviewed) and all(int(t[1:]) >= 30 for t in oracle.asked)
    researcher = coding.table[coding.table["source"] == "researcher"]
    assert set(researcher["turn_id"]) == set(reviewed)
    assert all(set(s) == truth[t] for t, s in zip(researcher["turn_id"], researcher["stages"]))


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


def test_a_few_reviews_move_the_zero_shot_model_without_replacing_it():
    from types import SimpleNamespace

    from analysis.stages import StageModel

    rng = np.random.default_rng(0)
    gate = rng.normal(size=(200, 2))
    stage = rng.normal(size=(200, 2, 3))
    x = SimpleNamespace(gate=gate, stage=stage)
    # the prior reads feature 1; the (few) reviews say feature 0 matters
    prior_labels = [{"data"} if g[1] > 0 else set() for g in gate]
    prior = StageModel.fit(x, np.arange(200), prior_labels, IDS)
    rows = np.arange(8)
    reviews = [{"data"} if gate[r, 0] > 0 else set() for r in rows]
    if len({bool(s) for s in reviews}) < 2:  # the seed gives both kinds; keep the test honest if not
        reviews[0] = set() if reviews[0] else {"data"}
    alone = StageModel.fit(x, rows, reviews, IDS)
    towards = StageModel.fit(x, rows, reviews, IDS, prior=prior)
    w_prior, w_alone, w_towards = prior.gate.coef_[0], alone.gate.coef_[0], towards.gate.coef_[0]
    # refitted towards the prior, the weights stay nearer it than a fit of the reviews alone
    assert np.linalg.norm(w_towards - w_prior) < np.linalg.norm(w_alone - w_prior)
    # and the reviews still move them: feature 0 weighs more than in the prior
    assert w_towards[0] > w_prior[0]
    # reviews of one kind only: the prior's gate is kept as it is
    same = StageModel.fit(x, rows, [{"data"}] * len(rows), IDS, prior=prior)
    np.testing.assert_array_equal(same.gate.coef_, prior.gate.coef_)
