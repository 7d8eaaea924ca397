"""Each transcript format, its variants, encodings and bad input."""

from __future__ import annotations

import subprocess
import sys

import docx
import pytest

from analysis import CorpusError, load_corpus
from conftest import SETTINGS


def test_plain_label_variants_and_continuation(write_files):
    folder = write_files(
        {
            "Interview 7.txt": (
                "Interviewer1 : Can you tell us about data quality?\n"
                "\n"
                " Interviewee1 : Missing values, mostly.\n"
                "They come from three systems.\n"
                "interviewer: And labels?\n"
                "Interviewer 2: Are labels noisy?\n"
                "interviewee: Yes: investigators disagree.\n"
            )
        }
    )
    corpus = load_corpus(folder)
    t = corpus.turns
    assert list(t["role"]) == ["interviewer", "interviewee", "interviewer", "interviewer", "interviewee"]
    assert list(t["speaker_id"]) == ["I7-interviewer-1", "I7", "I7-interviewer-1", "I7-interviewer-2", "I7"]
    assert t.loc[1, "text"] == "Missing values, mostly.\nThey come from three systems."
    assert (t.loc[1, "line_start"], t.loc[1, "line_end"]) == (3, 4)
    # The colon inside an answer is text, not a speaker.
    assert t.loc[4, "text"] == "Yes: investigators disagree."
    assert t.loc[4, "question_turn_id"] == "7-0003"
    assert t.loc[1, "question_text"] == "Can you tell us about data quality?"
    assert set(corpus.lines["status"]) == {"turn"}
    assert len(corpus.lines) == 6


def test_speaker_heading_lines_and_unlabelled_opening(write_files):
    folder = write_files(
        {
            "Interview 3.txt": (
                "All\n\nInterviewee: right.\n\nInterviewer 1: What about scaling?\n\n"
                "Unknown Speaker\nAre you interested in scaling?\n\nInterviewee \nWe scaled out.\n"
                "======= Connection got interrupted ========\n"
            )
        }
    )
    corpus = load_corpus(folder)
    t = corpus.turns
    assert list(t["role"]) == ["other", "interviewee", "interviewer", "other", "interviewee"]
    assert t.loc[0, "text"] == "All"
    assert t.loc[3, "speaker_id"] != t.loc[0, "speaker_id"]
    statuses = dict(zip(corpus.lines["line"], corpus.lines["status"]))
    assert statuses[7] == "speaker_label" and statuses[10] == "speaker_label" and statuses[12] == "annotation"
    opening = corpus.lines.query("line == 1").iloc[0]
    assert opening["status"] == "turn" and "before the first speaker" in opening["reason"]


def test_delve_markdown_title_headings_and_privacy(write_files):
    folder = write_files(
        {
            "export.md": (
                "\n## Interview 11 - Jane Doe\n\n### Interviewer 1\n\nWhat is drift?\n\n"
                "**Interviewee**\n\nWhen data changes.\n\nIt happens monthly.\n"
            )
        }
    )
    corpus = load_corpus(folder)
    t = corpus.turns
    assert corpus.files.loc[0, "format"] == "delve-markdown"
    assert list(t["interview_id"].unique()) == ["11"]
    assert list(t["text"]) == ["What is drift?", "When data changes.\nIt happens monthly."]
    everything = " ".join(map(str, [*t.astype(str).to_numpy().ravel(), *corpus.lines.astype(str).to_numpy().ravel()]))
    assert "Jane" not in everything and "Doe" not in everything
    kept = load_corpus(folder, keep_names=True)
    assert "Jane Doe" in " ".join(kept.lines["text"])


def test_file_name_with_name_is_masked(write_files):
    folder = write_files({"Interview 32 - PO.txt": "Interviewer 1: Hello?\nInterviewee: Hi.\n"})
    corpus = load_corpus(folder)
    assert corpus.turns["interview_id"].unique().tolist() == ["32"]
    assert corpus.turns["source_file"].unique().tolist() == ["Interview 32 - [name].txt"]


def test_named_speakers_are_pseudonymised_and_roles_inferred(write_files):
    folder = write_files(
        {
            "Interview 5.txt": (
                "Alice Smith: What went wrong in deployment?\n"
                "Bob Jones: The serving library had another version than training, "
                "so the model broke in production for a week.\n"
                "Alice Smith: How did you fix it?\n"
                "Bob Jones: One container image for both.\n"
            )
        }
    )
    t = load_corpus(folder).turns
    assert list(t["role"]) == ["interviewer", "interviewee", "interviewer", "interviewee"]
    assert "Alice" not in " ".join(t["speaker_label"]) and "Bob" not in " ".join(t["speaker_label"])
    overridden = load_corpus(folder, speaker_roles={"Alice Smith": "interviewee", "Bob Jones": "interviewer"}).turns
    assert list(overridden["role"]) == ["interviewee", "interviewer", "interviewee", "interviewer"]


def test_webvtt_voice_tags_merge_consecutive_cues(write_files):
    folder = write_files(
        {
            "Interview 4.vtt": (
                "WEBVTT\n\nNOTE made up\n\n1\n00:00:01.000 --> 00:00:03.500\n<v Interviewer>How do you monitor?</v>\n\n"
                "2\n00:00:04.000 --> 00:00:06.000\n<v Interviewee>We watch drift.</v>\n\n"
                "3\n00:01:06.000 --> 00:01:08.250\n<v Interviewee>And alert rates.</v>\n"
            )
        }
    )
    corpus = load_corpus(folder)
    t = corpus.turns
    assert corpus.files.loc[0, "format"] == "webvtt"
    assert list(t["role"]) == ["interviewer", "interviewee"]
    assert t.loc[1, "text"] == "We watch drift.\nAnd alert rates."
    assert (t.loc[1, "start_s"], t.loc[1, "end_s"]) == (4.0, 68.25)
    assert (t.loc[1, "line_start"], t.loc[1, "line_end"]) == (11, 15)
    markup = corpus.lines.query("status == 'markup'")
    assert len(markup) == 1 + 1 + 3 * 2  # header, note, id + timing per cue


def test_srt_with_name_prefixes(write_files):
    srt = (
        "1\r\n00:00:01,000 --> 00:00:02,000\r\nDana: What about latency?\r\n\r\n"
        "2\r\n00:00:02,500 --> 00:00:05,000\r\n"
        "Sam: Our budget is fifty milliseconds, so we distilled the model.\r\n\r\n"
        "3\r\n00:00:05,500 --> 00:00:07,000\r\nSam: It cost a little accuracy.\r\n"
    )
    folder = write_files({"Interview 9.srt": srt.encode("utf-8-sig")})
    corpus = load_corpus(folder)
    t = corpus.turns
    assert corpus.files.loc[0, "format"] == "srt"
    assert list(t["role"]) == ["interviewer", "interviewee"]
    assert t.loc[1, "text"].endswith("It cost a little accuracy.")
    assert t.loc[1, "start_s"] == 2.5


def test_docx_prefix_and_bold_speaker_lines(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    document = docx.Document()
    document.add_paragraph("Interview 12")
    document.add_paragraph("Interviewer: Any fairness checks?")
    bold = document.add_paragraph()
    bold.add_run("Interviewee").bold = True
    document.add_paragraph("We compare recall per group.")
    document.add_paragraph("Monthly.")
    document.save(folder / "notes.docx")
    corpus = load_corpus(folder)
    t = corpus.turns
    assert corpus.files.loc[0, "unit"] == "paragraph"
    assert list(t["interview_id"].unique()) == ["12"]
    assert list(t["role"]) == ["interviewer", "interviewee"]
    assert t.loc[1, "text"] == "We compare recall per group.\nMonthly."
    assert dict(zip(corpus.lines["line"], corpus.lines["status"])) == {
        1: "title",
        2: "turn",
        3: "speaker_label",
        4: "turn",
        5: "turn",
    }


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_encodings(write_files, encoding):
    text = (
        "Interviewer 1: Qu'est-ce qui a changé ?\r\nInterviewee: Le modèle était naïf, l'équipe a dû réentraîner.\r\n"
    )
    folder = write_files({"Interview 2.txt": text.encode(encoding)})
    t = load_corpus(folder).turns
    assert t.loc[1, "text"] == "Le modèle était naïf, l'équipe a dû réentraîner."
    assert t.loc[0, "text"] == "Qu'est-ce qui a changé ?"


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"Interview 1.txt": ""}, "Interview 1.txt: empty file"),
        ({"Interview 1.txt": "\n  \n\n"}, "Interview 1.txt: empty file"),
        ({"Interview 1.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"}, "Interview 1.txt: binary file"),
        (
            {"Interview 1.txt": "We talked about data.\nThen about models.\n"},
            "Interview 1.txt: no recognisable speaker labels",
        ),
        (
            {"Interview 1.txt": "Interviewee: a\n", "interview-1.md": "## Interview 1\n### Interviewee\nb\n"},
            "both claim interview id 1",
        ),
        (
            {"Interview 1.vtt": "WEBVTT\n\n1\nno timing here\n<v A>hello</v>\n"},
            "Interview 1.vtt, line 3: caption block without",
        ),
        ({"Interview 1.txt": b"Interviewee: ok\n\x81\x8d\x8f\x90\x9d text\n"}, "Interview 1.txt, line 2: not readable"),
    ],
)
def test_bad_input_names_the_file_and_line(write_files, files, expected):
    folder = write_files(files)
    with pytest.raises(CorpusError) as info:
        load_corpus(folder)
    assert expected in str(info.value)


def test_all_problems_are_reported_at_once(write_files):
    folder = write_files(
        {"Interview 1.txt": "", "Interview 2.txt": "just text\n", "Interview 3.txt": "Interviewee: fine\n"}
    )
    with pytest.raises(CorpusError) as info:
        load_corpus(folder)
    assert len(info.value.problems) == 2


def test_hidden_files_are_listed_as_skipped(write_files):
    folder = write_files({"Interview 1.txt": "Interviewee: fine\n", ".DS_Store": b"\x00\x01"})
    corpus = load_corpus(folder)
    assert corpus.skipped.to_dict("records") == [{"source_file": ".DS_Store", "reason": "hidden file"}]


def test_cli_reports_bad_input_without_traceback(write_files, tmp_path):
    folder = write_files({"Interview 1.txt": b"\x00\x00binary\x00"})
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "--config", str(SETTINGS), "load", "--transcripts", str(folder)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Interview 1.txt: binary file" in result.stderr
    assert "Traceback" not in result.stderr
