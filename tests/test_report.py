"""The main command end to end: real notebooks, real kernel, real HTML."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
import yaml

from analysis import load_config
from analysis._report import run_report

from conftest import ROOT, SAMPLE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("run")
    config = base / "config" / "analysis.yaml"
    config.parent.mkdir()
    settings = yaml.safe_load((ROOT / "config" / "analysis.yaml").read_text())
    shutil.copytree(SAMPLE, base / "sample")
    settings["stages"].update({"taxonomy": str(ROOT / "config" / "stages.yaml"), "code_map": str(ROOT / "config" / "code_stages.yaml")})
    settings["paths"] = {"transcripts": "sample", "codes": str(ROOT / "data" / "raw" / "sample_codes"), "processed": str(base / "processed"),
                         "reports": str(base / "reports"), "notebooks": str(ROOT / "notebooks")}
    config.write_text(yaml.safe_dump(settings))
    mp = pytest.MonkeyPatch()
    mp.setenv("ANALYSIS_CONFIG", str(config))  # the notebooks' kernels read the same file
    cfg = load_config(config)
    rendered = run_report(cfg, log=lambda *_: None)
    yield cfg, rendered
    mp.undo()


def test_every_notebook_renders_and_the_index_links_them(report):
    cfg, rendered = report
    names = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [r.notebook.name for r in rendered] == names
    index = (cfg.paths.reports / "index.html").read_text()
    for r in rendered:
        assert r.html.is_file() and r.html.stat().st_size > 0
        assert f'href="{r.html.name}"' in index


def test_load_notebook_writes_turns_and_shows_the_chart(report):
    cfg, _ = report
    turns = pd.read_parquet(cfg.paths.processed / "turns.parquet")
    assert sorted(turns["interview_id"].unique(), key=int) == ["101", "102", "103", "104", "105", "106"]
    assert set(turns["format"]) == {"plain", "delve-markdown", "webvtt", "srt", "docx"}
    html = (cfg.paths.reports / "01_load_transcripts.html").read_text()
    assert "Words spoken per interview, by role" in html
    # plotly.js is inline (reviewers may be offline), not fetched from a CDN.
    assert "cdn.plot.ly" not in html and "plotly.js v" in html.lower() or "plotly.js" in html
    assert not re.search(r"https://cdn\.plot\.ly/plotly-[\d.]+\.min\.js", html)
    # names from the sample (a Delve title, SRT speaker names) do not leak
    for name in ("Alex Martin", "Dana Reyes", "Sam Okafor"):
        assert name not in html
    assert str(ROOT) not in html


def test_topic_notebook_writes_its_tables_and_model(report):
    cfg, _ = report
    turns = pd.read_parquet(cfg.paths.processed / "turns.parquet")
    topics = pd.read_parquet(cfg.paths.processed / "topics.parquet")
    info = pd.read_parquet(cfg.paths.processed / "topic_info.parquet")
    embeddings = pd.read_parquet(cfg.paths.processed / "embeddings.parquet")
    substantive = turns.loc[turns["substantive"], "turn_id"].tolist()
    assert embeddings["turn_id"].tolist() == substantive
    assert topics["turn_id"].tolist() == substantive
    assert set(topics["topic"]) <= set(info["topic"])
    assert (cfg.paths.processed / "topic_model" / "topics.json").is_file()
    assert list((cfg.paths.processed / "topic_model").glob("*.safetensors"))
    html = (cfg.paths.reports / "03_topic_model.html").read_text()
    for title in ("Top words of the largest topics", "Answers by topic", "Topic hierarchy", "Answers per topic and interviewee"):
        assert title in html
    # the hierarchy's progress bar stays out of the report
    assert "it/s]" not in html


def test_stage_and_agreement_notebooks(report):
    cfg, _ = report
    stages = pd.read_parquet(cfg.paths.processed / "stages.parquet")
    turns = pd.read_parquet(cfg.paths.processed / "turns.parquet")
    assert sorted(stages["turn_id"]) == sorted(turns.loc[turns["role"] == "interviewee", "turn_id"])
    mix = pd.read_parquet(cfg.paths.processed / "topic_stages.parquet")
    info = pd.read_parquet(cfg.paths.processed / "topic_info.parquet")
    assert set(mix["topic"]) == set(info["topic"])
    import json

    agreement = json.loads((cfg.paths.processed / "agreement.json").read_text())
    assert agreement["suite_vs_reference"]["interviews"] == ["101", "102", "103", "104", "105", "106"]
    html = (cfg.paths.reports / "04_lifecycle_stages.html").read_text()
    for title in ("Lifecycle stages within each topic", "Coded answers per interviewee and lifecycle stage"):
        assert title in html
    assert "macro_f1" in (cfg.paths.reports / "05_agreement.html").read_text()
