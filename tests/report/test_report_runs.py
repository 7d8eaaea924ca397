"""How a report run goes and ends: the settings file reaches every notebook, the run prints
its progress, pages show one clean notebook (no parameters cells, numbered cells), a failed
run keeps the last complete pages and shows where it stopped, a corpus without topics still
renders."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs_version

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
from conftest import ROOT, SAMPLE, sample_settings, write_config

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


def prompts(page: str) -> list[str]:
    """The input prompts of a rendered page, in order ("1", "2", " ")."""
    return re.findall(r'class="jp-InputPrompt jp-InputArea-prompt">In(?:&nbsp;|\s)\[(.*?)\]:', page)


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
    with pytest.raises(AnalysisError, match=r"02_fail.ipynb, cell 1: ValueError: boom"):
        run_report(cfg, log=lambda *_: None, config_path=config)
    assert (reports / "01_show.html").read_text() == first_page  # the last complete pages stay
    assert not (reports / "02_fail.html").exists()
    failed_page = (reports / "failed" / "02_fail.html").read_text()
    assert "boom in the second notebook" in failed_page and "Traceback" not in first_page
    # papermill's note names the failed cell by its number on this page (1: the parameters are not shown)
    assert prompts(failed_page) == ["1"] and "In [1]</a>" in failed_page
    assert failed_page.index('id="papermill-error-cell"') < failed_page.index("ValueError")
    index = (reports / "index.html").read_text()
    assert "The last run failed" in index and 'href="failed/02_fail.html"' in index
    assert 'href="01_show.html"' in index
    assert not (reports / ".incoming").exists()

    (notebooks / "02_fail.ipynb").unlink()
    run_report(cfg, log=lambda *_: None, config_path=config)
    assert not (reports / "failed").exists() and "The last run failed" not in (reports / "index.html").read_text()
    assert json.loads((cfg.paths.processed / "run.json").read_text())["transcripts"] == str(cfg.paths.transcripts)


def test_a_run_prints_its_progress_and_a_page_shows_the_notebook_clean(tiny_project, capfd):
    cfg, config, notebooks = tiny_project
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("config_path = None  # DEFAULTS\ntranscripts_dir = None")
    params.metadata["tags"] = ["parameters"]
    setup = nbformat.v4.new_code_cell("from analysis.report import setup_notebook\n\nsetup_notebook()")
    setup.metadata["tags"] = ["hide-input"]  # no output: nothing of it on the page
    counting = nbformat.v4.new_code_cell(
        "from tqdm import tqdm as std_tqdm\nfrom tqdm.auto import tqdm\n\n"
        "for _ in tqdm(range(1200), desc='counting'):\n    pass\n"
        "for _ in std_tqdm(range(7), desc='library'):\n    pass\nprint('counted')"
    )
    quiet = nbformat.v4.new_code_cell("x = 41")
    quiet.outputs = [nbformat.v4.new_output("stream", name="stdout", text="SAVED IN THE SOURCE\n")]
    quiet.execution_count = 9  # a session's output saved in the source notebook
    hidden = nbformat.v4.new_code_cell("print('internal')")
    hidden.metadata["tags"] = ["remove-cell"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Page\n\nA clean page."), params, setup, counting, quiet, hidden,
                nbformat.v4.new_code_cell("x + 1")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(notebooks / "01_page.ipynb"))
    lines: list[str] = []
    run_report(cfg, log=lines.append, config_path=config)

    assert lines[0] == "[1/1] running 01_page.ipynb ..."
    assert re.fullmatch(r"\[1/1\] 01_page\.html rendered in \d+\.\d s", lines[-1])
    progress = [ln for ln in lines if "counting" in ln]  # the bar as plain lines, first and last state
    assert re.fullmatch(r" {4}counting 0/1200 \(0%\), 00:00 elapsed, .* left", progress[0])
    assert re.fullmatch(r" {4}counting 1200/1200 \(100%\), 00:00 elapsed, 00:00 left", progress[-1])
    assert "    counted" in lines
    assert any(re.fullmatch(r" {4}library: 100%\|.+\| 7/7 \[.*\]", ln) for ln in lines)  # a library's own bar
    assert "without encryption" not in capfd.readouterr().err  # the kernel's warning, once per notebook before

    page = (cfg.paths.reports / "01_page.html").read_text()
    assert "DEFAULTS" not in page and "# Parameters" not in page and "config/settings.yaml" not in page
    assert "counted" in page and "1200/1200" not in page and "7/7" not in page  # progress: the run's, not the page's
    assert "SAVED IN THE SOURCE" not in page and "internal" not in page and "setup_notebook" not in page
    assert prompts(page) == ["1", "2", "3"]  # counting, quiet, x + 1
    assert len(re.findall(r'<div class="jp-Cell jp-CodeCell', page)) == 3 and "<pre>42" in page


def test_a_real_notebook_has_no_parameters_cell_on_its_page(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(ROOT / "notebooks" / "01_load_transcripts.ipynb", notebooks)
    settings = sample_settings(transcripts=str(SAMPLE), processed=str(tmp_path / "processed"),
                               reports=str(tmp_path / "reports"), notebooks=str(notebooks))
    settings["paths"]["reference_codes"] = None
    config = write_config(tmp_path, settings)
    cfg = load_config(config)
    run_report(cfg, log=lambda *_: None, config_path=config)
    executed = nbformat.read(str(tmp_path / "reports" / "executed" / "01_load_transcripts.ipynb"), as_version=4)
    tags = [t for c in executed.cells for t in c.metadata.get("tags", [])]
    assert tags.count("parameters") == 1 and tags.count("injected-parameters") == 1  # both ran
    page = (tmp_path / "reports" / "01_load_transcripts.html").read_text()
    assert "transcripts_dir = None" not in page and "# Parameters" not in page
    assert str(SAMPLE) not in page and "../" not in page
    numbers = prompts(page)
    assert numbers == [str(k) for k in range(1, len(numbers) + 1)]
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "Corpus: <code>sample</code>" in index  # outside the project: the folder's name, no walk up


@pytest.mark.slow
def test_a_real_run_prints_the_embedding_progress(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("01_load_transcripts.ipynb", "02_embed_answers.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, notebooks)
    settings = sample_settings(transcripts=str(SAMPLE), processed=str(tmp_path / "processed"),
                               reports=str(tmp_path / "reports"), notebooks=str(notebooks))
    settings["paths"]["reference_codes"] = None
    settings["embedding"]["batch_size"] = 8  # several batches on the sample's answers
    config = write_config(tmp_path, settings)
    lines: list[str] = []
    run_report(load_config(config), log=lines.append, config_path=config)

    starts = [ln for ln in lines if re.fullmatch(r"\[\d/2\] running \S+\.ipynb \.\.\.", ln)]
    ends = [re.fullmatch(r"\[(\d)/2\] (\S+)\.html rendered in (\d+\.\d) s", ln) for ln in lines]
    assert len(starts) == 2 and [m.group(2) for m in ends if m] == ["01_load_transcripts", "02_embed_answers"]
    progress = [re.fullmatch(r" {4}(\w+) (\d+)/(\d+) \((\d+)%\), \S+ elapsed, \S+ left", ln) for ln in lines]
    done = [(int(m.group(2)), int(m.group(3))) for m in progress if m]
    assert done, "no progress line: notebook 02 must run embed_step with its progress bar (show_progress)"
    assert done[0][0] == 0 and done[-1][0] == done[-1][1] > 1  # from the first batch to the last
    assert [n for n, _ in done] == sorted(n for n, _ in done)
    assert lines.index(starts[1]) < lines.index(next(ln for ln in lines if progress[lines.index(ln)]))
    page = (tmp_path / "reports" / "02_embed_answers.html").read_text()
    assert f"{done[-1][1]}/{done[-1][1]} (100%)" not in page




SHOW_KERNEL = """import os
import plotly.graph_objects as go
from analysis.report import setup_notebook
setup_notebook()
print('left over:', 'leftover' in globals(), '| kernel:', os.getpid())
leftover = 1
go.Figure(go.Bar(x=[1, 2], y=[3, 4]))"""


@pytest.mark.parametrize(
    "fresh, memory_limit, shared",
    [(False, None, True), (True, None, False), (False, 1, False)],
    ids=["shared-kernel", "fresh-kernels", "restarted-above-the-memory-limit"],
)
def test_notebooks_share_a_kernel_yet_each_starts_from_an_empty_namespace(
    tiny_project, monkeypatch, fresh, memory_limit, shared
):
    from analysis.report import _render

    cfg, config, notebooks = tiny_project
    if memory_limit is not None:  # every kernel holds more than a byte: restarted before each notebook
        monkeypatch.setattr(_render, "KERNEL_MEMORY_LIMIT", memory_limit)
    for name in ("01_first", "02_second"):
        _notebook(notebooks / f"{name}.ipynb", name, SHOW_KERNEL)
    run_report(cfg, log=lambda *_: None, config_path=config, fresh_kernels=fresh)
    pages = [(cfg.paths.reports / f"{name}.html").read_text() for name in ("01_first", "02_second")]
    kernels = [re.search(r"left over: (\w+) \| kernel: (\d+)", page).groups() for page in pages]
    assert [left for left, _ in kernels] == ["False", "False"]  # the first notebook's names are gone
    assert (kernels[0][1] == kernels[1][1]) is shared  # one kernel, or one per notebook
    for page in pages:  # each page draws its figure offline: plotly.js inline on every page
        assert f"plotly.js v{get_plotlyjs_version()}" in page
        assert "clear_namespace" not in page  # the kernel's first and last cells stay off the pages
    if not fresh:  # the first and the last cell clear the namespace; the notebook's own run between
        executed = nbformat.read(str(cfg.paths.reports / "executed" / "01_first.ipynb"), as_version=4)
        code = [cell.source for cell in executed.cells if cell.cell_type == "code"]
        assert "clear_namespace()" in code[0] and "clear_namespace()" in code[-1]
        assert "left over:" in "".join(code[1:-1])


def test_an_index_summary_drops_markdown_emphasis_but_keeps_underscores_inside_names(tmp_path):
    from analysis.report._render import describe_notebook

    path = tmp_path / "01_x.ipynb"
    _notebook(path, "X", "pass")
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[0].source = "# Export\n\nWrites **coded_segments.csv** and `study.xlsx`, _then_ stops. More."
    nbformat.write(nb, str(path))
    assert describe_notebook(path) == ("Export", "Writes coded_segments.csv and study.xlsx, then stops.")


def test_the_shared_kernel_weighs_its_private_memory_not_the_libraries_it_maps(tmp_path):
    from analysis.report._render import _SharedKernel

    kernel = _SharedKernel(tmp_path)
    assert kernel.memory() is None  # not started: nothing to weigh
    try:
        from jupyter_core.utils import run_sync

        client = kernel.manager.client()
        client.start_channels()
        run_sync(client.wait_for_ready)(timeout=60)  # booted: its imports done
        client.stop_channels()
        pid = kernel.manager.provisioner.process.pid
        private = kernel.memory()
        status = Path(f"/proc/{pid}/status").read_text()
        resident = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024
        mapped = int(re.search(r"^RssFile:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024
        # a started kernel has allocated some memory of its own, and maps Python's libraries
        assert 10_000_000 < private < resident and mapped > 0
        assert abs(private + mapped - resident) < 0.1 * resident  # RSS is private + file (+ shared) pages
        assert not kernel.restart_if_large(limit=resident)  # below the limit in private memory
        assert kernel.restart_if_large(limit=private // 2)
        assert kernel.manager.provisioner.process.pid != pid
    finally:
        kernel.shutdown()
