"""One list of the report's charts: the notebooks draw every chart through the RunCharts
method REPORT_CHARTS names for it, in report order, and call no chart function of their
own; RunCharts reads each table of a run once and says why a chart it cannot draw is
missing."""

from __future__ import annotations

import inspect
import json
import re

import nbformat
import plotly.graph_objects as go
import pytest

import analysis.report._registry as registry
from analysis import load_config
from analysis.report import REPORT_CHARTS, NoChart, RunCharts
from conftest import ROOT, SAMPLE, SAMPLE_CODES, sample_settings, write_config

NOTEBOOKS = ROOT / "notebooks"
# a chart function called in a notebook other than through `charts.`
DIRECT_CHART_CALL = re.compile(
    r"(?<![\w.])(\w+_figure|topic_barchart|document_map|topic_hierarchy|topics_per_interviewee)\("
)
CHART_CELL = re.compile(r"charts\.(\w+)\(\)")


def _code_cells(notebook) -> list[str]:
    return [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]


def test_the_notebooks_draw_the_registry_in_report_order_one_chart_a_cell():
    drawn = []
    for notebook in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        for source in _code_cells(notebook):
            calls = CHART_CELL.findall(source)
            if calls:  # a chart is the cell's only statement: its output is the figure
                assert source.strip() == f"charts.{calls[0]}()", (notebook.name, source)
                drawn.append((notebook.name[:2], calls[0]))
    assert drawn == [(name[:2], method) for name, method in REPORT_CHARTS]


def test_no_notebook_calls_a_chart_function_itself():
    for notebook in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        for source in _code_cells(notebook):
            assert not DIRECT_CHART_CALL.search(source), (notebook.name, source)


def test_every_chart_method_is_registered_once_under_a_notebook_file_name():
    names = [name for name, _ in REPORT_CHARTS]
    methods = [method for _, method in REPORT_CHARTS]
    assert len(set(names)) == len(names) and len(set(methods)) == len(methods)
    assert all(re.fullmatch(r"0[1-9]_[a-z_]+", name) for name in names), names
    assert names == sorted(names, key=lambda n: n[:2])  # report order: notebook by notebook
    # the charts are RunCharts' plain public methods (tables are cached properties)
    charts = {n for n, f in vars(RunCharts).items() if inspect.isfunction(f) and not n.startswith("_")}
    assert charts == set(methods)


@pytest.fixture
def bare_run(tmp_path):
    """The sample's settings with an empty processed folder of their own."""
    config = write_config(
        tmp_path,
        sample_settings(transcripts=str(SAMPLE), processed=str(tmp_path / "processed"),
                        reference_codes=str(SAMPLE_CODES), theme_labels=str(tmp_path / "labels.json")),
    )
    (tmp_path / "processed").mkdir()
    return load_config(config)


def test_reliability_says_why_there_is_no_chart(bare_run, tmp_path):
    missing = RunCharts(bare_run).reliability()
    assert isinstance(missing, NoChart) and "agreement.json does not exist yet" in missing.reason
    assert "no human codes" in RunCharts(bare_run.with_codes("none")).reliability().reason
    assert "not found" in RunCharts(bare_run.with_codes(tmp_path / "no-such-codes")).reliability().reason
    # agreement measured on codes none of which carries a code: no calibration
    (tmp_path / "processed" / "agreement.json").write_text(json.dumps({"stages": ["data"]}))
    assert "no calibration" in RunCharts(bare_run).reliability().reason
    # shown in a notebook as a sentence, not a repr
    assert missing._repr_markdown_().startswith("No chart here: ")


def test_reliability_draws_the_calibration_of_agreement_json(bare_run, tmp_path):
    calibration = {"units": 3, "brier": 0.2, "base_rate_brier": 0.25,
                   "bins": [{"low": 0.0, "high": 0.5, "answers": 2, "predicted": 0.3, "observed": 0.5}]}
    (tmp_path / "processed" / "agreement.json").write_text(
        json.dumps({"stages": ["data"], "suite_vs_reference": {"calibration": calibration}}))
    fig = RunCharts(bare_run).reliability()
    assert isinstance(fig, go.Figure)
    assert fig.data[1].x == (0.3,) and fig.data[1].y == (0.5,)


@pytest.mark.slow
def test_run_charts_read_each_table_once_for_all_charts(sample_run, monkeypatch):
    from analysis import agreement_step

    cfg, _ = sample_run
    agreement_step(cfg)  # agreement.json, as notebook 06 writes it: the reliability chart reads it
    reads = []
    real_read_table, real_read_stage_csv = registry.read_table, registry.read_stage_csv
    monkeypatch.setattr(registry, "read_table", lambda c, name: reads.append(name) or real_read_table(c, name))
    monkeypatch.setattr(registry, "read_stage_csv", lambda path: reads.append(path.name) or real_read_stage_csv(path))
    loads = []
    real_topic_result = registry.topic_result
    monkeypatch.setattr(registry, "topic_result", lambda c: loads.append(1) or real_topic_result(c))
    charts = RunCharts(cfg)
    drawn = {name: getattr(charts, method)() for name, method in REPORT_CHARTS}
    assert all(isinstance(fig, go.Figure) for fig in drawn.values())  # the sample has human codes
    assert sorted(reads) == sorted(set(reads))  # read once (the theme tables gather theirs in one call)
    assert {"turns", "topics", "topic_info", "topic_stages", "stage_predictions.csv"} <= set(reads)
    assert loads == [1]  # the topic model: loaded once for the three charts that need it
