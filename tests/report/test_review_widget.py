"""The review widget, driven without a browser: buttons and keys record the right codes in
the log and serve the next answer; what it shows is the answer in its context, escaped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis.stages
from analysis import load_corpus
from analysis.human_codes import ReviewLog
from analysis.report import ReviewWidget
from analysis.stages import StageCoding, load_taxonomy
from conftest import SAMPLE, TAXONOMY

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(TAXONOMY)


def _coding(answers: pd.DataFrame, ids: list[str]) -> StageCoding:
    rng = np.random.default_rng(1)
    table = answers[["interview_id", "turn_id", "turn_index", "source_file", "line_start", "line_end", "text"]].copy()
    p = rng.random((len(table), len(ids)))
    for k, stage in enumerate(ids):
        table[f"score_{stage}"] = table[f"p_{stage}"] = p[:, k]
    table["p_coded"] = p.max(axis=1)
    table["stages"] = [[ids[int(np.argmax(row))]] for row in p]
    table["kind"] = "issue"
    table["matched_cues"] = "missing values;labels"
    table["uncertain"] = True
    return StageCoding(table.reset_index(drop=True), ids)


@pytest.fixture
def setup(tmp_path, monkeypatch, taxonomy):
    turns = load_corpus(SAMPLE).turns
    answers = turns[(turns["role"] == "interviewee") & (turns["interview_id"] == "101")]
    coding = _coding(answers, taxonomy.ids)
    asked = []

    def queue(coding, reviewed=(), size=10, seed=42):
        """In turn order, never a reviewed answer (stands in for the suite's ranking)."""
        asked.append(set(reviewed))
        table = coding.table[~coding.table["turn_id"].isin(set(reviewed))].head(size)
        return table.assign(priority=1.0, why="uncertain")[["turn_id", "interview_id", "turn_index", "priority", "why"]]

    monkeypatch.setattr(analysis.stages, "review_queue", queue, raising=False)
    return turns, coding, ReviewLog(tmp_path / "codes" / "review.csv"), asked


def test_buttons_and_keys_record_the_right_codes_and_serve_the_next_answer(setup, taxonomy):
    turns, coding, log, asked = setup
    ids = taxonomy.ids
    widget = ReviewWidget(coding, turns, log, taxonomy, batch_size=3, coder="ana")
    order = coding.table["turn_id"].tolist()
    assert widget.current["turn_id"] == order[0] and widget.progress() == "0 reviewed, batch 1, 3 left"

    widget.stage_buttons[1].click()  # the second stage's button
    assert log.decisions() == {order[0]: {ids[1]}} and widget.current["turn_id"] == order[1]
    widget.keys.value = "1 3"  # typed, then Enter: two stages
    assert log.decisions()[order[1]] == {ids[0], ids[2]} and widget.keys.value == ""
    widget.none_button.click()
    assert log.decisions()[order[2]] == set()
    # the first batch is done: the next one is asked without the decided answers
    assert asked[-1] == set(order[:3]) and widget.progress() == "3 reviewed, batch 2, 3 left"
    assert widget.current["turn_id"] == order[3]

    widget.keys.value = "s"
    assert order[3] not in log.decisions() and order[3] in log.reviewed_ids()
    widget.keys.value = str(len(ids) + 1)  # no such stage: nothing recorded, the answer stays
    assert widget.current["turn_id"] == order[4] and "not a key" in widget.status.value
    widget.keys.value = "0"
    assert log.decisions()[order[4]] == set()
    assert log.read()["code"].tolist() == [ids[1], ids[0], ids[2], "none", "skip", "none"]
    assert set(log.read()["coder"]) == {"ana"}
    with pytest.raises(ValueError, match="not a stage id"):
        widget.decide(["dta"])


def test_a_skipped_answer_is_not_served_again_in_this_session_but_is_in_the_next(setup, taxonomy):
    turns, coding, log, asked = setup
    order = coding.table["turn_id"].tolist()
    widget = ReviewWidget(coding, turns, log, taxonomy, batch_size=2)
    widget.skip()
    widget.decide(["data"])
    assert asked[-1] == {order[0], order[1]} and widget.current["turn_id"] == order[2]
    later = ReviewWidget(coding, turns, log, taxonomy, batch_size=2)
    assert later.current["turn_id"] == order[0]  # a skip is not a decision


def test_the_answer_is_shown_with_its_question_and_neighbours_and_every_text_escaped(setup, taxonomy):
    turns, coding, log, _ = setup
    first = coding.table["turn_id"].iloc[0]
    position = turns.index[turns["turn_id"] == first][0]
    turns = turns.copy()
    turns.loc[position, "text"] = f"We label data {XSS} by hand."
    turns.loc[position + 1, "text"] = f"And then {XSS}?"
    coding.table.loc[0, "matched_cues"] = f"labels;{XSS}"
    html = ReviewWidget(coding, turns, log, taxonomy).render()
    assert XSS not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3
    before = turns.loc[position - 1]
    assert " ".join(before["text"].split())[:40] in html  # the turn before (here the question)
    assert "Before (the question)" in html and "After" in html
    stage = coding.table.loc[0, "stages"][0]
    assert f"{taxonomy.name_of(stage)} ({coding.table.loc[0, f'p_{stage}']:.2f})" in html
    assert "uncertain" in html and "Evidence" in html


def test_when_the_queue_is_empty_the_widget_says_so_and_the_buttons_are_off(setup, taxonomy):
    turns, coding, log, _ = setup
    small = StageCoding(coding.table.head(3), coding.stage_ids)
    widget = ReviewWidget(small, turns, log, taxonomy, batch_size=2)
    assert len(widget.queue_table()) == 2 and list(widget.queue_table()["turn"]) == list(small.table["turn_index"][:2])
    for _ in range(3):
        widget.decide([])
    assert widget.current is None and "Nothing left to review" in widget.render()
    assert widget.progress() == "3 reviewed, batch 2, 0 left"
    assert all(b.disabled for b in widget.stage_buttons) and widget.none_button.disabled
    widget.decide(["data"])  # nothing to decide: nothing written
    assert len(log.read()) == 3
