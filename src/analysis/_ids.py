"""Identifiers shared by every step: interview ids found in names, names masked out of
file names (derived names, never copied), and the human order of ids (``I2`` before ``I10``)."""

from __future__ import annotations

import re
from pathlib import Path

ID_FROM_TEXT_RE = re.compile(r"interview\s*[-_#]?\s*(\d+)", re.IGNORECASE)
TITLE_NAME_RE = re.compile(
    r"^(?P<head>.*?\binterview\s*[-_#]?\s*\d+)\s*[-\u2013\u2014:]\s*(?P<name>.+)$", re.IGNORECASE
)


def natural_key(value) -> tuple:
    """Sort key of human order: digit runs compare as numbers, the rest without case.

    Use it wherever a table is sorted by interview id, speaker id or file name
    (``sorted(ids, key=natural_key)``, ``df.sort_values("interview_id", key=natural_sort_key)``).

    Example:
        >>> sorted(["30", "3", "11", "Interview 11.txt", "Interview 3.txt"], key=natural_key)
        ['3', '11', '30', 'Interview 3.txt', 'Interview 11.txt']
    """
    # (is-number, value) pairs: a number and a word never meet in a comparison
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", str(value)) if t)


def natural_sort_key(values):
    """``key=`` for :meth:`pandas.DataFrame.sort_values`: a column in human order. A
    column of text is sorted by :func:`natural_key`; a column of numbers (or dates) is
    already in human order and is returned as it is (``-1`` before ``3``).

    Example:
        >>> import pandas as pd
        >>> pd.DataFrame({"interview_id": ["11", "3", "30"]}).sort_values("interview_id", key=natural_sort_key)[
        ...     "interview_id"].tolist()
        ['3', '11', '30']
        >>> pd.DataFrame({"id": ["I10", "I2", "I2"], "line": [12, -1, 3]}).sort_values(["id", "line"],
        ...     key=natural_sort_key).values.tolist()
        [['I2', -1], ['I2', 3], ['I10', 12]]
    """
    # text (object or string dtype) in human order; numbers, dates and booleans sort as they are
    if values.dtype.kind not in "OSU":
        return values
    return values.map(natural_key)


def natural_sorted(values) -> list:
    """Values in human order: ``I2`` before ``I10``, interview ``9`` before ``11``.

    Example:
        >>> natural_sorted(["I10", "I2", "I1"])
        ['I1', 'I2', 'I10']
    """
    return sorted(values, key=natural_key)


# `Interview 11`, `interview_3`, `INTERVIEW-7`: a name that says nothing about a person.
PLAIN_INTERVIEW_RE = re.compile(r"^interview\s*[-_#]?\s*\d+$", re.IGNORECASE)
KNOWN_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".vtt", ".srt", ".docx", ".csv", ".pdf", ".qdpx"}


def _suffix(path: Path) -> str:
    # `Dr.Quackenbush` has the "suffix" `.Quackenbush`: only real extensions are kept.
    return path.suffix.lower() if path.suffix.lower() in KNOWN_SUFFIXES else ""


def masked_name(name: str, keep_names: bool) -> str:
    """A file name without the person's name in it, unless ``keep_names``.

    ``Interview 32 - PO.txt`` becomes ``Interview 32 - [name].txt``; any other name holding
    a number becomes ``Interview N - [name]``; a name holding no number, ``[name]``.

    Example:
        >>> masked_name("Interview 32 - PO.txt", False), masked_name("Interview 11.txt", False)
        ('Interview 32 - [name].txt', 'Interview 11.txt')
        >>> masked_name("Alice Smith 3.pdf", False)
        'Interview 3 - [name].pdf'
    """
    if keep_names:
        return name
    p = Path(name)
    kept = _interview_form(p)
    if kept:
        return kept
    number = ID_FROM_TEXT_RE.search(p.stem) or re.search(r"\d+", p.stem)
    if number:
        return f"Interview {int(number.group(number.lastindex or 0))} - [name]{_suffix(p)}"
    return f"[name]{_suffix(p)}"


def _interview_form(p: Path) -> str | None:
    """``Interview 11.txt`` as it is, ``Interview 32 - NAME.txt`` as ``Interview 32 - [name].txt``;
    ``None`` for any other name."""
    if PLAIN_INTERVIEW_RE.match(p.stem):
        return p.name
    m = TITLE_NAME_RE.match(p.stem)
    if m and PLAIN_INTERVIEW_RE.match(m.group("head").strip()):
        return f"{m.group('head').strip()} - [name]{_suffix(p)}"
    return None


def derived_source_name(name: str, interview_id: str, keep_names: bool) -> str:
    """The name a transcript file goes by in outputs: derived from its interview id, never
    copied, unless ``keep_names``. ``Interview 11.txt`` and the compatible
    ``Interview 32 - [name].txt`` keep their form; anything else becomes ``Interview 43.vtt``
    (a name that says `Interview 43`) or ``interview-<id>.txt``.

    Example:
        >>> derived_source_name("Interview 43 with Alice Smith.vtt", "43", False)
        'Interview 43.vtt'
        >>> derived_source_name("Alice Smith 2023-05-01.txt", "2023", False)
        'interview-2023.txt'
    """
    if keep_names:
        return name
    p = Path(name)
    kept = _interview_form(p)
    if kept:
        return kept
    m = ID_FROM_TEXT_RE.search(p.stem)
    if m and str(int(m.group(1))) == interview_id:
        return f"Interview {interview_id}{_suffix(p)}"
    return f"interview-{interview_id}{_suffix(p)}"
