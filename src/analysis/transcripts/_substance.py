"""Which turns carry content: backchannels, very short turns and other languages are
marked with a reason and kept in the tables, but left out of topic modelling.

Example:
    >>> import pandas as pd
    >>> turns = pd.DataFrame({"role": ["interviewee"] * 2,
    ...                       "text": ["Mm-hmm. Right, right.", "We monitor drift of every input feature weekly."]})
    >>> mark_substantive(turns, SubstanceSettings())[["substantive", "reason"]].values.tolist()
    [[False, 'backchannel'], [True, '']]
"""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd
from pydantic import Field, field_validator

from .._settings import Settings

DEFAULT_BACKCHANNEL = tuple(
    (
        "yeah yes yep yup ya yea okay ok mm mhm mmm hmm hm uh-huh mm-hmm mm-mm uh um oh ah "
        "right sure exactly absolutely perfect great cool alright all right no nope true "
        "correct indeed definitely of course i see got it thank thanks you interesting good nice "
        "so well fine wow super sorry"
    ).split()
)
TOKEN_RE = re.compile(r"[a-z0-9]+(?:[-'\u2019][a-z0-9]+)*")
# Languages py3langid chooses between; other languages are rare in interview corpora
# and widening the set makes short English turns misread.
CANDIDATE_LANGUAGES = ["en", "fr", "de", "es", "it", "pt", "nl"]


class SubstanceSettings(Settings):
    """Which interviewee turns are substantive enough to model.

    Attributes:
        min_content_words: turns with fewer words outside the backchannel list are
            "too short" to model.
        language: the analysis language; turns detected in another one are flagged.
        backchannel_words: acknowledgements and fillers that alone make a backchannel
            (``null`` in the settings file: the built-in list).
        language_min_words / language_min_confidence: below these a turn's language is
            ``und`` (undetermined): short turns give unreliable guesses.
    """

    min_content_words: int = Field(5, ge=1, le=100)
    language: str = Field("en", min_length=2, max_length=3)
    backchannel_words: tuple[str, ...] = DEFAULT_BACKCHANNEL
    language_min_words: int = Field(5, ge=1)
    language_min_confidence: float = Field(0.9, ge=0.0, le=1.0)

    @field_validator("backchannel_words", mode="before")
    @classmethod
    def _built_in_when_null(cls, value):
        return DEFAULT_BACKCHANNEL if value is None else value


@lru_cache(maxsize=1)
def _identifier():
    # loads its model on import: only when a language is detected
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    ident.set_languages(CANDIDATE_LANGUAGES)
    return ident


def detect_language(text: str, settings: SubstanceSettings) -> str:
    """ISO 639-1 code, or ``und`` for short or uncertain text."""
    if len(text.split()) < settings.language_min_words:
        return "und"
    lang, confidence = _identifier().classify(text)
    return lang if confidence >= settings.language_min_confidence else "und"


def content_words(text: str, backchannel: frozenset[str]) -> list[str]:
    return [tok for tok in TOKEN_RE.findall(text.lower()) if tok not in backchannel]


def mark_substantive(turns: pd.DataFrame, settings: SubstanceSettings) -> pd.DataFrame:
    """Add ``language``, ``substantive`` and ``reason`` columns (a copy).

    Reasons, first match wins: ``not an interviewee turn``, ``empty``, ``backchannel``
    (only acknowledgements and fillers), ``too short (N content words)``,
    ``language: fr``. Substantive turns have an empty reason.
    """
    out = turns.copy()
    backchannel = frozenset(w.lower() for w in settings.backchannel_words)
    # Multi-word acknowledgements ("all right", "of course") count word by word.
    backchannel |= frozenset(part for w in backchannel for part in w.split())
    languages, flags, reasons = [], [], []
    for role, text in zip(out["role"], out["text"]):
        language = detect_language(text, settings)
        languages.append(language)
        words = TOKEN_RE.findall(text.lower())
        content = content_words(text, backchannel)
        if role != "interviewee":
            reason = "not an interviewee turn"
        elif not words:
            reason = "empty"
        elif not content:
            reason = "backchannel"
        elif len(content) < settings.min_content_words:
            reason = f"too short ({len(content)} content words)"
        elif language not in (settings.language, "und"):
            reason = f"language: {language}"
        else:
            reason = ""
        flags.append(reason == "")
        reasons.append(reason)
    out["language"] = languages
    out["substantive"] = flags
    out["reason"] = reasons
    return out


def substance_table(turns: pd.DataFrame) -> pd.DataFrame:
    """Interviewee turns by reason (``substantive`` for modelled ones), with counts and
    shares; every interviewee turn is in exactly one row.

    Example:
        >>> t = pd.DataFrame({"role": ["interviewee"] * 3, "reason": ["", "backchannel", ""]})
        >>> substance_table(t)["turns"].tolist()
        [2, 1]
    """
    answers = turns[turns["role"] == "interviewee"]
    reasons = answers["reason"].str.replace(r" \(\d+ content words\)", "", regex=True).replace("", "substantive")
    table = reasons.value_counts().rename_axis("reason").reset_index(name="turns")
    table["share_%"] = (100 * table["turns"] / max(len(answers), 1)).round(1)
    return table
