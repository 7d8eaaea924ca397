"""Reading a Word ``.docx`` transcript: every text it holds is either read or listed.

The body's paragraphs are read in document order, including paragraphs inside content
controls (``w:sdt``), custom XML and tracked insertions (``w:ins``, ``w:moveTo``);
tracked deletions (``w:del``, ``w:moveFrom``) are not text. Text boxes, page headers and
footers, footnotes, endnotes and comments are not part of the conversation: their
paragraphs are listed (``set_aside``) so the line accounting can show them. Text the
reader cannot place (a table, an embedded document, an unknown container) refuses the
file, naming what it holds.

Before anything is parsed, the sizes the zip declares for its members are checked
against the limits (``zipfile`` never inflates a member beyond its declared size).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from ..errors import TranscriptError
from ._encodings import SOFT_BREAKS

MB = 1024 * 1024
# A transcript .docx has a few dozen members; python-docx walks its parts in quadratic time.
MAX_ZIP_MEMBERS = 5000
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _w(tag: str) -> str:
    return f"{{{W_NS}}}{tag}"


W_P, W_R, W_T, W_TBL, W_SDT, W_SDT_CONTENT = _w("p"), _w("r"), _w("t"), _w("tbl"), _w("sdt"), _w("sdtContent")
W_TXBX, W_DEL, W_MOVE_FROM, W_ALT_CHUNK = _w("txbxContent"), _w("del"), _w("moveFrom"), _w("altChunk")
W_VAL = _w("val")
MC_FALLBACK = f"{{{MC_NS}}}Fallback"
# Block-level containers whose content is part of the body's flow.
_BLOCK_CONTAINERS = {_w("customXml"), _w("ins"), _w("moveTo"), _w("smartTag")}
# Subtrees whose runs are not this paragraph's text: deletions, text boxes (listed on
# their own) and the fallback copy of alternate content (the same text again).
_NOT_TEXT = {W_DEL, W_MOVE_FROM, W_TXBX, MC_FALLBACK}
_BREAK_RE = re.compile(f"[\r\n{SOFT_BREAKS}]")
_SET_ASIDE_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml": "page header",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml": "page footer",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml": "footnote",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.endnotes+xml": "endnote",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml": "comment",
}
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


@dataclass
class DocxParagraph:
    """One body paragraph: its number and its parts (split at line breaks) with whether
    every word of the part is bold."""

    number: int
    parts: list[tuple[str, bool]]


@dataclass
class DocxContent:
    paragraphs: list[DocxParagraph]
    set_aside: list[tuple[int, str, str]] = field(default_factory=list)  # (number, reason, text)


def _too_big(path: Path, what: str, size: int, limit_mb: float, setting: str) -> TranscriptError:
    return TranscriptError(
        path,
        f"{what} {size / MB:,.0f} MB, over the limit of {limit_mb:g} MB (ingest.{setting}); if the file is a "
        f"genuine transcript, raise ingest.{setting} in the config or save the transcript as plain text",
    )


def _xml_members(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limit: int) -> list[zipfile.ZipInfo]:
    """Members an Office reader parses as XML, by the package's content types (any member
    whose type is unknown counts as XML)."""
    types_info = next((i for i in infos if i.filename == "[Content_Types].xml"), None)
    if types_info is None or types_info.file_size > limit:
        return infos
    root = etree.fromstring(archive.read(types_info), _SAFE_PARSER)
    defaults, overrides = {}, {}
    for el in root:
        tag = etree.QName(el).localname if isinstance(el.tag, str) else ""
        if tag == "Default":
            defaults[(el.get("Extension") or "").lower()] = el.get("ContentType") or ""
        elif tag == "Override":
            overrides[(el.get("PartName") or "").lstrip("/").lower()] = el.get("ContentType") or ""
    xml = []
    for info in infos:
        name = info.filename.lower()
        ctype = overrides.get(name) or defaults.get(name.rsplit(".", 1)[-1] if "." in name else "", "")
        if not ctype or ctype.endswith("xml"):
            xml.append(info)
    return xml


def check_zip_sizes(path: Path, max_uncompressed_mb: float, max_text_mb: float) -> None:
    """Refuse a zip whose members would unpack beyond the limits, before any is read.

    Raises:
        TranscriptError: over ``max_uncompressed_mb`` in all, over ``max_text_mb`` of XML,
            or more than ``MAX_ZIP_MEMBERS`` members.
    """
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise TranscriptError(
                path, f"a zip of {len(infos):,} files (a .docx holds a few dozen); not a Word transcript"
            )
        total = sum(i.file_size for i in infos)
        if total > max_uncompressed_mb * MB:
            raise _too_big(path, "the .docx unpacks to", total, max_uncompressed_mb, "max_uncompressed_mb")
        xml = sum(i.file_size for i in _xml_members(archive, infos, int(max_text_mb * MB)))
        if xml > max_text_mb * MB:
            raise _too_big(path, "the .docx holds XML (text and markup) of", xml, max_text_mb, "max_text_mb")


def _on_off(el) -> bool | None:
    """A WordprocessingML on/off property such as ``w:b``: absent None, else its value."""
    if el is None:
        return None
    val = el.get(W_VAL)
    if val is None:
        return True
    return {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}.get(val.lower())


def _run_text(r) -> str:
    """A run's text as python-docx gives it: tabs, soft line breaks and hyphens included."""
    out = []
    for child in r:
        tag = child.tag
        if tag == W_T:
            out.append(child.text or "")
        elif tag in (_w("tab"), _w("ptab")):
            out.append("\t")
        elif tag == _w("br"):
            out.append("\n" if child.get(_w("type")) in (None, "textWrapping") else "")
        elif tag == _w("cr"):
            out.append("\n")
        elif tag == _w("noBreakHyphen"):
            out.append("-")
    return "".join(out)


def _runs(el):
    """The runs of a paragraph (or container) in document order, deletions, text boxes and
    fallback copies left out."""
    for child in el:
        tag = child.tag
        if tag == W_R:
            yield child
        elif isinstance(tag, str) and tag not in _NOT_TEXT:
            yield from _runs(child)


def _under(el, tags: set[str], stop) -> bool:
    parent = el.getparent()
    while parent is not None and parent is not stop:
        if parent.tag in tags:
            return True
        parent = parent.getparent()
    return False


class _Reader:
    def __init__(self, path: Path, document):
        self.path = path
        self.document = document
        self.visited: set = set()
        self.style_bold = self._paragraph_style_bold()

    def _paragraph_style_bold(self) -> dict:
        """Bold of each paragraph style's own run properties, as python-docx reads it; the
        key None is the default paragraph style."""
        bold: dict = {}
        default = None
        styles = self.document.styles.element
        for style in styles.iterchildren(_w("style")):
            if style.get(_w("type")) != "paragraph":
                continue
            value = _on_off(style.find(f"{_w('rPr')}/{_w('b')}"))
            bold.setdefault(style.get(_w("styleId")), value)
            if style.get(_w("default")) == "1":
                default = value
        bold[None] = default
        return bold

    def _bold_of_style(self, p) -> bool | None:
        ref = p.find(f"{_w('pPr')}/{_w('pStyle')}")
        style_id = ref.get(W_VAL) if ref is not None else None
        return self.style_bold.get(style_id, self.style_bold[None])

    def paragraph_parts(self, p, with_bold: bool = True) -> list[tuple[str, bool]]:
        """The paragraph's text split at line breaks, each part with whether it is all bold."""
        style_bold = self._bold_of_style(p) if with_bold else None
        parts = [["", True, False]]  # text, all bold so far, has words
        for r in _runs(p):
            self.visited.update(t for t in r.iterchildren(W_T))
            text = _run_text(r)
            if not text:
                continue
            bold = bool(_on_off(r.find(f"{_w('rPr')}/{_w('b')}")) or style_bold) if with_bold else False
            for k, piece in enumerate(_BREAK_RE.split(text)):
                if k:
                    parts.append(["", True, False])
                parts[-1][0] += piece
                if piece.strip():
                    parts[-1][1] = parts[-1][1] and bold
                    parts[-1][2] = True
        return [(t, all_bold and has_words) for t, all_bold, has_words in parts]

    def body_blocks(self, container, paragraphs: list, problems: list) -> None:
        """Body paragraphs in document order, descending into content controls, custom XML
        and tracked insertions."""
        for child in container:
            tag = child.tag
            if tag == W_P:
                paragraphs.append(child)
            elif tag == W_TBL:
                if any((t.text or "").strip() and not _under(t, {W_DEL, W_MOVE_FROM}, child) for t in child.iter(W_T)):
                    problems.append(
                        "transcript text inside a Word table is not supported; convert the table to "
                        "`Speaker: text` paragraphs"
                    )
            elif tag == W_SDT:
                content = child.find(W_SDT_CONTENT)
                if content is not None:
                    self.body_blocks(content, paragraphs, problems)
            elif tag in _BLOCK_CONTAINERS:
                self.body_blocks(child, paragraphs, problems)
            elif tag == W_ALT_CHUNK:
                problems.append(
                    "holds an embedded document (altChunk) whose text cannot be read here; open the file in Word "
                    "and save it again (Word merges the embedded text), or save it as plain text"
                )

    def text_boxes(self, p) -> list:
        """Paragraphs of the text boxes anchored in body paragraph ``p`` (the fallback copy
        of each box left out)."""
        found = []
        for box in p.iter(W_TXBX):
            if _under(box, {MC_FALLBACK, W_TXBX, W_DEL, W_MOVE_FROM}, p):
                continue
            found += [q for q in box.iter(W_P) if not _under(q, {MC_FALLBACK}, box)]
        return found

    def unplaced_text(self, body) -> list[str]:
        """Containers of text that was neither read nor listed (nor deleted)."""
        where = []
        for t in body.iter(W_T):
            if t in self.visited or not (t.text or "").strip() or _under(t, {W_DEL, W_MOVE_FROM, MC_FALLBACK}, body):
                continue
            parent = t.getparent()
            while parent is not None and parent.getparent() is not body:
                parent = parent.getparent()
            where.append(etree.QName(parent).localname if parent is not None else "?")
        return sorted(set(where))

    def other_parts(self):
        """(kind, part name, root element) of headers, footers, notes and comments."""
        from docx.oxml.parser import parse_xml

        found = []
        for part in self.document.part.package.iter_parts():
            kind = _SET_ASIDE_PARTS.get(part.content_type)
            if kind is None:
                continue
            element = getattr(part, "element", None)
            found.append(
                (kind, str(part.partname).lstrip("/"), element if element is not None else parse_xml(part.blob))
            )
        order = list(_SET_ASIDE_PARTS.values())
        return sorted(found, key=lambda f: (order.index(f[0]), f[1]))


def _unreadable(path: Path, exc: Exception) -> TranscriptError:
    kind = type(exc).__name__
    kind = f"{type(exc).__module__}.{kind}" if kind == "error" else kind  # zlib.error
    return TranscriptError(
        path,
        f"not a readable .docx document ({kind}: {str(exc)[:200]}); open it in Word and save it again, or save it "
        "as plain text",
    )


def _refuse_dtd(path: Path, root, name: str) -> None:
    """Office never writes a document type declaration (OPC forbids one); its entities are
    not expanded here, so text behind them would be lost without a word."""
    if root.getroottree().docinfo.doctype:
        raise TranscriptError(
            path,
            f"{name} holds a document type declaration (DTD), which Word never writes; not read (open the file in "
            "Word and save it again, or save it as plain text)",
        )


def _open(path: Path):
    import docx  # python-docx (lxml): loaded only for .docx files

    try:
        return docx.Document(str(path))
    except Exception as exc:  # hostile bytes reach zipfile, zlib, lxml and python-docx's own checks
        raise _unreadable(path, exc) from None


def read_docx(path: Path, *, max_uncompressed_mb: float, max_text_mb: float) -> DocxContent:
    """The body paragraphs of a ``.docx`` and its other text, listed.

    Raises:
        TranscriptError: damaged or oversized file, or text that cannot be placed.
    """
    try:
        check_zip_sizes(path, max_uncompressed_mb, max_text_mb)
    except (zipfile.BadZipFile, zlib.error, etree.LxmlError, EOFError, OSError, ValueError, KeyError) as exc:
        raise _unreadable(path, exc) from None
    document = _open(path)
    reader = _Reader(path, document)
    body = document.element.body
    if body is None:
        raise TranscriptError(
            path,
            "not a readable .docx document (its main part has no body); open it in Word and "
            "save it again, or save it as plain text",
        )
    _refuse_dtd(path, document.element, "word/document.xml")
    elements: list = []
    problems: list[str] = []
    reader.body_blocks(body, elements, problems)
    if problems:
        raise TranscriptError(path, "; ".join(dict.fromkeys(problems)))
    paragraphs = [DocxParagraph(n, reader.paragraph_parts(p)) for n, p in enumerate(elements, start=1)]
    number = len(elements)
    set_aside: list[tuple[int, str, str]] = []

    def listed(q, reason: str) -> None:
        nonlocal number
        number += 1
        text = " ".join(" ".join(t for t, _ in reader.paragraph_parts(q, with_bold=False)).split())
        if text:
            set_aside.append((number, reason, text))

    for p_number, p in enumerate(elements, start=1):
        for q in reader.text_boxes(p):
            listed(q, f"text box in paragraph {p_number}: listed, not read as speech")
    unplaced = reader.unplaced_text(body)
    if unplaced:
        raise TranscriptError(
            path,
            f"holds text this reader cannot place in the conversation (inside <{'>, <'.join(unplaced)}>); "
            "save the transcript as plain text",
        )
    try:
        parts = reader.other_parts()
    except (etree.LxmlError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    for kind, name, root in parts:
        _refuse_dtd(path, root, name)
        for q in root.iter(W_P):
            if not _under(q, {MC_FALLBACK}, root):
                listed(q, f"{kind} ({name}): listed, not read as speech")
    return DocxContent(paragraphs, set_aside)
