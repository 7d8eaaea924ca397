"""Thematic analysis of interview transcripts.

The public surface is small; each concern lives in its own private module.

Example:
    >>> from analysis import load_config, load_corpus
    >>> cfg = load_config()                                  # doctest: +SKIP
    >>> corpus = load_corpus(cfg.paths.transcripts)          # doctest: +SKIP
    >>> corpus.turns[["turn_id", "role", "speaker_id"]].head()  # doctest: +SKIP
"""

from ._charts import words_by_role_figure
from ._config import Config, load_config
from ._errors import AnalysisError, ConfigError, CorpusError, TranscriptError
from ._ingest import LoadedCorpus, interview_summary, load_corpus
from ._notebook import setup_notebook
from ._pipeline import load_step, read_table

__all__ = [
    "AnalysisError", "Config", "ConfigError", "CorpusError", "LoadedCorpus", "TranscriptError",
    "interview_summary", "load_config", "load_corpus", "load_step", "read_table",
    "setup_notebook", "words_by_role_figure",
]
__version__ = "0.1.0"
