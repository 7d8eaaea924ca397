"""Interview meta-talk: answers about the interview itself (greetings, thanks and goodbyes,
consent, recording, "do you have questions for us", the questions and the study), told
apart from what the interviewee says about the subject.

Meta-talk is kept (nothing is dropped) and shown as its own, set-aside group instead of
as a finding. The rule is written from how interviews go, not fitted to any coding:

- an *answer* is meta-talk when it says an interview-process cue (``meta_talk.cues``, one
  list of patterns per kind) and little else: at most ``max_words`` words in all, at
  most ``max_other_words`` content words outside the cues and fewer than inside them (so
  "Thank you, we monitor drift weekly with ... " stays a finding);
- a *topic* is set aside when at least ``topic_share`` of its answers are meta-talk, or
  when at least ``topic_word_share`` of its top words are interview-process words
  (``meta_talk.process_words``: "questions, interview, thank bye").

Example:
    >>> s = MetaTalkSettings()
    >>> meta_talk_answers(["Thank you so much. Have a good day, bye!",
    ...                    "Thanks to the monitoring we caught the drift early."], s)["meta_talk"].tolist()
    [True, False]
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd
from pydantic import Field, field_validator

from .._settings import Settings
from ._substance import DEFAULT_BACKCHANNEL, TOKEN_RE

# Patterns are regular expressions, matched case-insensitively at word boundaries.
DEFAULT_CUES: dict[str, tuple[str, ...]] = {
    "greeting": (
        r"(hi|hello|hey)( there| everyone| guys| all)?",
        r"good (morning|afternoon|evening)",
        r"nice to (meet|see) you",
        r"how are you( doing)?",
        r"can you (hear|see) me",
        r"i can (hear|see) you",
        r"you'?re (on )?mute[d]?",
    ),
    "thanks_bye": (
        r"thank you",
        r"thanks(?! to\b)",
        r"bye(-bye)?",
        r"have a (good|nice|great|lovely) (day|night|evening|weekend|one)",
        r"good (luck|night|weekend)",
        r"take care",
        r"(my|a) pleasure",
        r"you'?re welcome",
        r"(nice|great|good|pleasure) (talking|chatting|speaking) (to|with) you",
        r"appreciate (it|your time|you)",
        r"for your time",
    ),
    "consent": (
        r"consent( form)?",
        r"(participate|participating|participation) in (this|the|your) (study|interview|research)",
        r"(sign|signed) the form",
    ),
    "recording": (
        r"(start|stop|started|stopped) (the )?recording",
        r"(the|this) recording",
        r"(is|are) (it|this|you) recording",
        r"record(ing)? (this|the) (call|meeting|interview|session)",
        r"(the|a) transcript(ion)?",
        r"share (my|your|the) screen",
    ),
    "questions_for_us": (
        r"(any|other|more|further) questions? for (us|me)",
        r"do you have (any )?(other |more |further )?questions",
        r"(next|previous|last|first|following) question",
        r"repeat the question",
        r"(does|did) (that|this) answer",
        r"(is|was) (this|that) answer",
        r"answer (your|the) question",
        r"(good|great|interesting|nice) question",
        r"(this|the|your) (interview|study|survey|thesis|dissertation)",
    ),
    "scheduling": (
        r"(schedule|reschedule|rescheduled)",
        r"(how much|enough) time (do )?(we|you) have",
        r"\d+ minutes (left|remaining)",
        r"running (out of|over) time",
        r"(send|share) (me|us|you) (the|your|a) (paper|report|results|summary)",
        r"(publish|published|finish) (the|your) (paper|study|research)",
    ),
}
DEFAULT_PROCESS_WORDS = tuple(
    (
        "interview interviews interviewee interviewer question questions answer answering answered "
        "discussion topic topics thank thanks bye welcome pleasure appreciate luck consent recording "
        "transcript survey dissertation thesis"
    ).split()
)
# Words that say nothing about the subject: outside the cues they do not count as content.
_FUNCTION_WORDS = frozenset(
    (
        "a an the and or but so if then than that this these those there here it its it's i i'm i've i'd "
        "i'll me my we we're we've our us you you're your he she they them their is are was were be been "
        "being am do does did done have has had will would can could should shall may might must to of in "
        "on at for with about from by as into up out just also too very much more most some any all what "
        "which who when where why how not no don't didn't can't won't it'll let let's lot get got go going "
        "gonna want wanna say said think guess know mean like kind sort thing things one ones well really "
        "actually again too stuff way maybe"
    ).split()
)


class MetaTalkSettings(Settings):
    """How interview meta-talk is recognised (``meta_talk`` in ``config/settings.yaml``).

    Attributes:
        enabled: ``false`` treats every answer and topic as a finding.
        cues: kind -> regular expressions (case-insensitive, matched at word boundaries) of
            interview-process talk; ``null`` for a kind (or the whole mapping) keeps the
            built-in patterns.
        max_words: longer answers are never meta-talk by their own words.
        max_other_words: content words an answer may say outside its cues and still be meta-talk.
        process_words: words of the interview process; a topic whose top words are mostly
            these is set aside.
        topic_share: a topic is set aside when at least this share of its answers are meta-talk.
        topic_word_share: ... or when at least this share of its top words hold a process word.
    """

    enabled: bool = True
    cues: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_CUES))
    max_words: int = Field(60, ge=1)
    max_other_words: int = Field(6, ge=0)
    process_words: tuple[str, ...] = DEFAULT_PROCESS_WORDS
    topic_share: float = Field(0.5, gt=0.0, le=1.0)
    topic_word_share: float = Field(0.5, gt=0.0, le=1.0)

    @field_validator("cues", mode="before")
    @classmethod
    def _built_in_when_null(cls, value):
        if value is None:
            return dict(DEFAULT_CUES)
        if isinstance(value, dict):
            return {k: DEFAULT_CUES.get(k, ()) if v is None else v for k, v in value.items()}
        return value

    @field_validator("cues")
    @classmethod
    def _patterns_compile(cls, value):
        for kind, patterns in value.items():
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{kind}: {pattern!r} is not a valid regular expression ({exc})") from None
        return value

    @field_validator("process_words", mode="before")
    @classmethod
    def _process_built_in_when_null(cls, value):
        return DEFAULT_PROCESS_WORDS if value is None else value


@lru_cache(maxsize=8)
def _compiled(cues: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, re.Pattern], ...]:
    return tuple(
        (kind, re.compile(r"(?<![\w'])(?:" + "|".join(f"(?:{p})" for p in patterns) + r")(?![\w'])", re.IGNORECASE))
        for kind, patterns in cues
        if patterns
    )


def meta_talk_cues(text: str, settings: MetaTalkSettings) -> tuple[list[str], int, int, int]:
    """The kinds of meta-talk cue ``text`` says, its word count, the words inside its cues
    and its content words outside them.

    Example:
        >>> meta_talk_cues("Okay, thank you. Bye!", MetaTalkSettings())
        (['thanks_bye'], 4, 3, 0)
    """
    kinds, words, inside, other = _cues_said(text, _cue_key(settings))
    return list(kinds), words, inside, other


def _cue_key(settings: MetaTalkSettings) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The cues as a hashable key (of the compiled patterns and of each text's findings)."""
    return tuple(sorted(settings.cues.items()))


# The themes of notebooks 05, 07, 10 and 11 each read every answer's cues again, in one kernel.
@lru_cache(maxsize=1 << 16)
def _cues_said(text: str, cues: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, ...], int, int, int]:
    compiled = _compiled(cues)
    kinds, spans = [], []
    for kind, pattern in compiled:
        found = [m.span() for m in pattern.finditer(text) if m.end() > m.start()]
        if found:
            kinds.append(kind)
            spans.extend(found)
    rest, inside = text, 0
    for start, end in sorted(set(spans), reverse=True):
        if end > len(rest) or not rest[start:end].strip():
            continue  # overlaps a span already removed
        inside += len(TOKEN_RE.findall(rest[start:end].lower()))
        rest = rest[:start] + " " * (end - start) + rest[end:]
    ignore = _FUNCTION_WORDS | frozenset(DEFAULT_BACKCHANNEL)
    other = [t for t in TOKEN_RE.findall(rest.lower()) if t not in ignore and len(t) > 2 and not t.isdigit()]
    return tuple(kinds), len(TOKEN_RE.findall(text.lower())), inside, len(other)


def meta_talk_answers(texts, settings: MetaTalkSettings) -> pd.DataFrame:
    """One row per text: ``meta_talk`` (bool) and ``meta_cues`` (the cue kinds said,
    comma-separated; empty when none).

    An answer is meta-talk when it says a cue, has at most ``max_words`` words, at most
    ``max_other_words`` content words outside its cues, and fewer of them than words in
    its cues (the cues are what it says: "It's not consistent, the events that are filed.
    Okay. Thank you." is a finding followed by the interviewer's thanks).
    """
    rows = []
    cues = _cue_key(settings)  # once, not per text
    for text in texts:
        kinds, words, inside, other = _cues_said(str(text), cues)
        meta = (
            settings.enabled
            and bool(kinds)
            and words <= settings.max_words
            and other <= settings.max_other_words
            and other < inside
        )
        rows.append({"meta_talk": bool(meta), "meta_cues": ", ".join(kinds)})
    return pd.DataFrame(rows, columns=["meta_talk", "meta_cues"])


def process_word_share(words, settings: MetaTalkSettings) -> float:
    """Share of a topic's top words (unigrams or bigrams) that hold an interview-process word.

    Example:
        >>> process_word_share(["thank bye", "bye", "fine", "data drift"], MetaTalkSettings())
        0.5
    """
    words = [str(w) for w in words]
    if not words:
        return 0.0
    process = {w.lower() for w in settings.process_words}
    hits = sum(any(t in process for t in TOKEN_RE.findall(w.lower())) for w in words)
    return hits / len(words)


def meta_talk_topics(topic_words: dict, answers: pd.DataFrame, settings: MetaTalkSettings) -> pd.DataFrame:
    """Which topics are set aside as meta-talk, and why.

    Args:
        topic_words: topic id -> its top words (``topic_info.words``).
        answers: one row per answer with ``topic`` and ``meta_talk`` (from :func:`meta_talk_answers`).
        settings: the ``meta_talk`` settings.

    Returns:
        One row per topic of ``answers`` (outliers, ``-1``, left out): ``topic``,
        ``meta_share`` (share of its answers that are meta-talk), ``process_words``
        (share of its top words that are process words), ``set_aside`` (bool) and
        ``reason`` (empty when kept).

    Example:
        >>> a = pd.DataFrame({"topic": [0, 0, 1, 1], "meta_talk": [True, True, False, True]})
        >>> t = meta_talk_topics({0: ["thank bye"], 1: ["drift", "monitoring"]}, a, MetaTalkSettings())
        >>> t[["topic", "set_aside"]].values.tolist()
        [[0, True], [1, True]]
    """
    rows = []
    for topic, group in answers[answers["topic"] != -1].groupby("topic"):
        share = float(group["meta_talk"].mean()) if len(group) else 0.0
        top = topic_words.get(topic)
        words = process_word_share([] if top is None else list(top), settings)
        reasons = []
        if settings.enabled and share >= settings.topic_share:
            reasons.append(f"{share:.0%} of its answers are meta-talk")
        if settings.enabled and words >= settings.topic_word_share:
            reasons.append(f"{words:.0%} of its top words are interview-process words")
        rows.append(
            {
                "topic": int(topic),
                "meta_share": round(share, 3),
                "process_words": round(words, 3),
                "set_aside": bool(reasons),
                "reason": "; ".join(reasons),
            }
        )
    return pd.DataFrame(rows, columns=["topic", "meta_share", "process_words", "set_aside", "reason"])
