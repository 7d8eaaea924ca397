"""An incremental report: a notebook whose inputs, processed results and page are as at its
last published run is not run again (its page is kept); a change anywhere upstream runs it."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from test_report_runs import _notebook, tiny_project  # noqa: F401 - the fixture, shared

from analysis.errors import AnalysisError
from analysis.report import _render, run_report
from analysis.report._run_cache import RUNS_FILE, read_records

NAMES = ("01_write", "02_read", "03_other")
WRITE = """from analysis import load_config
processed = load_config(config_path).paths.processed
processed.mkdir(parents=True, exist_ok=True)
(processed / "first.txt").write_text({content!r})"""
READ = """from analysis import load_config
print('read:', (load_config(config_path).paths.processed / 'first.txt').read_text())"""
# a result with the time it was made (as an export's): other bytes at each run
STAMP = """import time
from analysis import load_config
(load_config(config_path).paths.processed / 'stamped.txt').write_text(str(time.time_ns()))
print('third')"""


def _report(cfg, config, **options) -> tuple[list[str], list[str]]:
    """Run the report; the notebooks it ran and those whose pages it kept (by stem)."""
    lines: list[str] = []
    run_report(cfg, log=lines.append, config_path=config, **options)
    ran = [m.group(1) for ln in lines if (m := re.fullmatch(r"\[\d/\d\] running (\w+)\.ipynb \.\.\.", ln))]
    kept = [
        m.group(1)
        for ln in lines
        if (m := re.fullmatch(r"\[\d/\d\] (\w+)\.ipynb unchanged \(inputs and outputs as at its run on "
                              r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): page kept", ln))
    ]
    return ran, kept


def _write_notebooks(notebooks, content: str = "alpha") -> None:
    _notebook(notebooks / "01_write.ipynb", "Write", WRITE.format(content=content))
    _notebook(notebooks / "02_read.ipynb", "Read", READ)
    _notebook(notebooks / "03_other.ipynb", "Other", STAMP)


def _published(reports) -> dict[str, tuple[bytes, int]]:
    """Each page's bytes and its executed notebook's mtime."""
    return {
        name: ((reports / f"{name}.html").read_bytes(), (reports / "executed" / f"{name}.ipynb").stat().st_mtime_ns)
        for name in NAMES
    }


def test_an_unchanged_report_runs_nothing_and_a_change_runs_what_depends_on_it(tiny_project, monkeypatch):  # noqa: F811
    cfg, config, notebooks = tiny_project
    reports = cfg.paths.reports
    _write_notebooks(notebooks)
    assert _report(cfg, config) == (list(NAMES), [])
    before = _published(reports)

    def no_kernel(self):
        raise AssertionError("a kernel started although every page is kept")

    with monkeypatch.context() as patched:
        patched.setattr(_render._SharedKernel, "_start", no_kernel)
        assert _report(cfg, config) == ([], list(NAMES))
    assert _published(reports) == before  # pages byte-identical, executed notebooks not rewritten
    index = (reports / "index.html").read_text()
    assert index.count("kept from the run of ") == 3
    manifest = json.loads((reports / ".report.json").read_text())
    assert [p["reused"] for p in manifest["pages"]] == [True] * 3
    assert all(p["seconds"] > 0 for p in manifest["pages"])  # the seconds of the run that made the page

    nb = nbformat.read(str(notebooks / "02_read.ipynb"), as_version=4)
    nb.cells[-1].source += "\nprint('edited')"
    nbformat.write(nb, str(notebooks / "02_read.ipynb"))
    assert _report(cfg, config) == (["02_read"], ["01_write", "03_other"])
    assert "edited" in (reports / "02_read.html").read_text()
    assert "kept from the run of " not in (reports / "index.html").read_text().split("02_read.html")[1].split("<li>")[0]

    nb = nbformat.read(str(notebooks / "01_write.ipynb"), as_version=4)
    nb.cells[0].source += "\n\nA new sentence."  # a markdown cell: the same file written
    nbformat.write(nb, str(notebooks / "01_write.ipynb"))
    assert _report(cfg, config) == (["01_write"], ["02_read", "03_other"])

    _write_notebooks(notebooks, content="beta")  # 01 writes another content: all after it see it
    assert _report(cfg, config) == (list(NAMES), [])
    assert "read: beta" in (reports / "02_read.html").read_text()


def test_a_missing_result_or_page_runs_the_notebook_that_made_it(tiny_project):  # noqa: F811
    cfg, config, notebooks = tiny_project
    reports = cfg.paths.reports
    _write_notebooks(notebooks)
    _report(cfg, config)

    (cfg.paths.processed / "first.txt").unlink()
    assert _report(cfg, config) == (["01_write"], ["02_read", "03_other"])  # written again, the same
    (reports / "02_read.html").unlink()
    assert _report(cfg, config) == (["02_read"], ["01_write", "03_other"])
    (reports / "executed" / "03_other.ipynb").write_text("{}")
    assert _report(cfg, config) == (["03_other"], ["01_write", "02_read"])
    (cfg.paths.processed / "cache").mkdir()
    (cfg.paths.processed / "cache" / "vectors.bin").write_bytes(b"a content-keyed cache")
    (cfg.paths.processed / ".lock").write_text("")
    assert _report(cfg, config) == ([], list(NAMES))  # caches and locks are not results


def test_inputs_force_a_failed_run_and_a_broken_record(tiny_project):  # noqa: F811
    cfg, config, notebooks = tiny_project
    reports = cfg.paths.reports
    _write_notebooks(notebooks)
    _report(cfg, config)

    transcript = cfg.paths.transcripts / "Interview 1.txt"
    transcript.write_text(transcript.read_text() + "Interviewee: One more answer about the pipeline.\n")
    assert _report(cfg, config) == (list(NAMES), [])
    assert _report(cfg, config, force=True) == (list(NAMES), [])
    # 01 and 02 ran with the stamped file of the run before, which 03 then replaced: a
    # result of a later notebook, not theirs; they keep their pages

    source = (notebooks / "02_read.ipynb").read_bytes()
    _notebook(notebooks / "02_read.ipynb", "Read", "raise ValueError('boom')")
    with pytest.raises(AnalysisError, match="02_read.ipynb"):
        _report(cfg, config)
    (notebooks / "02_read.ipynb").write_bytes(source)  # back as it was: the records of its last run hold
    assert _report(cfg, config) == ([], list(NAMES))
    records, _ = read_records(reports)
    assert "stamped.txt" not in records["01_write.ipynb"].processed
    assert records["03_other.ipynb"].written == ["stamped.txt"]
    assert records["02_read.ipynb"].processed["first.txt"] == records["01_write.ipynb"].processed["first.txt"]

    runs = (reports / RUNS_FILE).read_text()
    assert "Interview" not in runs and str(cfg.root) not in runs  # file names may hold names: only their hashes

    for broken in ('{"format": 2, "notebooks": {"01_write.ipynb": {"key": 3}}}', '{"format": 1}', "[1, 2]", "{"):
        (reports / RUNS_FILE).write_text(broken)
        assert read_records(reports) == ({}, {}), broken
    assert _report(cfg, config) == (list(NAMES), [])  # a record file cut short: a full run, no error
    assert _report(cfg, config) == ([], list(NAMES))
