"""How a report run ends: the settings file reaches every notebook, a failed run keeps the
last complete pages, a corpus without topics still renders."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from analysis import load_config
from analysis.errors import AnalysisError
from analysis.report import (
    ThemeTables,
    interviewees_per_theme_figure,
    run_report,
    theme_cooccurrence_figure,
    theme_heatmap_figure,
    topic_stage_figure,
)
from conftest import ROOT, sample_settings, write_config

ANSWERS = [
    "We had missing values in the sensor data and spent weeks cleaning the pipelines before training.",
    "My grandmother grows tomatoes in the garden every summer and gives them to the neighbours.",
    "The football match on Sunday ended in a draw after extra time and penalties were not needed.",
    "Deployment was painful because the serving latency was too high for the mobile application.",
    "I prefer reading historical novels about medieval castles during long winter evenings.",
    "The bakery downtown sells croissants that are crispy outside and soft inside every morning.",
    "Quantum computers use qubits that can hold superpositions of zero and one at the same time.",
    "Our cat sleeps most of the day on the windowsill and wakes up only when food arrives.",
    "The mountain hike took six hours and the view of the glacier from the summit was stunning.",
    "Tax returns are due in April and the forms changed again this year for freelancers.",
    "The orchestra played a symphony by a Czech composer with a long and dramatic finale.",
    "Volcanic eruptions can cool the global climate for a few years because of sulfate aerosols.",
    "Learning to play the violin as an adult requires patience and daily practice of scales.",
]


def three_transcripts(folder):
    """Three interviews, 13 unrelated answers: too few and too scattered for topics."""
    folder.mkdir(parents=True)
    for k, chunk in enumerate((ANSWERS[:5], ANSWERS[5:10], ANSWERS[10:]), start=1):
        (folder / f"Interview {k}.txt").write_text(
            "".join(f"Interviewer 1: Tell me about something?\nInterviewee: {a}\n" for a in chunk), encoding="utf-8"
        )
    return folder


def _notebook(path, title: str, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('config_path = None\ntranscripts_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat it shows."), params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def test_charts_without_themes_say_why():
    empty = ThemeTables(
        pd.DataFrame(columns=["turn_id", "speaker_id", "topic", "theme", "stage", "kind", "text"]),
        pd.DataFrame(columns=["topic", "theme", "stage", "stage_name", "answers"]),
        {"data": "Data"},
    )
    for figure in (theme_heatmap_figure, interviewees_per_theme_figure, theme_cooccurrence_figure):
        fig = figure(empty)
        assert len(fig.data) == 0 and "No themes" in fig.layout.annotations[0].text, figure.__name__
    mix = pd.DataFrame({"topic": [-1], "answers": [13], "data": [1.0]})
    assert "No themes" in topic_stage_figure(mix, {-1: "outliers"}, {"data": "Data"}).layout.annotations[0].text


@pytest.fixture
def tiny_project(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    settings = sample_settings(
        transcripts="corpus",
        processed="out/processed",
        reports="out/reports",
        notebooks=str(notebooks),
        theme_labels="out/theme_labels.json",
    )
    settings["paths"]["reference_codes"] = None
    three_transcripts(tmp_path / "corpus")
    config = write_config(tmp_path, settings)
    return load_config(config), config, notebooks


def test_the_settings_file_reaches_the_notebooks_and_a_failed_run_keeps_the_last_pages(tiny_project):
    cfg, config, notebooks = tiny_project
    _notebook(
        notebooks / "01_show.ipynb",
        "Show",
        "from analysis import load_config\nprint('processed:', load_config(config_path).paths.processed.name)",
    )
    rendered = run_report(cfg, log=lambda *_: None, config_path=config)
    reports = cfg.paths.reports
    assert [r.html.name for r in rendered] == ["01_show.html"]
    executed = nbformat.read(str(reports / "executed" / "01_show.ipynb"), as_version=4)
    injected = next(c.source for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'config_path = "config/settings.yaml"' in injected  # relative: no machine folder in the page
    first_page = (reports / "01_show.html").read_text()
    assert str(cfg.root) not in first_page
    assert "processed: processed" in first_page  # the notebook loaded this settings file

    _notebook(notebooks / "02_fail.ipynb", "Fail", "raise ValueError('boom in the second notebook')")
    with pytest.raises(AnalysisError, match=r"02_fail.ipynb, cell \d+: ValueError: boom"):
        run_report(cfg, log=lambda *_: None, config_path=config)
    assert (reports / "01_show.html").read_text() == first_page  # the last complete pages stay
    assert not (reports / "02_fail.html").exists()
    assert "boom in the second notebook" in (reports / "failed" / "02_fail.html").read_text()
    index = (reports / "index.html").read_text()
    assert "The last run failed" in index and 'href="failed/02_fail.html"' in index
    assert 'href="01_show.html"' in index
    assert not (reports / ".incoming").exists()

    (notebooks / "02_fail.ipynb").unlink()
    run_report(cfg, log=lambda *_: None, config_path=config)
    assert not (reports / "failed").exists() and "The last run failed" not in (reports / "index.html").read_text()
    assert json.loads((cfg.paths.processed / "run.json").read_text())["transcripts"] == str(cfg.paths.transcripts)


@pytest.mark.slow
def test_a_corpus_without_topics_renders_every_notebook(tmp_path):
    base = tmp_path / "project"
    three_transcripts(tmp_path / "tiny corpus")
    settings = sample_settings(
        transcripts=str(tmp_path / "tiny corpus"),
        processed=str(tmp_path / "processed"),
        reports=str(tmp_path / "reports"),
        notebooks=str(ROOT / "notebooks"),
        theme_labels=str(tmp_path / "theme_labels.json"),
    )
    settings["paths"]["reference_codes"] = None
    settings["topics"].update({"min_cluster_size": 13, "outlier_threshold": 1.0})  # what a tiny corpus gives
    config = write_config(base, settings)
    cfg = load_config(config)
    rendered = run_report(cfg, log=lambda *_: None, config_path=config)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [r.notebook.name for r in rendered] == [p.name for p in notebooks]
    info = pd.read_parquet(tmp_path / "processed" / "topic_info.parquet")
    assert info["topic"].tolist() == [-1]  # really no topic
    assert "No topics" in (tmp_path / "reports" / "03_topic_model.html").read_text()
    assert "No themes" in (tmp_path / "reports" / "05_themes.html").read_text()
    assert (tmp_path / "processed" / "export" / "study.qdpx").is_file()  # notebook 08 used this config
