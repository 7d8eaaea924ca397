"""Interview meta-talk: recognised on real answers, not on technical answers that happen to
say "thanks", configurable and validated."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from analysis import load_config
from analysis.errors import ConfigError
from analysis.transcripts import MetaTalkSettings, load_corpus, meta_talk_answers, meta_talk_topics
from conftest import SAMPLE, SETTINGS, TRANSCRIPTS

NOT_META = [
    "Thanks to the monitoring we caught the drift early, before customers noticed.",
    "Thank you, good question. We monitor data drift with Evidently and retrain weekly whenever the "
    "population stability index of any feature exceeds 0.2.",
    "We recorded the call-center audio to train the speech model.",
    "The model said goodbye to accuracy once the sensors drifted.",
    "Hi-res images were too big for the edge device.",
    "It's not consistent, the events that are filed. Okay. I see. Okay. Thank you.",
    "The interview data from our users was noisy, so we relabelled it.",
]
META = [
    "Thank you so much. Have a good day, bye!",
    "Can you hear me? Sorry, you're on mute.",
    "Could you repeat the question, please?",
    "Do you have any other questions for me?",
    "Sure, I consent to the recording.",
    "Yeah, thanks guys. Good luck with the study. Bye-bye.",
]


@pytest.mark.parametrize("text", NOT_META)
def test_technical_answers_saying_a_cue_word_are_not_meta_talk(text):
    assert not meta_talk_answers([text], MetaTalkSettings())["meta_talk"].iloc[0]


@pytest.mark.parametrize("text", META)
def test_talk_about_the_interview_is_meta_talk_with_its_kind(text):
    row = meta_talk_answers([text], MetaTalkSettings()).iloc[0]
    assert row["meta_talk"] and row["meta_cues"]


def test_switched_off_nothing_is_meta_talk():
    flags = meta_talk_answers(META, MetaTalkSettings(enabled=False))
    assert not flags["meta_talk"].any()
    topics = meta_talk_topics({0: ["thank bye", "bye"]}, pd.DataFrame({"topic": [0], "meta_talk": [True]}),
                              MetaTalkSettings(enabled=False))
    assert not topics["set_aside"].any()


def test_a_researcher_adds_a_cue_in_the_settings_file(tmp_path):
    settings = yaml.safe_load(SETTINGS.read_text())
    settings["meta_talk"]["cues"] = {"greeting": None, "tea_break": ["(a|the) tea break"]}
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    cfg = load_config(path)
    assert cfg.meta_talk.cues["greeting"]  # null keeps the built-in patterns
    flags = meta_talk_answers(["Shall we take a tea break?", "Hello there!"], cfg.meta_talk)
    assert flags["meta_talk"].tolist() == [True, True]
    assert flags["meta_cues"].tolist() == ["tea_break", "greeting"]


def test_a_broken_pattern_stops_the_run_naming_the_key(tmp_path):
    settings = yaml.safe_load(SETTINGS.read_text())
    settings["meta_talk"]["cues"]["greeting"] = ["(unclosed"]
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    with pytest.raises(ConfigError, match=r"meta_talk\.cues.*greeting.*\(unclosed"):
        load_config(path)


def test_a_topic_is_set_aside_by_its_answers_or_its_words():
    answers = pd.DataFrame(
        {"topic": [0, 0, 1, 1, 2, 2, -1], "meta_talk": [True, True, False, False, False, True, True]}
    )
    words = {0: ["label noise"], 1: ["questions", "interview", "thank bye", "drift"], 2: ["drift", "monitoring"]}
    table = meta_talk_topics(words, answers, MetaTalkSettings(topic_share=0.6)).set_index("topic")
    assert table["set_aside"].to_dict() == {0: True, 1: True, 2: False}
    assert "answers are meta-talk" in table.at[0, "reason"]
    assert "interview-process words" in table.at[1, "reason"]


def test_on_the_sample_no_coded_answer_is_meta_talk_and_the_interviewers_thanks_is():
    turns = load_corpus(SAMPLE).turns
    codes = pd.read_csv(SAMPLE / ".." / "sample_codes" / "codes.csv")
    flags = meta_talk_answers(turns["text"].tolist(), MetaTalkSettings())
    turns = turns.assign(meta=flags["meta_talk"].to_numpy())
    answers = turns[turns["role"] == "interviewee"]
    keys = codes[["interview_id", "turn_index"]].astype(str).drop_duplicates()
    coded = answers.astype({"interview_id": str, "turn_index": str}).merge(keys, on=["interview_id", "turn_index"])
    assert len(coded) > 0 and not coded["meta"].any()  # a human-coded answer is a finding
    closing = turns[turns["text"].str.contains("Thank you very much, that was really helpful", regex=False)]
    assert len(closing) >= 1 and closing["meta"].all()


@pytest.mark.corpus
def test_on_the_reference_corpus_goodbyes_are_meta_talk_and_long_answers_never():
    turns = load_corpus(TRANSCRIPTS).turns
    answers = turns[turns["role"] == "interviewee"].reset_index(drop=True)
    flags = meta_talk_answers(answers["text"].tolist(), MetaTalkSettings())
    answers = answers.assign(meta=flags["meta_talk"].to_numpy())
    last = answers.sort_values("turn_index").groupby("interview_id").tail(1)
    assert last["meta"].mean() >= 0.5, last[["interview_id", "text"]].to_string()  # interviews end with goodbyes
    assert (answers.loc[answers["meta"], "n_words"] <= MetaTalkSettings().max_words).all()
    assert answers["meta"].mean() < 0.05  # a few percent of the answers, not the findings
