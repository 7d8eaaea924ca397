"""`python -m analysis figures`: every chart of the reports as SVG, PNG or PDF, built from
a real run on the sample (real model, real BERTopic) and rendered by kaleido in the
system Chromium; refused formats and folders, and a missing browser, give clear errors."""

from __future__ import annotations

import html
import re
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import main
from analysis.report import REPORT_CHARTS, FigureSet, figure_size, paper_figures, write_figures
from conftest import sample_config

# The charts notebooks 01 and 03-06 show, in report order, under the file names a paper's
# sources point at (the registry must keep them: test_the_registry_names_the_expected_files).
EXPECTED = [
    "01_words_by_role",
    "03_topic_barchart",
    "03_document_map",
    "03_topic_hierarchy",
    "03_topics_per_interviewee",
    "04_stage_distribution",
    "04_topic_stages",
    "04_stage_by_interviewee",
    "05_theme_heatmap",
    "05_interviewees_per_theme",
    "05_theme_cooccurrence",
    "05_saturation",
    "06_reliability",
]


def test_the_registry_names_the_expected_files():
    assert [name for name, _ in REPORT_CHARTS] == EXPECTED


def _title(fig) -> str:
    """The figure's title as a reader sees it: tags removed, entities decoded, spaces folded."""
    text = fig.layout.title.text or ""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def _svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()  # raises on anything that is not well-formed XML
    assert root.tag.endswith("svg")
    return " ".join(" ".join(root.itertext()).split())


def _written(processed: Path) -> dict[str, int]:
    """Every file of a processed folder but the agreement (measured again) -> its mtime."""
    return {str(p.relative_to(processed)): p.stat().st_mtime_ns for p in processed.rglob("*")
            if p.is_file() and p.name != "agreement.json" and ".lock" not in p.name}


@pytest.fixture(scope="module")
def built(sample_run):
    """The figures of the sample run, the topic-model cache before and after building, and
    the run's files (mtimes) before and after."""
    cfg, config = sample_run
    cache = Path(cfg.paths.processed) / "cache"
    before = sorted(p.name for p in cache.glob("topics-*.pkl"))
    files_before = _written(Path(cfg.paths.processed))
    said = []
    figures = paper_figures(cfg, log=said.append)
    after = sorted(p.name for p in cache.glob("topics-*.pkl"))
    files_after = _written(Path(cfg.paths.processed))
    return cfg, config, figures, (before, after), (files_before, files_after, said)


@pytest.mark.slow
def test_every_report_chart_is_built_from_the_run_without_refitting(built):
    _, _, figures, (before, after), (files_before, files_after, said) = built
    assert isinstance(figures, FigureSet)
    assert list(figures.figures) == EXPECTED  # the sample carries human codes: nothing skipped
    assert figures.skipped == {}
    for name, fig in figures.figures.items():
        assert _title(fig), f"{name} has no title"
        assert fig.data or fig.layout.annotations, f"{name} draws nothing"
    # a finished run is only read: no topic model fitted, no topic table, model or stage
    # coding written again (only the agreement is measured again)
    assert before and after == before
    assert {"topics.parquet", "topic_info.parquet", "topic_model/topics.json", "stages.parquet"} <= set(files_before)
    assert files_after == files_before
    assert said == ["measuring agreement with the human codes (as notebook 06 does)"]


@pytest.mark.slow
def test_topic_tables_that_are_not_the_cached_models_are_written_again(built, tmp_path):
    cfg, _, _, _, _ = built
    processed = tmp_path / "processed"
    shutil.copytree(cfg.paths.processed, processed, ignore=shutil.ignore_patterns(".lock"))
    info = pd.read_parquet(processed / "topic_info.parquet")
    info.loc[0, "label"] = "a label the model never gave"
    info.to_parquet(processed / "topic_info.parquet", index=False)
    (processed / "topic_quotes.parquet").unlink()
    cache = sorted(p.name for p in (processed / "cache").glob("topics-*.pkl"))
    copy = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"processed": processed})})
    said = []
    figures = paper_figures(copy.with_codes("none"), log=said.append)
    # written from the cached model (no refit); the assignment is unchanged, so is the coding
    assert [s.split(" (")[0] for s in said] == ["writing the topic tables"]
    assert sorted(p.name for p in (processed / "cache").glob("topics-*.pkl")) == cache
    labels = [pd.read_parquet(folder / "topic_info.parquet")[["topic", "label"]]
              for folder in (processed, Path(cfg.paths.processed))]
    assert labels[0].equals(labels[1])
    assert (processed / "topic_quotes.parquet").is_file()
    assert list(figures.figures) == EXPECTED[:-1]


@pytest.mark.slow
def test_missing_stage_outputs_are_made_again_from_the_cached_topics(built, tmp_path):
    cfg, _, _, _, _ = built
    shutil.copytree(cfg.paths.processed, tmp_path / "processed", ignore=shutil.ignore_patterns(".lock"))
    (tmp_path / "processed" / "stages.parquet").unlink()
    (tmp_path / "processed" / "topic_stages.parquet").unlink()
    copy = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"processed": tmp_path / "processed"})})
    said = []
    figures = paper_figures(copy.with_codes("none"), log=said.append)
    assert [s.split(" (")[0] for s in said] == ["coding the answers with stages"]  # topics came from the cache
    assert (tmp_path / "processed" / "stages.parquet").is_file()
    assert list(figures.figures) == EXPECTED[:-1]


@pytest.mark.slow
def test_reliability_chart_is_skipped_with_its_reason_without_codes(built):
    cfg, _, _, _, _ = built
    figures = paper_figures(cfg.with_codes("none"))
    assert list(figures.figures) == EXPECTED[:-1]
    assert list(figures.skipped) == ["06_reliability"]
    assert "no human codes" in figures.skipped["06_reliability"]


@pytest.mark.slow
def test_cli_writes_every_chart_as_svg_with_its_title(built, tmp_path, capsys):
    cfg, config, figures, _, _ = built
    out = tmp_path / "figures"
    assert main(["--config", str(config), "figures", "--format", "svg", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    expected = [out / f"{name}.svg" for name in EXPECTED]
    assert [Path(line) for line in printed[: len(expected)]] == expected
    assert sorted(out.iterdir()) == sorted(expected)  # no temporary file left behind
    for name, path in zip(EXPECTED, expected):
        assert _title(figures.figures[name]) in _svg_text(path), name


@pytest.mark.slow
def test_png_has_the_figure_size_times_scale(built, tmp_path):
    _, _, figures, _, _ = built
    written = write_figures(figures, tmp_path, "png", scale=2)
    assert written == [tmp_path / f"{name}.png" for name in EXPECTED]
    for (name, fig), path in zip(figures.figures.items(), written):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        assert (width, height) == tuple(2 * v for v in figure_size(fig)), name
        if fig.layout.height:  # the figure's own size wins over the default
            assert height == 2 * fig.layout.height


@pytest.mark.slow
def test_pdf_files_are_pdf(built, tmp_path):
    _, _, figures, _, _ = built
    few = {name: figures.figures[name] for name in ("04_stage_by_interviewee", "05_saturation")}
    for path in write_figures(few, tmp_path, "pdf"):
        assert path.read_bytes()[:5] == b"%PDF-"


@pytest.fixture
def config(tmp_path):
    """The sample's settings with a processed folder of its own (nothing run)."""
    return sample_config(tmp_path)


def test_unknown_format_is_refused_by_the_parser(config, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(config), "figures", "--format", "jpg", "--out", str(tmp_path / "f")])
    assert exit_.value.code == 2
    assert "invalid choice: 'jpg'" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


def test_unwritable_out_folder_is_a_clear_error_before_any_step(config, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["--config", str(config), "figures", "--out", str(blocker / "figures")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {blocker / 'figures'}: cannot write figures there")
    assert "Traceback" not in err
    assert not (tmp_path / "processed" / "turns.parquet").exists()  # nothing was run


def test_missing_chromium_says_how_to_install_it(config, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium-here"))
    assert main(["--config", str(config), "figures", "--out", str(tmp_path / "figures")]) == 2
    err = capsys.readouterr().err
    assert "needs Chromium" in err and "apt-get install chromium" in err and "plotly_get_chrome" in err
    assert str(tmp_path / "no-chromium-here") in err
    assert "Traceback" not in err


def test_scale_must_be_positive(config, tmp_path, capsys):
    assert main(["--config", str(config), "figures", "--format", "png", "--scale", "0", "--out", str(tmp_path)]) == 2
    assert "error: --scale 0.0: expected a number above 0" in capsys.readouterr().err
