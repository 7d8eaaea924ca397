"""The command line: paths from the current directory, verbs that follow the last run,
make targets with hostile paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT, sample_settings, write_config

ANSWERS = [
    "We had missing values in the sensor data and spent weeks cleaning the pipelines before training.",
    "Labels from the annotators were inconsistent, so we measured agreement and relabelled the hard cases.",
]


def _corpus(folder):
    folder.mkdir(parents=True)
    for k in (1, 2):
        (folder / f"Interview {k}.txt").write_text(
            "".join(f"Interviewer 1: What went wrong?\nInterviewee: {a}\n" for a in ANSWERS), encoding="utf-8"
        )
    return folder


def _run(args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def test_help_says_where_paths_are_taken_from():
    out = _run(["--help"], ROOT).stdout
    assert "taken from the current directory" in out and "from the project root" in out
    assert "run.json" in out


def test_command_line_paths_are_taken_from_the_current_directory(tmp_path):
    # a config outside config/: its root is its own folder, not where the command runs
    config = tmp_path / "elsewhere" / "my settings.yaml"
    config.parent.mkdir()
    config.write_text(json.dumps(sample_settings(processed=str(tmp_path / "processed"))), encoding="utf-8")
    work = tmp_path / "work dir"
    _corpus(work / "my corpus ü")
    result = _run(["load", "--transcripts", "my corpus ü"], work, {"ANALYSIS_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert "2 interviews" in result.stdout
    record = json.loads((tmp_path / "processed" / "run.json").read_text())
    assert record == {
        "transcripts": str((work / "my corpus ü").resolve()),
        "reference_codes": None,  # the configured codes belong to the configured corpus
        "independent_codings": None,
    }


def test_later_verbs_work_on_the_last_run(tmp_path):
    base = tmp_path / "project"
    config = write_config(base, sample_settings(processed=str(base / "processed")))
    corpus = _corpus(tmp_path / "other corpus")
    assert _run(["--config", str(config), "load", "--transcripts", str(corpus)], tmp_path).returncode == 0
    codes = tmp_path / "codes"
    codes.mkdir()
    for coder, code in (("ana", "Data-missing"), ("ben", "Data-labels")):
        (codes / f"{coder}.csv").write_text(
            f"interview_id,turn_index,code,coder\n1,1,{code},{coder}\n", encoding="utf-8"
        )
    # evaluate without --transcripts: the last run's corpus, not the configured sample
    result = _run(["--config", str(config), "evaluate", "--codes", "codes", "--out", "humans.json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "using the last run's transcripts" in result.stderr and "other corpus" in result.stderr
    assert (tmp_path / "humans.json").is_file()  # --out from the current directory


def test_make_passes_hostile_paths_unchanged(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "report", "DATA=my data", "CODES=it's \"q\" ü"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert dry.returncode == 0, dry.stderr
    assert '--transcripts "$DATA" --codes "$CODES"' in dry.stdout
    corpus = _corpus(tmp_path / "my data ü 'q' \"x\"")
    config = write_config(tmp_path / "project", sample_settings(processed=str(tmp_path / "processed")))
    real = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "load", f"DATA={corpus}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "ANALYSIS_CONFIG": str(config)},
    )
    assert real.returncode == 0, real.stderr
    assert len(pd.read_parquet(tmp_path / "processed" / "turns.parquet")) == 8
    assert json.loads((tmp_path / "processed" / "run.json").read_text())["transcripts"] == str(corpus)
