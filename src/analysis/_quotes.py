"""Picking quotes: how well a stretch of an answer reads as a quote, its clearest run of
whole sentences, and the order in which a group's answers (a topic, a theme) are quoted.

A shared leaf (it imports nothing of the package), so that the topic table (``topics/``)
and the theme pages (``report/``) quote the same answers for the same group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

QUOTE_POOL = 12  # quotes are picked among this many answers nearest a group's centre
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['\u2019-][A-Za-z0-9]+)*")
_FILLERS = frozenset("uh um uhm erm er hmm mm mhm ah oh yeah okay ok like".split())
_FILLER_PAIRS = {("you", "know"), ("i", "mean"), ("kind", "of"), ("sort", "of")}
# a quote that starts with one of these was cut from the sentence before it
_CONTINUATIONS = frozenset("and but or because which that than then to of with so".split())
_SENTENCE_RE = re.compile(r"[^.!?]+[.!?]+[\"\u201d']?|[^.!?]+$")


def quote_clarity(text: str, band: tuple[int, int] = (20, 60)) -> float:
    """How well an answer reads as a quote, from 0 to 1: it starts as a sentence starts
    (a capital letter, not "and"/"but"/"because" or a lower-case word cut from the
    sentence before), ends as one ends (``.``, ``?``, ``!``), has a length within ``band``
    words, few fillers ("uh", "um", "like", "you know", a repeated word "the, the", a
    sentence of one or two words) and few questions asked back.

    Example:
        >>> quote_clarity("data, Data quality? Um, so data quality. More, more stuff.") < 0.3
        True
        >>> quote_clarity("We check every new batch of labels against a held-out set before "
        ...               "it goes into training, and we reject batches that disagree.") > 0.9
        True
    """
    text = " ".join(str(text).split())
    words = _WORD_RE.findall(text)
    n = len(words)
    if n == 0:
        return 0.0
    low, high = band
    length = n / low if n < low else 1.0 if n <= high else max(0.0, 1.0 - (n - high) / (2 * high))
    starts = float(text[0].isupper() and words[0].lower() not in _CONTINUATIONS)
    ends = float(text.rstrip("\"\u201d' ").endswith((".", "?", "!")))
    lower = [w.lower() for w in words]
    fillers = sum(w in _FILLERS for w in lower)
    fillers += sum((a, b) in _FILLER_PAIRS for a, b in zip(lower, lower[1:]))
    fillers += sum(a == b for a, b in zip(lower, lower[1:]))  # "the, the", "more, more"
    # a quote states something: sentences of one or two words ("So.", "Okay.", "Perfect.")
    # are fillers, and sentences asked back ("what do you mean?") count against it
    sentences = [x for x in _SENTENCE_RE.findall(text) if x.strip()]
    fillers += sum(len(_WORD_RE.findall(x)) for x in sentences if len(_WORD_RE.findall(x)) < 3)
    share = min(1.0, fillers / n)
    asked = sum(x.rstrip("\"\u201d' ").endswith("?") for x in sentences) / max(1, len(sentences))
    score = (0.4 + 0.3 * starts + 0.3 * ends) * length * (1.0 - 2.0 * share) * (1.0 - 0.5 * asked)
    return round(max(0.0, score), 4)


def best_excerpt(text: str, max_chars: int = 300) -> tuple[str, float]:
    """The clearest run of whole sentences of an answer that fits in ``max_chars``, as said
    (spaces normalised; ``…`` marks what is left out before or after), and its
    :func:`quote_clarity`, 5% lower for each side cut.

    Example:
        >>> best_excerpt("Yeah. Uh, yeah. We label every image twice and compare the two labels. Okay.", 80)[0]
        '… We label every image twice and compare the two labels. …'
    """
    text = " ".join(str(text).split())
    sentences = [x.strip() for x in _SENTENCE_RE.findall(text) if x.strip()] or [text]
    best = ("", -1.0, 0, 0)
    for i in range(len(sentences)):
        window = ""
        for j in range(i, len(sentences)):
            window = f"{window} {sentences[j]}".strip()
            if len(window) > max_chars and j > i:
                break
            # a whole answer reads better than a cut one: 5% less per side left out
            score = quote_clarity(window) * (0.95 if i else 1.0) * (0.95 if j < len(sentences) - 1 else 1.0)
            if score > best[1]:
                best = (window, score, i, j)
    window, score, i, j = best
    if len(window) > max_chars:
        window = window[: max_chars - 1].rstrip() + "…"
    return ("… " if i else "") + window + (" …" if j < len(sentences) - 1 else ""), round(score, 4)


def centre_similarity(vectors: np.ndarray) -> np.ndarray:
    """Cosine of each vector to the mean direction of them all (a group's centre).

    Example:
        >>> centre_similarity(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])).round(3).tolist()
        [0.894, 0.447, 0.894]
    """
    unit = np.asarray(vectors, dtype=float)
    unit = unit / np.clip(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12, None)
    centre = unit.mean(axis=0)
    return unit @ (centre / max(float(np.linalg.norm(centre)), 1e-12))


def rank_quotes(
    texts: Sequence[str],
    similarity: Sequence[float] | None = None,
    speakers: Sequence[str] | None = None,
    *,
    pool: int = QUOTE_POOL,
    max_chars: int = 300,
) -> pd.DataFrame:
    """A group's answers in the order to quote them: among the ``pool`` answers nearest
    the group's centre (highest ``similarity``; every answer when there is none), the
    clearest first (:func:`best_excerpt`), then the nearer, then the earlier; one answer per
    speaker before a speaker's second. Ties fall to the input order, so the order is the
    same on every run.

    Args:
        texts: the group's answers, in a fixed order (the order of the turns).
        similarity: cosine of each answer to the group's centre (:func:`centre_similarity`);
            ``None`` or all NaN: no embeddings, every answer is a candidate.
        speakers: who said each answer, to quote different people first; ``None``: no preference.
        pool: how many of the nearest answers are candidates.
        max_chars: longest excerpt.

    Returns:
        One row per candidate, best first: ``position`` (index into ``texts``), ``excerpt``,
        ``clarity`` (of the excerpt) and ``similarity``.

    Example:
        >>> texts = ["um so, the, the data", "We relabel noisy images by hand every month.", "Okay. Yeah."]
        >>> rank_quotes(texts, similarity=[0.9, 0.8, 0.7], pool=2)["position"].tolist()
        [1, 0]
        >>> rank_quotes(texts, speakers=["I1", "I1", "I2"])["position"].tolist()
        [1, 2, 0]
    """
    n = len(texts)
    columns = ["position", "excerpt", "clarity", "similarity"]
    if n == 0:
        return pd.DataFrame(columns=columns)
    sims = np.full(n, np.nan) if similarity is None else np.asarray(similarity, dtype=float)
    positions = np.arange(n)
    if not np.isnan(sims).all():
        # nearest first, unknown closeness last, ties by position
        positions = np.lexsort((positions, -np.nan_to_num(sims, nan=-np.inf)))[:pool]
    excerpts = [best_excerpt(texts[p], max_chars) for p in positions]
    ranked = pd.DataFrame(
        {
            "position": positions,
            "excerpt": [e[0] for e in excerpts],
            "clarity": [e[1] for e in excerpts],
            "similarity": sims[positions],
        }
    ).sort_values(["clarity", "similarity", "position"], ascending=[False, False, True], kind="stable")
    if speakers is not None:
        # one quote per speaker first, then each speaker's next clearest
        first = ~pd.Series([speakers[p] for p in ranked["position"]], index=ranked.index).duplicated()
        ranked = pd.concat([ranked[first], ranked[~first]])
    return ranked.reset_index(drop=True)[columns]
