"""The main command end to end: real notebooks, real kernel, real HTML."""

from __future__ import annotations

import json
import re
from html import escape
from io import StringIO

import nbformat
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from conftest import ROOT, XSS

pytestmark = pytest.mark.slow
PROGRESS = re.compile(r"^\s*Batches \d+/\d+ \(\d+%\)")


@pytest.fixture
def report(sample_report):
    return sample_report


NOTEBOOKS = [
    "01_load_transcripts",
    "02_embed_answers",
    "03_topic_model",
    "04_lifecycle_stages",
    "05_themes",
    "06_agreement",
    "07_explore_themes",
    "08_export",
    "09_review",
    "10_codebook",
    "11_methods",
]


def _first_heading(notebook) -> str:
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if cell["cell_type"] == "markdown" and line.startswith("# "):
                return line[2:].strip()
    raise AssertionError(f"{notebook.name} has no title")


def test_every_notebook_renders_and_the_index_links_them(report):
    cfg, rendered = report
    names = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert names == [f"{n}.ipynb" for n in NOTEBOOKS]
    assert [r.notebook.name for r in rendered] == names
    assert [r.html for r in rendered] == [cfg.paths.reports / f"{n}.html" for n in NOTEBOOKS]
    index = (cfg.paths.reports / "index.html").read_text()
    links = re.findall(r'<a href="([^"]+)">([^<]*)</a>', index)
    assert links == [(f"{n}.html", escape(_first_heading(ROOT / "notebooks" / f"{n}.ipynb"))) for n in NOTEBOOKS]
    for r in rendered:
        page = r.html.read_text(encoding="utf-8")
        title = _first_heading(r.notebook)
        assert re.search(r"<h1[^>]*>\s*" + re.escape(escape(title)), page), r.html.name
        # every cell ran without an error, and every figure of the executed notebook is in the page
        executed = nbformat.read(str(cfg.paths.reports / "executed" / r.notebook.name), as_version=4)
        outputs = [o for cell in executed.cells for o in cell.get("outputs", [])]
        assert not [o for o in outputs if o.get("output_type") == "error"], r.html.name
        figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
        assert page.count('class="plotly-graph-div"') == len(figures), r.html.name


def test_load_notebook_writes_turns_and_shows_the_chart(report):
    cfg, _ = report
    turns = pd.read_parquet(cfg.paths.processed / "turns.parquet")
    assert sorted(turns["interview_id"].unique(), key=int) == ["101", "102", "103", "104", "105", "106"]
    assert set(turns["format"]) == {"plain", "delve-markdown", "webvtt", "srt", "docx"}
    html = (cfg.paths.reports / "01_load_transcripts.html").read_text()
    assert "Words spoken per interview, by role" in html
    # plotly.js is inline (reviewers may be offline), not fetched from a CDN: the page
    # carries the bundle of the installed plotly, and loads no script from elsewhere.
    assert f"plotly.js v{get_plotlyjs_version()}" in html
    # (the bundle itself names cdn.plot.ly once, as the default topojson URL of maps: nothing more)
    assert html.count("cdn.plot.ly") == get_plotlyjs().count("cdn.plot.ly")
    assert not re.search(r"https://cdn\.plot\.ly/plotly-[\d.]+\.min\.js", html)
    assert not re.search(r"<script[^>]*\bsrc=[\"']?https?://", html, re.IGNORECASE)
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
    for title in (
        "Top words of the largest topics",
        "Answers by topic",
        "Topic hierarchy",
        "Answers per topic and interviewee",
    ):
        assert title in html
    # the hierarchy's progress bar stays out of the report
    assert "it/s]" not in html


def test_stage_theme_agreement_and_export_notebooks(report):
    cfg, _ = report
    stages = pd.read_parquet(cfg.paths.processed / "stages.parquet")
    turns = pd.read_parquet(cfg.paths.processed / "turns.parquet")
    assert sorted(stages["turn_id"]) == sorted(turns.loc[turns["role"] == "interviewee", "turn_id"])
    mix = pd.read_parquet(cfg.paths.processed / "topic_stages.parquet")
    info = pd.read_parquet(cfg.paths.processed / "topic_info.parquet")
    assert set(mix["topic"]) == set(info["topic"])
    html = (cfg.paths.reports / "04_lifecycle_stages.html").read_text()
    for title in (
        "Coded answers per lifecycle stage",
        "Lifecycle stages within each topic",
        "Coded answers per interviewee and lifecycle stage",
    ):
        assert title in html
    html = (cfg.paths.reports / "05_themes.html").read_text()
    for title in (
        "Issue frequency: answers per interviewee and theme",
        "Interviewees per theme",
        "Co-occurrence of themes within interviewees",
        "Thematic saturation",
    ):
        assert title in html

    agreement = json.loads((cfg.paths.processed / "agreement.json").read_text())
    suite = agreement["suite_vs_reference"]
    assert suite["interviews"] == ["101", "102", "103", "104", "105", "106"]
    # the per-stage table of the report shows the figures agreement.json holds
    tables = pd.read_html(StringIO((cfg.paths.reports / "06_agreement.html").read_text()))
    per_stage = next(t for t in tables if "stage" in t.columns and "tp" in t.columns).set_index("stage")
    assert per_stage.index.tolist() == agreement["stages"] == list(suite["overall"]["per_stage"])
    for stage, figures in suite["overall"]["per_stage"].items():
        for key in ("tp", "fp", "fn", "reference_positives", "other_positives"):
            assert per_stage.loc[stage, key] == figures[key], (stage, key)
        for key in ("kappa", "f1"):
            if figures[key] is None or figures[key] != figures[key]:
                assert pd.isna(per_stage.loc[stage, key]), (stage, key)
            else:
                assert per_stage.loc[stage, key] == pytest.approx(figures[key], abs=5e-4), (stage, key)

    # notebook 08 wrote the export, and its project holds one coded selection per coded answer
    export = cfg.paths.processed / "export"
    assert {p.name for p in export.iterdir()} >= {
        "study.qdpx",
        "codebook.qdc",
        "coded_segments.csv",
        "interviewee_by_theme.csv",
        "study.xlsx",
    }
    segments = pd.read_csv(export / "coded_segments.csv")
    assert len(segments) == int(stages["stages"].map(len).sum())
    assert "study.qdpx" in (cfg.paths.reports / "08_export.html").read_text()


CHROMIUM = "/usr/bin/chromium"


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
        # default arguments bind this page's lists (the handlers outlive the loop body)
        page.on("console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
        page.goto(r.html.as_uri(), wait_until="load")
        expected = _expected_traces(cfg.paths.reports / "executed" / r.notebook.name)
        if expected:
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(expected)}", timeout=30000
            )
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
        assert str(ROOT) not in source and "site-packages" not in source and str(cfg.paths.processed) not in source, (
            r.html.name
        )
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


TABLE_NOTEBOOKS = ["01_load_transcripts", "02_embed_answers", "06_agreement", "07_explore_themes", "08_export",
                   "09_review"]


def test_tables_and_sentences_not_raw_python_values(report):
    cfg, _ = report
    for name in TABLE_NOTEBOOKS:
        executed = nbformat.read(str(cfg.paths.reports / "executed" / f"{name}.ipynb"), as_version=4)
        for cell in executed.cells:
            for output in cell.get("outputs", []):
                # no print()s, and every value shown is a table, a sentence, a chart or a widget, never a repr
                # (the embedding's progress lines are streams; the page leaves them out)
                if output["output_type"] == "stream":
                    lines = [ln for ln in re.split(r"[\r\n]+", output["text"]) if ln.strip()]
                    assert all(PROGRESS.match(ln) for ln in lines), (name, cell.source, output["text"])
                    continue
                if output["output_type"] in ("execute_result", "display_data"):
                    assert set(output["data"]) - {"text/plain"}, (name, cell.source, output["data"])
        page = (cfg.paths.reports / f"{name}.html").read_text(encoding="utf-8")
        assert not re.search(r"Batches \d+/\d+", page), name  # progress is for the terminal, not the page
        # a line break inside a cell is a line break, not a literal backslash-n
        assert not re.search(r"<td[^>]*>[^<]*\\n", page), name
        # no index column beside the table's own first column
        assert '<th class="blank level0"' not in page and 'class="row_heading' not in page, name
    export = (cfg.paths.reports / "08_export.html").read_text(encoding="utf-8")
    assert "{&#x27;qdpx&#x27;" not in export and "{'qdpx'" not in export
    files = next(t for t in pd.read_html(StringIO(export)) if "file" in t.columns)
    assert {"study.qdpx", "codebook.qdc", "coded_segments.csv", "interviewee_by_theme.csv"} <= set(files["file"])
    agreement = pd.read_html(StringIO((cfg.paths.reports / "06_agreement.html").read_text(encoding="utf-8")))
    per_interview = next(t for t in agreement if "interview" in t.columns and "macro_f1" in t.columns)
    assert per_interview["interview"].astype(str).tolist() == ["101", "102", "103", "104", "105", "106"]


def test_a_second_report_on_the_same_inputs_keeps_every_real_page(report, monkeypatch):
    """The real notebooks leave the same results for the same inputs, so a second `make
    report` runs none of them and starts no kernel (the incremental report)."""
    from analysis.report import _render, run_report

    cfg, rendered = report
    pages = {r.html.name: r.html.read_bytes() for r in rendered}

    def no_kernel(self):
        raise AssertionError("a kernel started although nothing changed")

    monkeypatch.setattr(_render._SharedKernel, "_start", no_kernel)
    lines: list[str] = []
    again = run_report(cfg, log=lines.append, config_path=cfg.root / "config" / "settings.yaml")
    assert [r.html.name for r in again] == [f"{n}.html" for n in NOTEBOOKS]
    assert all(r.reused for r in again), [ln for ln in lines if "runs again" in ln]
    assert {r.html.name: r.html.read_bytes() for r in again} == pages
