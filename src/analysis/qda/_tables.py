"""Tabular exports: coded segments and the interviewee x theme table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._ids import natural_sorted
from ..files import atomic_path

SEGMENT_COLUMNS = [
    "interview_id",
    "turn_id",
    "turn_index",
    "speaker_id",
    "source_file",
    "line_start",
    "line_end",
    "text",
    "stage",
    "stage_name",
    "topic",
    "theme",
    "kind",
    "score",
    "probability",
    "uncertain",
    "source",
]


def coded_segments(
    turns: pd.DataFrame, stages: pd.DataFrame, topics: pd.DataFrame, topic_info: pd.DataFrame, taxonomy
) -> pd.DataFrame:
    """One row per (coded interviewee turn, stage): where it is, what it says, its
    stage, theme (topic), kind, the stage's score and probability, whether it is
    uncertain (to check) and who coded it (``suite`` or ``researcher``).

    Example:
        >>> coded_segments(turns, stages, topics, topic_info, taxonomy).head()  # doctest: +SKIP
    """
    label = dict(zip(topic_info["topic"], topic_info["label"]))
    topic_of = dict(zip(topics["turn_id"], topics["topic"]))
    # each turn's row as a dict: a lookup per coded turn, not a pandas row per stage
    by_id = dict(zip(turns["turn_id"], turns.to_dict("records")))
    rows = []
    for entry in stages.itertuples():
        for stage in list(entry.stages):
            turn = by_id[entry.turn_id]
            topic = topic_of.get(entry.turn_id)
            rows.append(
                {
                    "interview_id": turn["interview_id"],
                    "turn_id": entry.turn_id,
                    "turn_index": int(turn["turn_index"]),
                    "speaker_id": turn["speaker_id"],
                    "source_file": turn["source_file"],
                    "line_start": int(turn["line_start"]),
                    "line_end": int(turn["line_end"]),
                    "text": turn["text"],
                    "stage": stage,
                    "stage_name": taxonomy.name_of(stage),
                    "topic": None if topic is None else int(topic),
                    "theme": None if topic is None else label.get(topic, ""),
                    "kind": entry.kind,
                    "score": float(getattr(entry, f"score_{stage}")),
                    # the coder's probability for this stage, whether to check it, who coded it
                    "probability": float(getattr(entry, f"p_{stage}", float("nan"))),
                    "uncertain": bool(getattr(entry, "uncertain", False)),
                    "source": getattr(entry, "source", "suite"),
                }
            )
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def interviewee_by_theme(turns: pd.DataFrame, topics: pd.DataFrame, topic_info: pd.DataFrame) -> pd.DataFrame:
    """Answers per interviewee (rows) and theme (columns, largest first); outliers left out.

    Example:
        >>> t = pd.DataFrame({"turn_id": ["a", "b", "c"], "speaker_id": ["I1", "I1", "I2"]})
        >>> tp = pd.DataFrame({"turn_id": ["a", "b", "c"], "topic": [0, 0, 1]})
        >>> ti = pd.DataFrame({"topic": [0, 1], "label": ["labels", "drift"], "size": [2, 1]})
        >>> interviewee_by_theme(t, tp, ti).loc["I1"].tolist()
        [2, 0]
    """
    merged = topics[topics["topic"] != -1][["turn_id", "topic"]].merge(turns[["turn_id", "speaker_id"]], on="turn_id")
    order = topic_info[topic_info["topic"] != -1].sort_values(["size", "topic"], ascending=[False, True])
    names = {t: f"T{t}: {lab}" for t, lab in zip(order["topic"], order["label"])}
    table = pd.crosstab(merged["speaker_id"], merged["topic"]).reindex(columns=list(order["topic"]), fill_value=0)
    table.columns = [names[t] for t in table.columns]
    table.index.name = "interviewee"
    return table.reindex(natural_sorted(table.index))


def write_xlsx(path: str | Path, sheets: dict[str, pd.DataFrame]) -> Path:
    """One sheet per table (sheet names cut to Excel's 31 characters), written atomically.

    Every text is a string cell, never a formula: openpyxl takes text starting with
    ``=`` for a formula, and transcript text may (``=HYPERLINK(...)``). Control
    characters, which ``.xlsx`` cannot hold, are shown as U+FFFD.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # installed with pandas' Excel support

    def cell(value):  # control characters cannot be stored in .xlsx (the CSV and parquet keep them)
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value

    path = Path(path)
    with atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in sheets.items():
                table = table.map(cell).rename(columns=cell)
                table.to_excel(writer, sheet_name=ILLEGAL_CHARACTERS_RE.sub("", name)[:31] or "sheet", index=False)
            for sheet in writer.book.worksheets:
                for row in sheet.iter_rows():
                    for cell in row:
                        if cell.data_type == "f":  # the suite writes no formulas: this is text
                            cell.data_type = "s"
    return path
