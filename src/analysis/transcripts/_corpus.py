"""Load a folder of transcripts into a turns table and a line accounting.

Example:
    >>> from analysis import load_corpus
    >>> corpus = load_corpus("data/raw/sample")          # doctest: +SKIP
    >>> corpus.turns.groupby("role").size()              # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field

from .._ids import ID_FROM_TEXT_RE, TITLE_NAME_RE, masked_name, natural_key
from .._settings import Settings
from ..errors import CorpusError, TranscriptError
from ._formats import QA_LABEL_RE, ROLE_LABEL_RE, ParsedTranscript, parse_file

ROLES = ("interviewer", "interviewee", "other")
INTERVIEWER_WORDS = {"interviewer", "moderator", "facilitator", "researcher", "host", "q"}
INTERVIEWEE_WORDS = {"interviewee", "participant", "respondent", "candidate", "a"}
# A substantive prompt without a question mark still counts as the question.
PROMPT_MIN_WORDS = 8

TURN_COLUMNS = [
    "turn_id",
    "interview_id",
    "turn_index",
    "speaker_label",
    "role",
    "speaker_id",
    "text",
    "n_words",
    "source_file",
    "line_start",
    "line_end",
    "start_s",
    "end_s",
    "format",
    "question_turn_id",
    "question_turn_index",
    "question_text",
]
ACCOUNT_COLUMNS = ["interview_id", "source_file", "line", "status", "turn_id", "reason", "text"]


class IngestSettings(Settings):
    """Attributes:
    speaker_roles: role of speakers whose labels are names, e.g.
        ``{"Alice": "interviewer"}``; role words (Interviewer 1, interviewee,
        Speaker 2, Q, A) need no entry.
    """

    speaker_roles: dict[str, Literal["interviewer", "interviewee", "other"]] = Field(default_factory=dict)


@dataclass
class LoadedCorpus:
    """What :func:`load_corpus` returns.

    Attributes:
        turns: One row per speaker turn (columns in ``TURN_COLUMNS``).
        lines: One row per non-blank input line: ``status`` is ``turn`` (its text is in
            ``turn_id``'s text) or ``title``/``speaker_label``/``markup``/``annotation``
            with a ``reason``.
        files: One row per file read: format, encoding, interview id, counts.
        skipped: Files in the folder that were not read, with the reason.
    """

    turns: pd.DataFrame
    lines: pd.DataFrame
    files: pd.DataFrame
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["source_file", "reason"]))

    def lines_to_review(self) -> pd.DataFrame:
        """Lines a researcher may want to check: titles, transcriber's notes, text before
        the first speaker label, and speaker labels with no text. Routine caption markup
        and speaker headings are left out."""
        routine = self.lines["status"].isin(["markup"]) | (
            self.lines["reason"].isin(["speaker heading", "speaker heading on its own line", "bold speaker line"])
        )
        plain_turn_text = (self.lines["status"] == "turn") & (self.lines["reason"] == "")
        return self.lines.loc[~routine & ~plain_turn_text, ["source_file", "line", "status", "reason", "text"]]

    def accounting_table(self) -> pd.DataFrame:
        """Non-blank lines per interview by status, with a check column ``unaccounted``
        (non-blank lines of the file minus lines in the accounting; always 0)."""
        table = self.lines.pivot_table(
            index="interview_id", columns="status", values="line", aggfunc="count", fill_value=0
        )
        table = table.reindex(sorted(table.index, key=natural_key))
        nonblank = self.files.set_index("interview_id")["nonblank_lines"]
        table["nonblank_lines"] = nonblank.reindex(table.index)
        table["unaccounted"] = table["nonblank_lines"] - self.lines.groupby("interview_id").size().reindex(table.index)
        return table

    def summary(self) -> pd.DataFrame:
        """Turns and words by role per interview."""
        return interview_summary(self.turns)


def interview_id_for(parsed: ParsedTranscript) -> str:
    """`## Interview 11 - NAME` gives `11`; so does `Interview 11.txt`. Without a
    number, the file stem (lower-case, spaces to dashes) is the id."""
    for source in (parsed.title or "", parsed.path.stem):
        m = ID_FROM_TEXT_RE.search(source)
        if m:
            return str(int(m.group(1)))
    m = re.search(r"\d+", parsed.path.stem)
    if m:
        return str(int(m.group(0)))
    return re.sub(r"[^\w-]+", "-", parsed.path.stem.strip().lower()).strip("-") or "interview"


def _role_of_label(label: str, speaker_roles: dict[str, str]) -> tuple[str | None, int | None]:
    """Role and number from a label, or (None, None) when only the file's context can tell."""
    for key, role in speaker_roles.items():
        if key.strip().lower() == label.strip().lower():
            return role, None
    m = ROLE_LABEL_RE.match(label.strip())
    if m:
        word = m.group("word").lower()
        num = int(m.group("num")) if m.group("num") else None
        if word in INTERVIEWER_WORDS:
            return "interviewer", num
        if word in INTERVIEWEE_WORDS:
            return "interviewee", num
        if word == "unknown speaker":
            return "other", None
        return None, num  # "Speaker 2": role from context
    if QA_LABEL_RE.match(label.strip()):
        return ("interviewer" if label.strip().lower() == "q" else "interviewee"), None
    return None, None


def _label_roles(parsed: ParsedTranscript, speaker_roles: dict[str, str]) -> tuple[list[str], dict, dict]:
    """Distinct labels in order of appearance, the role of each (lower-cased) label and
    the number a role-word label carries."""
    words: dict[str, int] = {}
    order: list[str] = []
    for t in parsed.turns:
        key = t.label.strip().lower()
        if key not in words:
            words[key] = 0
            order.append(t.label)
        words[key] += len(t.text.split())
    roles: dict[str, str] = {}
    numbers: dict[str, int | None] = {}
    unresolved: list[str] = []
    for label in order:
        key = label.strip().lower()
        if not key:
            roles[key], numbers[key] = "other", None
            continue
        role, num = _role_of_label(label, speaker_roles)
        numbers[key] = num
        if role is None:
            unresolved.append(label)
        else:
            roles[key] = role
    if unresolved:
        # Named or numbered speakers: the one who speaks most is interviewed, unless the
        # file already names an interviewee. Override with `speaker_roles` in the config.
        has_interviewee = "interviewee" in roles.values()
        top = max(unresolved, key=lambda lb: words[lb.strip().lower()])
        for label in unresolved:
            key = label.strip().lower()
            roles[key] = "interviewee" if (label == top and not has_interviewee) else "interviewer"
    return order, roles, numbers


def _speaker_ids(order: list[str], roles: dict, numbers: dict, interview_id: str) -> dict[str, str]:
    """Pseudonymous id per label: ``I11`` for a single interviewee, else ``I11-<role>-<n>``."""
    ids: dict[str, str] = {}
    per_role_seen: dict[str, list[str]] = {r: [] for r in ROLES}
    for label in order:
        key = label.strip().lower()
        per_role_seen[roles[key]].append(key)
    for role, keys in per_role_seen.items():
        # Role-word labels keep their number (`Interviewer` alone is number 1, the same
        # person as `Interviewer 1`); names and unlabelled text take the next free one.
        distinct_numbers: dict[str, int] = {}
        for k in keys:
            if ROLE_LABEL_RE.match(k) or QA_LABEL_RE.match(k):
                distinct_numbers[k] = numbers[k] if numbers[k] is not None else 1
        used = set(distinct_numbers.values())
        for k in keys:
            if k not in distinct_numbers:
                n = 1
                while n in used:
                    n += 1
                distinct_numbers[k] = n
                used.add(n)
        single_interviewee = role == "interviewee" and len(set(distinct_numbers.values())) == 1
        for k, n in distinct_numbers.items():
            ids[k] = f"I{interview_id}" if single_interviewee else f"I{interview_id}-{role}-{n}"
    return ids


def _resolve_speakers(parsed: ParsedTranscript, interview_id: str, speaker_roles: dict[str, str], keep_names: bool):
    """Give each distinct label a role, a pseudonymous id and a printable label."""
    order, roles, numbers = _label_roles(parsed, speaker_roles)
    ids = _speaker_ids(order, roles, numbers, interview_id)
    printable: dict[str, str] = {}
    for label in order:
        key = label.strip().lower()
        is_role_word = bool(ROLE_LABEL_RE.match(label.strip()) or QA_LABEL_RE.match(label.strip()))
        if not key:
            printable[key] = "(no label)"
        elif keep_names or is_role_word:
            printable[key] = label
        else:
            printable[key] = ids[key]
    return roles, ids, printable


def _question_for(turns: list[dict], index: int) -> dict | None:
    """The interviewer turn an interviewee turn answers: the latest interviewer turn
    with a question mark, unless a later interviewer turn is itself a substantive
    prompt (a question asked without `?`)."""
    for j in range(index - 1, -1, -1):
        t = turns[j]
        if t["role"] != "interviewer":
            continue
        if "?" in t["text"] or t["n_words"] >= PROMPT_MIN_WORDS:
            return t
    for j in range(index - 1, -1, -1):
        if turns[j]["role"] == "interviewer":
            return turns[j]
    return None


def _build_tables(parsed: ParsedTranscript, interview_id: str, speaker_roles: dict[str, str], keep_names: bool):
    source = masked_name(parsed.path.name, keep_names)
    roles, ids, printable = _resolve_speakers(parsed, interview_id, speaker_roles, keep_names)
    rows: list[dict] = []
    account: list[dict] = []
    for index, raw in enumerate(parsed.turns):
        key = raw.label.strip().lower()
        turn_id = f"{interview_id}-{index:04d}"
        text = raw.text
        rows.append(
            {
                "turn_id": turn_id,
                "interview_id": interview_id,
                "turn_index": index,
                "speaker_label": printable[key],
                "role": roles[key],
                "speaker_id": ids[key],
                "text": text,
                "n_words": len(text.split()),
                "source_file": source,
                "line_start": raw.line_start,
                "line_end": raw.line_end,
                "start_s": raw.start_s,
                "end_s": raw.end_s,
                "format": parsed.format,
            }
        )
        if (
            raw.label_line is not None
            and not raw.parts
            and not any(r.line == raw.label_line for r in parsed.other_lines)
        ):
            account.append(
                {
                    "interview_id": interview_id,
                    "source_file": source,
                    "line": raw.label_line,
                    "status": "speaker_label",
                    "turn_id": turn_id,
                    "reason": "speaker label with no text (an empty turn)",
                    "text": printable[key],
                }
            )
        for line_no, part in raw.parts:
            account.append(
                {
                    "interview_id": interview_id,
                    "source_file": source,
                    "line": line_no,
                    "status": "turn",
                    "turn_id": turn_id,
                    "reason": "text before the first speaker label" if raw.unlabelled else "",
                    "text": part,
                }
            )
    for rec in parsed.other_lines:
        text = rec.text
        if rec.status in {"title", "speaker_label"} and not keep_names:
            text = _mask_line(text, printable, rec.status)
        account.append(
            {
                "interview_id": interview_id,
                "source_file": source,
                "line": rec.line,
                "status": rec.status,
                "turn_id": None,
                "reason": rec.reason,
                "text": text,
            }
        )
    for i, row in enumerate(rows):
        q = _question_for(rows, i) if row["role"] == "interviewee" else None
        row["question_turn_id"] = q["turn_id"] if q else None
        row["question_turn_index"] = q["turn_index"] if q else None
        row["question_text"] = q["text"] if q else None
    return rows, account


def _mask_line(text: str, printable: dict[str, str], status: str) -> str:
    if status == "title":
        m = TITLE_NAME_RE.match(text.lstrip("# ").strip())
        return f"{m.group('head')} - [name]" if m else text
    bare = text.strip().strip("#*").strip().rstrip(":").strip().lower()
    return printable.get(bare, text)


def _files_in(folder: Path) -> tuple[list[Path], list[dict]]:
    files, skipped = [], []
    for path in sorted(folder.rglob("*"), key=lambda p: natural_key(str(p.relative_to(folder)))):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            if path.is_file():
                skipped.append({"source_file": str(rel), "reason": "hidden file"})
            continue
        if path.is_file():
            files.append(path)
    return files, skipped


def _parse_all(folder: Path, paths: list[Path]) -> dict[str, ParsedTranscript]:
    """Parse every file; all problems of the folder are raised together."""
    problems: list[TranscriptError | str] = []
    parsed_by_id: dict[str, ParsedTranscript] = {}
    for path in paths:
        try:
            parsed = parse_file(path)
        except TranscriptError as exc:
            problems.append(exc)
            continue
        interview_id = interview_id_for(parsed)
        if interview_id in parsed_by_id:
            other = parsed_by_id[interview_id].path.relative_to(folder)
            problems.append(
                f"{path.relative_to(folder)} and {other} both claim interview id {interview_id}; "
                "keep one, or rename one"
            )
            continue
        parsed_by_id[interview_id] = parsed
    if problems:
        raise CorpusError(folder, problems)
    return parsed_by_id


def _file_row(
    folder: Path, parsed: ParsedTranscript, interview_id: str, rows: list[dict], account: list[dict], keep_names: bool
) -> dict:
    return {
        "interview_id": interview_id,
        "source_file": masked_name(str(parsed.path.relative_to(folder)), keep_names),
        "format": parsed.format,
        "encoding": parsed.encoding,
        "unit": parsed.unit,
        "nonblank_lines": parsed.n_nonblank,
        "turns": len(rows),
        "lines_in_turns": sum(1 for a in account if a["status"] == "turn"),
        "lines_other": sum(1 for a in account if a["status"] != "turn"),
    }


def load_corpus(
    folder: str | Path, *, speaker_roles: dict[str, str] | None = None, keep_names: bool = False
) -> LoadedCorpus:
    """Read every transcript in ``folder`` (recursively) into one turns table.

    Args:
        folder: A folder of transcripts, one interview per file: plain `Speaker: text`
            files, Delve Markdown exports, WebVTT/SRT captions or .docx documents.
        speaker_roles: Label-to-role overrides for transcripts whose speakers are
            names (`{"Alice": "interviewer"}`).
        keep_names: Keep names from titles, file names and speaker labels. Off by
            default: speakers appear as pseudonymous ids such as ``I11``.

    Returns:
        A :class:`LoadedCorpus` with turns, line accounting, files and skipped files.

    Raises:
        CorpusError: one or more files cannot be read, or two files claim the same
            interview id. The message lists every problem with file and line.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(folder, [f"{folder} is not a folder"])
    speaker_roles = {k: v for k, v in (speaker_roles or {}).items()}
    for label, role in speaker_roles.items():
        if role not in ROLES:
            raise CorpusError(
                folder, [f"speaker_roles: {label!r} has role {role!r}; expected one of {', '.join(ROLES)}"]
            )
    paths, skipped = _files_in(folder)
    if not paths:
        raise CorpusError(folder, [f"no transcript files in {folder}"])
    parsed_by_id = _parse_all(folder, paths)
    turn_rows, account_rows, file_rows = [], [], []
    for interview_id in sorted(parsed_by_id, key=natural_key):
        parsed = parsed_by_id[interview_id]
        rows, account = _build_tables(parsed, interview_id, speaker_roles, keep_names)
        turn_rows += rows
        account_rows += sorted(account, key=lambda a: a["line"])
        file_rows.append(_file_row(folder, parsed, interview_id, rows, account, keep_names))
    turns = pd.DataFrame(turn_rows, columns=TURN_COLUMNS)
    turns = turns.astype(
        {
            "turn_index": "int64",
            "n_words": "int64",
            "line_start": "int64",
            "line_end": "int64",
            "start_s": "float64",
            "end_s": "float64",
            "question_turn_index": "Int64",
        }
    )
    lines = pd.DataFrame(account_rows, columns=ACCOUNT_COLUMNS)
    files = pd.DataFrame(file_rows)
    return LoadedCorpus(
        turns=turns, lines=lines, files=files, skipped=pd.DataFrame(skipped, columns=["source_file", "reason"])
    )


def interview_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """Turns and words by role, one row per interview, in interview order.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"interview_id": ["1", "1"], "role": ["interviewer", "interviewee"],
        ...                   "n_words": [5, 12]})
        >>> int(interview_summary(t).loc["1", "words_interviewee"])
        12
    """
    grouped = turns.groupby(["interview_id", "role"]).agg(turns=("role", "size"), words=("n_words", "sum"))
    wide = grouped.unstack("role", fill_value=0)
    wide.columns = [f"{measure}_{role}" for measure, role in wide.columns]
    for role in ROLES:
        for measure in ("turns", "words"):
            if f"{measure}_{role}" not in wide:
                wide[f"{measure}_{role}"] = 0
    wide = wide[[f"{m}_{r}" for m in ("turns", "words") for r in ROLES]]
    total = wide[[f"words_{r}" for r in ROLES]].sum(axis=1)
    wide["interviewee_word_share"] = (wide["words_interviewee"] / total.where(total > 0)).round(3)
    return wide.loc[sorted(wide.index, key=natural_key)]
