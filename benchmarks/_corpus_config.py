"""The settings the benchmarks run with: the project's, pointed at a corpus folder (with
``transcripts/`` and ``coded/``) and at a processed folder of the benchmark's own."""

from __future__ import annotations

from pathlib import Path

import yaml

from analysis import Config, load_config

ROOT = Path(__file__).resolve().parents[1]


def corpus_config(corpus: Path, workdir: Path, processed: Path, overrides: dict | None = None) -> Config:
    """Write ``workdir/settings.yaml`` for ``corpus`` and load it; ``overrides`` maps
    ``section.key`` (or a top-level key) to a value, e.g. ``{"seed": 1}``."""
    settings = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text())
    for name, value in (overrides or {}).items():
        *sections, key = name.split(".")
        target = settings
        for section in sections:
            target = target.setdefault(section, {})
        target[key] = value
    settings["paths"] = {"transcripts": str(corpus / "transcripts"), "processed": str(processed),
                         "reports": str(workdir / "reports"), "notebooks": str(ROOT / "notebooks")}
    settings["stages"]["taxonomy"] = str(ROOT / "config" / "taxonomy.yaml")
    settings["stages"]["code_map"] = str(ROOT / "config" / "code_map.yaml")
    config = workdir / "settings.yaml"
    config.write_text(yaml.safe_dump(settings))
    return load_config(config)
