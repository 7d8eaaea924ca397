"""Parsers for the transcript formats, each turning a file into raw speaker turns.

Every parser returns a :class:`ParsedTranscript` in which each non-blank input line
is either part of a turn or listed with a status and a reason, so that the loader can
prove that nothing was dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TranscriptError
from ._encodings import decode_bytes, looks_like_zip, split_lines

# Role words that make a label a speaker label even when it occurs once.
ROLE_LABEL_RE = re.compile(
    r"""^(?:
        (?P<word>interviewer|interviewee|moderator|facilitator|researcher|host|
                 participant|respondent|candidate|speaker|unknown\ speaker)
        \s*(?P<num>\d+)?(?:\s+\d+)?
      )$""",
    re.IGNORECASE | re.VERBOSE,
)
QA_LABEL_RE = re.compile(r"^(?P<word>q|a)$", re.IGNORECASE)
# `Label: text`; a label is short, starts with a letter and holds no sentence punctuation.
LABEL_LINE_RE = re.compile(r"^\s*(?P<label>[^\W\d_][\w .'\u2019-]{0,40}?)\s*:(?P<text>.*)$")
TITLE_RE = re.compile(r"^\s*(?:#{1,6}\s*)?(?P<title>interview\s*[-_#]?\s*\d+\b.*)$", re.IGNORECASE)
# Transcriber's notes such as `==== Connection got interrupted ====` or `[inaudible]`.
ANNOTATION_RE = re.compile(r"^\s*(?:[=*~_-]{3,}.*[=*~_-]{3,}|\[[^\]]*\]|\([^)]*\))\s*$")
MD_SPEAKER_RE = re.compile(r"^\s*(?:#{3,6}\s+(?P<h>.+?)|\*\*(?P<b>[^*]+?)\*\*)\s*:?\s*$")
MD_TITLE_RE = re.compile(r"^\s*#{1,2}\s+(?P<title>.+?)\s*$")
TIMESTAMP = r"(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}"
CUE_TIMING_RE = re.compile(rf"^\s*(?P<start>{TIMESTAMP})\s*-->\s*(?P<end>{TIMESTAMP})(?:\s+.*)?$")
VOICE_RE = re.compile(r"<v(?:\.[\w.-]+)?\s+(?P<speaker>[^>]+)>")
TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>|</v>")
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


def is_role_label(label: str) -> bool:
    return bool(ROLE_LABEL_RE.match(label.strip()))


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


def parse_plain(path: Path, text: str, encoding: str) -> ParsedTranscript:
    """`Speaker: text` transcripts, one turn per label; unlabelled lines continue a turn.

    A `Label:` prefix counts as a speaker when the label is a role word (`Interviewer 2`,
    `interviewee`, `Speaker 1`, `Q`, `A`) or, for names, when the same label opens at
    least two lines of the file (a one-off `Note:` inside an answer stays text). A line
    holding only a role word (`Interviewee`) is a speaker heading for the lines below.
    """
    lines = split_lines(text)
    candidates: dict[int, tuple[str, str]] = {}
    counts: dict[str, int] = {}
    for i, line in enumerate(lines, start=1):
        cand = _label_candidate(line)
        if cand:
            candidates[i] = cand
            counts[cand[0].lower()] = counts.get(cand[0].lower(), 0) + 1

    def accepted(label: str) -> bool:
        return is_role_label(label) or bool(QA_LABEL_RE.match(label)) or counts.get(label.lower(), 0) >= 2

    turns: list[RawTurn] = []
    other: list[LineRecord] = []
    title: str | None = None
    n_nonblank = 0
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        n_nonblank += 1
        stripped = line.strip()
        cand = candidates.get(i)
        if cand and accepted(cand[0]):
            label, rest = cand
            turn = RawTurn(label=label, label_line=i)
            if rest:
                turn.parts.append((i, rest))
            turns.append(turn)
        elif is_role_label(stripped):
            turns.append(RawTurn(label=" ".join(stripped.split()), label_line=i))
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
    return ParsedTranscript(path, "plain", encoding, "line", title, turns, other, n_nonblank)


def looks_like_delve_markdown(lines: list[str]) -> bool:
    headings = sum(1 for ln in lines if MD_SPEAKER_RE.match(ln))
    prefixed = sum(1 for ln in lines if _label_candidate(ln) and is_role_label(_label_candidate(ln)[0]))
    return headings >= 1 and headings >= prefixed


def parse_delve_markdown(path: Path, text: str, encoding: str) -> ParsedTranscript:
    """Delve's Markdown export: `## Interview N - NAME`, then `### Speaker` or `**Speaker**`
    headings with the turn's paragraphs below."""
    turns: list[RawTurn] = []
    other: list[LineRecord] = []
    title: str | None = None
    n_nonblank = 0
    for i, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        n_nonblank += 1
        stripped = line.strip()
        speaker = MD_SPEAKER_RE.match(line)
        heading = MD_TITLE_RE.match(line)
        if speaker:
            label = (speaker.group("h") or speaker.group("b")).strip().rstrip(":").strip()
            turns.append(RawTurn(label=label, label_line=i))
            other.append(LineRecord(i, "speaker_label", "speaker heading", stripped))
        elif heading and not turns and title is None:
            title = heading.group("title")
            other.append(LineRecord(i, "title", "interview title", stripped))
        else:
            _note_or_text(turns, other, i, stripped)
    _require_speakers(path, turns, "Markdown file with no speaker headings (`### Speaker` or `**Speaker**`)")
    return ParsedTranscript(path, "delve-markdown", encoding, "line", title, turns, other, n_nonblank)


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


def parse_captions(path: Path, text: str, encoding: str, kind: str) -> ParsedTranscript:
    """WebVTT or SRT captions (Zoom, Teams): speaker from `<v Name>` or a `Name:` prefix;
    consecutive cues of one speaker merge into one turn that keeps the first start and
    the last end time. A cue with no speaker continues the previous speaker."""
    lines = split_lines(text)
    turns: list[RawTurn] = []
    other: list[LineRecord] = []
    n_nonblank = 0
    block: list[tuple[int, str]] = []
    blocks: list[list[tuple[int, str]]] = []
    for i, line in enumerate(lines, start=1):
        if line.strip():
            n_nonblank += 1
            block.append((i, line))
        elif block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)

    current_speaker: str | None = None
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
        start, end = _seconds(m.group("start")), _seconds(m.group("end"))
        other.append(LineRecord(timing_no, "markup", "cue timing", timing_line.strip()))
        for n, raw in block[timing_at + 1 :]:
            voice = VOICE_RE.search(raw)
            speaker = None
            if voice:
                speaker = " ".join(voice.group("speaker").split())
            content = " ".join(TAG_RE.sub("", raw).split())
            if speaker is None:
                cand = _label_candidate(content)
                if cand:
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
    return ParsedTranscript(path, fmt, encoding, "line", None, turns, other, n_nonblank)


def parse_docx(path: Path) -> ParsedTranscript:
    """Word transcripts: a `Speaker:` prefix per paragraph, or a bold speaker line with
    the turn's paragraphs below. Positions are paragraph numbers (1-based)."""
    import docx  # python-docx (lxml): loaded only for .docx files
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise TranscriptError(path, f"not a readable .docx document ({exc})") from None
    if any(cell.text.strip() for table in document.tables for row in table.rows for cell in row.cells):
        raise TranscriptError(
            path,
            "transcript text inside a Word table is not supported; convert the table to `Speaker: text` paragraphs",
        )
    paragraphs = document.paragraphs
    counts: dict[str, int] = {}
    for p in paragraphs:
        cand = _label_candidate(p.text)
        if cand:
            counts[cand[0].lower()] = counts.get(cand[0].lower(), 0) + 1
    turns: list[RawTurn] = []
    other: list[LineRecord] = []
    title: str | None = None
    n_nonblank = 0
    for i, p in enumerate(paragraphs, start=1):
        raw = p.text
        if not raw.strip():
            continue
        n_nonblank += 1
        stripped = " ".join(raw.split())
        runs = [r for r in p.runs if r.text.strip()]
        all_bold = bool(runs) and all(r.bold or (p.style is not None and p.style.font.bold) for r in runs)
        cand = _label_candidate(raw)
        if cand and (is_role_label(cand[0]) or QA_LABEL_RE.match(cand[0]) or counts.get(cand[0].lower(), 0) >= 2):
            label, rest = cand
            turn = RawTurn(label=label, label_line=i)
            if rest:
                turn.parts.append((i, rest))
            turns.append(turn)
        elif all_bold and len(stripped.rstrip(":").split()) <= MAX_LABEL_WORDS and not TITLE_RE.match(stripped):
            turns.append(RawTurn(label=stripped.rstrip(":").strip(), label_line=i))
            other.append(LineRecord(i, "speaker_label", "bold speaker line", stripped))
        elif not turns and title is None and TITLE_RE.match(stripped):
            title = TITLE_RE.match(stripped).group("title")
            other.append(LineRecord(i, "title", "interview title", stripped))
        else:
            _note_or_text(turns, other, i, stripped, raw.strip())
    if n_nonblank == 0:
        raise TranscriptError(path, "empty file (the document has no text)")
    _require_speakers(
        path, turns, "no recognisable speaker labels (expected `Speaker: text` paragraphs or bold speaker lines)"
    )
    return ParsedTranscript(path, "docx", "docx", "paragraph", title, turns, other, n_nonblank)


def parse_file(path: Path) -> ParsedTranscript:
    """Detect a transcript's format from its content and parse it.

    Raises:
        TranscriptError: empty, binary, unreadable or unlabelled file.
    """
    data = path.read_bytes()
    if looks_like_zip(data):
        return parse_docx(path)
    decoded = decode_bytes(data, path)
    lines = split_lines(decoded.text)
    if not any(ln.strip() for ln in lines):
        raise TranscriptError(path, "empty file (only blank lines)")
    caption_kind = looks_like_captions(lines)
    if caption_kind:
        return parse_captions(path, decoded.text, decoded.encoding, caption_kind)
    if looks_like_delve_markdown(lines):
        return parse_delve_markdown(path, decoded.text, decoded.encoding)
    return parse_plain(path, decoded.text, decoded.encoding)
