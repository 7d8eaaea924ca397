"""``review-simulate`` end to end on the embedded sample: the oracle answers only the
answers asked, and the output carries every interviewee turn of the oracle interviews."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from analysis.stages import read_stage_csv
from conftest import SAMPLE, SAMPLE_CODES, sample_settings, write_config

pytestmark = pytest.mark.slow


def test_review_simulate_asks_its_budget_and_writes_every_oracle_turn(tmp_path):
    settings = sample_settings(transcripts=str(SAMPLE), processed=str(tmp_path / "processed"),
                               theme_labels=str(tmp_path / "labels.json"), review_codes=str(tmp_path / "codes"))
    config = write_config(tmp_path, settings)
    out = tmp_path / "simulated.csv"
    run = subprocess.run(
        [sys.executable, "-m", "analysis", "--config", str(config), "review-simulate", "--transcripts", str(SAMPLE),
         "--oracle-codes", str(SAMPLE_CODES), "--budget", "0.5", "--batches", "2", "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    table = read_stage_csv(out)
    turns = pd.read_parquet(tmp_path / "processed" / "turns.parquet")
    oracle = pd.read_csv(SAMPLE_CODES / "codes.csv", dtype=str)
    oracle_ids = set(oracle["interview_id"])
    answers = turns[(turns["role"] == "interviewee") & turns["interview_id"].isin(oracle_ids)]
    assert sorted(table["turn_id"]) == sorted(answers["turn_id"])
    assert set(table["source"]) == {"researcher", "suite"}
    asked = table[table["source"] == "researcher"]
    assert len(asked) == round(0.5 * int(answers["substantive"].sum()))
    assert f"{len(asked)} reviewed (asked)" in run.stdout
    # a reviewed answer carries the oracle's stages: every coded one is in the codes file
    coded = {(r.interview_id, int(r.turn_index)) for r in oracle.itertuples() if str(r.turn_index).strip()}
    for row in asked.itertuples():
        if row.stages:
            assert (row.interview_id, int(row.turn_index)) in coded
    assert not asked["uncertain"].astype(str).eq("True").any()
