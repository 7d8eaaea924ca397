"""Figures for papers: every chart the reports show, built from the processed tables of
a run and written as static SVG, PNG or PDF files through kaleido (a headless Chromium).

:func:`paper_figures` builds the charts (the :class:`RunCharts` methods the notebooks
call, listed once in :data:`REPORT_CHARTS`), :func:`write_figures` exports them, one file
per chart, named by notebook and chart (``04_stage_by_interviewee.svg``) so that a
paper's sources keep pointing at the right file after a rerun.

Example:
    >>> from analysis import load_config                              # doctest: +SKIP
    >>> figures = paper_figures(load_config())                        # doctest: +SKIP
    >>> write_figures(figures, "figures", "svg")                      # doctest: +SKIP
    [PosixPath('figures/01_words_by_role.svg'), ...]
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..config import Config
from ..errors import AnalysisError
from ..files import atomic_write_bytes
from ..pipeline import (
    agreement_step,
    embed_step,
    load_step,
    processed,
    read_table,
    stages_step,
    topic_result,
    topics_step,
)
from ..stages import read_stage_csv
from ._registry import REPORT_CHARTS, NoChart, RunCharts

FIGURE_FORMATS = ("svg", "png", "pdf")
# Size (CSS pixels) of a figure whose layout sets none: wider than plotly's 700 x 500,
# which crowds the axis labels of the stage and theme charts.
DEFAULT_WIDTH = 900
DEFAULT_HEIGHT = 520
NO_BROWSER = (
    "exporting figures needs Chromium (kaleido renders the charts in it) and none was found{where}. "
    "Install it: `apt-get install chromium` (Debian/Ubuntu), or `plotly_get_chrome` from this environment "
    "(downloads a Chrome for plotly); or set BROWSER_PATH to a Chromium or Chrome executable."
)


@dataclass
class FigureSet:
    """The charts of a run, in report order.

    Attributes:
        figures: file name (no suffix; ``NN_chart``, ``NN`` the notebook that shows it)
            -> figure.
        skipped: file name -> why the chart was not made (no human codes, ...).
    """

    figures: dict[str, go.Figure] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _stale(path: Path, *before: Path) -> bool:
    """``path`` is missing or older than one of the files it was made from."""
    if not path.is_file():
        return True
    return any(b.is_file() and b.stat().st_mtime > path.stat().st_mtime for b in before)


def _assignment(table: pd.DataFrame | None) -> dict:
    return {} if table is None else dict(zip(table["turn_id"], table["topic"]))


def _cell(value):
    """A table cell in a form that compares equal across a parquet round trip: lists come
    back as arrays, missing values as NaN (never equal to itself)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_cell(v) for v in value)
    if isinstance(value, float) and value != value:
        return None
    return value


def _same_rows(stored: pd.DataFrame, made: pd.DataFrame) -> bool:
    """``stored`` (a table read back from disk) holds the rows of ``made`` in its columns.

    Example:
        >>> made = pd.DataFrame({"topic": [0], "words": [["data", "drift"]], "share": [float("nan")]})
        >>> stored = made.assign(words=[np.array(["data", "drift"])], speaker_id=["I3"])
        >>> _same_rows(stored, made), _same_rows(stored.assign(topic=[1]), made)
        (True, False)
    """
    if len(stored) != len(made) or not set(made.columns) <= set(stored.columns):
        return False
    return all([_cell(v) for v in stored[c]] == [_cell(v) for v in made[c]] for c in made.columns)


def _topic_tables_are_current(cfg: Config, topics_before: pd.DataFrame | None, result) -> bool:
    """The topic tables and saved model on disk are those of ``result`` (the model the
    topic cache holds for these answers and settings): nothing for ``topics`` to write."""
    info, quotes = processed(cfg, "topic_info.parquet"), processed(cfg, "topic_quotes.parquet")
    if topics_before is None or not info.is_file() or not quotes.is_file():
        return False
    if not processed(cfg, "topic_model").is_dir():
        return False
    return (
        _same_rows(topics_before, result.assignments)
        and _same_rows(pd.read_parquet(info), result.info)
        and _same_rows(pd.read_parquet(quotes), result.quotes)
    )


def _coding_is_current(cfg: Config, topics_before: pd.DataFrame | None, result) -> bool:
    """The stage outputs on disk belong to these turns and this topic assignment."""
    wanted = [processed(cfg, n) for n in ("stages.parquet", "stage_predictions.csv", "topic_stages.parquet")]
    if any(not p.is_file() for p in wanted) or _assignment(topics_before) != _assignment(result.assignments):
        return False
    turns = read_table(cfg, "turns")
    coded = set(read_stage_csv(processed(cfg, "stage_predictions.csv"))["turn_id"])
    return coded == set(turns.loc[turns["role"] == "interviewee", "turn_id"])


def _bring_up_to_date(cfg: Config, log: Callable[[str], None]):
    """Run the steps whose outputs are missing or out of date, as the verbs would, and
    reuse the caches: a warm topic-model cache is loaded, never refitted, the topic tables
    are written only when they are not the cached model's, and the stage coding on disk
    (zero- or few-shot) is kept while it belongs to these turns and topics. Returns the
    topic result and the modelled answers."""
    turns = processed(cfg, "turns.parquet")
    if not turns.is_file():
        log(f"{turns} missing: loading {cfg.paths.transcripts} (as `load` does)")
        load_step(cfg)
    embeddings = processed(cfg, "embeddings.parquet")
    if _stale(embeddings, turns):
        log("embedding the answers (as `embed` does; cached vectors are reused)")
        embed_step(cfg, show_progress=False)
    topics = processed(cfg, "topics.parquet")
    before = pd.read_parquet(topics) if topics.is_file() else None
    result, docs = topic_result(cfg)  # a warm cache loads the fitted model, it does not refit
    if not result.from_cache:
        log("fitted the topic model (its cache held no model for these answers and settings)")
    if not _topic_tables_are_current(cfg, before, result):
        log("writing the topic tables (as `topics` does, from the cached model)")
        topics_step(cfg)
    if not _coding_is_current(cfg, before, result):
        log("coding the answers with stages (as `code-stages` does: zero-shot, plus the reviewed answers)")
        stages_step(cfg)
    codes = cfg.paths.reference_codes
    if codes is not None and Path(codes).is_dir():
        # measured again (seconds; Delve prints are read from their cache): agreement.json
        # does not say which codes it was measured on
        log("measuring agreement with the human codes (as notebook 06 does)")
        agreement_step(cfg)
    return result, docs


def paper_figures(cfg: Config, log: Callable[[str], None] | None = None) -> FigureSet:
    """Every chart of notebooks 01 and 03-06 (:data:`REPORT_CHARTS`), drawn by the
    :class:`RunCharts` methods the notebooks call, from the processed tables of the run
    ``cfg`` names.

    Steps whose outputs are missing or out of date run first, as their verbs would (load,
    embed, topics, code-stages); cached embeddings and topic models are reused, the topic
    tables are written only when they are not the cached model's, and the stage coding on
    disk is kept while it matches the turns and topics, so a finished run is only read.
    The reliability chart needs human codes: with them the agreement is measured (and
    ``agreement.json`` written, as notebook 06 does); without, the chart is listed in
    :attr:`FigureSet.skipped` with the reason.

    Args:
        cfg: the settings of the run (its ``paths.processed`` holds the tables).
        log: called with one sentence per step it has to run (default: silent).

    Returns:
        The figures in report order, keyed by stable file names such as
        ``04_stage_by_interviewee``.

    Example:
        >>> figures = paper_figures(load_config())                   # doctest: +SKIP
        >>> list(figures.figures)[:2], figures.skipped               # doctest: +SKIP
        (['01_words_by_role', '03_topic_barchart'], {})
    """
    log = log or (lambda _message: None)
    topics = _bring_up_to_date(cfg, log)
    charts = RunCharts(cfg, topics=topics)  # after the steps: it reads what they wrote
    out = FigureSet()
    for name, method in REPORT_CHARTS:
        chart = getattr(charts, method)()
        if isinstance(chart, NoChart):
            out.skipped[name] = chart.reason
        else:
            out.figures[name] = chart
    return out


def figure_size(fig: go.Figure) -> tuple[int, int]:
    """Width and height (CSS pixels) to export ``fig`` at: its layout's own, else
    :data:`DEFAULT_WIDTH` x :data:`DEFAULT_HEIGHT`.

    Example:
        >>> figure_size(go.Figure(layout={"height": 300})), figure_size(go.Figure())
        ((900, 300), (900, 520))
    """
    width, height = fig.layout.width, fig.layout.height
    return int(width or DEFAULT_WIDTH), int(height or DEFAULT_HEIGHT)


def prepare_figure_folder(out_dir: str | Path) -> Path:
    """Create ``out_dir`` and check that files can be written in it and that a browser
    for kaleido is installed, before any chart is built.

    Raises:
        AnalysisError: the folder cannot be created or written, or no Chromium was found
            (the message says how to install one).
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise AnalysisError(f"{out}: cannot write figures there ({exc.strerror or exc}); give another --out") from None
    _find_browser()
    return out


def _find_browser() -> str:
    """The Chromium kaleido will start (as it looks for one), or an AnalysisError."""
    from choreographer.browsers.chromium import Chromium

    path = Chromium.find_browser(skip_local=False)
    if not path or not Path(path).is_file():
        where = f" at BROWSER_PATH={os.environ['BROWSER_PATH']}" if os.environ.get("BROWSER_PATH") else ""
        raise AnalysisError(NO_BROWSER.format(where=where))
    return path


class _RenderError(Exception):
    """A figure kaleido could not render (its name and kaleido's message)."""


async def _render(specs: dict[str, tuple[go.Figure, dict]]) -> list[bytes]:
    import kaleido

    # one browser session for all figures: starting Chromium is most of the time;
    # no MathJax (it would come from a CDN, and no chart uses LaTeX)
    async with kaleido.Kaleido(mathjax=False) as k:
        images = []
        for name, (fig, opts) in specs.items():
            try:
                images.append(await k.calc_fig(fig, opts=opts))
            except Exception as exc:  # kaleido's errors carry the browser's message
                raise _RenderError(f"{name}: {exc}") from None
        return images


def write_figures(
    figures: FigureSet | Mapping[str, go.Figure], out_dir: str | Path, fmt: str = "svg", scale: float = 1.0
) -> list[Path]:
    """Export figures as ``out_dir/NAME.FMT``, each at its own size (:func:`figure_size`)
    times ``scale`` (pixels of a PNG; SVG and PDF are vector, their size is the layout's).

    Each file is written to a temporary name and moved into place when complete, so a
    failed export never leaves a half-written figure.

    Args:
        figures: a :class:`FigureSet` or a mapping name -> figure.
        out_dir: the folder to write (created).
        fmt: ``svg``, ``png`` or ``pdf``.
        scale: multiplies the pixel size of PNG files (2 for print at about 200 dpi).

    Returns:
        The paths written, in the figures' order.

    Raises:
        AnalysisError: unknown format, bad scale, a folder that cannot be written, no
            Chromium, or a figure kaleido cannot render (named).
    """
    if fmt not in FIGURE_FORMATS:
        raise AnalysisError(f"figure format {fmt!r}: expected one of {', '.join(FIGURE_FORMATS)}")
    if not scale > 0:
        raise AnalysisError(f"figure scale {scale}: expected a number above 0")
    out = prepare_figure_folder(out_dir)
    named = figures.figures if isinstance(figures, FigureSet) else dict(figures)
    specs = {}
    for name, fig in named.items():
        width, height = figure_size(fig)
        specs[name] = (fig, {"format": fmt, "width": width, "height": height, "scale": scale})
    from choreographer.errors import BrowserClosedError, BrowserDepsError, BrowserFailedError, ChromeNotFoundError

    # kaleido runs its own event loop: in a thread, so that this works under Jupyter's loop too
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        try:
            images = pool.submit(asyncio.run, _render(specs)).result()
        except ChromeNotFoundError:
            raise AnalysisError(NO_BROWSER.format(where="")) from None
        except (BrowserFailedError, BrowserClosedError, BrowserDepsError) as exc:
            raise AnalysisError(f"Chromium did not start or stopped while exporting figures: {exc}") from None
        except _RenderError as exc:
            raise AnalysisError(f"kaleido could not render figure {exc} (as {fmt}); nothing was written") from None
    return [atomic_write_bytes(out / f"{name}.{fmt}", data) for name, data in zip(named, images)]
