"""What the last run processed: ``run.json`` in the processed folder names the transcripts
folder and the human codes that ``load`` or ``report`` used, so that later verbs (``embed``,
``topics``, ``code-stages``, ``evaluate``, ``export``) work on the same corpus and codes."""

from __future__ import annotations

import json
from pathlib import Path

from .files import atomic_write_text

RUN_FILE = "run.json"


def record_run(processed: Path, transcripts: Path, codes: Path | None, codings: Path | None = None) -> Path:
    """Write ``run.json`` (atomically) in ``processed``."""
    processed = Path(processed)
    processed.mkdir(parents=True, exist_ok=True)
    record = {
        "transcripts": str(transcripts),
        "reference_codes": None if codes is None else str(codes),
        "independent_codings": None if codings is None else str(codings),
    }
    return atomic_write_text(processed / RUN_FILE, json.dumps(record, indent=2))


def last_run(processed: Path) -> dict | None:
    """The record of the last ``load``/``report`` in ``processed``, or None (none yet, or unreadable)."""
    try:
        record = json.loads((Path(processed) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("transcripts") else None
