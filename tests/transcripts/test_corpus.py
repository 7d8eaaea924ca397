"""Truth on the reference corpus: all 36 transcripts, every line accounted for."""

from __future__ import annotations

import re
import shutil
from collections import Counter

import pytest

from analysis import load_corpus
from conftest import CORPUS, TRANSCRIPTS

pytestmark = pytest.mark.corpus

# Written independently of the loader: a role word, an optional number, a colon.
PREFIX = re.compile(r"^\s*(interviewer|interviewee)\s*\d*\s*\d*\s*:", re.IGNORECASE)
HEADING = re.compile(r"^\s*(interviewer|interviewee|unknown speaker)\s*\d*\s*$", re.IGNORECASE)
# Names said in speech are replaced by placeholders (privacy): a placeholder stands for
# one or more words of the raw line.
PLACEHOLDER = re.compile(r"\[(?:name-\d+|I[\w-]+)\]")
NAME_WORDS = r"[^\W\d_][\w'-]*(?: [^\W\d_][\w'-]*){0,2}"


def reproduces(masked: str, raw: str) -> bool:
    """``masked`` is ``raw`` with some names replaced by placeholders."""
    pattern = NAME_WORDS.join(re.escape(piece) for piece in PLACEHOLDER.split(masked))
    return re.fullmatch(pattern, raw) is not None


def independent_counts(path) -> Counter:
    counts: Counter = Counter()
    seen_label = False
    for line in path.read_text(encoding="utf-8").splitlines():
        m = PREFIX.match(line) or HEADING.match(line)
        if m:
            word = m.group(1).lower()
            counts["other" if word == "unknown speaker" else word] += 1
            seen_label = True
        elif line.strip() and not seen_label:
            counts["other"] += 1  # text before any label opens one unlabelled turn
            seen_label = True
    return counts


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(TRANSCRIPTS)


def test_all_36_transcripts_load(corpus):
    assert len(list(TRANSCRIPTS.glob("*.txt"))) == 36
    assert len(corpus.files) == 36
    assert corpus.turns["turn_id"].is_unique


def test_turns_per_role_per_file_match_an_independent_count(corpus):
    by_file = corpus.turns.groupby(["interview_id", "role"]).size()
    for path in TRANSCRIPTS.glob("*.txt"):
        interview_id = re.search(r"\d+", path.stem).group(0)
        expected = independent_counts(path)
        got = {role: int(n) for role, n in by_file.loc[interview_id].items()}
        assert got == dict(expected), path.name


def test_every_nonblank_line_is_reproduced_or_listed(corpus):
    texts = dict(zip(corpus.turns["turn_id"], corpus.turns["text"]))
    parts: dict[str, list[str]] = {}
    for path in sorted(TRANSCRIPTS.glob("*.txt")):
        interview_id = str(int(re.search(r"\d+", path.stem).group(0)))
        lines = corpus.lines[corpus.lines["interview_id"] == interview_id].set_index("line")
        nonblank = [(i, ln) for i, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if ln.strip()]
        assert sorted(lines.index) == [i for i, _ in nonblank], path.name
        for i, raw in nonblank:
            row = lines.loc[i]
            if row["status"] == "turn":
                # Every turn line's text, less its speaker label, is in its turn (names
                # masked: the line's text in the accounting is the raw one with placeholders).
                body = PREFIX.sub("", raw).strip()
                assert reproduces(row["text"], body), (path.name, i)
                assert row["text"] in texts[row["turn_id"]], (path.name, i)
                parts.setdefault(row["turn_id"], []).append(row["text"])
            else:
                assert row["reason"], (path.name, i)
    # ... and the turns hold nothing else: each is exactly its lines joined.
    for turn_id, pieces in parts.items():
        assert texts[turn_id] == "\n".join(p for p in pieces if p), turn_id


def test_speaker_ids_are_pseudonymous_and_consistent(corpus):
    t = corpus.turns
    interviewees = t.query("role == 'interviewee'")
    assert (interviewees["speaker_id"] == "I" + interviewees["interview_id"]).all()
    assert t.query("role == 'interviewer'")["speaker_id"].str.fullmatch(r"I\d+-interviewer-\d").all()
    assert "Interview 32 - [name].txt" in set(t["source_file"]) and not t["source_file"].str.contains("PO").any()


def test_delve_markdown_seed_matches_the_plain_transcript(tmp_path):
    md_folder, txt_folder = tmp_path / "md", tmp_path / "txt"
    md_folder.mkdir(), txt_folder.mkdir()
    shutil.copy(CORPUS / "delve-markdown" / "Interview 11.md", md_folder)
    shutil.copy(TRANSCRIPTS / "Interview 11.txt", txt_folder)
    md, txt = load_corpus(md_folder), load_corpus(txt_folder)
    assert md.files.loc[0, "format"] == "delve-markdown"
    assert md.files.loc[0, "nonblank_lines"] == len(md.lines)
    assert list(md.turns["role"]) == list(txt.turns["role"])
    assert list(md.turns["speaker_id"]) == list(txt.turns["speaker_id"])
    # Name in the title (`## Interview 11 - NAME`) reaches no table.
    title = next(
        ln for ln in (CORPUS / "delve-markdown" / "Interview 11.md").read_text().splitlines() if ln.startswith("## ")
    )
    name = title.split(" - ", 1)[1].strip()
    assert not md.lines["text"].str.contains(name).any()
    assert not md.turns.astype(str).apply(lambda col: col.str.contains(name)).any().any()


def test_question_pairing_on_real_transcripts(corpus):
    answers = corpus.turns.query("role == 'interviewee'")
    paired = answers["question_turn_id"].notna()
    assert paired.mean() > 0.99
    questions = corpus.turns.set_index("turn_id").loc[answers.loc[paired, "question_turn_id"]]
    assert (questions["role"] == "interviewer").all()
    assert (questions["turn_index"].to_numpy() < answers.loc[paired, "turn_index"].to_numpy()).all()
