"""Privacy: a name planted on every route reaches no output unless keep_names is true."""

from __future__ import annotations

import io
import re
import zipfile

import pandas as pd
import pytest

from analysis import load_config, load_corpus
from analysis.transcripts import Deidentifier, introduced_names, read_pseudonyms
from conftest import sample_settings, write_config

FIRST, LAST = "Zephyrine", "Quackenbush"
NAME = f"{FIRST} {LAST}"
PLANTED = re.compile(rf"{FIRST}|{LAST}", re.IGNORECASE)

ANSWERS = [
    "We had missing values in the sensor data and spent weeks cleaning the pipelines before training.",
    "Labels from the annotators were inconsistent, so we measured agreement and relabelled the hard cases.",
    "The model overfit the training set; we added regularisation and early stopping to fix it.",
    "Deployment was painful because the serving latency was too high for the mobile application.",
    "Monitoring showed data drift after a few months, so we retrain the model every quarter now.",
]


def _qa(answers: list[str], interviewee: str = "Interviewee", interviewer: str = "Interviewer 1") -> str:
    return "".join(f"{interviewer}: What went wrong there?\n{interviewee}: {a}\n" for a in answers)


def planted_corpus(base):
    """Five transcripts and two code files, the name planted on every route of issue 11."""
    corpus = base / "corpus"
    (corpus / NAME).mkdir(parents=True)
    # file name `Interview N with NAME`, an empty voice cue, the name as a voice tag
    (corpus / f"Interview 43 with {NAME}.vtt").write_text(
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n<v Interviewer>Hi, what went wrong?</v>\n\n"
        f"2\n00:00:02.000 --> 00:00:03.000\n<v {NAME}></v>\n\n"
        f"3\n00:00:03.000 --> 00:00:09.000\n<v {NAME}>{ANSWERS[0]}</v>\n\n"
        "4\n00:00:09.000 --> 00:00:10.000\n<v Interviewer>And then?</v>\n\n"
        f"5\n00:00:10.000 --> 00:00:15.000\n<v {NAME}>{ANSWERS[1]}</v>\n",
        encoding="utf-8",
    )
    # file name `NAME date`, the name as a speaker label
    (corpus / f"{NAME} 2023-05-01.txt").write_text(_qa(ANSWERS[2:5], interviewee=NAME), encoding="utf-8")
    # no number in the file name; a title without a dash
    (corpus / f"{FIRST}.md").write_text(
        f"## {NAME} interview\n\n### Interviewer\n\nWhat went wrong?\n\n### Interviewee\n\n{ANSWERS[3]}\n\n"
        f"### Interviewer\n\nAnd then?\n\n### Interviewee\n\n{ANSWERS[4]}\n",
        encoding="utf-8",
    )
    # a sub-folder named after the person, a one-off `NAME: hello` line, introductions in speech
    (corpus / NAME / "Interview 7.txt").write_text(
        f"Interviewer 1: Hello. So, so I'm {FIRST} and I'm doing my master at the lab.\n"
        f"Interviewee: Hi, my name is {NAME}. {ANSWERS[0]}\n"
        f"{NAME}: hello from the other room, this interruption is part of the transcript too.\n"
        + _qa(ANSWERS[1:4])
        + f"Interviewer 1: Thanks {FIRST}, and what about Python or TensorFlow?\n"
        f"Interviewee: I use Python and TensorFlow daily. {ANSWERS[4]} Call me {LAST} if needed.\n",
        encoding="utf-8",
    )
    (corpus / "Interview 8.txt").write_text(
        _qa(ANSWERS) + f"Interviewee: Professor {LAST} told us to monitor drift before every release.\n",
        encoding="utf-8",
    )
    codes = base / "codes"
    codes.mkdir()
    (codes / "codes.csv").write_text(
        f"interview_id,turn_index,code,coder\n7,2,Data-missing-values,{NAME}\n8,1,Data-labels,{NAME}\n",
        encoding="utf-8",
    )
    (codes / f"{NAME}.csv").write_text("interview_id,turn_index,code\n8,3,MT-overfitting\n", encoding="utf-8")
    return corpus, codes


def _config(base, corpus, codes, keep_names: bool):
    settings = sample_settings(
        transcripts=str(corpus),
        processed=str(base / "processed"),
        reference_codes=str(codes),
        theme_labels=str(base / "theme_labels.json"),
    )
    settings["privacy"] = {"keep_names": keep_names, "names": [LAST]}
    return load_config(write_config(base, settings))


def _texts_of(path) -> list[str]:
    """Everything a file holds as text: parquet as its table, zips (qdpx, xlsx) unzipped,
    anything else as its bytes."""
    data = path.read_bytes()
    texts = [data.decode("utf-8", "replace"), data.decode("latin-1")]
    if path.suffix == ".parquet":
        texts.append(pd.read_parquet(path).to_csv())
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            texts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()] + z.namelist()
    return texts


def _leaks(folder) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if PLANTED.search(str(path.relative_to(folder))):
            found.append(f"{path.relative_to(folder)} (its name)")
        if path.is_file() and any(PLANTED.search(t) for t in _texts_of(path)):
            found.append(str(path.relative_to(folder)))
    return found


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    """load, embed, topics, stages and export on the planted corpus, names masked."""
    from analysis import embed_step, export_step, load_step, stages_step, topics_step

    base = tmp_path_factory.mktemp("planted")
    corpus, codes = planted_corpus(base)
    cfg = _config(base, corpus, codes, keep_names=False)
    loaded = load_step(cfg)
    embed_step(cfg, show_progress=False)
    topics_step(cfg)
    stages_step(cfg, train_codes=None)
    export_step(cfg, base / "processed" / "export")
    return cfg, loaded, base


def test_a_planted_name_reaches_no_output(planted_run):
    cfg, loaded, base = planted_run
    assert len(loaded.files) == 5
    written = {p.name for p in (base / "processed").rglob("*") if p.is_file()}
    assert {"turns.parquet", "line_accounting.parquet", "study.qdpx", "study.xlsx", "coded_segments.csv"} <= written
    assert _leaks(base / "processed") == []


def test_ids_and_file_names_are_derived_not_copied(planted_run):
    _, loaded, _ = planted_run
    files = loaded.files.set_index("interview_id")["source_file"].to_dict()
    number_less = next(i for i in files if not i.isdigit())
    assert re.fullmatch(r"x[0-9a-f]{6}", number_less)
    assert files["43"] == "Interview 43.vtt"
    assert files["2023"] == "interview-2023.txt"
    assert files["7"] == "folder-1/Interview 7.txt"
    assert files[number_less] == f"interview-{number_less}.md"


def test_speech_names_become_stable_placeholders(planted_run):
    _, loaded, _ = planted_run
    t = loaded.turns.set_index("turn_id")
    # the config's name (`Quackenbush`) was learned first: [name-1]; the full name from the
    # file names next: [name-2], and its first name with it
    assert t.loc["7-0000", "text"] == "Hello. So, so I'm [name-2] and I'm doing my master at the lab."
    assert t.loc["7-0001", "text"].startswith("Hi, my name is [name-2]. We had missing values")
    assert "[name-2]: hello from the other room" in t.loc["7-0001", "text"]
    # ordinary capitalised words stay: sentence starts, I, products
    assert t.loc["7-0008", "text"] == "Thanks [name-2], and what about Python or TensorFlow?"
    assert "I use Python and TensorFlow daily." in t.loc["7-0009", "text"]
    assert t.loc["7-0009", "text"].endswith("Call me [name-1] if needed.")
    assert t.loc["8-0010", "text"].startswith("Professor [name-1] told us")
    # the interviewee's label is a name: their id; the accounting's text is masked alike
    assert set(t.loc[t["interview_id"] == "2023", "speaker_label"]) == {"I2023", "Interviewer 1"}
    lines = loaded.lines
    empty_cue = lines.loc[(lines["interview_id"] == "43") & (lines["line"] == 9), "text"]
    assert empty_cue.tolist() == ["<v [I43]></v>"]  # the speaker's id, in the speaker's interview
    summary = loaded.privacy.set_index("learned_from")
    assert summary["replacements"].sum() == 6  # the six names said in turns above


def test_keep_names_keeps_them(tmp_path):
    corpus, codes = planted_corpus(tmp_path)
    cfg = _config(tmp_path, corpus, codes, keep_names=True)
    from analysis import load_step

    loaded = load_step(cfg)
    assert NAME in set(loaded.turns["speaker_label"])
    assert f"{NAME}/Interview 7.txt" in set(loaded.files["source_file"])
    assert any(PLANTED.search(t) for t in _texts_of(tmp_path / "processed" / "turns.parquet"))


def test_pseudonym_table_wins_and_numbers_skip_it(tmp_path):
    table = tmp_path / "pseudonyms.csv"
    table.write_text(f"name,pseudonym\n{LAST},[name-1]\nAnna Berg,[P-anna]\n", encoding="utf-8")
    d = Deidentifier(read_pseudonyms(table))
    d.learn_from_text("Hi, my name is Rached and I work here.")
    masked = d.mask(f"Ask {LAST}, Anna Berg or Berg; Rached knows.")
    assert masked == "Ask [name-1], [P-anna] or [P-anna]; [name-2] knows."


def test_a_bad_pseudonym_table_names_its_line(tmp_path):
    table = tmp_path / "pseudonyms.csv"
    table.write_text("name,pseudonym\nAlice,[name-1]\nBob\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"pseudonyms.csv, line 3: expected `name,pseudonym`"):
        read_pseudonyms(table)


@pytest.mark.parametrize(
    "text, names",
    [
        ("My name is Amin. I'm working as a researcher.", ["Amin"]),
        ("So, so I'm Rached and I'm doing my master.", ["Rached"]),
        ("Hello everyone, this is Pierre from the lab.", ["Pierre"]),
        ("my name is X. I am currently an engineer.", []),  # already a placeholder
        ("So my name is Interviewee. I have four years.", []),  # a role word
        ("I'm Python and Java fluent.", []),  # a product
        ("I'm tired and I'm leaving.", []),  # not capitalised
        ("This is TensorFlow here.", []),
    ],
)
def test_introduction_rule(text, names):
    assert [n for n, _ in introduced_names(text)] == names


def test_names_only_from_routes_not_from_capitalised_words(write_files):
    folder = write_files(
        {
            "Interview 1.txt": "Interviewer 1: Which tools?\n"
            "Interviewee: Mostly Python. Sometimes Kafka. Then Airflow, and I like it. Monday we deploy.\n"
        }
    )
    corpus = load_corpus(folder)
    said = "Mostly Python. Sometimes Kafka. Then Airflow, and I like it. Monday we deploy."
    assert corpus.turns.loc[1, "text"] == said
    assert corpus.privacy["replacements"].sum() == 0


@pytest.mark.corpus
def test_reference_corpus_introductions(tmp_path):
    from conftest import TRANSCRIPTS

    corpus = load_corpus(TRANSCRIPTS)
    counts = corpus.privacy.set_index("learned_from")["replacements"].to_dict()
    assert counts.get("introduction", 0) >= 8
    text = " ".join(corpus.turns["text"])
    assert "my name is Amin" not in text and "I'm Rached and" not in text


@pytest.mark.slow
def test_a_planted_name_reaches_no_report_page(tmp_path):
    """Every notebook run on the planted corpus, each in a fresh kernel: no page, executed
    notebook or table holds it. (The corpus is too small for topics: every notebook must
    render that too.)"""
    from analysis.report import run_report
    from conftest import ROOT

    corpus, codes = planted_corpus(tmp_path)
    settings = sample_settings(
        transcripts=str(corpus), processed=str(tmp_path / "processed"), reference_codes=str(codes),
        theme_labels=str(tmp_path / "theme_labels.json"), reports=str(tmp_path / "reports"),
        notebooks=str(ROOT / "notebooks"), review_codes=str(tmp_path / "review"),
    )
    settings["privacy"] = {"keep_names": False, "names": [LAST]}
    # what a corpus this small gives: no topic (the pages must still render and say so)
    settings["topics"].update({"min_cluster_size": 13, "outlier_quantile": 1.0})
    config = write_config(tmp_path, settings)
    # each notebook in a kernel of its own: the real notebooks also run after a restart
    # (the session's sample report runs them in one shared kernel)
    rendered = run_report(load_config(config), config_path=config, log=lambda *_: None, fresh_kernels=True)
    pages = {p.name for p in (tmp_path / "reports").glob("*.html")}
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [r.notebook.name for r in rendered] == [p.name for p in notebooks]
    assert {r.html.name for r in rendered} <= pages and "index.html" in pages
    assert pd.read_parquet(tmp_path / "processed" / "topic_info.parquet")["topic"].tolist() == [-1]  # no topic
    assert "No topics" in (tmp_path / "reports" / "03_topic_model.html").read_text()
    assert "No themes" in (tmp_path / "reports" / "05_themes.html").read_text()
    assert (tmp_path / "processed" / "export" / "study.qdpx").is_file()  # notebook 08 used this config
    assert _leaks(tmp_path / "reports") == []
    assert _leaks(tmp_path / "processed") == []
