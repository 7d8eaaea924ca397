"""The steps behind the command-line verbs and the notebooks, so the two cannot drift."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._config import Config
from ._ingest import LoadedCorpus, load_corpus


def load_step(cfg: Config) -> LoadedCorpus:
    """Load ``cfg.paths.transcripts`` and write the step's tables to ``cfg.paths.processed``:
    ``turns.parquet``, ``line_accounting.parquet`` and ``files.parquet``."""
    corpus = load_corpus(cfg.paths.transcripts, speaker_roles=dict(cfg.ingest.speaker_roles), keep_names=cfg.privacy.keep_names)
    out = Path(cfg.paths.processed)
    out.mkdir(parents=True, exist_ok=True)
    corpus.turns.to_parquet(out / "turns.parquet", index=False)
    corpus.lines.to_parquet(out / "line_accounting.parquet", index=False)
    corpus.files.to_parquet(out / "files.parquet", index=False)
    return corpus


def read_table(cfg: Config, name: str) -> pd.DataFrame:
    """Read a table an earlier step wrote, with a clear message when it is missing."""
    from ._errors import AnalysisError

    path = Path(cfg.paths.processed) / f"{name}.parquet"
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist yet: run the step that writes it first (see README)")
    return pd.read_parquet(path)
