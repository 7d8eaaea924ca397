"""Thematic analysis of interview transcripts.

One subpackage per pipeline step, each with a small public surface; this module
gathers what a researcher needs in a notebook, grouped by step.

Example:
    >>> from analysis import load_config, load_step
    >>> cfg = load_config()                                  # doctest: +SKIP
    >>> corpus = load_step(cfg)                              # doctest: +SKIP
    >>> corpus.turns[["turn_id", "role", "speaker_id"]].head()  # doctest: +SKIP
"""

# Settings and errors
from .config import Config, load_config

# 2. embeddings
from .embeddings import Embedder, nearest_answers
from .errors import AnalysisError, ConfigError, CorpusError, TranscriptError

# 5. human codes and agreement
from .human_codes import agreement, evaluate_predictions, read_codes_folder

# The steps, as the command line runs them
from .pipeline import (
    agreement_step,
    embed_step,
    export_step,
    load_step,
    preflight,
    read_embeddings,
    read_human_codes,
    read_table,
    stages_step,
    topics_step,
)

# 4. stages
from .stages import StageCoder, StageCoding, load_taxonomy

# 3. topics
from .topics import fit_topics, topic_quality

# 1. transcripts
from .transcripts import LoadedCorpus, load_corpus, substance_table

# 6. hand-back to QDA tools: see analysis.qda; charts, tables and the explorer: analysis.report

__all__ = [
    "Config",
    "load_config",
    "AnalysisError",
    "ConfigError",
    "CorpusError",
    "TranscriptError",
    "load_step",
    "embed_step",
    "topics_step",
    "stages_step",
    "agreement_step",
    "export_step",
    "preflight",
    "read_table",
    "read_embeddings",
    "read_human_codes",
    "LoadedCorpus",
    "load_corpus",
    "substance_table",
    "Embedder",
    "nearest_answers",
    "fit_topics",
    "topic_quality",
    "StageCoder",
    "StageCoding",
    "load_taxonomy",
    "agreement",
    "evaluate_predictions",
    "read_codes_folder",
]
__version__ = "0.1.0"
