"""The report's charts in one place: :class:`RunCharts` draws each chart of a run from
its processed tables, and :data:`REPORT_CHARTS` lists them in report order under the file
name a paper figure gets. Notebooks 01 and 03-06 call the methods for their charts and
:func:`analysis.report.paper_figures` walks the list, so a paper figure is the chart the
report shows, and a new chart is added here once.

The methods are thin: read the tables (each once, when a chart first needs it), call the
pure chart function of ``_charts`` / ``_topic_charts``.

Example:
    >>> charts = RunCharts(load_config())                             # doctest: +SKIP
    >>> charts.stage_distribution()                                   # doctest: +SKIP
    >>> [getattr(charts, method)() for _, method in REPORT_CHARTS]    # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from ..config import Config
from ..pipeline import load_taxonomy_and_codes, processed, read_table, topic_result
from ..stages import read_stage_csv
from ..topics import TopicResult
from ..transcripts import interview_summary
from ._charts import (
    interviewees_per_theme_figure,
    reliability_figure,
    saturation_figure,
    stage_by_interviewee_figure,
    stage_distribution_figure,
    theme_cooccurrence_figure,
    theme_heatmap_figure,
    topic_stage_figure,
    words_by_role_figure,
)
from ._themes import ThemeTables, saturation_table, theme_tables_for
from ._topic_charts import document_map, topic_barchart, topic_hierarchy, topics_per_interviewee

# Random orders of interviews the saturation curve averages (notebook 05, paper figure).
SATURATION_ORDERS = 200

# The report's charts in report order: file name of the paper figure (``NN_chart``, NN the
# notebook that shows it) -> the RunCharts method that draws it.
REPORT_CHARTS: list[tuple[str, str]] = [
    ("01_words_by_role", "words_by_role"),
    ("03_topic_barchart", "topic_barchart"),
    ("03_document_map", "document_map"),
    ("03_topic_hierarchy", "topic_hierarchy"),
    ("03_topics_per_interviewee", "topics_per_interviewee"),
    ("04_stage_distribution", "stage_distribution"),
    ("04_topic_stages", "topic_stages"),
    ("04_stage_by_interviewee", "stage_by_interviewee"),
    ("05_theme_heatmap", "theme_heatmap"),
    ("05_interviewees_per_theme", "interviewees_per_theme"),
    ("05_theme_cooccurrence", "theme_cooccurrence"),
    ("05_saturation", "saturation"),
    ("06_reliability", "reliability"),
]


@dataclass(frozen=True)
class NoChart:
    """In place of a chart the run has no data for: why (shown as a note in a notebook,
    listed as skipped by :func:`analysis.report.paper_figures`).

    Example:
        >>> NoChart("no human codes for this corpus")._repr_markdown_()
        'No chart here: no human codes for this corpus.'
    """

    reason: str

    def _repr_markdown_(self) -> str:
        return f"No chart here: {self.reason}."


class RunCharts:
    """The charts of the run ``cfg`` names, one method per chart (:data:`REPORT_CHARTS`),
    each drawn from the tables the steps wrote to ``cfg.paths.processed``.

    A table is read when a chart first needs it, and once; the topic model (the topic
    bar chart, document map and hierarchy need it) comes from the topic cache, as
    ``topics`` left it (fitted and cached only when the cache holds none), and no table
    is written. Build it after the steps a notebook runs, so the charts read what they
    wrote.

    Args:
        cfg: the settings of the run.
        topics: the topic result and modelled answers of :func:`analysis.topics_step`,
            when the caller has them (notebook 03): the model is then not loaded again.
    """

    def __init__(self, cfg: Config, topics: tuple[TopicResult, pd.DataFrame] | None = None):
        self.cfg = cfg
        if topics is not None:
            self.__dict__["topic_result"] = topics  # fills the cached property below

    # -- the run's tables, each read once --------------------------------------------

    @cached_property
    def turns(self) -> pd.DataFrame:
        """``turns.parquet``: every speaker turn."""
        return read_table(self.cfg, "turns")

    @cached_property
    def topic_result(self) -> tuple[TopicResult, pd.DataFrame]:
        """The fitted topic model and the modelled answers (:func:`analysis.pipeline.topic_result`)."""
        return topic_result(self.cfg)

    @cached_property
    def topics(self) -> pd.DataFrame:
        """``topics.parquet``: each modelled answer's topic and interviewee."""
        return read_table(self.cfg, "topics")

    @cached_property
    def topic_info(self) -> pd.DataFrame:
        """``topic_info.parquet``: one row per topic (``topic``, ``label``, ...)."""
        return read_table(self.cfg, "topic_info")

    @cached_property
    def stage_names(self) -> dict[str, str]:
        """Stage id -> name, in taxonomy order."""
        taxonomy, _ = load_taxonomy_and_codes(self.cfg)
        return {s.id: s.name for s in taxonomy.stages}

    @cached_property
    def predictions(self) -> pd.DataFrame:
        """``stage_predictions.csv``: the stage coding of every interviewee turn."""
        return read_stage_csv(processed(self.cfg, "stage_predictions.csv"))

    @cached_property
    def topic_stage_mix(self) -> pd.DataFrame:
        """``topic_stages.parquet``: each topic's mix of stages."""
        return read_table(self.cfg, "topic_stages")

    @cached_property
    def themes(self) -> ThemeTables:
        """The theme tables, with the researcher's theme renames (:func:`theme_tables_for`,
        given the tables already read here)."""
        return theme_tables_for(
            self.cfg,
            turns=self.turns,
            topics=self.topics,
            topic_info=self.topic_info,
            topic_stages=self.topic_stage_mix,
        )[0]

    @cached_property
    def findings(self) -> ThemeTables:
        """The theme tables without interview meta-talk: what the theme charts show."""
        return self.themes.findings()

    @cached_property
    def saturation_table(self) -> pd.DataFrame:
        """Thematic saturation of the findings over :data:`SATURATION_ORDERS` seeded orders."""
        return saturation_table(self.findings, orders=SATURATION_ORDERS, seed=self.cfg.seed)

    @cached_property
    def calibration(self) -> dict | NoChart:
        """P(coded)'s calibration against the human codes, from ``agreement.json`` (as
        notebook 06 or ``evaluate`` measured it), or why there is none."""
        codes = self.cfg.paths.reference_codes
        if codes is None:
            return NoChart("no human codes for this corpus (`paths.reference_codes` is not set: give `--codes FOLDER`, "
                           "or `CODES=` of `make report`)")
        if not Path(codes).is_dir():
            return NoChart(f"human codes folder {codes} not found")
        path = processed(self.cfg, "agreement.json")
        if not path.is_file():
            return NoChart(f"{path} does not exist yet: measure the agreement first (`evaluate`, or notebook 06)")
        results = json.loads(path.read_text(encoding="utf-8"))
        calibration = (results.get("suite_vs_reference") or {}).get("calibration")
        if not calibration:
            return NoChart(f"no calibration of P(coded): no answer of {codes} carries a code, "
                           "or the predictions carry no P(coded)")
        return calibration

    # -- the charts, in report order (REPORT_CHARTS) -----------------------------------

    def words_by_role(self) -> go.Figure:
        """Notebook 01: turns and words per interview, by role."""
        return words_by_role_figure(interview_summary(self.turns))

    def topic_barchart(self) -> go.Figure:
        """Notebook 03: the top words of the largest topics."""
        return topic_barchart(self.topic_result[0].model)

    def document_map(self) -> go.Figure:
        """Notebook 03: every answer on a 2-D map of its embedding, coloured by topic."""
        result, docs = self.topic_result
        return document_map(result.map_2d, result.assignments, result.info, docs["text"].tolist())

    def topic_hierarchy(self) -> go.Figure:
        """Notebook 03: how the topics join into broader ones."""
        result, docs = self.topic_result
        return topic_hierarchy(result.model, docs["text"].tolist())

    def topics_per_interviewee(self) -> go.Figure:
        """Notebook 03: each interviewee's answers per topic."""
        return topics_per_interviewee(self.topics, self.topic_info)

    def stage_distribution(self) -> go.Figure:
        """Notebook 04: answers per stage, issues and fixes."""
        return stage_distribution_figure(self.predictions, self.stage_names)

    def topic_stages(self) -> go.Figure:
        """Notebook 04: each topic's mix of stages."""
        labels = dict(zip(self.topic_info["topic"], self.topic_info["label"]))
        return topic_stage_figure(self.topic_stage_mix, labels, self.stage_names)

    def stage_by_interviewee(self) -> go.Figure:
        """Notebook 04: each interviewee's answers per stage."""
        speaker_of = dict(zip(self.turns["turn_id"], self.turns["speaker_id"]))
        return stage_by_interviewee_figure(self.predictions, speaker_of, self.stage_names)

    def theme_heatmap(self) -> go.Figure:
        """Notebook 05: each interviewee's issues (fixes, all answers) per theme."""
        return theme_heatmap_figure(self.findings)

    def interviewees_per_theme(self) -> go.Figure:
        """Notebook 05: how many interviewees mention each theme."""
        return interviewees_per_theme_figure(self.findings)

    def theme_cooccurrence(self) -> go.Figure:
        """Notebook 05: which themes the same interviewees mention."""
        return theme_cooccurrence_figure(self.findings)

    def saturation(self) -> go.Figure:
        """Notebook 05: the share of all themes reached after k interviews."""
        return saturation_figure(self.saturation_table)

    def reliability(self) -> go.Figure | NoChart:
        """Notebook 06: the reliability diagram of P(coded), or why there is none (no human
        codes, or none of them coded)."""
        calibration = self.calibration
        return calibration if isinstance(calibration, NoChart) else reliability_figure(calibration)
