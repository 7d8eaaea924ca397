"""Hostile transcripts (issue 11): every failure a listed problem, nothing lost silently,
no bomb unpacked. Every input is built here. Tests run as root, where `chmod 000` does
not stop a read: unreadable files and read errors are simulated by patching
``Path.open``/``os.scandir`` (a real `chmod` test runs only as another user)."""

from __future__ import annotations

import errno
import io
import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import docx
import pytest

from analysis import CorpusError, load_config, load_corpus, load_step
from conftest import SETTINGS, sample_settings, write_config

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
MC = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
TWO_TURNS = "Interviewer: What broke?\nInterviewee: The pipeline.\n"


def problems_of(folder, **kwargs) -> list[str]:
    with pytest.raises(CorpusError) as info:
        load_corpus(folder, **kwargs)
    return [str(p) for p in info.value.problems]


def docx_bytes(build) -> bytes:
    """A .docx made by python-docx, ``build(document)`` adding to it."""
    document = docx.Document()
    build(document)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def rezip(data: bytes, replace: dict[str, bytes], compression=zipfile.ZIP_DEFLATED, extra=None) -> bytes:
    """The zip ``data`` with members replaced (and ``extra`` added)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for info in src.infolist():
            z.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, content in (extra or {}).items():
            z.writestr(name, content)
    return out.getvalue()


def body_xml(*blocks: str) -> bytes:
    """A document.xml whose body holds ``blocks`` (WordprocessingML snippets)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {W} {MC}><w:body>'
        + "".join(blocks)
        + "</w:body></w:document>"
    ).encode()


def para(text: str, bold: bool = False) -> str:
    props = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return f'<w:p><w:r>{props}<w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


PLAIN_DOCX = docx_bytes(lambda d: d.add_paragraph("Interviewer: hello?"))


def docx_with_body(*blocks: str) -> bytes:
    return rezip(PLAIN_DOCX, {"word/document.xml": body_xml(*blocks)})


# ---------------------------------------------------------------- 1. listed problems


@pytest.fixture
def unreadable(monkeypatch):
    """Make ``Path.open`` of the named files raise the given OSError."""
    failing: dict[str, OSError] = {}
    real_open = Path.open

    def fake_open(self, *args, **kwargs):
        if self.name in failing:
            raise failing[self.name]
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", fake_open)
    return failing


def test_unreadable_and_failing_files_are_listed_with_the_others(write_files, unreadable):
    folder = write_files(
        {
            "Interview 1.txt": TWO_TURNS,
            "Interview 2.txt": TWO_TURNS,
            "Interview 3.txt": "",
            "Interview 4.docx": PLAIN_DOCX[: len(PLAIN_DOCX) // 2],
        }
    )
    unreadable["Interview 1.txt"] = PermissionError(errno.EACCES, "Permission denied")
    unreadable["Interview 2.txt"] = OSError(errno.EIO, "Input/output error")
    problems = problems_of(folder)
    assert len(problems) == 4
    assert "Interview 1.txt: cannot be read: permission denied; give your user read access" in problems[0]
    assert "Interview 2.txt: cannot be read (Input/output error, EIO)" in problems[1]
    assert "Interview 3.txt: empty file" in problems[2]
    assert "Interview 4.docx: not a readable .docx document (BadZipFile" in problems[3]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_chmod_000_file_is_a_listed_problem(write_files):
    folder = write_files({"Interview 1.txt": TWO_TURNS, "Interview 2.txt": TWO_TURNS})
    (folder / "Interview 1.txt").chmod(0)
    try:
        assert "permission denied" in problems_of(folder)[0]
    finally:
        (folder / "Interview 1.txt").chmod(0o644)


def corrupt_member(data: bytes, member: str, stored: bool) -> bytes:
    """``data`` with bytes in the middle of ``member``'s compressed data flipped."""
    if stored:
        data = rezip(data, {}, compression=zipfile.ZIP_STORED)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    raw = bytearray(data)
    raw[middle : middle + 8] = bytes(b ^ 0x5A for b in raw[middle : middle + 8])
    return bytes(raw)


@pytest.mark.parametrize(
    "content, expected",
    [
        (corrupt_member(PLAIN_DOCX, "word/document.xml", stored=True), "BadZipFile: Bad CRC-32"),
        (corrupt_member(PLAIN_DOCX, "word/document.xml", stored=False), "not a readable .docx document"),
        (rezip(PLAIN_DOCX, {"word/document.xml": b"<w:document><w:body><w:p>"}), "XMLSyntaxError"),
        (rezip(PLAIN_DOCX, {"[Content_Types].xml": b"<Types><Default"}), "XMLSyntaxError"),
        (rezip(PLAIN_DOCX, {"word/document.xml": b"\x00\x01 not xml"}), "XMLSyntaxError"),
        (PLAIN_DOCX[:-200], "BadZipFile"),
    ],
)
def test_damaged_docx_is_a_listed_problem(write_files, content, expected):
    folder = write_files({"Interview 1.docx": content, "Interview 2.txt": TWO_TURNS})
    problems = problems_of(folder)
    assert len(problems) == 1
    assert problems[0].startswith("Interview 1.docx: not a readable .docx document"), problems[0]
    assert expected in problems[0]


def test_zip_that_is_not_a_word_document(write_files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("notes.txt", "Interviewer: hi")
    problems = problems_of(write_files({"Interview 1.docx": out.getvalue()}))
    assert "Interview 1.docx: not a readable .docx document" in problems[0]


def test_docx_with_a_dtd_is_refused_not_expanded(write_files):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "hahahahahahahahahaha">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b"<w:document " + W.encode() + b"><w:body><w:p><w:r><w:t>Interviewee: &c;</w:t></w:r></w:p>"
        b"</w:body></w:document>"
    )
    folder = write_files({"Interview 1.docx": rezip(PLAIN_DOCX, {"word/document.xml": laughs})})
    problems = problems_of(folder)
    assert "Interview 1.docx: word/document.xml holds a document type declaration (DTD)" in problems[0]
    assert "haha" not in problems[0]


def test_cli_lists_damaged_files_without_traceback(write_files, tmp_path):
    folder = write_files(
        {
            "Interview 1.docx": corrupt_member(PLAIN_DOCX, "word/document.xml", stored=True),
            "Interview 2.docx": rezip(PLAIN_DOCX, {"word/document.xml": b"<broken"}),
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "--config", str(SETTINGS), "load", "--transcripts", str(folder)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Interview 1.docx: not a readable .docx" in result.stderr
    assert "Interview 2.docx: not a readable .docx" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- 2. nothing lost: .docx


def test_docx_content_controls_and_tracked_changes_are_read_in_order(write_files):
    content = docx_with_body(
        para("Interviewer: What do you monitor?"),
        # a block-level content control holding the answer
        "<w:sdt><w:sdtPr/><w:sdtContent>" + para("Interviewee: Drift in the inputs.") + "</w:sdtContent></w:sdt>",
        # an inline content control, a tracked insertion and a tracked deletion
        '<w:p><w:r><w:t xml:space="preserve">Interviewer: And </w:t></w:r>'
        '<w:sdt><w:sdtContent><w:r><w:t xml:space="preserve">then </w:t></w:r></w:sdtContent></w:sdt>'
        '<w:ins w:id="1" w:author="x"><w:r><w:t xml:space="preserve">what</w:t></w:r></w:ins>'
        '<w:del w:id="2" w:author="x"><w:r><w:delText>REMOVED</w:delText></w:r></w:del>'
        "<w:r><w:t>?</w:t></w:r></w:p>",
        '<w:ins w:id="3" w:author="x">' + para("Interviewee: We retrain.") + "</w:ins>",
    )
    corpus = load_corpus(write_files({"Interview 1.docx": content}))
    assert list(corpus.turns["text"]) == [
        "What do you monitor?",
        "Drift in the inputs.",
        "And then what?",
        "We retrain.",
    ]
    assert list(corpus.turns["line_start"]) == [1, 2, 3, 4]
    assert "REMOVED" not in " ".join(corpus.lines["text"])
    assert int(corpus.accounting_table()["unaccounted"].sum()) == 0


def text_box(text: str) -> str:
    box = f"<w:txbxContent>{para(text)}</w:txbxContent>"
    return (
        "<w:p><w:r><mc:AlternateContent>"
        f'<mc:Choice Requires="wps"><w:drawing><wps:txbx xmlns:wps="urn:wps">{box}</wps:txbx></w:drawing></mc:Choice>'
        f'<mc:Fallback><w:pict><v:textbox xmlns:v="urn:v">{box}</v:textbox></w:pict></mc:Fallback>'
        "</mc:AlternateContent></w:r></w:p>"
    )


def test_docx_text_boxes_headers_footers_and_comments_are_listed(write_files):
    def build(d):
        d.add_paragraph("Interviewer: What broke?")
        answer = d.add_paragraph("Interviewee: The pipeline.")
        d.sections[0].header.paragraphs[0].text = "Confidential draft"
        d.sections[0].footer.paragraphs[0].text = "Page footer text"
        d.add_comment(answer.runs, text="Check this answer", author="R")

    data = docx_bytes(build)
    document = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    data = rezip(data, {"word/document.xml": document.replace("</w:body>", text_box("Sidebar quote") + "</w:body>")})
    corpus = load_corpus(write_files({"Interview 1.docx": data}))
    assert list(corpus.turns["text"]) == ["What broke?", "The pipeline."]
    listed = corpus.lines.query("status == 'not_read'")
    assert sorted(listed["text"]) == ["Check this answer", "Confidential draft", "Page footer text", "Sidebar quote"]
    reasons = " ".join(listed["reason"])
    for kind in ("text box in paragraph 3", "page header", "page footer", "comment"):
        assert kind in reasons
    assert listed["line"].min() > 3  # numbered after the body's paragraphs
    assert int(corpus.accounting_table()["unaccounted"].sum()) == 0
    assert set(corpus.lines_to_review()["status"]) >= {"not_read"}


@pytest.mark.parametrize(
    "blocks, expected",
    [
        (
            [
                "<w:sdt><w:sdtContent><w:tbl><w:tr><w:tc>" + para("Interviewee: in a cell") + "</w:tc></w:tr>"
                "</w:tbl></w:sdtContent></w:sdt>"
            ],
            "transcript text inside a Word table",
        ),
        (['<w:altChunk r:id="rId99" xmlns:r="urn:r"/>'], "embedded document (altChunk)"),
        (["<w:mystery>" + para("Interviewee: hidden words") + "</w:mystery>"], "cannot place in the conversation"),
        ([text_box("Interviewee: all in a box")], "1 paragraphs in text boxes"),
    ],
)
def test_docx_text_that_cannot_be_placed_refuses_the_file(write_files, blocks, expected):
    content = docx_with_body(*blocks)
    problems = problems_of(write_files({"Interview 1.docx": content}))
    assert problems[0].startswith("Interview 1.docx: "), problems
    assert expected in problems[0]


def test_docx_line_break_inside_a_paragraph_does_not_hide_a_label(write_files):
    content = docx_with_body(
        "<w:p><w:r><w:t>Interviewer: Why?</w:t><w:br/><w:t>Interviewee: Because.</w:t></w:r></w:p>",
        "<w:p><w:r><w:rPr><w:b/></w:rPr><w:t>Interviewer</w:t></w:r><w:r><w:br/></w:r>"
        "<w:r><w:t>And then?</w:t></w:r></w:p>",
    )
    corpus = load_corpus(write_files({"Interview 1.docx": content}))
    assert list(corpus.turns["role"]) == ["interviewer", "interviewee", "interviewer"]
    assert list(corpus.turns["text"]) == ["Why?", "Because.", "And then?"]
    assert list(corpus.turns["line_start"]) == [1, 1, 2]
    assert int(corpus.accounting_table()["unaccounted"].sum()) == 0
    assert set(corpus.warnings["line"]) == {1, 2}


# ---------------------------------------------------------------- 2. captions


def test_only_real_caption_tags_are_removed(write_files):
    vtt = (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:02.000\n<v Interviewer>Which metric?</v>\n\n"
        "00:00:02.000 --> 00:00:04.000\n"
        "<v.loud Interviewee><c.yellow>We</c> <i>want</i> recall<precision and precision>0.9</v>\n"
        "<v Interviewee>A List<String> of <00:00:03.000>labels, <b>a<b</b> &lt;3 &amp; <u>more</u></v>\n"
        "<v Interviewee><lang en-GB>colour</lang> <ruby>漢<rt>kan</rt></ruby> x <y> z</v>\n"
    )
    t = load_corpus(write_files({"Interview 1.vtt": vtt})).turns
    assert t.loc[1, "text"] == (
        "We want recall<precision and precision>0.9\nA List<String> of labels, a<b <3 & more\ncolour 漢kan x <y> z"
    )


def test_srt_font_tags_removed_and_angle_brackets_kept(write_files):
    srt = (
        "1\n00:00:01,000 --> 00:00:02,000\nInterviewer: <i>Is</i> it x<y?\n\n"
        '2\n00:00:02,500 --> 00:00:05,000\nInterviewee: <font color="#ff0000">Yes</font>, when Map<K, V> is empty.\n'
    )
    t = load_corpus(write_files({"Interview 1.srt": srt})).turns
    assert list(t["text"]) == ["Is it x<y?", "Yes, when Map<K, V> is empty."]


# ---------------------------------------------------------------- 2. encodings


def test_utf8_file_with_cp1252_lines_is_decoded_per_line_and_warned(write_files):
    data = (
        "Interviewer: Was the model naïve?\n".encode()
        + "Interviewee: Le modèle était naïf.\n".encode("cp1252")
        + "It cost 5 €.\n".encode()
    )
    corpus = load_corpus(write_files({"Interview 1.txt": data}))
    t = corpus.turns
    assert corpus.files.loc[0, "encoding"] == "utf-8+cp1252"
    assert t.loc[0, "text"] == "Was the model naïve?"
    assert t.loc[1, "text"] == "Le modèle était naïf.\nIt cost 5 €."
    assert corpus.warnings[["line"]].to_dict("list") == {"line": [2]}
    assert "read as Windows-1252" in corpus.warnings.loc[0, "warning"]


def test_truncated_utf8_sequence_is_warned_even_in_an_ascii_file(write_files):
    data = b"Interviewer: How?\nInterviewee: it costs 5 \xe2\x82\nthen more\n"  # a cut euro sign
    corpus = load_corpus(write_files({"Interview 1.txt": data}))
    assert corpus.files.loc[0, "encoding"] == "utf-8+cp1252"
    assert corpus.warnings["line"].tolist() == [2]


def test_pure_cp1252_file_is_read_as_before_with_one_note(write_files):
    data = "Interviewer: Qu'est-ce qui a changé ?\nInterviewee: Il a dit café\nEt groß\n".encode("cp1252")
    corpus = load_corpus(write_files({"Interview 1.txt": data}))
    assert corpus.files.loc[0, "encoding"] == "cp1252"
    assert corpus.turns.loc[1, "text"] == "Il a dit café\nEt groß"
    assert corpus.warnings["line"].tolist() == [1]
    assert (
        "read as Windows-1252" in corpus.warnings.loc[0, "warning"]
        and "line(s) 1, 2, 3 " in corpus.warnings.loc[0, "warning"]
    )


# ---------------------------------------------------------------- 2. folder listing


def test_every_skipped_entry_is_listed(write_files, tmp_path):
    folder = write_files(
        {
            "Interview 1.txt": TWO_TURNS,
            "sub/Interview 2.txt": TWO_TURNS,
            ".notes.txt": TWO_TURNS,
            ".hidden/Interview 3.txt": TWO_TURNS,
            "~$terview 4.docx": b"\x00lock",
        }
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Interview 5.txt").write_text(TWO_TURNS)
    os.mkfifo(folder / "pipe")
    (folder / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    (folder / "linked-folder").symlink_to(outside)
    (folder / "Interview 6.txt").symlink_to(outside / "Interview 5.txt")  # a link to a file is read
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(folder / "sock"))
        corpus = load_corpus(folder, keep_names=True)
    finally:
        sock.close()
    assert sorted(corpus.turns["interview_id"].unique()) == ["1", "2", "6"]
    assert dict(zip(corpus.skipped["source_file"], corpus.skipped["reason"])) == {
        ".hidden": "hidden folder: its files are not read",
        ".notes.txt": "hidden file",
        "dangling.txt": "broken link: its target does not exist",
        "linked-folder": "link to a folder: not followed (move or copy the folder here to read it)",
        "pipe": "a named pipe (FIFO), not a file",
        "sock": "a socket, not a file",
        "~$terview 4.docx": "Office lock file (the document is open in Word)",
    }


def test_unreadable_sub_folder_stops_the_run(write_files, monkeypatch):
    folder = write_files({"Interview 1.txt": TWO_TURNS, "locked/Interview 2.txt": TWO_TURNS, "Interview 3.txt": ""})
    real_scandir = os.scandir

    def fake_scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", fake_scandir)
    problems = problems_of(folder)
    assert problems[0].startswith("sub-folder locked cannot be read (Permission denied); give your user read access")
    assert "Interview 3.txt: empty file" in problems[1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists a folder whatever its mode")
def test_chmod_000_sub_folder_stops_the_run(write_files):
    folder = write_files({"Interview 1.txt": TWO_TURNS, "locked/Interview 2.txt": TWO_TURNS})
    (folder / "locked").chmod(0)
    try:
        assert "sub-folder locked cannot be read" in problems_of(folder)[0]
    finally:
        (folder / "locked").chmod(0o755)


def test_cli_load_prints_skipped_entries_and_warnings(write_files, tmp_path):
    folder = write_files(
        {
            "Interview 1.txt": "Interviewer: Why?\nInterviewee: Two reasons.\nExample: drift.\n"
            "Interviewer: More?\nInterviewee: Yes.\nExample: labels.\n",
            ".DS_Store": b"\x00\x01",
        }
    )
    os.mkfifo(folder / "pipe")
    config = write_config(tmp_path, sample_settings(transcripts=str(folder), processed=str(tmp_path / "processed")))
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "--config", str(config), "load"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "not read: .DS_Store (hidden file)" in result.stdout
    # (the pipe's own name may be masked: a file name can be a person's name)
    assert "(a named pipe (FIFO), not a file)" in result.stdout
    assert "line 3: line(s) 3, 6 start with the same `Word:` prefix, read as text" in result.stdout


# ---------------------------------------------------------------- 2. speakers


def test_a_repeated_word_prefix_in_answers_is_not_a_speaker(write_files):
    text = (
        "Interviewer 1: Can you give examples of data issues?\n"
        "Interviewee: Two come to mind.\n"
        "Example: the sensor drifted for a month.\n"
        "Interviewer 1: And labels?\n"
        "Interviewee: Yes.\n"
        "Example: annotators disagreed.\n"
    )
    corpus = load_corpus(write_files({"Interview 1.txt": text}))
    t = corpus.turns
    assert list(t["role"]) == ["interviewer", "interviewee", "interviewer", "interviewee"]
    assert t.loc[1, "text"] == "Two come to mind.\nExample: the sensor drifted for a month."
    assert t.loc[3, "text"] == "Yes.\nExample: annotators disagreed."
    assert corpus.warnings["line"].tolist() == [3]
    # A configured label is a speaker wherever it starts a line.
    configured = load_corpus(write_files({"Interview 1.txt": text}), speaker_roles={"Example": "other"})
    assert list(configured.turns["role"]).count("other") == 2


def test_numbered_speakers_also_keep_a_repeated_prefix_as_text(write_files):
    text = (
        "Speaker 1: What failed?\nSpeaker 2: Serving.\nNote: twice.\nSpeaker 1: Why?\nSpeaker 2: Versions.\nNote: a.\n"
    )
    t = load_corpus(write_files({"Interview 1.txt": text})).turns
    assert len(t) == 4 and t.loc[1, "text"] == "Serving.\nNote: twice."


def test_named_speakers_fill_a_missing_role(write_files):
    text = "Interviewer: What failed?\nAlice: Serving, for a long while.\nInterviewer: Why?\nAlice: Versions.\n"
    t = load_corpus(write_files({"Interview 1.txt": text})).turns
    assert list(t["role"]) == ["interviewer", "interviewee", "interviewer", "interviewee"]


@pytest.mark.parametrize("brk", ["\x0b", "\x0c", "\u2028", "\u2029", "\x85"])
def test_line_separators_inside_a_line_do_not_hide_a_label(write_files, brk):
    text = f"Interviewer: Why?{brk}Interviewee: Because.\nInterviewer: And?{brk}\nInterviewee: So.\n"
    corpus = load_corpus(write_files({"Interview 1.txt": text.encode("utf-8")}))
    t = corpus.turns
    assert list(t["role"]) == ["interviewer", "interviewee", "interviewer", "interviewee"]
    assert list(t["text"]) == ["Why?", "Because.", "And?", "So."]
    # Line numbers are an editor's: the two parts of line 1 keep number 1.
    assert list(t["line_start"]) == [1, 1, 2, 3]
    assert int(corpus.accounting_table()["unaccounted"].sum()) == 0
    assert corpus.warnings["line"].tolist() == [1]


def test_many_answers_without_a_question_load_in_linear_time(write_files):
    folder = write_files({"Interview 1.txt": "Interviewer: ok\n" + "Interviewee: yes\n" * 40000})
    started = time.perf_counter()
    t = load_corpus(folder, keep_names=True).turns
    assert len(t) == 40001 and (t["question_turn_id"].iloc[1:] == "1-0000").all()
    assert time.perf_counter() - started < 60  # quadratic pairing took many minutes


# ---------------------------------------------------------------- 5. bombs


def big_member_docx(name: str, megabytes: int) -> bytes:
    """A small .docx with a member that unpacks to ``megabytes`` MB (a run of one letter)."""
    out = io.BytesIO()
    src = zipfile.ZipFile(io.BytesIO(PLAIN_DOCX))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename != name:
                z.writestr(info.filename, src.read(info.filename))
        with z.open(name, "w", force_zip64=True) as fh:
            if name == "word/document.xml":
                fh.write(f"<w:document {W}><w:body><w:p><w:r><w:t>".encode())
            chunk = b"a" * (1 << 20)
            for _ in range(megabytes):
                fh.write(chunk)
            if name == "word/document.xml":
                fh.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return out.getvalue()


def test_docx_bombs_are_refused_before_parsing(write_files, monkeypatch):
    huge_text = big_member_docx("word/document.xml", 30)  # one 30 MB text node
    many_images = big_member_docx("word/media/image1.png", 5)
    assert len(huge_text) < 100_000
    folder = write_files({"Interview 1.docx": huge_text, "Interview 2.docx": many_images})
    opened = []
    monkeypatch.setattr(docx, "Document", lambda *a, **k: opened.append(a))
    problems = problems_of(folder, max_uncompressed_mb=4)
    assert opened == []
    assert problems[0].startswith("Interview 1.docx: the .docx unpacks to 31 MB, over the limit of 4 MB")
    assert "ingest.max_uncompressed_mb" in problems[0]
    assert problems[1].startswith("Interview 2.docx: the .docx unpacks to 6 MB, over the limit of 4 MB")
    # Within the total, the XML limit still applies (default 20 MB).
    problems = problems_of(write_files({"Interview 1.docx": huge_text}, folder="c2"))
    assert "holds XML (text and markup) of 31 MB, over the limit of 20 MB (ingest.max_text_mb)" in problems[0]


def test_huge_text_file_is_refused_through_the_config(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "Interview 1.txt").write_text(TWO_TURNS * 80000)  # about 3 MB
    settings = sample_settings(transcripts=str(folder), processed=str(tmp_path / "processed"))
    settings["ingest"]["max_text_mb"] = 2
    cfg = load_config(write_config(tmp_path, settings))
    with pytest.raises(CorpusError) as info:
        load_step(cfg)
    message = str(info.value)
    assert "Interview 1.txt: larger than the limit of 2 MB for a text transcript (ingest.max_text_mb)" in message


def test_long_runs_of_spaces_do_not_make_the_parsers_backtrack(write_files):
    run = " " * 200_000  # each line below took minutes with backtracking patterns
    plain = f"Interviewer: Why?\nInterviewee: Because.\nspeaker{run}x\ninterview{run}x\n{'=' * 200_000}x\n"
    markdown = f"## a{run}x\n### Interviewer 1\nWhy?\n### Interviewee\nBecause.\n### a{run}x\n"
    vtt = f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Interviewer>Why?</v>\n<v {run}\n<font{' a=b' * 50_000}x\n"
    folder = write_files({"Interview 1.txt": plain, "Interview 2.md": markdown, "Interview 3.vtt": vtt})
    started = time.perf_counter()
    corpus = load_corpus(folder, keep_names=True)
    assert time.perf_counter() - started < 30
    assert corpus.files["format"].tolist() == ["plain", "delve-markdown", "webvtt"]
    assert int(corpus.accounting_table()["unaccounted"].sum()) == 0


def test_docx_footnotes_are_listed_and_a_malformed_notes_part_is_a_problem(write_files):
    data = docx_bytes(lambda d: (d.add_paragraph("Interviewer: Why?"), d.add_paragraph("Interviewee: Because.")))
    src = zipfile.ZipFile(io.BytesIO(data))
    types = (
        src.read("[Content_Types].xml")
        .decode()
        .replace(
            "</Types>",
            '<Override PartName="/word/footnotes.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>',
        )
    )
    rels = (
        src.read("word/_rels/document.xml.rels")
        .decode()
        .replace(
            "</Relationships>",
            '<Relationship Id="rId99" Target="footnotes.xml" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"/></Relationships>',
        )
    )
    notes = (
        f'<w:footnotes {W}><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
        '</w:footnote><w:footnote w:id="1"><w:p><w:r><w:t>Said off the record</w:t></w:r></w:p></w:footnote>'
        "</w:footnotes>"
    )
    replace = {"[Content_Types].xml": types.encode(), "word/_rels/document.xml.rels": rels.encode()}
    good = rezip(data, replace, extra={"word/footnotes.xml": notes.encode()})
    bad = rezip(data, replace, extra={"word/footnotes.xml": b"<w:footnotes><w:p>"})
    corpus = load_corpus(write_files({"Interview 1.docx": good}))
    listed = corpus.lines.query("status == 'not_read'")
    assert listed["text"].tolist() == ["Said off the record"]
    assert listed["reason"].tolist() == ["footnote (word/footnotes.xml): listed, not read as speech"]
    problems = problems_of(write_files({"Interview 1.docx": bad}, folder="bad"))
    assert "Interview 1.docx: not a readable .docx document (XMLSyntaxError" in problems[0]


def test_a_label_alone_on_its_line_is_accounted(write_files):
    text = "Interviewer: Why?\nInterviewee:\nBecause.\nInterviewer: And?\x0bInterviewee:\nSo.\n"
    corpus = load_corpus(write_files({"Interview 1.txt": text}))
    labels = corpus.lines.query("status == 'speaker_label'")
    assert labels["line"].tolist() == [2, 4]
    assert set(labels["reason"]) == {"speaker label on its own line"}
    assert int(corpus.accounting_table()["unaccounted"].sum()) == 0


def test_line_accounting_holds_on_generated_hostile_text(write_files):
    """Random mixes of labels, separators, notes, tags and encodings: every file either
    loads with every non-blank line accounted for, or is refused with a listed problem."""
    import random

    rng = random.Random(11)
    pieces = [
        "Interviewer: why?",
        "Interviewee: because",
        "Interviewee:",
        "Example: one",
        "Speaker 2: hm",
        "=== note ===",
        "[inaudible]",
        "plain words",
        "Interview 7",
        "### Interviewer 1",
        "**Interviewee**",
        "<v Ann>hi</v>",
        "00:00:01.000 --> 00:00:02.000",
        "List<String>",
        "\x0b",
        "\x0c",
        "\u2028",
        "\x85",
        "\r",
        "\n",
        "\n\n",
        " ",
    ]
    loaded = refused = 0
    for k in range(150):
        text = "".join(rng.choice(pieces) + rng.choice(["\n", " ", "\x0b"]) for _ in range(rng.randrange(1, 30)))
        data = text.encode("utf-8") if k % 3 else text.encode("utf-8") + "é\n".encode("cp1252")
        folder = write_files({"Interview 1.txt": data}, folder=f"gen{k}")
        try:
            corpus = load_corpus(folder)
        except CorpusError as exc:
            refused += 1
            assert str(exc.problems[0]).startswith("Interview 1.txt"), exc
            continue
        loaded += 1
        assert int(corpus.accounting_table()["unaccounted"].sum()) == 0, repr(text)
    assert loaded > 50 and refused > 5
