from __future__ import annotations

import pandas as pd
import pytest

from analysis import load_corpus, substance_table
from analysis.transcripts import SubstanceSettings, mark_substantive
from conftest import TRANSCRIPTS


def frame(texts, role="interviewee"):
    return pd.DataFrame({"role": [role] * len(texts), "text": texts})


def test_reasons():
    out = mark_substantive(
        frame(
            [
                "Yeah.",
                "Okay",
                "Mm-hmm",
                "Right, right.",
                "Uh, data drift.",
                "We monitor the distribution of every input feature and alert on drift.",
                "Nous surveillons la distribution de chaque variable et nous alertons en cas de dérive.",
                "",
            ]
        ),
        SubstanceSettings(),
    )
    assert out["reason"].tolist() == [
        "backchannel",
        "backchannel",
        "backchannel",
        "backchannel",
        "too short (2 content words)",
        "",
        "language: fr",
        "empty",
    ]
    assert out["substantive"].tolist() == [False] * 5 + [True, False, False]
    assert out["language"].tolist()[5:7] == ["en", "fr"]


def test_interviewer_turns_are_never_substantive():
    out = mark_substantive(
        frame(["What quality issues did you meet with your training data last year?"], role="interviewer"),
        SubstanceSettings(),
    )
    assert out.loc[0, "reason"] == "not an interviewee turn"


def test_threshold_is_configurable():
    text = ["Data drift broke it."]
    assert not mark_substantive(frame(text), SubstanceSettings())["substantive"][0]
    assert mark_substantive(frame(text), SubstanceSettings(min_content_words=3))["substantive"][0]


def test_table_accounts_for_every_interviewee_turn():
    turns = mark_substantive(
        frame(["Yeah.", "We retrain every quarter with the newest labelled claims.", "Okay."]), SubstanceSettings()
    )
    table = substance_table(turns)
    assert table["turns"].sum() == 3
    assert dict(zip(table["reason"], table["turns"])) == {"backchannel": 2, "substantive": 1}


@pytest.mark.corpus
def test_french_turns_are_flagged_only_where_they_are():
    turns = mark_substantive(load_corpus(TRANSCRIPTS).turns, SubstanceSettings())
    french = turns[turns["reason"] == "language: fr"]
    assert set(french["interview_id"]) == {"2"}
    assert len(french) >= 30
    answers_2 = turns.query("interview_id == '2' and role == 'interviewee' and n_words >= 20")
    assert (answers_2["language"] == "fr").mean() > 0.9
    # the English interviews keep their long answers
    long_english = turns.query("interview_id != '2' and role == 'interviewee' and n_words >= 20")
    assert long_english["substantive"].mean() > 0.99
