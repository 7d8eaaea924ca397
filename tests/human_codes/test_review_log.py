"""The review log: append-only, crash-safe, and read back as human codes whose units are
exactly the reviewed turns."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import krippendorff
import numpy as np
import pandas as pd
import pytest

from analysis import load_corpus
from analysis.errors import TranscriptError
from analysis.human_codes import (
    ReviewLog,
    compare_coders,
    evaluate_predictions,
    load_code_map,
    read_codes_folder,
    reference_labels,
    training_labels,
)
from conftest import CODE_MAP, ROOT, SAMPLE, STAGE_IDS

IDS = STAGE_IDS  # the stage ids of config/taxonomy.yaml


@pytest.fixture(scope="module")
def turns():
    return load_corpus(SAMPLE).turns


def _read(folder, turns):
    return read_codes_folder(folder, turns, load_code_map(CODE_MAP, IDS), stage_names={s: s for s in IDS})


def test_decisions_written_before_a_crash_are_read_back_and_the_file_is_only_appended(tmp_path):
    path = tmp_path / "codes" / "review.csv"
    # A kernel killed outright (SIGKILL: no clean-up, no buffers flushed by Python) after three decisions.
    script = textwrap.dedent(
        f"""
        import os, signal
        from analysis.human_codes import ReviewLog
        log = ReviewLog({str(path)!r})
        log.record("101-0003", "101", 3, ["data", "model_training"], coder="ana")
        log.record("101-0005", "101", 5, [], coder="ana")
        log.skip("101-0007", "101", 7, coder="ana")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    log = ReviewLog(path)
    assert log.decisions() == {"101-0003": {"data", "model_training"}, "101-0005": set()}
    assert log.reviewed_ids() == {"101-0003", "101-0005", "101-0007"}
    table = log.read()
    assert table["code"].tolist() == ["data", "model_training", "none", "skip"]
    assert set(table["coder"]) == {"ana"} and table["time"].str.endswith("+00:00").all()
    before = path.read_bytes()
    log.record("101-0003", "101", 3, ["other"], coder="ana")
    after = path.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 1
    assert log.decisions()["101-0003"] == {"other"}  # the later decision of a turn wins


def test_a_line_cut_by_an_interrupted_write_is_named_and_the_next_decision_starts_a_fresh_line(tmp_path):
    log = ReviewLog(tmp_path / "review.csv")
    log.record("101-0003", "101", 3, ["data"], coder="ana")
    with open(log.path, "ab") as fh:
        fh.write(b"101,5,101-0005,mod")  # the power went out mid-row
    with pytest.raises(TranscriptError, match=r"review.csv, line 3: incomplete row"):
        log.read()
    log.record("101-0010", "101", 10, ["data"], coder="ana")
    lines = log.path.read_text().splitlines()
    assert lines[2] == "101,5,101-0005,mod" and lines[3].startswith("101,10,101-0010,data,ana,")


def test_record_refuses_codes_that_are_not_stage_ids(tmp_path):
    log = ReviewLog(tmp_path / "review.csv")
    for bad in (["none"], ["skip"], ["data;other"], [""]):
        with pytest.raises(ValueError, match="is not a stage id"):
            log.record("101-0003", "101", 3, bad, coder="ana")
    assert not log.path.exists()


def test_a_review_log_is_read_as_human_codes_whose_units_are_the_reviewed_turns(tmp_path, turns):
    log = ReviewLog(tmp_path / "review.csv")
    log.record("101-0003", "101", 3, ["data"], coder="ana")
    log.record("101-0007", "101", 7, ["model_training"], coder="ana")
    log.skip("101-0010", "101", 10, coder="ana")
    log.record("101-0012", "101", 12, [], coder="ana")
    log.record("101-0016", "101", 16, ["model_evaluation", "data"], coder="ana")
    log.record("101-0007", "101", 7, [], coder="ana")  # changed her mind: turn 7 has no stage
    human = _read(tmp_path, turns)

    doc = human.documents.iloc[0]
    # the coder's name is masked like any CSV coder's (privacy.keep_names: false)
    assert (doc["units"], doc["coder"], bool(doc["has_codes"])) == ("listed", "coder-1", True)
    assert (doc["first_coded_turn"], doc["last_coded_turn"]) == (3, 16)
    assert dict(zip(human.codes["code"] + "@" + human.codes["turn_index"].astype(str), human.codes["status"])) == {
        "data@3": "mapped",
        "model_training@7": "superseded",
        "skip@10": "skip",
        "none@12": "none",
        "model_evaluation@16": "mapped",
        "data@16": "mapped",
        "none@7": "none",
    }
    expected = {"101-0003": {"data"}, "101-0007": set(), "101-0012": set(), "101-0016": {"model_evaluation", "data"}}
    answers = turns[turns["role"] == "interviewee"]
    # exactly the decided turns: not 5, 8, 10 (skipped) or 14, which lie between the first and the last
    assert training_labels(answers, human.codes, human.documents, IDS) == [expected]
    assert reference_labels(answers, human.codes, human.documents, IDS) == expected

    predicted = {t: {"data"} for t in answers["turn_id"]}  # the suite says "data" everywhere
    result = evaluate_predictions(predicted, human, answers, IDS)["overall"]
    # independently: each (turn, stage) pair is one binary decision of each coder
    pairs = [(u, s) for u in sorted(expected) for s in IDS]
    ref = np.array([s in expected[u] for u, s in pairs], float)
    pred = np.array([s in predicted[u] for u, s in pairs], float)
    assert result["units"] == 4
    assert result["alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=np.vstack([ref, pred]), level_of_measurement="nominal")
    )
    tp, fp, fn = int((ref * pred).sum()), int(((1 - ref) * pred).sum()), int((ref * (1 - pred)).sum())
    assert (tp, fp, fn) == (2, 2, 1)
    assert result["micro_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))


def test_two_reviewers_are_compared_on_the_turns_both_decided(tmp_path, turns):
    log = ReviewLog(tmp_path / "review.csv")
    for turn, stages in ((3, ["data"]), (5, ["data"]), (12, [])):
        log.record(f"101-{turn:04d}", "101", turn, stages, coder="ana")
    for turn, stages in ((5, ["other"]), (12, []), (16, ["data"])):
        log.record(f"101-{turn:04d}", "101", turn, stages, coder="ben")
    answers = turns[turns["role"] == "interviewee"]
    result = compare_coders(_read(tmp_path, turns), answers, IDS)
    assert result["overall"]["units"] == 2  # turns 5 and 12
    assert result["overall"]["per_stage"]["data"]["tp"] == 0
    assert result["overall"]["per_stage"]["data"]["fn"] == 1
    assert result["overall"]["per_stage"]["other"]["fp"] == 1


def test_stage_ids_are_codes_in_any_csv_and_a_none_code_makes_the_units_listed(tmp_path, turns):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "codes.csv").write_text("interview_id,turn_index,code\n101,3,data\n101,7,MT-x\n101,12,Q7.2\n")
    human = _read(plain, turns)
    assert human.codes["stage"].fillna("-").tolist() == ["data", "model_training", "-"]
    assert human.codes["status"].tolist() == ["mapped", "mapped", "question-id"]
    assert human.documents["units"].tolist() == ["range"]  # as before: first to last coded turn
    answers = turns[turns["role"] == "interviewee"]
    assert set(reference_labels(answers, human.codes, human.documents, IDS)) == {"101-0003", "101-0005", "101-0007"}

    listed = tmp_path / "listed"
    listed.mkdir()
    (listed / "codes.csv").write_text("interview_id,turn_index,code\n101,3,data\n101,10,none\n")
    human = _read(listed, turns)
    assert human.documents["units"].tolist() == ["listed"]
    assert reference_labels(answers, human.codes, human.documents, IDS) == {"101-0003": {"data"}, "101-0010": set()}


def test_a_log_of_skips_only_carries_no_codes(tmp_path, turns):
    log = ReviewLog(tmp_path / "review.csv")
    log.skip("101-0003", "101", 3, coder="ana")
    human = _read(tmp_path, turns)
    assert not human.documents["has_codes"].any()
    assert human.codes["status"].tolist() == ["skip"]


def test_the_sample_codes_keep_their_range_units(turns):
    from conftest import SAMPLE_CODES

    human = _read(SAMPLE_CODES, turns)
    assert set(human.documents["units"]) == {"range"}
    assert pd.api.types.is_integer_dtype(human.documents["first_coded_turn"])
