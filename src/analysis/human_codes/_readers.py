"""Human codes: Delve coded-transcript PDF prints, plain CSV, mapped to lifecycle stages.

Delve prints each speaker turn as a bold speaker heading, the turn's text, and, below
it, the turn's code tags in a smaller type. Tags are told from transcript text by how
they are drawn (their font size relative to the body text), never by their words, so
a turn saying "Mm-hmm." stays text. Page headers and footers (the top and bottom
margins) are skipped, and a turn cut by a page break continues on the next page. A
print made from a view that hides codes carries no tag at all: such a file is reported
as having *no codes*, not as a file where every turn is uncoded.

Example:
    >>> doc = read_delve_pdf("coded/moderation/2023-06-04-Interview 11 - Amin.pdf")   # doctest: +SKIP
    >>> doc.has_codes, doc.turns[5].codes                                              # doctest: +SKIP
    (True, ['Data-no-signal'])
"""

from __future__ import annotations

import csv
import difflib
import functools
import hashlib
import io
import itertools
import json
import logging
import os
import re
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .._ids import ID_FROM_TEXT_RE, masked_name
from ..errors import AnalysisError, TranscriptError
from ..files import atomic_write_text
from ._code_map import CodeMap
from ._qdpx import QdpxError, qdpx_codes
from ._review_log import NONE_CODE, SKIP_CODE, latest_decision_rows

logger = logging.getLogger(__name__)
PDF_READER_VERSION = 2  # bump when the reading rules change: cached reads are keyed by it (2: PDFium)
MARGIN_SHARE = 0.05  # top and bottom 5% of a page hold Delve's header and footer
TAG_SIZE_RATIO = 0.85  # tags are drawn in a type at most 85% of the body size
TITLE_SIZE_RATIO = 1.4  # the interview title is drawn larger than the body
TAG_GAP_PT = 6.0  # tags on one line are further apart than words in a tag
MAX_CSV_MB = 20.0  # a codes CSV larger than this is refused before it is read (as ingest.max_text_mb)


@dataclass
class CodedTurn:
    speaker: str
    text: str
    codes: list[str] = field(default_factory=list)
    page: int = 0


@dataclass
class CodedDocument:
    path: Path
    interview_id: str
    coder: str
    title: str
    turns: list[CodedTurn]

    @property
    def has_codes(self) -> bool:
        return any(t.codes for t in self.turns)


def _coder_of(path: Path) -> str:
    stem = re.sub(r"\.txt$", "", path.stem)
    m = re.search(r"interview\s*\d+\s*-\s*(.+)$", stem, re.IGNORECASE)
    return m.group(1).strip() if m else stem


def _parse_delve_pdf(path: Path, content: bytes) -> tuple[str, list[CodedTurn]]:
    """Title and turns of a Delve print (``content``: the bytes of the file at ``path``)."""
    import pypdfium2 as pdfium  # PDFium (C++): pdfminer took ten times as long

    try:
        pdf = pdfium.PdfDocument(content)
    except pdfium.PdfiumError as exc:
        raise TranscriptError(path, _pdf_problem(exc, content)) from None
    try:
        words_by_page = [_page_words(pdf, k) for k in range(len(pdf))]
    except pdfium.PdfiumError as exc:  # a page that cannot be loaded
        raise TranscriptError(path, _pdf_problem(exc, content)) from None
    finally:
        pdf.close()
    return _delve_turns(path, words_by_page)


def _pdf_problem(exc: Exception, content: bytes) -> str:
    """What is wrong with a PDF PDFium could not read (``exc``, a ``PdfiumError``), and what to do."""
    import pypdfium2.raw as pdfium_c

    detail = str(exc).rstrip(".")
    if getattr(exc, "err_code", None) in {pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY}:
        return f"the PDF is password-protected ({detail}); print the coded transcript again without a password"
    # a PDF starts with its %PDF- header and ends with %%EOF (readers look in its last KiB):
    # a header without an end is a file cut short
    if b"%PDF-" in content[:1024] and b"%%EOF" not in content[-1024:]:
        return f"the PDF is truncated (no %%EOF at its end; {detail}); copy or download it again"
    return f"not a readable PDF ({detail}); export the coded transcript from Delve again as a PDF"


# pdfplumber's word rules (extract_words with its default x and y tolerance of 3 pt), which
# the reading rules above were written against and checked with on the reference prints
WORD_GAP_PT = 3.0  # characters further apart on a line than this are two words
LINE_GAP_PT = 3.0  # characters whose tops differ by at most this share a line
# ligatures spelled out, as pdfplumber spells them
LIGATURES = str.maketrans({"ﬀ": "ff", "ﬃ": "ffi", "ﬄ": "ffl", "ﬁ": "fi", "ﬂ": "fl", "ﬆ": "st", "ﬅ": "st"})
HYPHEN_AT_LINE_END = "\x02"  # what PDFium gives for a hyphen that ends a line


def _page_words(pdf, index: int) -> tuple[float, list[dict]]:
    """(height, words) of page ``index`` of a ``pypdfium2.PdfDocument``: each word's text, its
    box (``x0``, ``x1``, and ``top``, ``bottom`` from the page top), its font's ``size`` and
    ``fontname``, as pdfplumber's ``extract_words(extra_attrs=["fontname", "size"])`` gives them.

    A character's box is measured as pdfminer measures it: from its origin on the baseline,
    its advance to the right, from the font's descent up by the font size. All text is read
    as upright (pdfplumber reads rotated text top to bottom; Delve prints have none).
    """
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        height = page.get_height()
        chars = _page_chars(textpage.raw, height)
    finally:
        textpage.close()
        page.close()
    return height, _chars_to_words(chars)


@functools.cache
def _pdfium_calls():
    """PDFium's per-character (and per text object) functions, called without ctypes' argument
    conversion: a print has some 40,000 characters, each read with four calls, and the checked
    bindings of ``pypdfium2.raw`` spend twice as long per call. Every argument must be passed
    as its C type: a ``c_void_p`` handle, a Python int index, ``byref`` outputs. A text object
    or font is returned as its address (0: none)."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    def unchecked(function, restype):
        return ctypes.CFUNCTYPE(restype)(ctypes.cast(function, ctypes.c_void_p).value)

    return SimpleNamespace(
        text_object=unchecked(pdfium_c.FPDFText_GetTextObject, ctypes.c_size_t),
        unicode=unchecked(pdfium_c.FPDFText_GetUnicode, ctypes.c_uint),
        origin=unchecked(pdfium_c.FPDFText_GetCharOrigin, ctypes.c_int),
        loose_box=unchecked(pdfium_c.FPDFText_GetLooseCharBox, ctypes.c_int),
        font=unchecked(pdfium_c.FPDFTextObj_GetFont, ctypes.c_size_t),
        font_size=unchecked(pdfium_c.FPDFTextObj_GetFontSize, ctypes.c_int),
        matrix=unchecked(pdfium_c.FPDFPageObj_GetMatrix, ctypes.c_int),
    )


@dataclass
class _PageChars:
    """A page's characters drawn from a text object, in drawing order, as arrays: ``position``
    in PDFium's character list (the characters between two that are not adjacent are a
    break PDFium inferred), ``code`` (Unicode), ``space``, box ``x0``, ``x1`` (not read for
    a space), ``top``, ``bottom``, and ``font``: index into ``fonts`` of its (size, font name)."""

    position: np.ndarray
    code: np.ndarray
    space: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    font: np.ndarray
    fonts: list[tuple[float, str]]


def _page_chars(handle, height: float) -> _PageChars:
    """The characters of a PDFium text page (``handle``: its ``FPDF_TEXTPAGE``) of ``height``."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    pdfium_calls = _pdfium_calls()
    count = pdfium_c.FPDFText_CountChars(handle)
    text_page = ctypes.c_void_p(ctypes.cast(handle, ctypes.c_void_p).value)
    at_page = itertools.repeat(text_page)
    objects = np.fromiter(map(pdfium_calls.text_object, at_page, range(count)), np.uint64, count)
    # no text object: a space or line break PDFium inferred from the layout, a word break
    position = np.flatnonzero(objects)
    indexes = position.tolist()
    # one character at a time: FPDFText_GetText may leave out or add characters
    code = np.fromiter(map(pdfium_calls.unicode, at_page, indexes), np.uint32, len(indexes))
    code[code == ord(HYPHEN_AT_LINE_END)] = ord("-")
    distinct_codes, code_kind = np.unique(code, return_inverse=True)
    space = np.array([chr(c).isspace() for c in distinct_codes.tolist()], dtype=bool)[code_kind]

    x, y = ctypes.c_double(), ctypes.c_double()
    x_ref, y_ref = ctypes.byref(x), ctypes.byref(y)
    xs, ys = [], []
    for k in indexes:
        pdfium_calls.origin(text_page, k, x_ref, y_ref)
        xs.append(x.value)
        ys.append(y.value)
    box = pdfium_c.FS_RECTF()
    box_ref = ctypes.byref(box)
    rights = []
    x1 = np.full(len(indexes), np.nan)
    for k in position[~space].tolist():  # a space ends a word: its right edge is never used
        pdfium_calls.loose_box(text_page, k, box_ref)  # its right edge: origin + advance
        rights.append(box.right)
    x1[~space] = rights

    # each text object's font, read once; characters of one size and font name share a run
    distinct_objects, object_kind = np.unique(objects[position], return_inverse=True)
    font_index: dict[tuple[float, str], int] = {}
    object_font, object_size, object_descent = [], [], []
    font_names: dict[int, str] = {}
    descents: dict[tuple[int, float], float] = {}
    for address in distinct_objects.tolist():
        size, descent, fontname = _text_object_font(address, font_names, descents)
        object_font.append(font_index.setdefault((size, fontname), len(font_index)))
        object_size.append(size)
        object_descent.append(descent)
    fonts = list(font_index)
    size = np.array(object_size, dtype=float)[object_kind]
    bottom = height - (np.array(ys, dtype=float) + np.array(object_descent, dtype=float)[object_kind])
    return _PageChars(
        position=position,
        code=code,
        space=space,
        x0=np.array(xs, dtype=float),
        x1=x1,
        top=bottom - size,
        bottom=bottom,
        font=np.array(object_font, dtype=np.int64)[object_kind],
        fonts=fonts,
    )


def _text_object_font(text_object: int, font_names: dict, descents: dict) -> tuple[float, float, str]:
    """(size on the page, descent on the page, base font name) of a PDFium text object (its
    address): its font size scaled by its matrix, as pdfminer's character size is.
    ``font_names`` (font -> name) and ``descents`` ((font, size) -> descent) keep what was
    read of the page's fonts: a page has dozens of text objects in a few fonts."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    pdfium_calls = _pdfium_calls()
    text_object = ctypes.c_void_p(text_object)
    font_address = pdfium_calls.font(text_object)
    font = ctypes.cast(ctypes.c_void_p(font_address), pdfium_c.FPDF_FONT)
    name = font_names.get(font_address)
    if name is None:
        name_buffer = ctypes.create_string_buffer(256)
        length = pdfium_c.FPDFFont_GetBaseFontName(font, name_buffer, len(name_buffer))
        name = name_buffer.value.decode("utf-8", "replace") if 0 < length <= len(name_buffer) else ""
        font_names[font_address] = name
    font_size, matrix = ctypes.c_float(), pdfium_c.FS_MATRIX()
    pdfium_calls.font_size(text_object, ctypes.byref(font_size))
    pdfium_calls.matrix(text_object, ctypes.byref(matrix))
    size = font_size.value * (matrix.b**2 + matrix.d**2) ** 0.5
    descent = descents.get((font_address, size))
    if descent is None:
        descent_value = ctypes.c_float()
        pdfium_c.FPDFFont_GetDescent(font, ctypes.c_float(size), descent_value)
        descent = descents[(font_address, size)] = descent_value.value
    return size, descent, name


def _chars_to_words(chars: _PageChars) -> list[dict]:
    """Words of a page's characters, grouped as pdfplumber groups them: runs of one font and
    size (a break PDFium inferred ends a run), each cut into lines (tops within ``LINE_GAP_PT``
    of the previous distinct top) read left to right, a word ending at a blank or a gap over
    ``WORD_GAP_PT``."""
    n = len(chars.position)
    if not n:
        return []
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (np.diff(chars.position) != 1) | (chars.font[1:] != chars.font[:-1])
    run = np.cumsum(new_run)
    # lines of a run: its tops in order, a new line where one is more than LINE_GAP_PT below
    # the one before (pdfplumber's cluster_objects); numbered on in run order
    by_top = np.lexsort((chars.top, run))
    sorted_top = chars.top[by_top]
    new_line = np.ones(n, dtype=bool)
    new_line[1:] = (run[by_top][1:] != run[by_top][:-1]) | (sorted_top[1:] > sorted_top[:-1] + LINE_GAP_PT)
    line = np.empty(n, dtype=np.int64)
    line[by_top] = np.cumsum(new_line)
    # reading order: line by line, left to right (ties in drawing order)
    order = np.lexsort((np.arange(n), chars.x0, line))
    space, x0, x1, top = chars.space[order], chars.x0[order], chars.x1[order], chars.top[order]
    line = line[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (
        (line[1:] != line[:-1])
        | space[:-1]
        | (x0[1:] < x0[:-1])
        | (x0[1:] > x1[:-1] + WORD_GAP_PT)
        | (np.abs(top[1:] - top[:-1]) > LINE_GAP_PT)
    )
    kept = ~space
    starts = np.flatnonzero(starts[kept])
    if not len(starts):
        return []
    order = order[kept]
    text = chars.code[order].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
    ends = [*starts[1:].tolist(), len(order)]
    texts = [text[a:b] for a, b in zip(starts.tolist(), ends)]
    if any(ligature in text for ligature in map(chr, LIGATURES)):
        texts = [t.translate(LIGATURES) for t in texts]
    fonts = [chars.fonts[f] for f in chars.font[order][starts].tolist()]
    return [
        {"text": t, "x0": a, "x1": b, "top": c, "bottom": d, "size": font[0], "fontname": font[1]}
        for t, a, b, c, d, font in zip(
            texts,
            np.minimum.reduceat(chars.x0[order], starts).tolist(),
            np.maximum.reduceat(chars.x1[order], starts).tolist(),
            np.minimum.reduceat(chars.top[order], starts).tolist(),
            np.maximum.reduceat(chars.bottom[order], starts).tolist(),
            fonts,
        )
    ]


def _delve_turns(path: Path, words_by_page: list) -> tuple[str, list[CodedTurn]]:
    """Title and turns from (page height, words) of each page (see the module's reading rules)."""
    # counted by size, then by size rounded: the same counts, in the same order, with one
    # rounding per distinct size instead of one per word
    sizes: Counter[float] = Counter()
    for size, count in Counter(w["size"] for _, words in words_by_page for w in words).items():
        sizes[round(size, 1)] += count
    if not sizes:
        raise TranscriptError(path, "PDF with no text (a scan?); cannot read codes")
    body = sizes.most_common(1)[0][0]
    styles: dict[tuple[float, str], tuple[bool, str]] = {}  # (size, font name) -> (bold, kind)
    turns: list[CodedTurn] = []
    title = ""
    for page_no, (height, words) in enumerate(words_by_page, start=1):
        top_margin, bottom_margin = height * MARGIN_SHARE, height * (1 - MARGIN_SHARE)
        lines: dict[tuple[int, bool, str], list[dict]] = {}
        for w in words:
            if w["top"] < top_margin or w["bottom"] > bottom_margin:
                continue  # page header / footer
            style = styles.get((w["size"], w["fontname"]))
            if style is None:
                style = styles[(w["size"], w["fontname"])] = _word_style(w["size"], w["fontname"], body)
            lines.setdefault((round(w["top"]), *style), []).append(w)
        for (_top, bold, kind), line in sorted(lines.items(), key=lambda kv: (kv[0][0], kv[0][2])):
            line.sort(key=lambda w: w["x0"])
            if kind == "title":
                title = " ".join(w["text"] for w in line)
            elif kind == "tag":
                if turns:
                    turns[-1].codes += _split_tags(line)
            elif bold and kind == "text":
                turns.append(CodedTurn(speaker=" ".join(w["text"] for w in line), text="", page=page_no))
            elif turns:
                text = " ".join(w["text"] for w in line)
                turns[-1].text = f"{turns[-1].text} {text}".strip()
    return title, turns


def _word_style(size: float, fontname: str, body: float) -> tuple[bool, str]:
    """(bold, kind) of a word in this font: its kind (``tag``, ``title`` or ``text``) told
    by its size rounded to a tenth of a point against the ``body`` text's size."""
    size = round(size, 1)
    kind = "tag" if size <= body * TAG_SIZE_RATIO else "title" if size >= body * TITLE_SIZE_RATIO else "text"
    return "bold" in fontname.lower(), kind


def read_delve_pdf(path: str | Path, cache_dir: str | Path | None = None) -> CodedDocument:
    """Read one Delve coded-transcript print.

    Args:
        cache_dir: a folder where what was read is kept, keyed by the file's content
            hash (reading a print takes a tenth of a second or more; a cached one milliseconds).

    Raises:
        TranscriptError: not a readable PDF, or no speaker turns in it.
    """
    (read,) = _read_delve_pdfs([Path(path)], cache_dir)
    if isinstance(read, TranscriptError):
        raise read
    return read


def _read_delve_pdfs(paths: list[Path], cache_dir: str | Path | None) -> list[CodedDocument | TranscriptError]:
    """Each print of ``paths`` read (see :func:`read_delve_pdf`), or what is wrong with it, in
    the order of ``paths``; the prints not cached are parsed in worker processes when there
    are many (see :func:`_parse_delve_pdfs`), in batches of about ``PDF_BATCH_BYTES``, so a
    folder of thousands never holds all their bytes at once."""
    reads: list = [None] * len(paths)  # (title, turns), or the problem
    misses: list[tuple[int, bytes, Path | None]] = []  # (index, content, cache entry) of prints to parse

    def parse_misses() -> None:
        nonlocal held
        parsed = _parse_delve_pdfs([(paths[k], content) for k, content, _ in misses])
        for (k, _content, cached), read in zip(misses, parsed):
            reads[k] = read
            if cached is not None and not isinstance(read, TranscriptError):
                title, turns = read
                try:
                    atomic_write_text(cached, json.dumps({"title": title, "turns": [vars(t) for t in turns]}))
                except OSError as exc:  # a full disk loses the cache entry, not the read
                    logger.warning("Delve cache entry %s not written (%s)", cached, exc)
        misses.clear()
        held = 0

    held = 0  # bytes of the prints in `misses`
    for k, path in enumerate(paths):
        try:
            content = path.read_bytes()
        except OSError as exc:
            reads[k] = TranscriptError(path, f"not a readable PDF ({exc})")
            continue
        cached = _print_cache_entry(content, cache_dir) if cache_dir is not None else None
        reads[k] = _read_cached_print(cached) if cached is not None else None
        if reads[k] is None:
            misses.append((k, content, cached))
            held += len(content)
            if held >= PDF_BATCH_BYTES:  # a folder of thousands: the bytes held stay bounded
                parse_misses()
    if misses:
        parse_misses()
    return [r if isinstance(r, TranscriptError) else _coded_document(path, *r) for path, r in zip(paths, reads)]


def _coded_document(path: Path, title: str, turns: list[CodedTurn]) -> CodedDocument | TranscriptError:
    """The document read from the print at ``path``, or why it is no coded transcript."""
    if not turns:
        return TranscriptError(path, "no speaker turns found (expected Delve's bold speaker headings)")
    m = ID_FROM_TEXT_RE.search(title) or ID_FROM_TEXT_RE.search(path.stem)
    if not m:
        return TranscriptError(path, "cannot tell which interview this is (no `Interview N` in title or file name)")
    return CodedDocument(path, str(int(m.group(1))), _coder_of(path), title, turns)


PDF_WORKERS = 2  # processes that parse prints at once (the reference machine has two cores)
PDF_WORKERS_FROM = 4  # parse in worker processes from this many prints on (see _parse_delve_pdfs)
PDF_BATCH_BYTES = 64 << 20  # uncached prints read into memory at a time, then parsed (the 54 reference prints: 16 MB)


def _parse_delve_pdfs(prints: list[tuple[Path, bytes]]) -> list[tuple[str, list[CodedTurn]] | TranscriptError]:
    """(title, turns) of each (path, content) of ``prints``, or what is wrong with it, in order.

    From ``PDF_WORKERS_FROM`` prints on, they are parsed in ``PDF_WORKERS`` forked processes:
    a print takes about 0.09 s of one core (PDFium and Python), two workers read the 54
    reference prints in 2.5 s instead of 4.8 s, and a fork costs 0.02 s (0.12 s from a 1.5 GB
    notebook kernel), where a spawned worker would import the package again for two seconds.
    The workers run only PDFium and numpy, never what the parent's threads use (a kernel's,
    torch's), which is what makes forking a multi-threaded process unsafe.
    """
    context = _fork_context() if len(prints) >= PDF_WORKERS_FROM else None
    workers = min(PDF_WORKERS, len(os.sched_getaffinity(0))) if context is not None else 1
    if workers < 2:
        outcomes = [_parse_delve_pdf_outcome(path, content) for path, content in prints]
    else:
        import pypdfium2  # noqa: F401  (imported, and PDFium set up, once, before the fork)

        paths, contents = zip(*prints)
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            outcomes = list(pool.map(_parse_delve_pdf_outcome, paths, contents))
    # a problem comes back as its reason (a TranscriptError does not survive pickling)
    return [TranscriptError(path, o) if isinstance(o, str) else o for (path, _), o in zip(prints, outcomes)]


def _parse_delve_pdf_outcome(path: Path, content: bytes) -> tuple[str, list[CodedTurn]] | str:
    """(title, turns) of a print, or the reason it cannot be read."""
    try:
        return _parse_delve_pdf(path, content)
    except TranscriptError as exc:
        return exc.reason


def _fork_context():
    """The ``fork`` start method where it is safe to use here (Linux, not a daemon process,
    which may not have children), else ``None``."""
    import multiprocessing

    if sys.platform != "linux" or multiprocessing.current_process().daemon:
        return None
    return multiprocessing.get_context("fork")


def _print_cache_entry(content: bytes, cache_dir: str | Path) -> Path:
    digest = hashlib.sha256(f"{PDF_READER_VERSION}\n".encode() + content).hexdigest()
    return Path(cache_dir) / f"{digest}.json"


def _read_cached_print(cached: Path) -> tuple[str, list[CodedTurn]] | None:
    """A print read before, or ``None``; an entry that cannot be read (truncated, not
    JSON, another shape) is a miss: logged, deleted, the PDF is read again."""
    if not cached.is_file():
        return None
    try:
        stored = json.loads(cached.read_text(encoding="utf-8"))
        return str(stored["title"]), [CodedTurn(**t) for t in stored["turns"]]
    except (OSError, ValueError, TypeError, KeyError) as exc:  # JSON and Unicode errors are ValueErrors
        logger.warning("Delve cache entry %s cannot be read (%r); deleted, reading the PDF again", cached, exc)
        cached.unlink(missing_ok=True)
        return None


def _split_tags(line: list[dict]) -> list[str]:
    tags, current = [], [line[0]]
    for prev, word in zip(line, line[1:]):
        if word["x0"] - prev["x1"] > TAG_GAP_PT:
            tags.append(" ".join(w["text"] for w in current))
            current = [word]
        else:
            current.append(word)
    tags.append(" ".join(w["text"] for w in current))
    return tags


# ---------------------------------------------------------------- alignment


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def align_turns(pdf_texts: list[str], transcript_texts: list[str]) -> list[int | None]:
    """For each PDF turn, the index of the transcript turn it is (or ``None``).

    Equal runs are matched by difflib on normalised text; within a differing run of
    the same length on both sides, turns are paired in order (a typo fixed in one copy
    must not unpair a whole run).
    """
    a, b = [_norm(t) for t in pdf_texts], [_norm(t) for t in transcript_texts]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    out: list[int | None] = [None] * len(a)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            for k in range(i2 - i1):
                out[i1 + k] = j1 + k
        elif op == "replace":
            # unequal runs: pair each PDF turn with the most similar unused transcript turn
            used: set[int] = set()
            for i in range(i1, i2):
                best, score = None, 0.6
                for j in range(j1, j2):
                    if j in used:
                        continue
                    s = difflib.SequenceMatcher(None, a[i], b[j], autojunk=False).ratio()
                    if s > score:
                        best, score = j, s
                if best is not None:
                    out[i] = best
                    used.add(best)
    return out


CODE_COLUMNS = [
    "interview_id",
    "coder",
    "source_file",
    "turn_index",
    "pdf_turn",
    "speaker",
    "code",
    "stage",
    "kind",
    "status",
]
DOC_COLUMNS = [
    "interview_id",
    "coder",
    "source_file",
    "has_codes",
    "pdf_turns",
    "aligned_turns",
    "codes",
    "first_coded_turn",
    "last_coded_turn",
    "units",  # `range`: turns from the first to the last coded one; `listed`: exactly the turns listed (review logs)
]


@dataclass
class HumanCodes:
    """Codes of one reference folder: one row per (turn, code), and one row per file."""

    codes: pd.DataFrame
    documents: pd.DataFrame

    def coded(self) -> pd.DataFrame:
        """Documents that carry codes."""
        return self.documents[self.documents["has_codes"]]


def _qdpx_documents(
    path: Path, turns: pd.DataFrame, code_map: CodeMap, stage_names: dict[str, str], keep_names: bool
) -> tuple[list[dict], list[dict]]:
    try:
        table = qdpx_codes(path, turns, code_map, stage_names, keep_names)
    except QdpxError as exc:
        raise TranscriptError(path, str(exc).split(": ", 1)[-1]) from None
    docs = []
    for (interview_id, source), group in table.groupby(["interview_id", "source_file"]) if len(table) else []:
        mapped = group.loc[group["status"] == "mapped", "turn_index"]
        docs.append(
            {
                "interview_id": interview_id,
                "coder": group["coder"].iloc[0],
                "source_file": source,
                "has_codes": True,
                "pdf_turns": None,
                "aligned_turns": None,
                "codes": len(group),
                "first_coded_turn": mapped.min() if len(mapped) else None,
                "last_coded_turn": mapped.max() if len(mapped) else None,
            }
        )
    return table.to_dict("records"), docs


def _delve_document(
    path: Path, doc: CodedDocument, interview: pd.DataFrame, code_map: CodeMap, coder: str, keep_names: bool
) -> tuple[list[dict], dict]:
    """Codes of one Delve print aligned to its transcript's turns, and the file's summary row."""
    mapping = align_turns([t.text for t in doc.turns], interview["text"].tolist())
    turn_index = interview["turn_index"].tolist()
    source = path.name if keep_names else masked_name(path.name, False).replace("[name]", f"[{coder}]")
    rows = []
    for k, (turn, j) in enumerate(zip(doc.turns, mapping)):
        for code in turn.codes:
            stage, kind, status = code_map.classify(code)
            rows.append(
                {
                    "interview_id": doc.interview_id,
                    "coder": coder,
                    "source_file": source,
                    "turn_index": turn_index[j] if j is not None else None,
                    "pdf_turn": k,
                    "speaker": turn.speaker,
                    "code": code,
                    "stage": stage,
                    "kind": kind,
                    "status": status,
                }
            )
    coded_idx = [
        turn_index[j]
        for turn, j in zip(doc.turns, mapping)
        if j is not None and any(code_map.classify(c)[2] == "mapped" for c in turn.codes)
    ]
    summary = {
        "interview_id": doc.interview_id,
        "coder": coder,
        "source_file": source,
        "has_codes": doc.has_codes,
        "pdf_turns": len(doc.turns),
        "aligned_turns": sum(j is not None for j in mapping),
        "codes": sum(len(t.codes) for t in doc.turns),
        "first_coded_turn": min(coded_idx) if coded_idx else None,
        "last_coded_turn": max(coded_idx) if coded_idx else None,
    }
    return rows, summary


def code_files(folder: Path) -> list[Path]:
    """The code files of ``folder`` and its subfolders that :func:`read_codes_folder` reads, sorted."""
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in {".pdf", ".csv", ".qdpx"} and not p.name.startswith(".")
    )


def warm_print_cache(folders: list[str | Path], cache_dir: str | Path, stop=None) -> int:
    """Read the Delve prints of ``folders`` not yet in ``cache_dir`` into it, in this process
    (no workers), one at a time, each cached as soon as it is read; return how many prints
    were looked at. ``stop``: a function asked before each print, which ends the reading
    when it returns true (a reader told to stop finishes the print at hand, so no cache
    entry is left half-written).

    A cache warm-up run beside other work (the report starts it while the first notebooks
    run on the other core): what is wrong with a print is left for :func:`read_codes_folder`
    to say, which then finds the rest cached."""
    pdfs = [p for folder in folders if Path(folder).is_dir()
            for p in code_files(Path(folder)) if p.suffix.lower() == ".pdf"]
    for k, pdf in enumerate(pdfs):
        if stop is not None and stop():
            return k
        _read_delve_pdfs([pdf], cache_dir)  # one print: parsed here, no workers
    return len(pdfs)


def read_codes_folder(
    folder: str | Path,
    turns: pd.DataFrame,
    code_map: CodeMap,
    *,
    keep_names: bool = False,
    stage_names: dict[str, str] | None = None,
    cache_dir: str | Path | None = None,
    max_csv_mb: float = MAX_CSV_MB,
) -> HumanCodes:
    """Read every Delve PDF (and ``*.csv`` code table, ``.qdpx`` project) in ``folder`` and
    align it to ``turns`` (the loaded transcripts of the same interviews).

    Args:
        cache_dir: where Delve prints already read are kept (see :func:`read_delve_pdf`).
        max_csv_mb: a codes CSV larger than this is refused, unread (``ingest.max_text_mb``).

    Raises:
        AnalysisError: no code files, or a file's interview is not among ``turns``.
    """
    folder = Path(folder)
    files = code_files(folder)
    if not files:
        raise AnalysisError(f"no coded files (.pdf, .csv or .qdpx) in {folder}")
    pdfs = [path for path in files if path.suffix.lower() == ".pdf"]
    prints = dict(zip(pdfs, _read_delve_pdfs(pdfs, cache_dir)))  # read together: parsed in parallel when many
    code_rows, doc_rows, problems = [], [], []
    coders_seen: dict[str, int] = {}
    for path in files:
        try:
            if path.suffix.lower() == ".qdpx":
                rows, docs = _qdpx_documents(path, turns, code_map, stage_names or {}, keep_names)
            elif path.suffix.lower() == ".csv":
                known = set(stage_names or {}) | _mapped_stages(code_map)
                rows, docs = _read_codes_csv(path, turns, code_map, keep_names, known, max_mb=max_csv_mb)
            else:
                doc = prints[path]
                if isinstance(doc, TranscriptError):
                    raise doc
                interview = turns[turns["interview_id"] == doc.interview_id].sort_values("turn_index")
                if interview.empty:
                    problems.append(f"{path.name}: interview {doc.interview_id} is not among the loaded transcripts")
                    continue
                # Pseudonymous coder ids per interview (coder-1, coder-2, in file order) keep two
                # coders' files of one interview apart once their names are masked.
                coders_seen[doc.interview_id] = coders_seen.get(doc.interview_id, 0) + 1
                coder = doc.coder if keep_names else f"coder-{coders_seen[doc.interview_id]}"
                rows, summary = _delve_document(path, doc, interview, code_map, coder, keep_names)
                docs = [summary]
        except TranscriptError as exc:
            problems.append(str(exc))
            continue
        code_rows += rows
        doc_rows += docs
    if problems:
        raise AnalysisError(f"cannot read the codes in {folder}:\n" + "\n".join(f"  - {p}" for p in problems))
    codes = pd.DataFrame(code_rows, columns=CODE_COLUMNS).astype({"turn_index": "Int64"})
    documents = pd.DataFrame(doc_rows, columns=DOC_COLUMNS).astype(
        {"first_coded_turn": "Int64", "last_coded_turn": "Int64"}
    )
    documents["units"] = [u if isinstance(u, str) else "range" for u in documents["units"]]  # Delve, .qdpx
    # A review log tells its coders apart (its units are per coder); other files are one coding each.
    who = documents["coder"].where(documents["units"] == "listed", "")
    duplicated = documents.assign(who=who).duplicated(["interview_id", "source_file", "who"], keep=False)
    if duplicated.any():
        raise AnalysisError(
            f"{folder}: two code files of interview {documents.loc[duplicated, 'interview_id'].iloc[0]} "
            "cannot be told apart; give them distinct names"
        )
    return HumanCodes(codes, documents)


def _mapped_stages(code_map: CodeMap) -> set[str]:
    """The stage ids the code map maps to (a code equal to one names that stage)."""
    tables = (code_map.prefixes, code_map.abbreviations, code_map.free_codes)
    return {stage for table in tables for stage in table.values() if stage}


def _classify_csv_code(code: str, code_map: CodeMap, stage_ids: set[str]) -> tuple[str | None, str | None, str]:
    """A stage id is its stage; ``none`` (reviewed, no stage) and ``skip`` are statuses, not codes."""
    if code in stage_ids:
        return code, "issue", "mapped"
    if code.lower() in {NONE_CODE, SKIP_CODE}:
        return None, None, code.lower()
    return code_map.classify(code)


def _read_csv_table(path: Path, max_mb: float = MAX_CSV_MB) -> tuple[pd.DataFrame, list[int]]:
    """A codes CSV as text cells, and the physical line where each of its rows starts (a
    quoted cell may hold line breaks), refused with the file and line named when it is
    not UTF-8 text, empty, or has a column twice in its header (pandas would rename the
    second ``code`` to ``code.1`` and its codes would be lost)."""
    text = _csv_text(path, max_mb)
    _check_csv_header(path, text)
    starts = _record_lines(text)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TranscriptError(path, f"not a readable CSV ({exc})", _parser_error_line(str(exc), starts)) from None
    return table, _row_lines(text, starts, len(table))


def _csv_text(path: Path, max_mb: float) -> str:
    """The file's text (UTF-8, with or without a byte-order mark), NUL-free, at most ``max_mb``."""
    try:
        size = path.stat().st_size
        if size > max_mb * 1024 * 1024:  # a table of ~20 bytes a row takes ~100 times its size in memory
            raise TranscriptError(
                path,
                f"larger than the limit of {max_mb:g} MB for a codes CSV (ingest.max_text_mb); "
                "split it into several files (one per interview or coder)",
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise TranscriptError(path, "not UTF-8 text (a binary file?); save the codes as a UTF-8 CSV", line) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise TranscriptError(path, "holds NUL bytes (a binary file?); save the codes as a UTF-8 CSV", line)
    return text


def _check_csv_header(path: Path, text: str) -> None:
    """Refuse an empty file and a header naming one column twice."""
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise TranscriptError(path, f"not a readable CSV ({exc})", 1) from None
    if not any(cell.strip() for cell in header):
        raise TranscriptError(path, "empty CSV; expected a header line interview_id, turn_index (or text), code", 1)
    names = Counter(cell.strip().lower() for cell in header)
    twice = [(name, n) for name, n in names.items() if n > 1 and name]  # empty trailing cells are no column
    if twice:
        name, n = twice[0]
        raise TranscriptError(
            path,
            f"column {name!r} appears {n} times in the header; keep one "
            "(a second code of a turn goes on a row of its own)",
            1,
        )


def _record_lines(text: str) -> list[tuple[int, bool]]:
    """(physical line where it starts, blank) of each CSV record, the header's first; a
    record whose quoted cells hold line breaks spans several lines. Stops at a record
    that cannot be read (an unclosed quote), which is listed.

    Example:
        >>> _record_lines('a,b\\n1,"two\\nlines"\\n\\n3,x\\n')
        [(1, False), (2, False), (4, True), (5, False)]
    """
    reader = csv.reader(io.StringIO(text, newline=""))  # newline="": CR, LF and CRLF end a line, as for pandas
    limit = csv.field_size_limit(max(len(text) + 1, csv.field_size_limit()))  # a long cell is no error here
    starts: list[tuple[int, bool]] = []
    end = 0
    try:
        for record in reader:
            # pandas skips blank and whitespace-only lines (skip_blank_lines)
            starts.append((end + 1, not record or (len(record) == 1 and not record[0].strip())))
            end = reader.line_num
    except csv.Error:
        starts.append((end + 1, False))
    finally:
        csv.field_size_limit(limit)
    return starts


def _row_lines(text: str, starts: list[tuple[int, bool]], rows: int) -> list[int]:
    """The physical line of each of the ``rows`` data rows pandas read (the records after
    the header, blank ones skipped); falls back to one line per row if the two readers
    disagree on the rows (never seen: they share the quoting rules)."""
    lines = [line for line, blank in starts[1:] if not blank]
    return lines if len(lines) == rows else list(range(2, rows + 2))


def _parser_error_line(message: str, starts: list[tuple[int, bool]]) -> int | None:
    """The physical line of the record pandas could not read: it counts records, not lines
    (``Expected 3 fields in line 5``: the fifth record; ``EOF inside string starting at
    row 3``: the record after the third)."""
    record = re.search(r"in line (\d+)", message)
    index = int(record.group(1)) - 1 if record else None
    row = re.search(r"starting at row (\d+)", message)
    index = int(row.group(1)) if row else index
    if index is None:
        return None
    return starts[index][0] if 0 <= index < len(starts) else index + 1


# Words of a code file's name that say nothing about a person (`codes.csv`, `review_log_2.csv`).
GENERIC_CODE_FILE_RE = re.compile(
    r"^(?:[\W\d_]*(?:codes?|coding|codings|coded|human|reference|consensus|moderation|export|review|log|sample|"
    r"stages?|labels?|delve|table|all|final)[\W\d_]*)+$",
    re.IGNORECASE,
)


def _csv_source_name(path: Path, keep_names: bool) -> str:
    """The code file's name in outputs: kept when generic (`codes.csv`), else derived from
    its content (a file may be named after its coder)."""
    if keep_names or GENERIC_CODE_FILE_RE.match(path.stem):
        return path.name
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:6]
    except OSError:
        digest = "file"
    return f"codes-{digest}{path.suffix.lower()}"


def _read_codes_csv(
    path: Path,
    turns: pd.DataFrame,
    code_map: CodeMap,
    keep_names: bool,
    stage_ids: set[str] = frozenset(),
    max_mb: float = MAX_CSV_MB,
):
    """``interview_id, turn_index or text, code`` (one row per code); an optional
    ``coder`` column. A row naming a text is matched to the turn with that exact
    (whitespace-normalised) text. A code equal to a stage id is that stage. A problem
    names the physical line where its row starts (a quoted cell may span lines).

    A review log (a ``time`` column, or a ``none`` code) lists its units: exactly the
    turns decided (``none``: no stage), not a range; ``skip`` rows are no decision, and
    rows of a turn decided again later are ``superseded``.
    """
    table, lines = _read_csv_table(path, max_mb)
    columns = _csv_columns(path, table)
    coder_ids: dict[str, str] = {}  # name -> coder-N, in order of appearance (privacy)
    source_name = _csv_source_name(path, keep_names)
    interviews = _interviews(turns)
    classify = functools.lru_cache(maxsize=None)(lambda code: _classify_csv_code(code, code_map, stage_ids))
    code_rows = [
        _csv_code_row(path, row, line, columns, interviews, classify, keep_names, coder_ids, source_name)
        for line, row in zip(lines, table.to_dict("records"))
    ]
    listed = "time" in columns or any(r["status"] == NONE_CODE for r in code_rows)
    if listed and "time" in columns and code_rows:
        _mark_superseded(code_rows, table[columns["time"]].tolist())
    return code_rows, _csv_documents(code_rows, source_name, listed)


def _csv_columns(path: Path, table: pd.DataFrame) -> dict[str, str]:
    """Lower-cased column name -> the header's spelling; the required columns must be there."""
    columns = {c.strip().lower(): c for c in table.columns}
    if "interview_id" not in columns or "code" not in columns or not ({"turn_index", "text"} & set(columns)):
        raise TranscriptError(path, "expected columns interview_id, turn_index (or text), code", 1)
    return columns


def _interviews(turns: pd.DataFrame) -> dict:
    """interview id -> (its turn indexes, its whitespace-normalised texts -> first turn
    index): looked up once per row of a codes CSV (a filter per row was quadratic)."""
    out = {}
    for interview_id, interview in turns.groupby("interview_id", sort=False):
        texts: dict[str, int] = {}
        for text, index in zip(interview["text"], interview["turn_index"]):
            texts.setdefault(" ".join(text.split()), int(index))
        out[interview_id] = (set(interview["turn_index"]), texts)
    return out


def _csv_turn(path: Path, row: dict, line: int, columns: dict[str, str], interviews: dict) -> tuple[str, int]:
    """(interview id, turn index) a row codes: its ``turn_index``, else the turn with its ``text``."""
    interview_id = str(row[columns["interview_id"]]).strip()
    if interview_id not in interviews:
        raise TranscriptError(path, f"interview {interview_id!r} is not among the loaded transcripts", line)
    indexes, texts = interviews[interview_id]
    if "turn_index" in columns and str(row[columns["turn_index"]]).strip():
        try:
            turn_index = int(row[columns["turn_index"]])
        except ValueError:
            raise TranscriptError(path, f"turn_index {row[columns['turn_index']]!r} is not a number", line) from None
        if turn_index not in indexes:
            raise TranscriptError(path, f"interview {interview_id} has no turn {turn_index}", line)
        return interview_id, turn_index
    wanted = " ".join(str(row[columns["text"]]).split())
    if wanted not in texts:
        raise TranscriptError(path, f"no turn of interview {interview_id} has this text: {wanted[:60]!r}", line)
    return interview_id, texts[wanted]


def _csv_code_row(
    path: Path,
    row: dict,
    line: int,
    columns: dict[str, str],
    interviews: dict,
    classify,
    keep_names: bool,
    coder_ids: dict[str, str],
    source_name: str,
) -> dict:
    """One row of the codes table (see ``CODE_COLUMNS``) from one CSV row (``classify``:
    code -> stage, kind, status); ``coder_ids`` collects the pseudonymous coder ids given so far."""
    interview_id, turn_index = _csv_turn(path, row, line, columns, interviews)
    code = str(row[columns["code"]]).strip()
    coder = str(row[columns["coder"]]).strip() if "coder" in columns else path.stem
    if not keep_names:  # a coder column, or a file named after its coder, holds a name
        coder = coder_ids.setdefault(coder.casefold(), f"coder-{len(coder_ids) + 1}")
    stage, kind, status = classify(code)
    return {
        "interview_id": interview_id,
        "coder": coder,
        "source_file": source_name,
        "turn_index": turn_index,
        "pdf_turn": None,
        "speaker": None,
        "code": code,
        "stage": stage,
        "kind": kind,
        "status": status,
    }


def _mark_superseded(code_rows: list[dict], times: list[str]) -> None:
    """In a review log, mark the rows of a turn decided again later ``superseded`` (the
    later decision counts); ``skip`` rows stay as they are."""
    decisions = pd.DataFrame(
        {
            "turn_id": [f"{r['interview_id']}|{r['turn_index']}" for r in code_rows],
            "coder": [r["coder"] for r in code_rows],
            "time": times,
            "code": [r["code"] for r in code_rows],
        }
    )
    for r, latest in zip(code_rows, latest_decision_rows(decisions)):
        if not latest and r["status"] != SKIP_CODE:
            r["status"] = "superseded"


def _csv_documents(code_rows: list[dict], source_name: str, listed: bool) -> list[dict]:
    """One summary row (see ``DOC_COLUMNS``) per interview and coder of a codes CSV."""
    by_doc: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for r in code_rows:
        by_doc.setdefault((r["interview_id"], r["coder"]), []).append((r["turn_index"], r["status"]))
    docs = []
    for (interview_id, coder), items in by_doc.items():
        if listed:
            coded = [t for t, s in items if s not in {SKIP_CODE, "superseded"}]
        else:
            coded = [t for t, s in items if s == "mapped"]
        docs.append(
            {
                "interview_id": interview_id,
                "coder": coder,
                "source_file": source_name,
                "has_codes": bool(coded) if listed else bool(items),
                "pdf_turns": None,
                "aligned_turns": None,
                "codes": len(items),
                "first_coded_turn": min(coded) if coded else None,
                "last_coded_turn": max(coded) if coded else None,
                "units": "listed" if listed else "range",
            }
        )
    return docs
