"""`python -m analysis review`: a batch written, filled in a spreadsheet, read back into the log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis.stages
from analysis import load_config, load_corpus
from analysis.cli import main
from analysis.human_codes import ReviewLog
from analysis.stages import write_stage_csv
from conftest import SAMPLE, STAGE_IDS, sample_settings, write_config

IDS = STAGE_IDS  # the stage ids of config/taxonomy.yaml
COLUMNS = [
    "turn_id",
    "interview_id",
    "turn_index",
    "question",
    "previous_turn",
    "text",
    "next_turn",
    "suggested",
    "p_suggested",
    "evidence",
    "stages",
]


def _coding(answers: pd.DataFrame) -> pd.DataFrame:
    """A coding table of the shape ``code-stages`` writes, with probabilities."""
    rng = np.random.default_rng(0)
    table = answers[["interview_id", "turn_id", "turn_index", "source_file", "line_start", "line_end", "text"]].copy()
    p = rng.random((len(table), len(IDS)))
    for k, stage in enumerate(IDS):
        table[f"score_{stage}"] = p[:, k]
        table[f"p_{stage}"] = p[:, k]
    table["p_coded"] = p.max(axis=1)
    table["stages"] = [[IDS[int(np.argmax(row))]] if row.max() > 0.7 else [] for row in p]
    table["kind"] = ""
    table["matched_cues"] = ["missing values; labels" if k % 3 == 0 else "" for k in range(len(table))]
    table["uncertain"] = (table["p_coded"] - 0.5).abs() < 0.2
    return table


def _queue(coding, reviewed=(), size=10, seed=42):
    """Stands in for the suite's queue: most uncertain first, never a reviewed answer."""
    table = coding.table[~coding.table["turn_id"].isin(set(reviewed))].copy()
    table["priority"] = 1 - (table["p_coded"] - 0.5).abs()
    table = table.sort_values(["priority", "turn_id"], ascending=[False, True]).head(size)
    return table.assign(why="uncertain")[["turn_id", "interview_id", "turn_index", "priority", "why"]]


@pytest.fixture
def project(tmp_path, monkeypatch):
    turns = load_corpus(SAMPLE).turns
    processed = tmp_path / "processed"
    processed.mkdir()
    turns.to_parquet(processed / "turns.parquet", index=False)
    write_stage_csv(_coding(turns[turns["role"] == "interviewee"]), processed / "stage_predictions.csv")
    config = write_config(
        tmp_path, sample_settings(transcripts=str(SAMPLE), processed=str(processed), review_codes="codes")
    )
    monkeypatch.setattr(analysis.stages, "review_queue", _queue, raising=False)
    return config, turns, load_config(config)


def test_a_batch_written_filled_in_a_spreadsheet_and_read_back_lands_in_the_log(project, tmp_path, capsys):
    config, turns, cfg = project
    out = tmp_path / "batch.csv"
    assert main(["--config", str(config), "review", "--budget", "6", "--out", str(out)]) == 0
    first_line = out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert first_line.startswith("# Fill the stages column") and all(s in first_line for s in IDS)
    batch = pd.read_csv(out, skiprows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert batch.columns.tolist() == COLUMNS and len(batch) == 6
    coding = analysis.stages.read_stage_csv(cfg.paths.processed / "stage_predictions.csv")
    expected = _queue(analysis.stages.StageCoding(coding, IDS), size=6)
    assert batch["turn_id"].tolist() == expected["turn_id"].tolist()  # the queue's order
    assert (batch["stages"] == "").all()
    by_id = turns.set_index("turn_id")
    row = batch.iloc[0]
    position = turns.index[turns["turn_id"] == row["turn_id"]][0]
    before = turns.loc[position - 1]
    assert row["previous_turn"] == f"[{before['role']}] {' '.join(before['text'].split())}"
    assert row["question"] == " ".join(str(by_id.at[row["turn_id"], "question_text"]).split())
    assert row["text"] == " ".join(by_id.at[row["turn_id"], "text"].split())
    suggested = coding.set_index("turn_id").loc[row["turn_id"]]
    if suggested["stages"]:
        assert row["p_suggested"] == ";".join(f"{s}={suggested[f'p_{s}']:.2f}" for s in suggested["stages"])
    else:
        assert (row["suggested"], row["p_suggested"]) == ("none", f"none={1 - suggested['p_coded']:.2f}")

    # the researcher fills three rows in a spreadsheet and saves it (the comment row is lost: fine)
    batch.loc[0, "stages"] = "data"
    batch.loc[1, "stages"] = "model_training; other"
    batch.loc[3, "stages"] = "none"
    batch.to_csv(out, index=False)
    capsys.readouterr()
    assert main(["--config", str(config), "review", "--codes", str(out), "--coder", "ana"]) == 0
    said = capsys.readouterr().out
    assert "2 answers with stages, 1 with none, 0 skipped, 0 already in the log; 3 rows left empty" in said
    log = ReviewLog(tmp_path / "codes" / "review.csv")
    assert log.decisions() == {
        batch.loc[0, "turn_id"]: {"data"},
        batch.loc[1, "turn_id"]: {"model_training", "other"},
        batch.loc[3, "turn_id"]: set(),
    }
    assert set(log.read()["coder"]) == {"ana"} and len(log.read()) == 4

    # read twice: nothing new; the next batch never asks a decided answer again
    assert main(["--config", str(config), "review", "--codes", str(out), "--coder", "ana"]) == 0
    assert "3 already in the log" in capsys.readouterr().out and len(log.read()) == 4
    again = tmp_path / "batch2.csv"
    assert main(["--config", str(config), "review", "--budget", "6", "--out", str(again)]) == 0
    second = pd.read_csv(again, skiprows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(second) == 6 and not set(second["turn_id"]) & set(log.decisions())
    assert set(second["turn_id"]) >= set(batch.loc[[2, 4, 5], "turn_id"])  # rows left empty come back


def test_an_unknown_stage_id_names_the_line_and_records_nothing(project, tmp_path, capsys):
    config, _, _ = project
    out = tmp_path / "batch.csv"
    assert main(["--config", str(config), "review", "--budget", "5", "--out", str(out)]) == 0
    comment = out.read_text(encoding="utf-8-sig").splitlines()[0]
    batch = pd.read_csv(out, skiprows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    batch.loc[0, "stages"] = "data"
    batch.loc[2, "stages"] = "data;dta"
    out.write_text(comment + "\n" + batch.to_csv(index=False), encoding="utf-8")  # comment row kept
    capsys.readouterr()
    assert main(["--config", str(config), "review", "--codes", str(out)]) == 2
    # comment on line 1, header on line 2, rows from line 3: the third row is line 5
    assert "batch.csv, line 5: unknown stage id 'dta'" in capsys.readouterr().err
    assert not (tmp_path / "codes" / "review.csv").exists()


def test_review_needs_either_a_budget_and_an_out_file_or_codes(project, capsys):
    config, _, _ = project
    assert main(["--config", str(config), "review", "--budget", "5"]) == 2
    assert "give --budget N --out batch.csv" in capsys.readouterr().err
