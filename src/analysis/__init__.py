"""Thematic analysis of interview transcripts.

The public surface is small; each concern lives in its own private module.

Example:
    >>> from analysis import load_config, load_corpus
    >>> cfg = load_config()                                  # doctest: +SKIP
    >>> corpus = load_corpus(cfg.paths.transcripts)          # doctest: +SKIP
    >>> corpus.turns[["turn_id", "role", "speaker_id"]].head()  # doctest: +SKIP
"""

from ._charts import (
    interviewees_per_theme_figure, saturation_figure, saturation_milestones, saturation_table, stage_by_interviewee_figure,
    stage_distribution_figure, stage_quotes, theme_cooccurrence_figure, theme_heatmap_figure, theme_tables,
    topic_stage_figure, words_by_role_figure,
)
from ._explorer import ThemeExplorer, load_theme_labels, save_theme_label
from ._evaluate import headline, per_stage_table
from ._stage_views import agreement_by_interview, headline_table, stage_summary, taxonomy_table, topic_stage_table
from ._taxonomy import load_taxonomy
from ._config import Config, load_config
from ._embed import Embedder, nearest_answers
from ._errors import AnalysisError, ConfigError, CorpusError, TranscriptError
from ._ingest import LoadedCorpus, interview_summary, load_corpus
from ._notebook import setup_notebook
from ._pipeline import theme_tables_for, agreement_step, embed_step, export_step, load_step, read_embeddings, read_table, stages_step, topics_step
from ._substance import SubstanceSettings, mark_substantive, substance_table
from ._topic_views import document_map, topic_barchart, topic_hierarchy, topic_table, topics_per_interviewee
from ._topics import TopicSettings, fit_topics, topic_quality

__all__ = [
    "AnalysisError", "Config", "ConfigError", "CorpusError", "Embedder", "LoadedCorpus", "SubstanceSettings",
    "TopicSettings", "TranscriptError", "document_map", "embed_step", "fit_topics", "interview_summary",
    "load_config", "load_corpus", "load_step", "mark_substantive", "nearest_answers", "read_embeddings",
    "read_table", "setup_notebook", "substance_table", "topic_barchart", "topic_hierarchy", "topic_quality",
    "topic_table", "topics_per_interviewee", "topics_step", "words_by_role_figure",
    "agreement_by_interview", "export_step", "interviewees_per_theme_figure", "saturation_figure", "saturation_milestones", "topic_stage_table", "saturation_table",
    "stage_distribution_figure", "theme_cooccurrence_figure", "theme_heatmap_figure", "theme_tables", "theme_tables_for",
    "ThemeExplorer", "load_theme_labels", "save_theme_label", "agreement_step", "headline", "headline_table", "load_taxonomy", "per_stage_table",
    "stage_by_interviewee_figure", "stage_quotes", "stage_summary", "stages_step", "taxonomy_table", "topic_stage_figure",
]
__version__ = "0.1.0"
