"""The researcher's review decisions, appended one at a time to a CSV of human codes.

Each decision is written at once (flushed and fsynced) and the file is never rewritten,
so a crashed kernel loses nothing. One row per stage given to the answer; a reviewed
answer with no stage is one row with code ``none``; a skipped answer one row with code
``skip`` (not a code: it is never a label). When a turn is decided twice, the later
decision wins. Every later run reads the file as human codes (``read_codes_folder``),
whose agreement units are exactly the reviewed turns.

Example:
    >>> log = ReviewLog(tmp / "review.csv")                                    # doctest: +SKIP
    >>> log.record("7-0012", "7", 12, ["data"], coder="ana")                  # doctest: +SKIP
    >>> log.decisions()                                                       # doctest: +SKIP
    {'7-0012': {'data'}}
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..errors import TranscriptError

REVIEW_COLUMNS = ["interview_id", "turn_index", "turn_id", "code", "coder", "time"]
REVIEW_LOG_NAME = "review.csv"  # the log's file name in ``paths.review_codes``
NONE_CODE = "none"  # reviewed: the answer carries no stage
SKIP_CODE = "skip"  # looked at, not decided: never a label


class ReviewLog:
    """An append-only CSV of review decisions (columns ``interview_id, turn_index, turn_id,
    code, coder, time``; time in ISO 8601, UTC).

    Args:
        path: the CSV; created (with its folder) on the first decision.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def in_folder(cls, folder: str | Path) -> ReviewLog:
        """The log ``review.csv`` in ``folder`` (``paths.review_codes``)."""
        return cls(Path(folder) / REVIEW_LOG_NAME)

    def record(self, turn_id: str, interview_id: str, turn_index: int, stages: list[str], coder: str) -> None:
        """Append one decision: the answer carries ``stages`` (``[]``: reviewed, no stage).

        Raises:
            ValueError: a stage that is empty, ``none``, ``skip`` or holds a comma or ``;``.
        """
        codes = list(dict.fromkeys(str(s).strip() for s in stages))
        for code in codes:
            if not code or code.lower() in {NONE_CODE, SKIP_CODE} or any(c in code for c in ",;\n"):
                raise ValueError(f"{code!r} is not a stage id (give [] for 'no stage')")
        self._append(turn_id, interview_id, turn_index, codes or [NONE_CODE], coder)

    def skip(self, turn_id: str, interview_id: str, turn_index: int, coder: str) -> None:
        """Append a skip: not served again in this session, never used as a label."""
        self._append(turn_id, interview_id, turn_index, [SKIP_CODE], coder)

    def _append(self, turn_id: str, interview_id: str, turn_index: int, codes: list[str], coder: str) -> None:
        time = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        new = not self.path.is_file() or self.path.stat().st_size == 0
        if new:
            writer.writerow(REVIEW_COLUMNS)
        for code in codes:
            writer.writerow([str(interview_id), int(turn_index), str(turn_id), code, str(coder), time])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write per decision, in append mode: its rows stay together, earlier bytes are never touched.
        with open(self.path, "a+b") as fh:
            if not new:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":  # a line cut by an interrupted write: start a fresh line
                    buffer = io.StringIO("\n" + buffer.getvalue())
            fh.write(buffer.getvalue().encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    def read(self) -> pd.DataFrame:
        """Every row, in file order (an empty table when there is no log yet).

        Raises:
            TranscriptError: a row without its six fields (naming the file and line).
        """
        if not self.path.is_file():
            return pd.DataFrame(columns=REVIEW_COLUMNS)
        with open(self.path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows or [c.strip() for c in rows[0]] != REVIEW_COLUMNS:
            raise TranscriptError(self.path, f"not a review log (expected columns {', '.join(REVIEW_COLUMNS)})", 1)
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != len(REVIEW_COLUMNS) or not all(cell.strip() for cell in row):
                raise TranscriptError(
                    self.path, "incomplete row (an interrupted write?); delete this line and review it again", line
                )
            if not row[1].strip().lstrip("-").isdigit():
                raise TranscriptError(self.path, f"turn_index {row[1]!r} is not a number", line)
        return pd.DataFrame(rows[1:], columns=REVIEW_COLUMNS).astype({"turn_index": int})

    def decisions(self, coder: str | None = None) -> dict[str, set[str]]:
        """turn_id -> stages of its latest decision (``set()``: reviewed, no stage); skips left out.

        Args:
            coder: only this coder's decisions (default: everyone's, the latest wins).
        """
        table = self.read()
        if coder is not None:
            table = table[table["coder"] == coder]
        table = table[latest_decision_rows(table, by_coder=False)]
        return {
            turn_id: {c for c in group["code"] if c != NONE_CODE}
            for turn_id, group in table.groupby("turn_id", sort=False)
        }

    def reviewed_ids(self) -> set[str]:
        """Turn ids decided or skipped."""
        return set(self.read()["turn_id"])


def latest_decision_rows(table: pd.DataFrame, by_coder: bool = True) -> pd.Series:
    """Which rows of a review-log table belong to the latest decision of their turn (of their
    coder, with ``by_coder``); skip rows are never such a row.

    A decision is a run of consecutive rows of one turn, coder and time (one append).
    """
    if table.empty:
        return pd.Series(False, index=table.index, dtype=bool)
    keys = table[["turn_id", "coder", "time"]].astype(str).agg("\x1f".join, axis=1)
    decision = (keys != keys.shift()).cumsum()
    is_skip = table["code"].str.strip().str.lower() == SKIP_CODE
    owner = table["turn_id"].astype(str) + ("\x1f" + table["coder"].astype(str) if by_coder else "")
    last = decision[~is_skip].groupby(owner[~is_skip]).max()
    return ~is_skip & (decision == owner.map(last))
