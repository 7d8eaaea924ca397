"""REFI-QDA (QDA-XML 1.0) projects and codebooks: write, read back, import codes.

A ``.qdpx`` file is a zip holding ``project.qde`` (XML in ``urn:QDA-XML:project:1.0``)
and a ``sources/`` folder; a ``.qdc`` file is the codebook alone
(``urn:QDA-XML:codebook:1.0``). NVivo, ATLAS.ti, MAXQDA and QualCoder read both.

Written with the standard library only. GUIDs are UUID-5 of stable keys, so the same
tables give the same file. Selection positions are character (code point) offsets
into the source's plain text, the end exclusive: ``text[start:end]`` is the turn.

Example:
    >>> project = build_project(turns, stages, topics, topic_info, topic_stages, taxonomy)  # doctest: +SKIP
    >>> write_qdpx(project, "study.qdpx")                                                   # doctest: +SKIP
    >>> read_qdpx("study.qdpx").selections[0]                                               # doctest: +SKIP
"""

from __future__ import annotations

import re
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import pandas as pd

from ..files import atomic_path, atomic_write_bytes

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
GUID_NAMESPACE = uuid.UUID("6f1c2d0e-6a57-4b0e-9d43-7a1e5c3b9f21")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same input gives the same bytes
STAGE_COLOURS = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999"]


def guid(*parts: object) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(str(p) for p in parts)))


@dataclass
class Code:
    guid: str
    name: str
    description: str = ""
    color: str | None = None
    codable: bool = True
    children: list["Code"] = field(default_factory=list)

    def walk(self, parent: "Code | None" = None):
        yield self, parent
        for child in self.children:
            yield from child.walk(self)


@dataclass
class Selection:
    guid: str
    source: str  # source GUID
    start: int
    end: int
    codes: list[str]  # code GUIDs
    user: str  # user GUID
    name: str = ""


@dataclass
class Source:
    guid: str
    name: str
    text: str


@dataclass
class Case:
    guid: str
    name: str
    sources: list[str]
    values: dict[str, object]


@dataclass
class Project:
    name: str
    users: dict[str, str]  # GUID -> name
    codes: list[Code]
    sources: list[Source]
    selections: list[Selection]
    cases: list[Case] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # name -> type (Text, Integer, ...)
    origin: str = "analysis"

    def all_codes(self) -> dict[str, tuple[Code, Code | None]]:
        return {c.guid: (c, p) for root in self.codes for c, p in root.walk()}


# ---------------------------------------------------------------- building


def source_text(turns: pd.DataFrame) -> tuple[str, dict[str, tuple[int, int]]]:
    """One interview as plain text, ``Speaker: text`` per turn with a blank line
    between turns, and each turn's ``(start, end)`` character span of its text."""
    parts, spans, at = [], {}, 0
    for row in turns.sort_values("turn_index").itertuples():
        prefix = f"{row.speaker_label}: "
        body = str(row.text)
        spans[row.turn_id] = (at + len(prefix), at + len(prefix) + len(body))
        chunk = prefix + body + "\n\n"
        parts.append(chunk)
        at += len(chunk)
    return "".join(parts), spans


def _stage_and_theme_codes(
    taxonomy, topics, topic_info, topic_stages
) -> tuple[dict[str, Code], dict[int, Code], dict[int, str]]:
    """Stage codes (parents) and theme codes (children of their primary stage)."""
    stage_codes: dict[str, Code] = {}
    for k, stage in enumerate(taxonomy.stages):
        stage_codes[stage.id] = Code(
            guid("stage", stage.id), stage.name, stage.description, STAGE_COLOURS[k % len(STAGE_COLOURS)]
        )
    theme_codes: dict[int, Code] = {}
    theme_stage: dict[int, str] = {}
    if topics is None or topic_info is None or topic_stages is None:
        return stage_codes, theme_codes, theme_stage
    primary = dict(zip(topic_stages["topic"], topic_stages["primary_stage"]))
    for row in topic_info.itertuples():
        if row.topic == -1 or primary.get(row.topic) not in stage_codes:
            continue
        parent = stage_codes[primary[row.topic]]
        words = ", ".join(list(row.words)[:10])
        code = Code(
            guid("theme", row.topic, row.label),
            f"T{row.topic}: {row.label}",
            f"Topic {row.topic} ({row.size} answers). Words: {words}",
            parent.color,
        )
        parent.children.append(code)
        theme_codes[int(row.topic)] = code
        theme_stage[int(row.topic)] = primary[row.topic]
    return stage_codes, theme_codes, theme_stage


def _kind_codes() -> Code:
    return Code(
        guid("kind", "root"),
        "Kind",
        "Whether a coded answer reports a problem or a mitigation.",
        "#666666",
        codable=False,
        children=[
            Code(guid("kind", "issue"), "issue", "A quality problem met.", "#D55E00"),
            Code(guid("kind", "fix"), "fix", "A mitigation or practice.", "#009E73"),
        ],
    )


def _human_code_tree(human_codes: pd.DataFrame | None, users: dict[str, str]) -> Code | None:
    """A root holding the human coders' codes as they named them; adds the coders to ``users``."""
    if human_codes is None or not len(human_codes):
        return None
    root = Code(
        guid("human", "root"),
        "Human codes (imported)",
        "Codes of human coders, as they named them.",
        "#999999",
        codable=False,
    )
    for code_name in sorted(set(human_codes["code"])):
        root.children.append(Code(guid("human-code", code_name), code_name))
    for coder in sorted(set(human_codes["coder"].fillna("coder"))):
        users[guid("user", "human", coder)] = str(coder)
    return root


@dataclass
class _SuiteCodes:
    """The suite's coding as code GUIDs to attach to a turn's selection."""

    stage_codes: dict[str, Code]
    theme_codes: dict[int, Code]
    theme_stage: dict[int, str]
    kind_codes: dict[str, Code]
    topic_of: dict[str, int]
    user: str
    uncertain: Code | None = None

    def for_turn(self, turn_id: str, entry) -> list[str]:
        picked = [s for s in list(entry["stages"]) if s in self.stage_codes]
        if not picked:
            return []
        code_guids = [self.stage_codes[s].guid for s in picked]
        topic = self.topic_of.get(turn_id)
        # A theme sits under its primary stage; coding a turn of another stage with it
        # would tell a QDA tool that the turn also has that stage.
        if topic is not None and int(topic) in self.theme_codes and self.theme_stage[int(topic)] in picked:
            code_guids.append(self.theme_codes[int(topic)].guid)
        if entry["kind"] in self.kind_codes:
            code_guids.append(self.kind_codes[entry["kind"]].guid)
        if self.uncertain is not None and bool(entry.get("uncertain", False)):
            code_guids.append(self.uncertain.guid)
        return code_guids


def _suite_selections(
    group: pd.DataFrame, source: Source, spans: dict, stage_rows: dict[str, dict], codes: _SuiteCodes
) -> list[Selection]:
    out = []
    for row in group.itertuples():
        entry = stage_rows.get(row.turn_id)
        if entry is None:
            continue
        code_guids = codes.for_turn(row.turn_id, entry)
        if code_guids:
            start, end = spans[row.turn_id]
            out.append(
                Selection(
                    guid("selection", row.turn_id, "suite"),
                    source.guid,
                    start,
                    end,
                    code_guids,
                    codes.user,
                    name=f"{row.speaker_id} turn {row.turn_index}",
                )
            )
    return out


def _human_selections(
    group: pd.DataFrame, interview_id: str, source: Source, spans: dict, human_codes: pd.DataFrame, human_root: Code
) -> list[Selection]:
    human_code_guid = {c.name: c.guid for c in human_root.children}
    mine = human_codes[(human_codes["interview_id"] == interview_id) & human_codes["turn_index"].notna()]
    index_to_turn = dict(zip(group["turn_index"], group["turn_id"]))
    out = []
    for (turn_index, coder), items in mine.groupby(["turn_index", mine["coder"].fillna("coder")]):
        turn_id = index_to_turn.get(int(turn_index))
        if turn_id is None:
            continue
        start, end = spans[turn_id]
        out.append(
            Selection(
                guid("selection", turn_id, "human", coder),
                source.guid,
                start,
                end,
                sorted({human_code_guid[c] for c in items["code"]}),
                guid("user", "human", coder),
                name=f"{coder} turn {int(turn_index)}",
            )
        )
    return out


def _interviewee_cases(group: pd.DataFrame, interview_id: str, source: Source) -> list[Case]:
    interviewee = group[group["role"] == "interviewee"]
    return [
        Case(
            guid("case", speaker_id),
            str(speaker_id),
            [source.guid],
            {
                "interview": str(interview_id),
                "answers": int(len(own)),
                "words": int(own["n_words"].sum()),
                "format": str(own["format"].iloc[0]),
            },
        )
        for speaker_id, own in interviewee.groupby("speaker_id")
    ]


def build_project(
    turns: pd.DataFrame,
    stages: pd.DataFrame,
    taxonomy,
    topics: pd.DataFrame | None = None,
    topic_info: pd.DataFrame | None = None,
    topic_stages: pd.DataFrame | None = None,
    human_codes: pd.DataFrame | None = None,
    name: str = "Thematic analysis",
    origin: str = "analysis",
) -> Project:
    """A project from the suite's tables.

    Args:
        turns: ``turns.parquet``.
        stages: ``stages.parquet`` (``turn_id``, ``stages`` list, ``kind``, scores).
        taxonomy: the stage taxonomy (parent codes, with names, descriptions, colours).
        topics / topic_info / topic_stages: themes become children of their primary stage.
        human_codes: imported human codes (rows with ``interview_id``, ``turn_index``,
            ``code``, ``coder``), exported with their own coder.
    """
    suite_user = guid("user", "suite")
    users = {suite_user: f"{origin} (automatic coding)"}
    stage_codes, theme_codes, theme_stage = _stage_and_theme_codes(taxonomy, topics, topic_info, topic_stages)
    kind_root = _kind_codes()
    roots = list(stage_codes.values()) + [kind_root]
    human_root = _human_code_tree(human_codes, users)
    if human_root is not None:
        roots.append(human_root)
    uncertain = None
    if "uncertain" in stages and stages["uncertain"].astype(bool).any():
        # the answers the suite was unsure of, for a reviewer to find in the QDA tool
        uncertain = Code(guid("review", "uncertain"), "Uncertain: check this coding",
                         "The suite's probability for this coding was near its threshold.", "#F0E442")
        roots.append(Code(guid("review", "root"), "Review", "What a reviewer should check.", "#666666",
                          codable=False, children=[uncertain]))
    suite = _SuiteCodes(
        stage_codes,
        theme_codes,
        theme_stage,
        {c.name: c for c in kind_root.children},
        dict(zip(topics["turn_id"], topics["topic"])) if topics is not None else {},
        suite_user,
        uncertain,
    )
    # each coded turn's row as a dict: a lookup per turn, not a pandas row per turn
    stage_rows = dict(zip(stages["turn_id"], stages.to_dict("records")))
    sources, selections, cases = [], [], []
    for interview_id, group in turns.groupby("interview_id", sort=False):
        text, spans = source_text(group)
        source = Source(guid("source", interview_id), f"Interview {interview_id}", text)
        sources.append(source)
        selections += _suite_selections(group, source, spans, stage_rows, suite)
        if human_root is not None:
            selections += _human_selections(group, interview_id, source, spans, human_codes, human_root)
        cases += _interviewee_cases(group, interview_id, source)
    variables = {"interview": "Text", "answers": "Integer", "words": "Integer", "format": "Text"}
    return Project(name, users, roots, sources, selections, cases, variables, origin)


# ---------------------------------------------------------------- writing


def _q(tag: str, ns: str = PROJECT_NS) -> str:
    return f"{{{ns}}}{tag}"


def _code_element(parent: ET.Element, code: Code, ns: str) -> None:
    attrs = {"guid": code.guid, "name": code.name, "isCodable": "true" if code.codable else "false"}
    if code.color:
        attrs["color"] = code.color
    element = ET.SubElement(parent, _q("Code", ns), attrs)
    if code.description:
        ET.SubElement(element, _q("Description", ns)).text = code.description
    for child in code.children:
        _code_element(element, child, ns)


def project_xml(project: Project) -> bytes:
    """``project.qde`` as bytes (UTF-8, with declaration)."""
    ET.register_namespace("", PROJECT_NS)
    root = ET.Element(
        _q("Project"), {"name": project.name, "origin": project.origin, "creatingUserGUID": next(iter(project.users))}
    )
    users = ET.SubElement(root, _q("Users"))
    for user_guid, user_name in project.users.items():
        ET.SubElement(users, _q("User"), {"guid": user_guid, "name": user_name})
    codebook = ET.SubElement(ET.SubElement(root, _q("CodeBook")), _q("Codes"))
    for code in project.codes:
        _code_element(codebook, code, PROJECT_NS)
    variable_guids = {name: guid("variable", name) for name in project.variables}
    if project.variables:
        variables = ET.SubElement(root, _q("Variables"))
        for name, kind in project.variables.items():
            ET.SubElement(
                variables, _q("Variable"), {"guid": variable_guids[name], "name": name, "typeOfVariable": kind}
            )
    if project.cases:
        cases = ET.SubElement(root, _q("Cases"))
        for case in project.cases:
            element = ET.SubElement(cases, _q("Case"), {"guid": case.guid, "name": case.name})
            for name, value in case.values.items():
                holder = ET.SubElement(element, _q("VariableValue"))
                ET.SubElement(holder, _q("VariableRef"), {"targetGUID": variable_guids[name]})
                tag = "IntegerValue" if project.variables[name] == "Integer" else "TextValue"
                ET.SubElement(holder, _q(tag)).text = str(value)
            for source in case.sources:
                ET.SubElement(element, _q("SourceRef"), {"targetGUID": source})
    sources = ET.SubElement(root, _q("Sources"))
    by_source: dict[str, list[Selection]] = {}
    for selection in project.selections:
        by_source.setdefault(selection.source, []).append(selection)
    for source in project.sources:
        element = ET.SubElement(
            sources,
            _q("TextSource"),
            {
                "guid": source.guid,
                "name": source.name,
                "plainTextPath": f"internal://{source.guid}.txt",
                "creatingUser": next(iter(project.users)),
            },
        )
        for selection in sorted(by_source.get(source.guid, []), key=lambda s: (s.start, s.end, s.guid)):
            sel = ET.SubElement(
                element,
                _q("PlainTextSelection"),
                {
                    "guid": selection.guid,
                    "name": selection.name,
                    "startPosition": str(selection.start),
                    "endPosition": str(selection.end),
                    "creatingUser": selection.user,
                },
            )
            for code_guid in selection.codes:
                coding = ET.SubElement(
                    sel,
                    _q("Coding"),
                    {"guid": guid("coding", selection.guid, code_guid), "creatingUser": selection.user},
                )
                ET.SubElement(coding, _q("CodeRef"), {"targetGUID": code_guid})
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def codebook_xml(codes: list[Code], origin: str = "analysis") -> bytes:
    """A ``.qdc`` codebook with the same code tree."""
    ET.register_namespace("", CODEBOOK_NS)
    root = ET.Element(_q("CodeBook", CODEBOOK_NS), {"origin": origin})
    holder = ET.SubElement(root, _q("Codes", CODEBOOK_NS))
    for code in codes:
        _code_element(holder, code, CODEBOOK_NS)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_qdpx(project: Project, path: str | Path) -> Path:
    """Write a ``.qdpx`` archive: ``project.qde`` and ``sources/<guid>.txt``."""
    path = Path(path)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)

        add("project.qde", project_xml(project))
        for source in project.sources:
            add(f"sources/{source.guid}.txt", source.text.encode("utf-8"))
    return path


def write_qdc(codes: list[Code], path: str | Path, origin: str = "analysis") -> Path:
    return atomic_write_bytes(path, codebook_xml(codes, origin))


# ---------------------------------------------------------------- reading


class QdpxError(ValueError):
    """A .qdpx file that cannot be read, with the file named."""


def _read_code(element: ET.Element, file: str) -> Code:
    guid, name = element.get("guid"), element.get("name")
    if not guid or name is None or not name.strip():
        what = f"code {guid}" if guid else f"a code named {name!r}" if name else "a code"
        missing = "name" if guid else "guid"
        raise QdpxError(f"{file}: project.qde: {what} has no {missing}; give it one in your QDA tool")
    description = element.find(_q("Description"))
    return Code(
        guid,
        name,
        description.text if description is not None and description.text else "",
        element.get("color"),
        element.get("isCodable") == "true",
        [_read_code(child, file) for child in element.findall(_q("Code"))],
    )


MAX_QDPX_MB = 200  # a project unpacking to more is refused before it is read (a zip bomb)


def _check_sizes(archive: zipfile.ZipFile, file: str, max_mb: float = MAX_QDPX_MB) -> None:
    """Refuse an archive whose members unpack to more than ``max_mb`` (their declared sizes,
    read before anything is unpacked)."""
    total = sum(info.file_size for info in archive.infolist())
    if total > max_mb * 1024 * 1024:
        raise QdpxError(f"{file}: unpacks to {total / 1024 / 1024:.0f} MB, over the limit of {max_mb:.0f} MB "
                        "for a .qdpx project; if it is a genuine project, split it or export the sources as text")


def _read_member(archive: zipfile.ZipFile, member: str, file: str) -> bytes:
    """One file of the archive; a damaged one (bad CRC, unknown compression, encrypted) is named."""
    try:
        info = archive.getinfo(member)
        with archive.open(info) as fh:  # never more than the declared size, whatever the member claims
            data = fh.read(info.file_size + 1)
        if len(data) > info.file_size:
            raise QdpxError(f"{file}: {member} unpacks to more than it declares; export the project again")
        return data
    except KeyError:
        raise
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        raise QdpxError(
            f"{file}: {member} cannot be unpacked ({type(exc).__name__}: {exc}); export the project again"
        ) from None


def _position(sel: ET.Element, attribute: str, file: str, source: str) -> int:
    value = sel.get(attribute)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise QdpxError(
            f"{file}: selection {sel.get('guid')} in source {source!r}: {attribute}={value!r} is not a character "
            "position (a whole number)"
        ) from None


def _source_text(archive: zipfile.ZipFile, element: ET.Element, file: str) -> str:
    content = element.find(_q("PlainTextContent"))
    text_path = element.get("plainTextPath")
    if content is not None:
        return content.text or ""
    if not text_path:
        raise QdpxError(f"{file}: source {element.get('name')!r} has neither plain text nor a path")
    member = "sources/" + re.sub(r"^internal://", "", text_path)
    try:
        data = _read_member(archive, member, file)
    except KeyError:
        raise QdpxError(
            f"{file}: source {element.get('name')!r} points to {member}, which is not in the archive"
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise QdpxError(
            f"{file}: source {element.get('name')!r} ({member}), line {line}: not UTF-8 text as REFI-QDA requires; "
            "export the project again with UTF-8 sources"
        ) from None


def read_qdpx(path: str | Path) -> Project:
    """Read a ``.qdpx`` project (text sources, codes, selections, users, cases).

    Raises:
        QdpxError: not a zip, no ``project.qde``, XML errors, a damaged or non-UTF-8
            source file, a code without a name, a selection outside its source or
            with a position that is not a number, a coding without a code reference,
            or a reference to an unknown GUID.
    """
    path = Path(path)
    file = path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise QdpxError(f"{file}: not a .qdpx archive ({exc})") from None
    with archive:
        _check_sizes(archive, file)
        try:
            root = ET.fromstring(_read_member(archive, "project.qde", file))
        except KeyError:
            raise QdpxError(f"{file}: no project.qde inside") from None
        except ET.ParseError as exc:
            raise QdpxError(f"{file}: project.qde, line {exc.position[0]}: {exc}") from None
        if root.tag != _q("Project"):
            raise QdpxError(f"{file}: project.qde is not a REFI-QDA project (root {root.tag})")
        users = {u.get("guid"): u.get("name") or u.get("guid") for u in root.iter(_q("User"))}
        codebook = root.find(f"{_q('CodeBook')}/{_q('Codes')}")
        codes = [_read_code(c, file) for c in codebook.findall(_q("Code"))] if codebook is not None else []
        sources, selections = [], []
        for element in root.iter(_q("TextSource")):
            text = _source_text(archive, element, file)
            source = Source(element.get("guid"), element.get("name") or "", text)
            sources.append(source)
            for sel in element.findall(_q("PlainTextSelection")):
                start = _position(sel, "startPosition", file, source.name)
                end = _position(sel, "endPosition", file, source.name)
                if not 0 <= start <= end <= len(text):
                    raise QdpxError(
                        f"{file}: selection {sel.get('guid')} ({start}-{end}) lies outside source {source.name!r}"
                    )
                code_refs = []
                for coding in sel.findall(_q("Coding")):
                    ref = coding.find(_q("CodeRef"))
                    if ref is None or not ref.get("targetGUID"):
                        raise QdpxError(
                            f"{file}: selection {sel.get('guid')} in source {source.name!r} has a coding without a "
                            "code reference (CodeRef targetGUID); export the project again"
                        )
                    code_refs.append(ref.get("targetGUID"))
                selections.append(
                    Selection(
                        sel.get("guid"),
                        source.guid,
                        start,
                        end,
                        code_refs,
                        sel.get("creatingUser") or "",
                        sel.get("name") or "",
                    )
                )
        cases = [
            Case(c.get("guid"), c.get("name") or "", [r.get("targetGUID") for r in c.findall(_q("SourceRef"))], {})
            for c in root.iter(_q("Case"))
        ]
    project = Project(
        root.get("name") or path.stem, users, codes, sources, selections, cases, origin=root.get("origin") or ""
    )
    known = project.all_codes()
    for selection in selections:
        for ref in selection.codes:
            if ref not in known:
                raise QdpxError(f"{file}: selection {selection.guid} refers to unknown code {ref}")
    return project
