"""Review batches on paper: the next answers of the review queue as a CSV a researcher
fills in a spreadsheet, and the filled file read back into the review log.

The batch holds, per answer, the question, the turns before and after, the suite's
suggestion with its probabilities and evidence, and an empty ``stages`` column to fill
with stage ids separated by ``;``, or ``none`` (no stage) or ``skip``. Its first row is
a comment (``# ...``) listing the allowed ids.

Example:
    >>> write_review_batch(queue, coding.table, turns, "batch.csv", taxonomy.ids)   # doctest: +SKIP
    >>> import_review_batch("batch.csv", ReviewLog("data/codes/review.csv"), taxonomy.ids, "ana")  # doctest: +SKIP
    {'recorded': 3, 'none': 1, 'skipped': 0, 'empty': 6, 'unchanged': 0}
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..errors import TranscriptError
from ._review_log import NONE_CODE, SKIP_CODE, ReviewLog

BATCH_COLUMNS = [
    "turn_id",
    "interview_id",
    "turn_index",
    "question",
    "previous_turn",
    "text",
    "next_turn",
    "suggested",
    "p_suggested",
    "evidence",
    "stages",
]


def review_context(turns: pd.DataFrame, turn_ids: list[str]) -> pd.DataFrame:
    """The surroundings of each answer: its question and the turns just before and after.

    Returns:
        One row per turn id, in the order given: ``turn_id, interview_id, turn_index,
        source_file, line_start, text, question, question_turn_id, previous_turn,
        previous_role, previous_turn_id, next_turn, next_role`` (empty text where there is none).
    """
    ordered = turns.sort_values(["interview_id", "turn_index"]).reset_index(drop=True)
    by_interview = ordered.groupby("interview_id", sort=False)
    context = ordered[["turn_id", "interview_id", "turn_index", "source_file", "line_start", "text"]].copy()
    context["question"] = ordered.get("question_text", pd.Series("", index=ordered.index)).fillna("")
    context["question_turn_id"] = ordered.get("question_turn_id", pd.Series("", index=ordered.index)).fillna("")
    for side, step in (("previous", 1), ("next", -1)):
        context[f"{side}_turn"] = by_interview["text"].shift(step).fillna("")
        context[f"{side}_role"] = by_interview["role"].shift(step).fillna("")
        context[f"{side}_turn_id"] = by_interview["turn_id"].shift(step).fillna("")
    context = context.set_index("turn_id")
    missing = [t for t in turn_ids if t not in context.index]
    if missing:
        raise KeyError(f"{len(missing)} turn id(s) are not in the turns table (e.g. {missing[0]})")
    return context.loc[list(turn_ids)].reset_index()


def suggested_stages(row: Mapping, stage_ids: list[str]) -> tuple[list[str], dict[str, float]]:
    """The suite's stages for one coding row and the probability of each (``p_<stage>``),
    or, when it gives none, ``{"none": 1 - p_coded}``; probabilities are left out when the
    coding carries none."""
    value = row.get("stages")
    if isinstance(value, str):
        stages = [s for s in value.split(";") if s]
    else:
        stages = [str(s) for s in (value if value is not None else []) if isinstance(s, str) and s]
    probabilities = {}
    if stages:
        probabilities = {s: float(row[f"p_{s}"]) for s in stages if pd.notna(row.get(f"p_{s}"))}
    elif pd.notna(row.get("p_coded")):
        probabilities = {NONE_CODE: 1.0 - float(row["p_coded"])}
    return stages, probabilities


def _allowed_note(stage_ids: list[str], stage_names: Mapping[str, str] | None) -> str:
    names = stage_names or {}
    # no commas, so that the row stays one unquoted cell (readable in a text editor too)
    listed = " | ".join(f"{s} ({names[s]})" if s in names else s for s in stage_ids)
    return (
        f"# Fill the stages column with stage ids separated by ';' - {listed} - or {NONE_CODE} (no stage) "
        f"or {SKIP_CODE}. Rows left empty are not recorded."
    )


def write_review_batch(
    queue: pd.DataFrame,
    coding: pd.DataFrame,
    turns: pd.DataFrame,
    path: str | Path,
    stage_ids: list[str],
    stage_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Write the answers of ``queue`` (in its order) as a batch to fill in a spreadsheet.

    Args:
        queue: rows with ``turn_id`` (``review_queue`` output).
        coding: ``StageCoding.table`` (or the ``code-stages`` CSV read back).
        turns: the turns table (questions and neighbouring turns).

    Returns:
        The batch as written (without its comment row).
    """
    by_turn = coding.set_index("turn_id")
    context = review_context(turns, queue["turn_id"].tolist())
    rows = []
    for ctx in context.to_dict("records"):
        row = by_turn.loc[ctx["turn_id"]].to_dict()
        stages, probabilities = suggested_stages(row, stage_ids)
        rows.append(
            {
                "turn_id": ctx["turn_id"],
                "interview_id": ctx["interview_id"],
                "turn_index": int(ctx["turn_index"]),
                "question": _one_line(ctx["question"]),
                "previous_turn": _speaking(ctx["previous_role"], ctx["previous_turn"]),
                "text": _one_line(ctx["text"]),
                "next_turn": _speaking(ctx["next_role"], ctx["next_turn"]),
                "suggested": ";".join(stages) or NONE_CODE,
                "p_suggested": ";".join(f"{s}={p:.2f}" for s, p in probabilities.items()),
                "evidence": str(row.get("matched_cues") or "") if pd.notna(row.get("matched_cues")) else "",
                "stages": "",
            }
        )
    batch = pd.DataFrame(rows, columns=BATCH_COLUMNS)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_allowed_note(stage_ids, stage_names)])
    batch.to_csv(buffer, index=False, lineterminator="\n")
    # utf-8-sig: spreadsheets open the file as UTF-8 only with the byte-order mark
    Path(path).write_text(buffer.getvalue(), encoding="utf-8-sig")
    return batch


def _one_line(text) -> str:
    return " ".join(str(text).split()) if isinstance(text, str) else ""


def _speaking(role: str, text: str) -> str:
    return f"[{role}] {_one_line(text)}" if text else ""


def import_review_batch(
    path: str | Path,
    log: ReviewLog,
    stage_ids: list[str],
    coder: str,
    turns: pd.DataFrame | None = None,
) -> dict[str, int]:
    """Append the decisions of a filled batch to ``log``. Every row is checked before
    anything is written, so a file with an error adds nothing (fix the line, read it again).
    A decision equal to the coder's latest one for that answer is not written again.

    Args:
        turns: when given, each row's turn id must be one of its turns, with that interview and index.

    Returns:
        counts: ``recorded`` (with stages), ``none``, ``skipped``, ``empty`` (rows left
        empty, not recorded) and ``unchanged`` (already in the log).

    Raises:
        TranscriptError: a missing column, an unknown stage id, ``none``/``skip`` mixed with
            stages, a bad turn index or an unknown turn (naming the file and line).
    """
    path = Path(path)
    rows = _batch_rows(path)
    allowed = {s.lower(): s for s in stage_ids}
    known = turns.set_index("turn_id")[["interview_id", "turn_index"]] if turns is not None else None
    counts = {"recorded": 0, "none": 0, "skipped": 0, "empty": 0, "unchanged": 0}
    planned = []
    for line, row in rows:
        tokens = [t for t in re.split(r"[;,\s]+", row["stages"].strip().lower()) if t]
        if not tokens:
            counts["empty"] += 1
            continue
        turn_id, interview_id = row["turn_id"].strip(), row["interview_id"].strip()
        try:
            turn_index = int(row["turn_index"])
        except ValueError:
            raise TranscriptError(path, f"turn_index {row['turn_index']!r} is not a number", line) from None
        if known is not None:
            if turn_id not in known.index:
                raise TranscriptError(path, f"turn {turn_id!r} is not among the loaded transcripts", line)
            where = (str(known.at[turn_id, "interview_id"]), int(known.at[turn_id, "turn_index"]))
            if where != (interview_id, turn_index):
                raise TranscriptError(
                    path, f"turn {turn_id!r} is not turn {turn_index} of interview {interview_id}", line
                )
        unknown = [t for t in tokens if t not in allowed and t not in {NONE_CODE, SKIP_CODE}]
        if unknown:
            raise TranscriptError(
                path,
                f"unknown stage id {unknown[0]!r} in the stages column "
                f"(allowed: {', '.join(stage_ids)}, {NONE_CODE}, {SKIP_CODE})",
                line,
            )
        if len(tokens) > 1 and ({NONE_CODE, SKIP_CODE} & set(tokens)):
            raise TranscriptError(path, f"{'; '.join(tokens)!r}: {NONE_CODE} and {SKIP_CODE} stand alone", line)
        planned.append((turn_id, interview_id, turn_index, tokens))
    latest = log.decisions(coder)
    for turn_id, interview_id, turn_index, tokens in planned:
        if tokens == [SKIP_CODE]:
            log.skip(turn_id, interview_id, turn_index, coder)
            counts["skipped"] += 1
            continue
        stages = [] if tokens == [NONE_CODE] else [allowed[t] for t in tokens]
        if latest.get(turn_id) == set(stages):
            counts["unchanged"] += 1
            continue
        log.record(turn_id, interview_id, turn_index, stages, coder)
        latest[turn_id] = set(stages)
        counts["none" if not stages else "recorded"] += 1
    return counts


def _batch_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of a filled batch, after its comment rows; the delimiter is told from the
    header (a spreadsheet may save with ``;`` or tabs)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(path, f"not a readable CSV ({exc})") from None
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines) and (not lines[start].strip() or lines[start].lstrip().lstrip('"').startswith("#")):
        start += 1
    if start == len(lines):
        raise TranscriptError(path, "no header row (expected columns turn_id, interview_id, turn_index, stages)")
    header_line = lines[start]
    delimiter = max([",", ";", "\t"], key=header_line.count)
    reader = csv.reader(io.StringIO("".join(lines[start:])), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in ("turn_id", "interview_id", "turn_index", "stages") if c not in header]
    if missing:
        raise TranscriptError(path, f"missing column(s) {', '.join(missing)}", start + 1)
    out, previous_end = [], start + 1
    for cells in reader:
        line = previous_end + 1  # a record may span lines (a cell with a line break): its first line
        previous_end = start + reader.line_num
        if not any(c.strip() for c in cells):
            continue
        cells = cells + [""] * (len(header) - len(cells))
        out.append((line, dict(zip(header, cells))))
    return out
