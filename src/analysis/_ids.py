"""Identifiers shared by every step: interview ids found in names, names masked out of
file names, and the human order of ids (``I2`` before ``I10``)."""

from __future__ import annotations

import re
from pathlib import Path

ID_FROM_TEXT_RE = re.compile(r"interview\s*[-_#]?\s*(\d+)", re.IGNORECASE)
TITLE_NAME_RE = re.compile(
    r"^(?P<head>.*?\binterview\s*[-_#]?\s*\d+)\s*[-\u2013\u2014:]\s*(?P<name>.+)$", re.IGNORECASE
)


def natural_key(value: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(value))]


def natural_sorted(values) -> list:
    """Values in human order: ``I2`` before ``I10``, interview ``9`` before ``11``.

    Example:
        >>> natural_sorted(["I10", "I2", "I1"])
        ['I1', 'I2', 'I10']
    """
    return sorted(values, key=natural_key)


def masked_name(name: str, keep_names: bool) -> str:
    """Drop the person's name from `Interview 32 - PO.txt` style names."""
    if keep_names:
        return name
    p = Path(name)
    m = TITLE_NAME_RE.match(p.stem)
    if not m:
        return name
    return f"{m.group('head')} - [name]{p.suffix}"
