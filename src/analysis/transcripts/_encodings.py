"""Reading transcript files as text: encodings, byte-order marks, binary detection, lines."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import TranscriptError

ZIP_MAGIC = b"PK\x03\x04"
# Characters Python's str.splitlines() breaks on besides \n and \r: vertical tab, form feed,
# the three ASCII separators, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR. Editors do not
# start a new line at them, so they split a line into parts that keep its line number.
SOFT_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
SOFT_BREAK_RE = re.compile(f"[{SOFT_BREAKS}]")
_BYTE_LINE_RE = re.compile(rb"\r\n|\r|\n")
# A UTF-8 multi-byte sequence: a line holding one is UTF-8 with a broken character,
# not Windows-1252 (where these byte pairs would read as mojibake such as `Ã©`).
_UTF8_SEQUENCE_RE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


@dataclass(frozen=True)
class DecodedText:
    """A file's text with the encoding it was read in.

    Attributes:
        notes: ``(line, note)`` for lines read in another encoding than the file's.
    """

    text: str
    encoding: str
    notes: tuple[tuple[int, str], ...] = ()


def looks_like_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def _decode_by_line(data: bytes, path: Path) -> DecodedText:
    """Decode a file that is not valid UTF-8 as a whole, line by line.

    A line that is valid UTF-8 stays UTF-8; any other line is read as Windows-1252. When
    no line needs UTF-8 and none looks like broken UTF-8, the file is Windows-1252 (the
    usual Word/Notepad export), said in one note; otherwise it is UTF-8 with exceptions,
    each listed with its line number. A lone lead byte at the end of a line is no sign
    of UTF-8: in Windows-1252 it is a letter such as the `é` of `café` or the `ß` of `groß`.
    """
    pieces = _BYTE_LINE_RE.split(data)
    ends = _BYTE_LINE_RE.findall(data) + [b""]
    texts: list[str] = []
    cp1252_lines: list[int] = []
    broken_utf8 = utf8_lines = 0
    for line_no, chunk in enumerate(pieces, start=1):
        if chunk.isascii():
            texts.append(chunk.decode("ascii"))
            continue
        try:
            texts.append(chunk.decode("utf-8"))
            utf8_lines += 1
            continue
        except UnicodeDecodeError as exc:
            # a multi-byte sequence cut after its continuation bytes began: `â€` in cp1252
            truncated = exc.reason == "unexpected end of data" and len(chunk) - exc.start >= 2
        try:
            texts.append(chunk.decode("cp1252"))
        except UnicodeDecodeError:
            # cp1252 leaves five bytes undefined; a line using them is not cp1252 text.
            raise TranscriptError(
                path,
                "not readable as UTF-8 or Windows-1252 text (binary or unknown encoding); save the file as UTF-8 text",
                line_no,
            ) from None
        cp1252_lines.append(line_no)
        broken_utf8 += bool(truncated or _UTF8_SEQUENCE_RE.search(chunk))
    text = "".join(t + e.decode("ascii") for t, e in zip(texts, ends))
    if not utf8_lines and not broken_utf8:
        shown = ", ".join(map(str, cp1252_lines[:10])) + (", ..." if len(cp1252_lines) > 10 else "")
        note = (
            "not UTF-8: read as Windows-1252 (the usual encoding of Word and Notepad exports); if the accented "
            f"characters of line(s) {shown} look wrong, save the file as UTF-8"
        )
        return DecodedText(text, "cp1252", ((cp1252_lines[0], note),))
    notes = tuple(
        (n, "not valid UTF-8 (a broken or Windows-1252 character): read as Windows-1252; check the line")
        for n in cp1252_lines
    )
    return DecodedText(text, "utf-8+cp1252", notes)


def decode_bytes(data: bytes, path: Path) -> DecodedText:
    """Decode a transcript's bytes.

    Order: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32) decides; otherwise strict
    UTF-8; otherwise line by line, UTF-8 where a line is UTF-8 and Windows-1252 (the
    usual encoding of Word and Notepad exports on Western systems) elsewhere. A file
    with only Windows-1252 lines is ``cp1252``; a UTF-8 file with some lines that are
    not is ``utf-8+cp1252`` and names those lines in ``notes``. A file with NUL bytes
    and no UTF-16/32 mark is binary.

    Raises:
        TranscriptError: empty or binary file.

    Example:
        >>> decode_bytes("Interviewee: café".encode("cp1252"), Path("x.txt")).encoding
        'cp1252'
        >>> mixed = decode_bytes("Interviewer: ok?\\nInterviewee: naïve\\n".encode() + "café\\n".encode("cp1252"),
        ...                      Path("x.txt"))
        >>> mixed.encoding, [line for line, _ in mixed.notes], mixed.text.split("\\n")[2]
        ('utf-8+cp1252', [3], 'café')
    """
    if not data.strip():
        raise TranscriptError(path, "empty file (no text at all)")
    boms = [
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ]
    for bom, encoding in boms:
        if data.startswith(bom):
            try:
                return DecodedText(data.decode(encoding), encoding)
            except UnicodeDecodeError as exc:
                raise TranscriptError(
                    path,
                    f"starts with a {encoding} byte-order mark but is not valid {encoding}: "
                    f"{exc.reason} at byte {exc.start}",
                ) from None
    if b"\x00" in data:
        raise TranscriptError(
            path, "binary file (contains NUL bytes); expected a text, Markdown, WebVTT, SRT or .docx transcript"
        )
    try:
        decoded = DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        decoded = _decode_by_line(data, path)
    text = decoded.text
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if controls > max(8, len(text) // 100):
        raise TranscriptError(path, f"binary file ({controls} control characters); expected a text transcript")
    return decoded


def split_lines(text: str) -> list[str]:
    """Split on any newline convention (\\n, \\r\\n, \\r) without keeping the ends: the
    lines an editor shows."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def numbered_lines(text: str) -> tuple[list[tuple[int, str]], list[int]]:
    """The lines of ``text`` as ``(line number, text)``, with a line that holds a vertical
    tab, form feed, NEL, U+2028 or U+2029 between words split there into parts that keep
    its line number (so a speaker label after one is seen, and line numbers stay those
    an editor shows).

    Returns:
        The numbered lines (blank lines included, once each) and the numbers of the lines
        that were split.

    Example:
        >>> numbered_lines("Interviewee: yes\\x0bInterviewer: why?\\n\\x0cnext")
        ([(1, 'Interviewee: yes'), (1, 'Interviewer: why?'), (2, 'next')], [1])
    """
    out: list[tuple[int, str]] = []
    split: list[int] = []
    for number, line in enumerate(split_lines(text), start=1):
        if not SOFT_BREAK_RE.search(line):
            out.append((number, line))
            continue
        parts = [p for p in SOFT_BREAK_RE.split(line) if p.strip()]
        out.extend((number, p) for p in parts or [""])
        if len(parts) > 1:
            split.append(number)
    return out, split
