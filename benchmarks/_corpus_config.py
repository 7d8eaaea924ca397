"""The settings the benchmarks run with: the project's, pointed at a corpus and at a work
folder of the benchmark's own, where everything a run writes goes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from analysis import Config

ROOT = Path(__file__).resolve().parents[1]


def write_settings(
    workdir: Path,
    transcripts: Path,
    *,
    processed: Path | None = None,
    codes: Path | None = None,
    overrides: dict | None = None,
) -> Path:
    """Write ``workdir/settings.yaml`` and return its path: the project's settings, reading
    ``transcripts`` and the human codes in ``codes`` (``None``: none), writing the processed
    tables to ``processed`` (default ``workdir/processed``) and the reports, theme renames
    and review decisions inside ``workdir``, with the project's taxonomy and code map.
    ``overrides`` maps ``section.key`` (or a top-level key) to a value, e.g. ``{"seed": 1}``."""
    settings = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text())
    for name, value in (overrides or {}).items():
        *sections, key = name.split(".")
        target = settings
        for section in sections:
            target = target.setdefault(section, {})
        target[key] = value
    settings["paths"] = {
        "transcripts": str(transcripts),
        "processed": str(processed if processed is not None else workdir / "processed"),
        "reports": str(workdir / "reports"),
        "notebooks": str(ROOT / "notebooks"),
        "reference_codes": None if codes is None else str(codes),
        "theme_labels": str(workdir / "theme_labels.json"),
        "review_codes": str(workdir / "codes"),
    }
    for key in ("taxonomy", "code_map"):
        settings["stages"][key] = str((ROOT / settings["stages"][key]).resolve())
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "settings.yaml"
    config.write_text(yaml.safe_dump(settings))
    return config


def corpus_config(corpus: Path, workdir: Path, processed: Path, overrides: dict | None = None) -> Config:
    """The settings of :func:`write_settings` for ``corpus/transcripts`` (no human codes:
    the benchmarks read ``corpus/coded`` themselves), loaded."""
    from analysis import load_config

    return load_config(write_settings(workdir, corpus / "transcripts", processed=processed, overrides=overrides))
