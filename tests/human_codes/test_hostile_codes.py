"""Hostile human-code files (Delve PDFs, CSV, .qdpx) and prediction CSV: each becomes a
listed problem naming the file (and line), never a traceback, and one bad file does not
hide the problems of the others. Every input is built here."""

from __future__ import annotations

import logging
import zipfile

import pandas as pd
import pytest

from analysis import AnalysisError
from analysis.human_codes import load_code_map, read_codes_folder, read_delve_pdf
from analysis.stages import read_stage_csv
from conftest import CODE_MAP, STAGE_IDS

IDS = STAGE_IDS  # the stage ids of config/taxonomy.yaml
TEXT = "Our labels were noisy."
TURNS = pd.DataFrame(
    {
        "interview_id": ["7", "7"],
        "turn_index": [0, 1],
        "turn_id": ["7-0", "7-1"],
        "role": ["interviewer", "interviewee"],
        "text": ["What went wrong?", TEXT],
    }
)


def make_pdf(lines, encrypt: bool = False) -> bytes:
    """A one-page PDF like a Delve print: ``lines`` of (font F1 regular / F2 bold, size, y, text)."""
    content = "".join(f"BT /{font} {size} Tf 72 {y} Td ({text}) Tj ET\n" for font, size, y, text in lines).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>",
    ]
    if encrypt:  # the standard handler with a user password: the empty password does not open it
        objects.append(b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> /P -4 >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    extra = b" /Encrypt 7 0 R /ID [<aa> <aa>]" if encrypt else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, extra, xref)
    return bytes(out)


DELVE_LINES = [
    ("F1", 20, 700, "Interview 7 - Coder"),
    ("F2", 11, 660, "Interviewer"),
    ("F1", 11, 645, "What went wrong?"),
    ("F2", 11, 620, "Interviewee"),
    ("F1", 11, 605, TEXT),
    ("F1", 8, 590, "Data-labels"),
]


@pytest.fixture
def code_map():
    return load_code_map(CODE_MAP, IDS)


def read_folder(folder, code_map, **kwargs):
    return read_codes_folder(folder, TURNS, code_map, **kwargs)


def test_a_generated_delve_print_is_read(tmp_path, code_map):
    (tmp_path / "Interview 7 - Coder.pdf").write_bytes(make_pdf(DELVE_LINES))
    human = read_folder(tmp_path, code_map)
    assert human.codes[["turn_index", "code", "stage"]].values.tolist() == [[1, "Data-labels", "data"]]


def test_every_bad_pdf_of_a_folder_is_listed_with_its_problem(tmp_path, code_map):
    good = make_pdf(DELVE_LINES)
    bad = {
        "Interview 1 - not.pdf": b"this is a text file renamed to .pdf\n",
        "Interview 2 - truncated.pdf": good[: len(good) // 2],
        "Interview 3 - encrypted.pdf": make_pdf(DELVE_LINES, encrypt=True),
        "Interview 4 - garbage.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 40,
        "Interview 5 - empty.pdf": b"",
    }
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "Interview 7 - Coder.pdf").write_bytes(good)  # a good file among them changes nothing
    with pytest.raises(AnalysisError) as caught:
        read_folder(tmp_path, code_map)
    message = str(caught.value)
    lines = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(lines) == len(bad), message
    for name in bad:
        assert any(line.startswith(f"  - {name}: ") for line in lines), (name, message)
    assert "password-protected" in message and "truncated" in message and "not a readable PDF" in message


def test_cached_prints_give_what_uncached_ones_give_and_bad_ones_are_still_listed(tmp_path, code_map):
    """With a cache, each good print is cached once and read back as a plain read gives
    it; the bad ones are listed as without a cache, and not cached."""
    folder = tmp_path / "codes"
    folder.mkdir()
    for coder in ("A", "B", "C", "D", "E"):  # five codings of interview 7
        lines = [(f, size, y, text.replace("Coder", coder)) for f, size, y, text in DELVE_LINES]
        (folder / f"Interview 7 - {coder}.pdf").write_bytes(make_pdf(lines))
    plain = read_folder(folder, code_map)
    cache = tmp_path / "cache"
    for _ in range(2):  # the first read fills the cache, the second reads from it
        cached = read_folder(folder, code_map, cache_dir=cache)
        pd.testing.assert_frame_equal(cached.codes, plain.codes)
        pd.testing.assert_frame_equal(cached.documents, plain.documents)
        assert len(list(cache.glob("*.json"))) == 5  # one entry per print, no temporary left
    (folder / "Interview 7 - F.pdf").write_bytes(b"%PDF-1.4\nrubbish")
    (folder / "Interview 7 - G.pdf").write_bytes(b"")
    with pytest.raises(AnalysisError) as caught:
        read_folder(folder, code_map, cache_dir=cache)
    listed = [line for line in str(caught.value).splitlines() if line.startswith("  - ")]
    assert [line.split(":")[0] for line in listed] == ["  - Interview 7 - F.pdf", "  - Interview 7 - G.pdf"]
    assert "F.pdf: the PDF is truncated" in listed[0] and "G.pdf: not a readable PDF" in listed[1]
    assert len(list(cache.glob("*.json"))) == 5


def test_a_hyphen_ending_a_line_stays_a_hyphen(tmp_path, code_map):
    """PDFium marks a hyphen that ends a line with a control character: it is read as ``-``."""
    lines = [
        *DELVE_LINES[:4],
        ("F1", 11, 605, "Our labels were pre-"),
        ("F1", 11, 590, "processed."),
        ("F1", 8, 575, "Data-labels"),
    ]
    (tmp_path / "Interview 7 - Coder.pdf").write_bytes(make_pdf(lines))
    doc = read_delve_pdf(tmp_path / "Interview 7 - Coder.pdf")
    assert doc.turns[1].text == "Our labels were pre- processed." and doc.turns[1].codes == ["Data-labels"]


def test_a_damaged_delve_cache_entry_is_a_miss(tmp_path, caplog):
    pdf = tmp_path / "Interview 7 - Coder.pdf"
    pdf.write_bytes(make_pdf(DELVE_LINES))
    cache = tmp_path / "cache"
    first = read_delve_pdf(pdf, cache)
    (entry,) = cache.glob("*.json")
    for damaged in (entry.read_bytes()[:20], b"\xff\xfe not json", b'{"title": "x"}'):
        entry.write_bytes(damaged)
        with caplog.at_level(logging.WARNING):
            again = read_delve_pdf(pdf, cache)
        assert again.turns == first.turns
        assert "cannot be read" in caplog.text
        assert entry.read_bytes().startswith(b'{"title"') and len(entry.read_bytes()) > 30  # rewritten whole
        caplog.clear()
    assert [p.name for p in cache.iterdir()] == [entry.name]  # no temporary file left


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", r"empty\.csv, line 1: empty CSV"),
        (b"\n\n", r"empty\.csv, line 1: empty CSV"),
        (b"interview_id,turn_index,code\n7,1,Data-x\n\x89PNG\xff\xfe\n", r"empty\.csv, line 3: not UTF-8"),
        (b"interview_id,turn_index,code\n7,1,Data\x00x\n", r"empty\.csv, line 2: holds NUL bytes"),
        (b"interview_id,turn_index,code,Code\n7,1,Data-x,Data-y\n", r"line 1: column 'code' appears 2 times"),
        (b'interview_id,turn_index,code\n7,1,"Data-x\n', r"empty\.csv.*not a readable CSV"),
    ],
    ids=["empty", "blank-lines", "binary", "nul", "duplicate-code-column", "open-quote"],
)
def test_bad_csv_is_refused_naming_file_and_line(tmp_path, code_map, content, expected):
    (tmp_path / "empty.csv").write_bytes(content)
    with pytest.raises(AnalysisError, match=expected):
        read_folder(tmp_path, code_map)


# Data row 2 holds a quoted cell of three lines (lines 3-5), so data row 4 starts on line 7.
MULTILINE = (
    'interview_id,text,code\n7,What went wrong?,Data-x\n7,"Our labels\n   were\nnoisy.",Data-y\n'
    "7,What went wrong?,Data-w\n7,{}\n"
)


@pytest.mark.parametrize(
    "fourth, newline, expected",
    [
        ("Our labels were noisy.,Data-z", "\n", None),
        ("Nothing like this was said.,Data-z", "\n", r"codes\.csv, line 7: no turn of interview 7 has this text"),
        ("Nothing like this was said.,Data-z", "\r\n", r"codes\.csv, line 7: no turn of interview 7 has this text"),
        ("Our labels were noisy.,Data-z,extra", "\n", r"codes\.csv, line 7: not a readable CSV .*Expected 3 fields"),
        ('"Our labels were noisy.,Data-z', "\n", r"codes\.csv, line 7: not a readable CSV .*EOF inside string"),
    ],
    ids=["good", "unknown-text", "crlf", "extra-field", "open-quote"],
)
def test_csv_problems_name_the_physical_line_after_a_multiline_cell(tmp_path, code_map, fourth, newline, expected):
    (tmp_path / "codes.csv").write_bytes(MULTILINE.format(fourth).replace("\n", newline).encode())
    if expected is None:
        codes = read_folder(tmp_path, code_map).codes
        assert codes["code"].tolist() == ["Data-x", "Data-y", "Data-w", "Data-z"]
        assert codes["turn_index"].tolist() == [0, 1, 0, 1]
        return
    with pytest.raises(AnalysisError, match=expected):
        read_folder(tmp_path, code_map)


def test_csv_problems_count_blank_lines_and_long_cells(tmp_path, code_map):
    long_cell = "x " * 100_000  # beyond the csv module's default field size limit
    rows = ["interview_id,turn_index,code,note", f'7,1,Data-x,"{long_cell}"', "", "   ", "7,5,Data-y,"]
    (tmp_path / "codes.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(AnalysisError, match=r"codes\.csv, line 5: interview 7 has no turn 5"):
        read_folder(tmp_path, code_map)


def test_a_csv_over_the_size_limit_is_refused_unread(tmp_path, code_map):
    row = "7,1,Data-x," + "n" * 90 + "\n"  # 100 bytes
    (tmp_path / "codes.csv").write_text("interview_id,turn_index,code,note\n" + row * 11_000)  # 1.05 MB
    with pytest.raises(AnalysisError, match=r"codes\.csv: larger than the limit of 1 MB for a codes CSV"):
        read_folder(tmp_path, code_map, max_csv_mb=1)
    assert len(read_folder(tmp_path, code_map, max_csv_mb=2).codes) == 11_000


def test_csv_with_empty_trailing_header_cells_still_reads(tmp_path, code_map):
    (tmp_path / "codes.csv").write_text("interview_id,turn_index,code,,\n7,1,Data-x,,\n")
    assert read_folder(tmp_path, code_map).codes["code"].tolist() == ["Data-x"]


# ---------------------------------------------------------------- .qdpx

NS = 'xmlns="urn:QDA-XML:project:1.0"'


def qde(selection: str = "", code: str = '<Code guid="c1" name="Data-labels" isCodable="true"/>') -> str:
    selection = selection or (
        '<PlainTextSelection guid="s1" startPosition="17" endPosition="39" creatingUser="u1">'
        '<Coding guid="k1" creatingUser="u1"><CodeRef targetGUID="c1"/></Coding></PlainTextSelection>'
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Project {NS} name="p">'
        '<Users><User guid="u1" name="Ana"/></Users>'
        f"<CodeBook><Codes>{code}</Codes></CodeBook>"
        '<Sources><TextSource guid="t1" name="Interview 7" plainTextPath="internal://t1.txt">'
        f"{selection}</TextSource></Sources></Project>"
    )


SOURCE = f"What went wrong?\n{TEXT}\n".encode()


def write_qdpx(path, project: str, source: bytes = SOURCE, compress: bool = False) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("project.qde", project)
        archive.writestr("sources/t1.txt", source)


def test_a_generated_qdpx_is_read(tmp_path, code_map):
    write_qdpx(tmp_path / "study.qdpx", qde())
    human = read_folder(tmp_path, code_map)
    assert human.codes[["turn_index", "code", "stage"]].values.tolist() == [[1, "Data-labels", "data"]]


SELECTION = '<PlainTextSelection guid="s1" startPosition="{start}" endPosition="{end}" creatingUser="u1">{inner}'
SELECTION += "</PlainTextSelection>"
CODING = '<Coding guid="k1" creatingUser="u1"><CodeRef targetGUID="c1"/></Coding>'


@pytest.mark.parametrize(
    "project, source, expected",
    [
        (qde(SELECTION.format(start="abc", end="39", inner=CODING)), SOURCE, r"startPosition='abc' is not a"),
        (qde(SELECTION.format(start="17", end="", inner=CODING)), SOURCE, r"endPosition='' is not a"),
        (
            qde(SELECTION.replace(' endPosition="{end}"', "").format(start="1", inner=CODING)),
            SOURCE,
            "endPosition=None",
        ),
        (
            qde(SELECTION.format(start="17", end="39", inner='<Coding guid="k1" creatingUser="u1"/>')),
            SOURCE,
            r"selection s1 in source 'Interview 7' has a coding without a code reference",
        ),
        (
            qde(SELECTION.format(start="17", end="39", inner='<Coding guid="k1"><CodeRef/></Coding>')),
            SOURCE,
            r"coding without a code reference",
        ),
        (qde(), "Wh\u00e4t went wrong?\n".encode("cp1252") + TEXT.encode(), r"\(sources/t1.txt\), line 1: not UTF-8"),
        (qde(code='<Code guid="c1" isCodable="true"/>'), SOURCE, r"project.qde: code c1 has no name"),
        (qde(code='<Code guid="c1" name="  " isCodable="true"/>'), SOURCE, r"code c1 has no name"),
        (qde(code='<Code name="Data-labels"/>'), SOURCE, r"a code named 'Data-labels' has no guid"),
        (qde().replace("<CodeBook>", "<CodeBook"), SOURCE, r"project.qde, line 1"),
    ],
    ids=[
        "start-abc",
        "end-empty",
        "end-missing",
        "coding-no-coderef",
        "coderef-no-target",
        "source-cp1252",
        "code-no-name",
        "code-blank-name",
        "code-no-guid",
        "bad-xml",
    ],
)
def test_bad_qdpx_is_refused_naming_file_and_what(tmp_path, code_map, project, source, expected):
    write_qdpx(tmp_path / "study.qdpx", project, source)
    with pytest.raises(AnalysisError, match=r"  - study\.qdpx: .*" + expected):
        read_folder(tmp_path, code_map)


def test_qdpx_with_a_bad_crc_is_named(tmp_path, code_map):
    path = tmp_path / "study.qdpx"
    write_qdpx(path, qde())
    data = bytearray(path.read_bytes())
    at = data.find(b"What went wrong?")
    data[at] ^= 0xFF  # stored, not deflated: the byte changes, the CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(AnalysisError, match=r"study\.qdpx: sources/t1\.txt cannot be unpacked \(BadZipFile"):
        read_folder(tmp_path, code_map)


def test_bad_files_of_every_kind_are_listed_together(tmp_path, code_map):
    write_qdpx(tmp_path / "a.qdpx", qde(code='<Code guid="c1"/>'))
    (tmp_path / "b.csv").write_bytes(b"")
    (tmp_path / "Interview 3 - c.pdf").write_bytes(b"%PDF-1.4\nrubbish")
    with pytest.raises(AnalysisError) as caught:
        read_folder(tmp_path, code_map)
    listed = [line.split(":")[0].split(",")[0] for line in str(caught.value).splitlines() if line.startswith("  - ")]
    assert listed == ["  - Interview 3 - c.pdf", "  - a.qdpx", "  - b.csv"]


# ---------------------------------------------------------------- evaluate --predictions


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", r"p\.csv, line 1: empty file"),
        (b"  \n", r"p\.csv, line 1: empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8", r"p\.csv, line 1: not UTF-8"),
        (b"interview_id,turn_index,stages\n1,2,data\n\x00\x01", r"p\.csv, line 3: NUL bytes"),
        (b"interview_id,stages\n1,data\n", r"p\.csv, line 1: missing column\(s\) turn_index"),
        (b"interview_id,turn_index,stages\n1,two,data\n", r"p\.csv, row 1 below the header: turn_index 'two'"),
        (b'interview_id,turn_index,stages\n1,2,"data\n', r"p\.csv: cannot read predictions"),
    ],
    ids=["empty", "blank", "binary", "nul", "missing-column", "bad-turn-index", "open-quote"],
)
def test_bad_predictions_csv_is_refused_naming_file_and_line(tmp_path, content, expected):
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    with pytest.raises(AnalysisError, match=expected):
        read_stage_csv(str(path))


def test_a_predictions_folder_is_refused(tmp_path):
    with pytest.raises(AnalysisError, match="cannot read predictions"):
        read_stage_csv(str(tmp_path))
