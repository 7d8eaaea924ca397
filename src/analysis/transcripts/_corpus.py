"""Load a folder of transcripts into a turns table and a line accounting.

Example:
    >>> from analysis import load_corpus
    >>> corpus = load_corpus("data/raw/sample")          # doctest: +SKIP
    >>> corpus.turns.groupby("role").size()              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field

from .._ids import ID_FROM_TEXT_RE, TITLE_NAME_RE, derived_source_name, masked_name, natural_key
from .._settings import Settings
from ..errors import CorpusError, TranscriptError
from ._formats import (
    DEFAULT_MAX_TEXT_MB,
    DEFAULT_MAX_UNCOMPRESSED_MB,
    INTERVIEWEE_WORDS,
    INTERVIEWER_WORDS,
    QA_LABEL_RE,
    ROLE_LABEL_RE,
    VOICE_RE,
    ParsedTranscript,
    parse_file,
)
from ._privacy import Deidentifier, names_in_title, one_off_label

ROLES = ("interviewer", "interviewee", "other")
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
WARNING_COLUMNS = ["interview_id", "source_file", "line", "warning"]


class IngestSettings(Settings):
    """Attributes:
    speaker_roles: role of speakers whose labels are names, e.g.
        ``{"Alice": "interviewer"}``; role words (Interviewer 1, interviewee,
        Speaker 2, Q, A) need no entry. A label named here is a speaker wherever it
        starts a line.
    max_uncompressed_mb: largest size a ``.docx`` may unpack to (all its members, images
        included); checked before anything is unpacked.
    max_text_mb: largest text a transcript may hold: a text file's size, or the XML
        (text and markup) of a ``.docx``. A long interview is under 1 MB of text; a
        file of many tiny turns takes up to 50 times its size in memory.
    """

    speaker_roles: dict[str, Literal["interviewer", "interviewee", "other"]] = Field(default_factory=dict)
    max_uncompressed_mb: float = Field(DEFAULT_MAX_UNCOMPRESSED_MB, gt=0, le=4096)
    max_text_mb: float = Field(DEFAULT_MAX_TEXT_MB, gt=0, le=1024)


@dataclass
class LoadedCorpus:
    """What :func:`load_corpus` returns.

    Attributes:
        turns: One row per speaker turn (columns in ``TURN_COLUMNS``).
        lines: One row per non-blank input line: ``status`` is ``turn`` (its text is in
            ``turn_id``'s text) or ``title``/``speaker_label``/``markup``/``annotation``/
            ``not_read`` (a .docx's text boxes, headers, footers, notes, comments) with a
            ``reason``.
        files: One row per file read: format, encoding, interview id, counts.
        skipped: Entries of the folder that were not read (hidden files and folders,
            links to folders, broken links, pipes, devices), with the reason.
        warnings: Lines read with a caveat worth a look (``source_file``, ``line``,
            ``warning``): a line not in the file's encoding, a `Word:` prefix read as
            text, a line split at a form feed or similar.
        privacy: Names learned and replacements made per route (no names in it);
            empty with ``keep_names``.
    """

    turns: pd.DataFrame
    lines: pd.DataFrame
    files: pd.DataFrame
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["source_file", "reason"]))
    warnings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WARNING_COLUMNS))
    privacy: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["learned_from", "names", "replacements"])
    )

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

    def notices(self, limit: int | None = None) -> list[str]:
        """What a researcher should know beyond the tables, one sentence each: every entry
        of the folder not read, then up to ``limit`` warnings (lines read with a caveat).

        Example:
            >>> skipped = pd.DataFrame({"source_file": [".notes"], "reason": ["hidden file"]})
            >>> LoadedCorpus(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), skipped).notices()
            ['not read: .notes (hidden file)']
        """
        out = [f"not read: {s.source_file} ({s.reason})" for s in self.skipped.itertuples()]
        shown = self.warnings if limit is None else self.warnings.head(limit)
        for w in shown.itertuples():
            where = w.source_file if pd.isna(w.line) else f"{w.source_file}, line {w.line}"
            out.append(f"check {where}: {w.warning}")
        if len(shown) < len(self.warnings):
            out.append(f"... and {len(self.warnings) - len(shown)} more warnings (LoadedCorpus.warnings, notebook 01)")
        return out


def interview_id_for(parsed: ParsedTranscript, keep_names: bool = False) -> str:
    """`## Interview 11 - NAME` gives `11`; so does `Interview 11.txt`. Without a number,
    ``x`` and a short hash of the transcript's text (a file name may be a person's name;
    a hash of it could be checked against a list of names), or with ``keep_names`` the
    file stem (lower-case, spaces to dashes)."""
    for source in (parsed.title or "", parsed.path.stem):
        m = ID_FROM_TEXT_RE.search(source)
        if m:
            return str(int(m.group(1)))
    m = re.search(r"\d+", parsed.path.stem)
    if m:
        return str(int(m.group(0)))
    if not keep_names:
        content = "\n".join([t.label + "\n" + t.text for t in parsed.turns] + [r.text for r in parsed.other_lines])
        return "x" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:6]
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


def _questions(turns: list[dict]) -> list[dict | None]:
    """For each turn, the interviewer turn it answers if it is an interviewee turn: the
    latest interviewer turn with a question mark or a substantive prompt (a question
    asked without `?`), else the latest interviewer turn. One pass, so a file of many
    thousand answers and no question stays linear."""
    answered: list[dict | None] = []
    last_prompt = last_interviewer = None
    for t in turns:
        answered.append((last_prompt or last_interviewer) if t["role"] == "interviewee" else None)
        if t["role"] == "interviewer":
            last_interviewer = t
            if "?" in t["text"] or t["n_words"] >= PROMPT_MIN_WORDS:
                last_prompt = t
    return answered


def _build_tables(parsed: ParsedTranscript, interview_id: str, speaker_roles: dict[str, str], keep_names: bool):
    source = derived_source_name(parsed.path.name, interview_id, keep_names)
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
        # A `Label:` line without text of its own is listed too (the turn's text, if any,
        # is on the lines below), unless the parser listed it as a heading.
        if raw.label_line is not None and not raw.label_accounted:
            account.append(
                {
                    "interview_id": interview_id,
                    "source_file": source,
                    "line": raw.label_line,
                    "status": "speaker_label",
                    "turn_id": turn_id,
                    "reason": "speaker label with no text (an empty turn)"
                    if not raw.parts
                    else "speaker label on its own line",
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
    for row, q in zip(rows, _questions(rows)):
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


def _special_file(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _classify(entry: os.DirEntry) -> tuple[str, str]:
    """("file" | "folder" | "skip", reason) for one folder entry; links to files are
    followed, links to folders are not (no loops, nothing read from outside the folder)."""
    if entry.name.startswith("."):
        return "skip", "hidden folder: its files are not read" if entry.is_dir(follow_symlinks=False) else "hidden file"
    if entry.name.startswith("~$"):
        return "skip", "Office lock file (the document is open in Word)"
    if entry.is_dir(follow_symlinks=False):
        return "folder", ""
    link = entry.is_symlink()
    try:
        mode = entry.stat().st_mode  # follows a link
    except FileNotFoundError:
        return "skip", "broken link: its target does not exist" if link else "disappeared while the folder was read"
    except OSError as exc:
        return "skip", f"{'link' if link else 'entry'} that cannot be followed ({_os_reason(exc)})"
    if stat.S_ISDIR(mode):
        return "skip", "link to a folder: not followed (move or copy the folder here to read it)"
    if stat.S_ISREG(mode):
        return "file", ""
    return "skip", f"{_special_file(mode)}, not a file"


def _files_in(folder: Path) -> tuple[list[Path], list[dict], list[str]]:
    """Transcript files under ``folder`` (recursively), every entry skipped with the reason
    (hidden files and folders, links to folders, broken links, pipes, sockets, devices),
    and the sub-folders that cannot be read: those are problems, not skips, since their
    interviews would silently be missing."""
    files: list[Path] = []
    skipped: list[dict] = []
    problems: list[str] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError as exc:
            where = "the corpus folder" if current == folder else f"sub-folder {current.relative_to(folder)}"
            problems.append(
                f"{where} cannot be read ({_os_reason(exc)}); give your user read access to it, or move it out of "
                f"{folder}"
            )
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                kind, reason = _classify(entry)
            except OSError as exc:
                kind, reason = "skip", f"cannot be examined ({_os_reason(exc)})"
            if kind == "folder":
                pending.append(path)
            elif kind == "file":
                files.append(path)
            else:
                skipped.append({"source_file": str(path.relative_to(folder)), "reason": reason})

    def order(p: Path):
        return natural_key(str(p.relative_to(folder)))

    skipped.sort(key=lambda s: natural_key(s["source_file"]))
    return sorted(files, key=order), skipped, problems


def _parse_all(
    folder: Path,
    paths: list[Path],
    keep_names: bool = False,
    *,
    problems: list[TranscriptError | str] | None = None,
    speaker_roles: dict[str, str] | None = None,
    max_uncompressed_mb: float = DEFAULT_MAX_UNCOMPRESSED_MB,
    max_text_mb: float = DEFAULT_MAX_TEXT_MB,
) -> dict[str, ParsedTranscript]:
    """Parse every file; all problems of the folder (with ``problems`` found while
    listing it) are raised together."""
    problems = list(problems or [])
    parsed_by_id: dict[str, ParsedTranscript] = {}
    for path in paths:
        try:
            parsed = parse_file(
                path, speaker_roles=speaker_roles, max_uncompressed_mb=max_uncompressed_mb, max_text_mb=max_text_mb
            )
        except TranscriptError as exc:
            problems.append(exc)
            continue
        except Exception as exc:  # an input no check foresaw: still this file's problem, not a traceback
            problems.append(
                TranscriptError(path, f"could not be read ({type(exc).__name__}: {str(exc)[:200]}); please report it")
            )
            continue
        interview_id = interview_id_for(parsed, keep_names)
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


# Files systems and tools leave in folders: their names say nothing about a person.
SYSTEM_FILES = {".DS_Store", "Thumbs.db", "desktop.ini", ".gitkeep", ".gitignore", ".keep", "Icon\r"}


def _folder_aliases(folder: Path, paths: list[Path]) -> dict[Path, str]:
    """``folder-1``, ``folder-2``... for the sub-folders holding files, in natural order:
    a sub-folder may be named after the person interviewed."""
    parents = {p.relative_to(folder).parent for p in paths} - {Path(".")}
    return {rel: f"folder-{k}" for k, rel in enumerate(sorted(parents, key=lambda r: natural_key(str(r))), start=1)}


def _shown_path(rel: Path, interview_id: str | None, aliases: dict[Path, str], keep_names: bool) -> str:
    """A file's path relative to the corpus folder as outputs show it (derived, never copied)."""
    if keep_names:
        return str(rel)
    if interview_id:
        name = derived_source_name(rel.name, interview_id, False)
    else:
        name = rel.name if rel.name in SYSTEM_FILES else masked_name(rel.name, False)
    if rel.parent == Path("."):
        return name
    if rel.parent not in aliases:
        aliases[rel.parent] = f"folder-{len(aliases) + 1}"
    return f"{aliases[rel.parent]}/{name}"


def _file_row(
    folder: Path,
    parsed: ParsedTranscript,
    interview_id: str,
    rows: list[dict],
    account: list[dict],
    keep_names: bool,
    aliases: dict[Path, str] | None = None,
) -> dict:
    return {
        "interview_id": interview_id,
        "source_file": _shown_path(parsed.path.relative_to(folder), interview_id, aliases or {}, keep_names),
        "format": parsed.format,
        "encoding": parsed.encoding,
        "unit": parsed.unit,
        "nonblank_lines": parsed.n_nonblank,
        "turns": len(rows),
        "lines_in_turns": sum(1 for a in account if a["status"] == "turn"),
        "lines_other": sum(1 for a in account if a["status"] != "turn"),
    }


def load_corpus(
    folder: str | Path,
    *,
    speaker_roles: dict[str, str] | None = None,
    keep_names: bool = False,
    names: list[str] | tuple[str, ...] = (),
    pseudonyms: dict[str, str] | None = None,
    max_uncompressed_mb: float = DEFAULT_MAX_UNCOMPRESSED_MB,
    max_text_mb: float = DEFAULT_MAX_TEXT_MB,
) -> LoadedCorpus:
    """Read every transcript in ``folder`` (recursively) into one turns table.

    Args:
        folder: A folder of transcripts, one interview per file: plain `Speaker: text`
            files, Delve Markdown exports, WebVTT/SRT captions or .docx documents.
        speaker_roles: Label-to-role overrides for transcripts whose speakers are
            names (`{"Alice": "interviewer"}`).
        keep_names: Keep names from titles, file and folder names, speaker labels and
            speech. Off by default: speakers appear as pseudonymous ids such as ``I11``,
            files under derived names, and names said in speech as placeholders (see
            ``_privacy.py``).
        names: More names to replace in speech (the researcher's list).
        pseudonyms: ``{name: placeholder}`` the researcher chose; these names are
            replaced too.
        max_uncompressed_mb: A ``.docx`` that unpacks to more is refused
            (``ingest.max_uncompressed_mb``).
        max_text_mb: A text file, or a ``.docx``'s XML, larger than this is refused
            (``ingest.max_text_mb``).

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
    paths, skipped, folder_problems = _files_in(folder)
    if not paths and not folder_problems:
        listed = "; ".join(f"{s['source_file']} ({s['reason']})" for s in skipped[:5])
        raise CorpusError(folder, [f"no transcript files in {folder}" + (f"; skipped: {listed}" if listed else "")])
    parsed_by_id = _parse_all(
        folder,
        paths,
        keep_names,
        problems=folder_problems,
        speaker_roles=speaker_roles,
        max_uncompressed_mb=max_uncompressed_mb,
        max_text_mb=max_text_mb,
    )
    aliases = _folder_aliases(folder, [p.path for p in parsed_by_id.values()])
    turn_rows, account_rows, file_rows, warning_rows = [], [], [], []
    for interview_id in sorted(parsed_by_id, key=natural_key):
        parsed = parsed_by_id[interview_id]
        rows, account = _build_tables(parsed, interview_id, speaker_roles, keep_names)
        turn_rows += rows
        account_rows += sorted(account, key=lambda a: a["line"])
        file_rows.append(_file_row(folder, parsed, interview_id, rows, account, keep_names, aliases))
        warning_rows += [
            {"interview_id": interview_id, "source_file": file_rows[-1]["source_file"], "line": line, "warning": note}
            for line, note in parsed.notes
        ]
    privacy = None
    if not keep_names:
        # Before any table exists outside this function: the original text stays in the files.
        deid = _learn_names(folder, parsed_by_id, speaker_roles, names, pseudonyms)
        privacy = _mask_rows(deid, turn_rows, account_rows)
        skipped = [
            {**s, "source_file": _shown_path(Path(str(s["source_file"])), None, aliases, False)} for s in skipped
        ]
    return _corpus_tables(turn_rows, account_rows, file_rows, skipped, warning_rows, privacy)


def _mask_rows(deid, turn_rows: list[dict], account_rows: list[dict]) -> pd.DataFrame:
    """Names replaced in the turns, their questions and the line accounting; returns the
    replacements counted once (in the turns' text)."""
    for row in turn_rows:
        row["text"] = deid.mask(row["text"], row["interview_id"])
        row["n_words"] = len(row["text"].split())
    privacy = deid.summary()
    for row in turn_rows:
        row["question_text"] = deid.mask(row["question_text"], row["interview_id"])
    for row in account_rows:
        row["text"] = deid.mask(row["text"], row["interview_id"])
    return privacy


def _corpus_tables(turn_rows, account_rows, file_rows, skipped, warning_rows, privacy) -> LoadedCorpus:
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
    corpus = LoadedCorpus(
        turns=turns,
        lines=lines,
        files=files,
        skipped=pd.DataFrame(skipped, columns=["source_file", "reason"]),
        warnings=pd.DataFrame(warning_rows, columns=WARNING_COLUMNS).astype({"line": "Int64"}),
    )
    if privacy is not None:
        corpus.privacy = privacy
    return corpus


def _learn_names(
    folder: Path,
    parsed_by_id: dict[str, ParsedTranscript],
    speaker_roles: dict[str, str],
    names: list[str] | tuple[str, ...],
    pseudonyms: dict[str, str] | None,
) -> Deidentifier:
    """Every name the corpus and the researcher tell of, for :class:`Deidentifier`: speaker
    labels (as that speaker's id in their interview), voice tags, one-off `Name:` lines,
    titles, file and folder names, the researcher's list, introductions and honorifics."""
    deid = Deidentifier(pseudonyms)
    for name in names:
        deid.add(name, "privacy.names")
    order = sorted(parsed_by_id, key=natural_key)
    for interview_id in order:
        parsed = parsed_by_id[interview_id]
        rel = parsed.path.relative_to(folder)
        for part in rel.parent.parts:
            for name in names_in_title(part):
                deid.add(name, "folder name")
        for name in names_in_title(rel.stem):
            deid.add(name, "file name")
        title = parsed.title or ""
        m = TITLE_NAME_RE.match(title.lstrip("# ").strip())
        if m:
            deid.add(m.group("name").strip(), "title")
        for rec in parsed.other_lines:
            if rec.status == "title":
                for name in names_in_title(rec.text):
                    deid.add(name, "title")
            for voice in VOICE_RE.finditer(rec.text):
                deid.add(voice.group("speaker"), "voice tag")
        _, ids, _ = _resolve_speakers(parsed, interview_id, speaker_roles, False)
        for turn in parsed.turns:
            label = turn.label.strip()
            if label and not (ROLE_LABEL_RE.match(label) or QA_LABEL_RE.match(label)):
                deid.add(label, "speaker label", interview_id=interview_id, placeholder=f"[{ids[label.lower()]}]")
            for _, part in turn.parts:
                name = one_off_label(part)
                if name:
                    deid.add(name, "one-off label")
    for interview_id in order:
        for turn in parsed_by_id[interview_id].turns:
            for _, part in turn.parts:
                deid.learn_from_text(part)
    return deid


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
