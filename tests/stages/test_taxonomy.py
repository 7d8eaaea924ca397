"""The stage taxonomy (data a researcher edits) and the ``code-stages`` and ``evaluate``
verbs on the sample."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from analysis import ConfigError, load_corpus, load_taxonomy
from conftest import SAMPLE, SAMPLE_CODES, STAGE_IDS, TAXONOMY, sample_settings, write_config

IDS = STAGE_IDS  # the stage ids of config/taxonomy.yaml


def test_default_taxonomy_has_the_study_stages():
    taxonomy = load_taxonomy(TAXONOMY)
    assert taxonomy.ids == IDS
    assert all(s.description and s.cues for s in taxonomy.stages)
    assert set(taxonomy.kind_examples()) == {"issue", "fix"}


def test_taxonomy_is_data_a_researcher_edits(tmp_path):
    path = tmp_path / "stages.yaml"
    path.write_text(
        "stages:\n  - {id: labels, name: Labels, description: labelling problems}\n"
        "  - {id: serving, name: Serving, description: model serving}\n"
        "kinds: {issue: [it broke], fix: [we fixed it]}\n"
    )
    assert load_taxonomy(path).ids == ["labels", "serving"]
    path.write_text("stages:\n  - {id: labels, name: Labels}\nkinds: {issue: [a], fix: [b]}\n")
    with pytest.raises(ConfigError, match=r"stages\[0\]\.description: required"):
        load_taxonomy(path)
    path.write_text(
        "stages:\n  - {id: a, name: A, description: x}\n  - {id: a, name: B, description: y}\n"
        "kinds: {issue: [a], fix: [b]}\n"
    )
    with pytest.raises(ConfigError, match="duplicate stage id 'a'"):
        load_taxonomy(path)


@pytest.mark.slow
def test_cli_code_stages_and_evaluate_on_the_sample(tmp_path):
    config = write_config(
        tmp_path,
        sample_settings(
            transcripts=str(SAMPLE), processed=str(tmp_path / "processed"), reference_codes=str(SAMPLE_CODES)
        ),
    )
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "analysis", "--config", str(config), *args],
            capture_output=True, text=True, cwd=tmp_path,
        )

    out = tmp_path / "pred.csv"
    result = run("code-stages", "--transcripts", str(SAMPLE), "--out", str(out))
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(out, dtype={"interview_id": str}, keep_default_na=False)
    turns = load_corpus(SAMPLE).turns
    assert len(predictions) == (turns["role"] == "interviewee").sum()
    assert list(predictions.columns[:9]) == [
        "interview_id",
        "turn_id",
        "turn_index",
        "source_file",
        "line_start",
        "line_end",
        "text",
        "stages",
        "kind",
    ]
    assert [c for c in predictions.columns if c.startswith("score_")] == [f"score_{s}" for s in IDS]
    stages = predictions["stages"].str.split(";").explode()
    assert set(stages) <= set(IDS) | {""}
    assert set(predictions.loc[predictions["stages"] == "", "kind"]) <= {""}
    assert set(predictions.loc[predictions["stages"] != "", "kind"]) <= {"issue", "fix"}
    # backchannels carry no stage of their own
    backchannel = predictions["text"].isin(["Yeah.", "Mm-hmm.", "Thanks.", "You're welcome.", "My pleasure."])
    assert (predictions.loc[backchannel, "stages"] == "").all()

    metrics = tmp_path / "metrics.json"
    result = run("evaluate", "--predictions", str(out), "--codes", str(SAMPLE_CODES), "--out", str(metrics))
    assert result.returncode == 0, result.stderr
    data = json.loads(metrics.read_text())
    assert data["overall"]["units"] > 30
    assert 0 <= data["overall"]["micro_f1"] <= 1
    # the same command with few-shot training on the sample's own codes
    result = run("code-stages", "--train-codes", str(SAMPLE_CODES), "--out", str(out))
    assert result.returncode == 0, result.stderr
    # a few-shot request is reported as such: calibrated, or why not
    assert result.stdout.startswith(("few-shot (calibrated on ", "zero-shot (few-shot asked, but ")), result.stdout
    few_shot = pd.read_csv(out, dtype={"interview_id": str}, keep_default_na=False)
    assert few_shot["turn_id"].tolist() == predictions["turn_id"].tolist()
    coded = int((few_shot["stages"] != "").sum())
    assert f": {coded} of {len(few_shot)} interviewee turns coded;" in result.stdout
    reported = dict(part.rsplit(" ", 1) for part in result.stdout.splitlines()[0].split(" coded; ", 1)[1].split(", "))
    per_stage = {s: str(int(few_shot["stages"].str.split(";").map(lambda v, s=s: s in v).sum())) for s in IDS}
    assert reported == per_stage
