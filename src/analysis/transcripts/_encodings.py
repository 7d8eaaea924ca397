"""Reading transcript files as text: encodings, byte-order marks, binary detection."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from ..errors import TranscriptError

ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class DecodedText:
    """A file's text with the encoding it was read in."""

    text: str
    encoding: str


def looks_like_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def decode_bytes(data: bytes, path: Path) -> DecodedText:
    """Decode a transcript's bytes.

    Order: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32) decides; otherwise strict
    UTF-8; otherwise Windows-1252, the usual encoding of Word and Notepad exports on
    Western systems. A file with NUL bytes and no UTF-16/32 mark is binary.

    Raises:
        TranscriptError: empty or binary file.

    Example:
        >>> decode_bytes("Interviewee: café".encode("cp1252"), Path("x.txt")).encoding
        'cp1252'
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
        text = data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; a file using them is not cp1252 text.
        try:
            text = data.decode("cp1252")
            encoding = "cp1252"
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise TranscriptError(
                path, "not readable as UTF-8 or Windows-1252 text (binary or unknown encoding)", line
            ) from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if controls > max(8, len(text) // 100):
        raise TranscriptError(path, f"binary file ({controls} control characters); expected a text transcript")
    return DecodedText(text, encoding)


def split_lines(text: str) -> list[str]:
    """Split on any newline convention (\\n, \\r\\n, \\r) without keeping the ends."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
