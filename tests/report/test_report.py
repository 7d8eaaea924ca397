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
XSS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
XSS_ANSWER = (f"Once our scraped training data contained {XSS[0]} and {XSS[1]} inside product descriptions, "
              "so now the data validation step rejects any markup in text fields before training the model.")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("run")
    config = base / "config" / "analysis.yaml"
    config.parent.mkdir()
    settings = yaml.safe_load((ROOT / "config" / "analysis.yaml").read_text())
    shutil.copytree(SAMPLE, base / "sample")
    # a transcript line carrying markup must show as text everywhere and run nothing
    first = base / "sample" / "Interview 101.txt"
    title, rest = first.read_text(encoding="utf-8").split("\n", 1)
    first.write_text(f"{title}\nInterviewer 1: Anything about scraped data?\nInterviewee: {XSS_ANSWER}\n{rest}", encoding="utf-8")
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


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (make test installs Debian's chromium when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-quic",
                                                              "--no-first-run", "--disable-background-networking",
                                                              "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def _expected_traces(executed) -> list[int]:
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    counts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            figure = output.get("data", {}).get("application/vnd.plotly.v1+json")
            if figure:
                counts.append(len(figure["data"]))
    return counts


def test_reports_in_a_real_browser(report, browser):
    cfg, rendered = report
    for r in rendered:
        page = browser.new_page()
        errors, dialogs = [], []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(r.html.as_uri(), wait_until="load")
        expected = _expected_traces(cfg.paths.reports / "executed" / r.notebook.name)
        if expected:
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(expected)}", timeout=30000)
        drawn = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => g.data.length)")
        assert drawn == expected, r.html.name
        assert page.evaluate("document.querySelectorAll('.js-plotly-plot svg.main-svg').length") >= len(expected)
        assert not errors, (r.html.name, errors[:3])
        assert not dialogs, (r.html.name, dialogs)
        source = r.html.read_text(encoding="utf-8")
        for markup in XSS:
            assert markup not in source, (r.html.name, markup)
        assert "cdnjs.cloudflare.com" not in source and "unpkg.com" not in source, r.html.name
        # plotly.js inline once per page, not once per figure (pages stay a few MB)
        assert source.count("window.PlotlyConfig = {MathJaxConfig: 'local'};") == (1 if expected else 0), r.html.name
        # no absolute paths of the machine in what a reviewer reads
        assert str(ROOT) not in source and "site-packages" not in source and str(cfg.paths.processed) not in source, r.html.name
        page.close()


def test_markup_in_a_transcript_shows_as_text(report, browser):
    cfg, _ = report
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto((cfg.paths.reports / "01_load_transcripts.html").as_uri(), wait_until="load")
    text = page.inner_text("body")
    assert all(markup in text for markup in XSS)
    assert not dialogs
    page.close()


def test_index_links_resolve(report, browser):
    cfg, rendered = report
    page = browser.new_page()
    page.goto((cfg.paths.reports / "index.html").as_uri())
    links = page.eval_on_selector_all("a", "els => els.map(e => e.href)")
    assert len(links) == len(rendered)
    for link in links:
        response = page.goto(link)
        assert response is not None and response.ok, link
        assert page.title()
    page.close()


def test_index_summaries_are_plain_text(report):
    cfg, _ = report
    index = (cfg.paths.reports / "index.html").read_text()
    assert "**" not in index and "`" not in index
