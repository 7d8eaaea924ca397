"""What the last run processed: ``run.json`` in the processed folder names the transcripts
folder and the human codes that ``load`` or ``report`` used, so that later verbs (``embed``,
``topics``, ``code-stages``, ``evaluate``, ``export``) work on the same corpus and codes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

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
    path = processed / RUN_FILE
    fd, tmp = tempfile.mkstemp(dir=processed, prefix=".run-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=2)
    os.replace(tmp, path)
    return path


def last_run(processed: Path) -> dict | None:
    """The record of the last ``load``/``report`` in ``processed``, or None (none yet, or unreadable)."""
    try:
        record = json.loads((Path(processed) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("transcripts") else None
