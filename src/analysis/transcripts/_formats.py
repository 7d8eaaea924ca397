"""Parsers for the transcript formats, each turning a file into raw speaker turns.

Every parser returns a :class:`ParsedTranscript` in which each non-blank input line
is either part of a turn or listed with a status and a reason, so that the loader can
prove that nothing was dropped.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TranscriptError
from ._docx import MB, read_docx
from ._encodings import decode_bytes, looks_like_zip, numbered_lines

# Limits (MB) when no settings are given; IngestSettings carries the configured ones.
DEFAULT_MAX_UNCOMPRESSED_MB = 200
DEFAULT_MAX_TEXT_MB = 20

# Role words that make a label a speaker label even when it occurs once.
ROLE_LABEL_RE = re.compile(
    r"""^(?:
        (?P<word>interviewer|interviewee|moderator|facilitator|researcher|host|
                 participant|respondent|candidate|speaker|unknown\ speaker)
        \s*+(?P<num>\d+)?(?:\s+\d+)?
      )$""",
    re.IGNORECASE | re.VERBOSE,
)
QA_LABEL_RE = re.compile(r"^(?P<word>q|a)$", re.IGNORECASE)
INTERVIEWER_WORDS = {"interviewer", "moderator", "facilitator", "researcher", "host", "q"}
INTERVIEWEE_WORDS = {"interviewee", "participant", "respondent", "candidate", "a"}
# `Label: text`; a label is short, starts with a letter and holds no sentence punctuation.
LABEL_LINE_RE = re.compile(r"^\s*(?P<label>[^\W\d_][\w .'\u2019-]{0,40}?)\s*:(?P<text>.*)$")
# Possessive `*+` where two optional runs of spaces meet: plain `\s*` there backtracks in
# time quadratic in a long run of spaces (a hostile line must not hang the loader).
TITLE_RE = re.compile(r"^\s*+(?:#{1,6}\s*+)?(?P<title>interview\s*+[-_#]?\s*+\d+\b.*)$", re.IGNORECASE)
# Transcriber's notes such as `==== Connection got interrupted ====` or `[inaudible]`.
ANNOTATION_RE = re.compile(r"^\s*+(?:[=*~_-]{3}.*[=*~_-]{3}|\[[^\]]*+\]|\([^)]*+\))\s*+$")
# `### Speaker` / `**Speaker**` (a colon may follow). The heading's label is cut in code:
# a lazy `.+?` before `\s*:?\s*$` takes time cubic in a run of spaces.
MD_HEADING_RE = re.compile(r"\s*+#{3,6}(?=\s.)")
MD_BOLD_SPEAKER_RE = re.compile(r"\s*+\*\*(?P<b>[^*]+?)\*\*\s*+:?\s*+$")
MD_TITLE_RE = re.compile(r"^\s*+#{1,2}\s+(?P<title>\S(?:.*\S)?|\s)\s*+$")
TIMESTAMP = r"(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}"
CUE_TIMING_RE = re.compile(rf"^\s*(?P<start>{TIMESTAMP})\s*-->\s*(?P<end>{TIMESTAMP})(?:\s+.*)?$")
VOICE_RE = re.compile(r"<v(?:\.[\w.-]+)?\s+(?P<speaker>[^\s<>][^<>]*|\s)>")
# Only the tags of WebVTT (and the `<font>` of SRT): `<c.x>`, `<i>`, `<b>`, `<u>`, `<ruby>`,
# `<rt>` with classes, `<v ...>` and `<lang ...>` with an annotation, their end tags, and
# timestamps. Anything else shaped like `<...>` ("List<String>", "a<b and b>c") is speech.
CAPTION_TAG_RE = re.compile(
    r"<(?:c|i|b|u|ruby|rt)(?:\.[\w-]+)*>"
    r"|<v(?:\.[\w-]+)*(?:\s[^<>]*)?>|<lang(?:\.[\w-]+)*\s[^<>]*>"
    r"""|<font(?:\s+[\w-]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s<>]+))*\s*>"""
    r"|</(?:c|i|b|u|ruby|rt|v|lang|font)\s*>"
    r"|<(?:\d+:)?\d{2}:\d{2}\.\d{3}>",
    re.IGNORECASE,
)
# WebVTT escapes the characters `&`, `<` and `>` (and a few spaces and marks) in cue text.
VTT_ESCAPES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&nbsp;": "\u00a0", "&lrm;": "\u200e", "&rlm;": "\u200f"}
VTT_ESCAPE_RE = re.compile("|".join(VTT_ESCAPES))
MAX_LABEL_WORDS = 4


@dataclass
class RawTurn:
    """One speaker turn as read, before roles and ids are resolved."""

    label: str
    parts: list[tuple[int, str]] = field(default_factory=list)  # (line, text)
    label_line: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    unlabelled: bool = False
    # The label's own line is in the accounting already: it holds the turn's first text,
    # or the parser listed it (a heading). Else the loader lists it as a speaker label.
    label_accounted: bool = False

    @property
    def line_start(self) -> int:
        candidates = [ln for ln, _ in self.parts] + ([self.label_line] if self.label_line else [])
        return min(candidates)

    @property
    def line_end(self) -> int:
        candidates = [ln for ln, _ in self.parts] + ([self.label_line] if self.label_line else [])
        return max(candidates)

    @property
    def text(self) -> str:
        return "\n".join(t for _, t in self.parts)


@dataclass
class LineRecord:
    """A non-blank input line that is not turn text, with why."""

    line: int
    status: str  # title | speaker_label | markup | annotation
    reason: str
    text: str


@dataclass
class ParsedTranscript:
    path: Path
    format: str
    encoding: str
    unit: str  # "line", or "paragraph" for .docx
    title: str | None
    turns: list[RawTurn]
    other_lines: list[LineRecord]
    n_nonblank: int
    notes: list[tuple[int | None, str]] = field(default_factory=list)  # (line, what to check)


def is_role_label(label: str) -> bool:
    return bool(ROLE_LABEL_RE.match(label.strip()))


def own_role(label: str, speaker_roles: Mapping[str, str]) -> str | None:
    """The role a label names by itself: a configured label's role, a role word's role
    (`interviewer`, `interviewee`, `other` for Unknown Speaker, `speaker` for a numbered
    Speaker N), or None for a name.

    Example:
        >>> [own_role(x, {"Alice": "interviewer"}) for x in ["Q", "Interviewee1", "Speaker 2", "alice", "Bob"]]
        ['interviewer', 'interviewee', 'speaker', 'interviewer', None]
    """
    key = label.strip().lower()
    for name, role in speaker_roles.items():
        if name.strip().lower() == key:
            return role
    m = ROLE_LABEL_RE.match(key) or QA_LABEL_RE.match(key)
    if not m:
        return None
    word = m.group("word").lower()
    if word in INTERVIEWER_WORDS:
        return "interviewer"
    if word in INTERVIEWEE_WORDS:
        return "interviewee"
    return "other" if word == "unknown speaker" else "speaker"


class _SpeakerRule:
    """Which `Label:` prefixes (and bold lines) open a speaker turn.

    A role word (`Interviewer 2`, `interviewee`, `Speaker 1`, `Q`, `A`) or a label named
    in ``speaker_roles`` always does. Any other label (a name) does when it opens at least
    ``min_lines`` lines (two in a transcript, where a one-off `Note:` is text; one in
    captions, where every cue starts with its speaker) and the file does not already
    label its speakers otherwise: by role words for both the interviewer and the
    interviewee, or by two or more numbered `Speaker N` labels. So `Example:` at the start
    of answer lines in an Interviewer/Interviewee transcript stays text of the answer (and
    is noted), while `Alice:`/`Bob:` transcripts keep their named speakers.
    """

    def __init__(self, speaker_roles: Mapping[str, str] | None, min_lines: int = 2):
        self.min_lines = min_lines
        self.speaker_roles = dict(speaker_roles or {})
        self.certain_labels: list[str] = []
        self.name_lines: dict[str, list[int]] = {}
        self.named: set[str] = set()

    def certain(self, label: str) -> bool:
        return own_role(label, self.speaker_roles) is not None

    def see(self, label: str, line: int) -> None:
        """Count a label met at ``line`` (first pass over the file)."""
        if self.certain(label):
            self.certain_labels.append(label)
        else:
            self.name_lines.setdefault(label.lower(), []).append(line)

    def decide(self) -> list[tuple[int | None, str]]:
        """Settle which names are speakers; notes for repeated names read as text."""
        roles = {own_role(label, self.speaker_roles) for label in self.certain_labels}
        generic = {label.strip().lower() for label in self.certain_labels if own_role(label, {}) == "speaker"}
        repeated = {name: lines for name, lines in self.name_lines.items() if len(lines) >= self.min_lines}
        labelled = {"interviewer", "interviewee"} <= roles or len(generic) >= 2
        if not labelled:
            self.named = set(repeated)
            return []
        how = "role words for interviewer and interviewee" if len(generic) < 2 else "numbered `Speaker N` labels"
        return [
            (
                lines[0],
                f"line(s) {', '.join(map(str, lines))} start with the same `Word:` prefix, read as text, not as a "
                f"speaker: the file labels its speakers with {how}; if it is a speaker, add the label to "
                "ingest.speaker_roles",
            )
            for lines in repeated.values()
        ]

    def accepted(self, label: str) -> bool:
        return self.certain(label) or label.lower() in self.named


def _label_candidate(line: str) -> tuple[str, str] | None:
    m = LABEL_LINE_RE.match(line)
    if not m:
        return None
    label = " ".join(m.group("label").split())
    if len(label.split()) > MAX_LABEL_WORDS or label.lower() in {"http", "https", "ftp", "mailto"}:
        return None
    return label, m.group("text").strip()


def _append_text(turns: list[RawTurn], line_no: int, text: str) -> None:
    """Add a line to the current turn; text before any label opens an unlabelled turn."""
    if not turns:
        turns.append(RawTurn(label="", unlabelled=True))
    turns[-1].parts.append((line_no, text))


def _note_or_text(
    turns: list[RawTurn], other: list[LineRecord], line_no: int, stripped: str, text: str | None = None
) -> None:
    """A transcriber's note is set aside with its reason; anything else is turn text."""
    if ANNOTATION_RE.match(stripped):
        other.append(LineRecord(line_no, "annotation", "transcriber's note, not speech", stripped))
    else:
        _append_text(turns, line_no, stripped if text is None else text)


def _require_speakers(path: Path, turns: list[RawTurn], message: str) -> None:
    if not any(not t.unlabelled for t in turns):
        raise TranscriptError(path, message)


def _split_notes(split: list[int]) -> list[tuple[int | None, str]]:
    return [
        (
            n,
            "a vertical tab, form feed, NEL, U+2028 or U+2029 inside the line is read as a line break (both parts "
            "keep this line number)",
        )
        for n in split
    ]


def parse_plain(
    path: Path, text: str, encoding: str, speaker_roles: Mapping[str, str] | None = None
) -> ParsedTranscript:
    """`Speaker: text` transcripts, one turn per label; unlabelled lines continue a turn.

    A `Label:` prefix counts as a speaker by the rule of :class:`_SpeakerRule` (a one-off
    `Note:` inside an answer stays text). A line holding only a role word
    (`Interviewee`) is a speaker heading for the lines below.
    """
    lines, split = numbered_lines(text)
    rule = _SpeakerRule(speaker_roles)
    candidates: dict[int, tuple[str, str]] = {}
    for k, (i, line) in enumerate(lines):
        cand = _label_candidate(line)
        if cand:
            candidates[k] = cand
            rule.see(cand[0], i)
        elif is_role_label(line.strip()):
            rule.see(line.strip(), i)
    notes = rule.decide() + _split_notes(split)

    turns: list[RawTurn] = []
    other: list[LineRecord] = []
    title: str | None = None
    n_nonblank = 0
    for k, (i, line) in enumerate(lines):
        if not line.strip():
            continue
        n_nonblank += 1
        stripped = line.strip()
        cand = candidates.get(k)
        if cand and rule.accepted(cand[0]):
            label, rest = cand
            turn = RawTurn(label=label, label_line=i, label_accounted=bool(rest))
            if rest:
                turn.parts.append((i, rest))
            turns.append(turn)
        elif is_role_label(stripped):
            turns.append(RawTurn(label=" ".join(stripped.split()), label_line=i, label_accounted=True))
            other.append(LineRecord(i, "speaker_label", "speaker heading on its own line", stripped))
        elif not turns and title is None and TITLE_RE.match(stripped):
            title = TITLE_RE.match(stripped).group("title")
            other.append(LineRecord(i, "title", "interview title", stripped))
        else:
            _note_or_text(turns, other, i, stripped)
    _require_speakers(
        path,
        turns,
        "no recognisable speaker labels (expected lines such as `Interviewee: ...` or `Interviewer 1: ...`)",
    )
    return ParsedTranscript(path, "plain", encoding, "line", title, turns, other, n_nonblank, notes)


def md_speaker(line: str) -> str | None:
    """The speaker of a Markdown speaker heading (`### Interviewer 1`, `**Interviewee:**`),
    else None.

    Example:
        >>> [md_speaker(x) for x in ["### Interviewer 1 :", "**Interviewee**", "####### x", "## Title"]]
        ['Interviewer 1', 'Interviewee', None, None]
    """
    bold = MD_BOLD_SPEAKER_RE.match(line)
    if bold:
        return bold.group("b").strip().rstrip(":").strip()
    hashes = MD_HEADING_RE.match(line)
    if not hashes:
        return None
    rest = line[hashes.end() :]
    end = len(rest.rstrip())
    if end and rest[end - 1] == ":":
        end = len(rest[: end - 1].rstrip())
    return rest[:end].strip().rstrip(":").strip()


def looks_like_delve_markdown(lines: Iterable[str]) -> bool:
    lines = list(lines)
    headings = sum(1 for ln in lines if md_speaker(ln) is not None)
    prefixed = sum(1 for ln in lines if _label_candidate(ln) and is_role_label(_label_candidate(ln)[0]))
    return headings >= 1 and headings >= prefixed


def parse_delve_markdown(path: Path, text: str, encoding: str) -> ParsedTranscript:
    """Delve's Markdown export: `## Interview N - NAME`, then `### Speaker` or `**Speaker**`
    headings with the turn's paragraphs below."""
    turns: list[RawTurn] = []
    other: list[LineRecord] = []
    title: str | None = None
    n_nonblank = 0
    lines, split = numbered_lines(text)
    for i, line in lines:
        if not line.strip():
            continue
        n_nonblank += 1
        stripped = line.strip()
        label = md_speaker(line)
        heading = MD_TITLE_RE.match(line)
        if label is not None:
            turns.append(RawTurn(label=label, label_line=i, label_accounted=True))
            other.append(LineRecord(i, "speaker_label", "speaker heading", stripped))
        elif heading and not turns and title is None:
            title = heading.group("title")
            other.append(LineRecord(i, "title", "interview title", stripped))
        else:
            _note_or_text(turns, other, i, stripped)
    _require_speakers(path, turns, "Markdown file with no speaker headings (`### Speaker` or `**Speaker**`)")
    return ParsedTranscript(
        path, "delve-markdown", encoding, "line", title, turns, other, n_nonblank, _split_notes(split)
    )


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2])
    hours = int(parts[-3]) if len(parts) == 3 else 0
    return hours * 3600 + minutes * 60 + seconds


def looks_like_captions(lines: list[str]) -> str | None:
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first.startswith("WEBVTT"):
        return "webvtt"
    timings = sum(1 for ln in lines[:50] if CUE_TIMING_RE.match(ln))
    return "srt" if timings >= 1 else None


def caption_text(raw: str, kind: str) -> str:
    """A cue line's words: caption tags removed, WebVTT escapes decoded, spaces collapsed.

    Example:
        >>> caption_text("<v Ann><i>recall<precision</i> and List<String> &lt;3</v>", "webvtt")
        'recall<precision and List<String> <3'
    """
    text = CAPTION_TAG_RE.sub("", raw)
    if kind == "webvtt":
        text = VTT_ESCAPE_RE.sub(lambda m: VTT_ESCAPES[m.group(0)], text)
    return " ".join(text.split())


def _caption_blocks(lines: list[tuple[int, str]]) -> tuple[list[list[tuple[int, str]]], int]:
    block: list[tuple[int, str]] = []
    blocks: list[list[tuple[int, str]]] = []
    n_nonblank = 0
    for i, line in lines:
        if line.strip():
            n_nonblank += 1
            block.append((i, line))
        elif block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    return blocks, n_nonblank


def parse_captions(
    path: Path, text: str, encoding: str, kind: str, speaker_roles: Mapping[str, str] | None = None
) -> ParsedTranscript:
    """WebVTT or SRT captions (Zoom, Teams): speaker from `<v Name>` or a `Name:` prefix
    (accepted by the rule of :class:`_SpeakerRule`); consecutive cues of one speaker merge
    into one turn that keeps the first start and the last end time. A cue with no speaker
    continues the previous speaker."""
    lines, split = numbered_lines(text)
    blocks, n_nonblank = _caption_blocks(lines)
    turns: list[RawTurn] = []
    other: list[LineRecord] = []
    rule = _SpeakerRule(speaker_roles, min_lines=1)
    cues: list[tuple[float, float, list[tuple[int, str, str | None, str]]]] = []
    for block in blocks:
        first_no, first = block[0]
        head = first.strip()
        if head.startswith("WEBVTT"):
            other.extend(LineRecord(n, "markup", "WebVTT header", t.strip()) for n, t in block)
            continue
        if head.startswith(("NOTE", "STYLE", "REGION")):
            other.extend(LineRecord(n, "markup", f"WebVTT {head.split()[0]} block", t.strip()) for n, t in block)
            continue
        timing_at = next((k for k, (_, t) in enumerate(block) if CUE_TIMING_RE.match(t)), None)
        if timing_at is None or timing_at > 1:
            raise TranscriptError(path, f"caption block without a `start --> end` timing line ({kind})", first_no)
        if timing_at == 1:
            other.append(LineRecord(first_no, "markup", "cue identifier", head))
        timing_no, timing_line = block[timing_at]
        m = CUE_TIMING_RE.match(timing_line)
        other.append(LineRecord(timing_no, "markup", "cue timing", timing_line.strip()))
        cue_lines = []
        for n, raw in block[timing_at + 1 :]:
            voice = VOICE_RE.search(raw)
            speaker = " ".join(voice.group("speaker").split()) if voice else None
            content = caption_text(raw, kind)
            if speaker is not None:
                rule.certain_labels.append(speaker)  # a voice tag names a speaker for sure
            else:
                cand = _label_candidate(content)
                if cand:
                    rule.see(cand[0], n)
            cue_lines.append((n, raw, speaker, content))
        cues.append((_seconds(m.group("start")), _seconds(m.group("end")), cue_lines))
    notes = rule.decide() + _split_notes(split)

    current_speaker: str | None = None
    for start, end, cue_lines in cues:
        for n, raw, speaker, content in cue_lines:
            if speaker is None:
                cand = _label_candidate(content)
                if cand and rule.accepted(cand[0]):
                    speaker, content = cand
            if not content:
                other.append(LineRecord(n, "markup", "caption line with tags only", raw.strip()))
                continue
            if speaker is not None and speaker != current_speaker:
                current_speaker = speaker
                turns.append(RawTurn(label=speaker, start_s=start, end_s=end))
            elif not turns:
                turns.append(RawTurn(label="", unlabelled=True, start_s=start, end_s=end))
            turn = turns[-1]
            turn.parts.append((n, content))
            turn.end_s = max(turn.end_s or end, end)
    _require_speakers(
        path, turns, f"{kind} captions with no speaker names (expected `<v Name>` tags or `Name:` prefixes)"
    )
    fmt = "webvtt" if kind == "webvtt" else "srt"
    return ParsedTranscript(path, fmt, encoding, "line", None, turns, other, n_nonblank, notes)


def _bold_label(part: str, bold: bool) -> str | None:
    """The label of a bold speaker line (`**Interviewee**`, `**Alice:**`), else None."""
    stripped = " ".join(part.split())
    if bold and len(stripped.rstrip(":").split()) <= MAX_LABEL_WORDS and not TITLE_RE.match(stripped):
        return stripped.rstrip(":").strip()
    return None


def parse_docx(
    path: Path,
    speaker_roles: Mapping[str, str] | None = None,
    *,
    max_uncompressed_mb: float = DEFAULT_MAX_UNCOMPRESSED_MB,
    max_text_mb: float = DEFAULT_MAX_TEXT_MB,
) -> ParsedTranscript:
    """Word transcripts: a `Speaker:` prefix per paragraph, or a bold speaker line with
    the turn's paragraphs below. Positions are paragraph numbers (1-based); a line break
    inside a paragraph splits it into parts with the paragraph's number. Text boxes,
    headers, footers, notes and comments are listed (status ``not_read``) with numbers
    after the body's paragraphs."""
    content = read_docx(path, max_uncompressed_mb=max_uncompressed_mb, max_text_mb=max_text_mb)
    parts = [(p.number, text, bold) for p in content.paragraphs for text, bold in p.parts if text.strip()]
    rule = _SpeakerRule(speaker_roles)
    for i, raw, bold in parts:
        cand = _label_candidate(raw)
        label = cand[0] if cand else _bold_label(raw, bold)
        if label:
            rule.see(label, i)
    notes = rule.decide()
    notes += [
        (p.number, "a line break inside the paragraph is read as a new line (the parts keep its number)")
        for p in content.paragraphs
        if sum(1 for text, _ in p.parts if text.strip()) > 1
    ]
    turns: list[RawTurn] = []
    other: list[LineRecord] = []
    title: str | None = None
    for i, raw, bold in parts:
        stripped = " ".join(raw.split())
        cand = _label_candidate(raw)
        bold_label = _bold_label(raw, bold)
        if cand and rule.accepted(cand[0]):
            label, rest = cand
            turn = RawTurn(label=label, label_line=i, label_accounted=bool(rest))
            if rest:
                turn.parts.append((i, rest))
            turns.append(turn)
        elif bold_label and rule.accepted(bold_label):
            turns.append(RawTurn(label=bold_label, label_line=i, label_accounted=True))
            other.append(LineRecord(i, "speaker_label", "bold speaker line", stripped))
        elif not turns and title is None and TITLE_RE.match(stripped):
            title = TITLE_RE.match(stripped).group("title")
            other.append(LineRecord(i, "title", "interview title", stripped))
        else:
            _note_or_text(turns, other, i, stripped, raw.strip())
    other += [LineRecord(n, "not_read", reason, text) for n, reason, text in content.set_aside]
    elsewhere = (
        f"; its other text ({len(content.set_aside)} paragraphs in text boxes, headers, footers, notes or "
        "comments) is listed, not read"
        if content.set_aside
        else ""
    )
    if not parts:
        raise TranscriptError(path, f"empty file (the document's body has no text{elsewhere})")
    _require_speakers(
        path,
        turns,
        "no recognisable speaker labels (expected `Speaker: text` paragraphs or bold speaker lines)" + elsewhere,
    )
    return ParsedTranscript(
        path, "docx", "docx", "paragraph", title, turns, other, len(parts) + len(content.set_aside), notes
    )


def _read_problem(path: Path, exc: OSError) -> TranscriptError:
    """An operating-system error reading a file, in words with what to do."""
    if isinstance(exc, PermissionError):
        return TranscriptError(
            path, "cannot be read: permission denied; give your user read access to it, or move it out of the folder"
        )
    if isinstance(exc, FileNotFoundError):
        return TranscriptError(path, "disappeared while the folder was read; run again")
    name = errno.errorcode.get(exc.errno, "") if exc.errno else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return TranscriptError(
        path,
        f"cannot be read ({reason}{', ' + name if name else ''}): the disk or network share reported an error; "
        "copy the file again from its source and check the drive",
    )


def parse_file(
    path: Path,
    *,
    speaker_roles: Mapping[str, str] | None = None,
    max_uncompressed_mb: float = DEFAULT_MAX_UNCOMPRESSED_MB,
    max_text_mb: float = DEFAULT_MAX_TEXT_MB,
) -> ParsedTranscript:
    """Detect a transcript's format from its content and parse it.

    Args:
        path: The transcript.
        speaker_roles: Labels configured as speakers (``ingest.speaker_roles``).
        max_uncompressed_mb: Largest unpacked size of a ``.docx`` (all its members).
        max_text_mb: Largest text file, and largest XML (text and markup) of a ``.docx``.

    Raises:
        TranscriptError: empty, binary, unreadable, oversized or unlabelled file.
    """
    limit = int(max_text_mb * MB)
    try:
        with path.open("rb") as fh:
            head = fh.read(len(b"PK\x03\x04"))
            if not looks_like_zip(head):
                data = head + fh.read(limit + 1 - len(head))
    except OSError as exc:
        raise _read_problem(path, exc) from None
    if looks_like_zip(head):
        try:
            return parse_docx(path, speaker_roles, max_uncompressed_mb=max_uncompressed_mb, max_text_mb=max_text_mb)
        except OSError as exc:
            raise _read_problem(path, exc) from None
    if len(data) > limit:
        raise TranscriptError(
            path,
            f"larger than the limit of {max_text_mb:g} MB for a text transcript (ingest.max_text_mb); if it is a "
            "genuine transcript, raise ingest.max_text_mb in the config, or split it into one file per interview",
        )
    decoded = decode_bytes(data, path)
    lines = [line for _, line in numbered_lines(decoded.text)[0]]
    if not any(ln.strip() for ln in lines):
        raise TranscriptError(path, "empty file (only blank lines)")
    caption_kind = looks_like_captions(lines)
    if caption_kind:
        parsed = parse_captions(path, decoded.text, decoded.encoding, caption_kind, speaker_roles)
    elif looks_like_delve_markdown(lines):
        parsed = parse_delve_markdown(path, decoded.text, decoded.encoding)
    else:
        parsed = parse_plain(path, decoded.text, decoded.encoding, speaker_roles)
    parsed.notes[:0] = list(decoded.notes)
    return parsed
