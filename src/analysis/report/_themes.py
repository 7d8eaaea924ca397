"""Theme tables for the charts and the explorer, interview meta-talk set aside, example
quotes (the clearest among the answers closest to a theme, picked as the topic table picks
them: ``analysis._quotes``), and thematic saturation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._ids import natural_sorted
from .._quotes import QUOTE_POOL, best_excerpt, centre_similarity, quote_clarity, rank_quotes
from ..config import Config
from ..pipeline import load_taxonomy_and_codes, read_table
from ..stages import stage_list
from ..topics import load_theme_labels
from ..transcripts import MetaTalkSettings, meta_talk_answers, meta_talk_topics

SET_ASIDE = "Interview meta-talk (set aside)"


def quote_excerpt(text: str, max_chars: int = 300) -> str:
    """The clearest run of whole sentences of an answer within ``max_chars`` (:func:`best_excerpt`).

    Example:
        >>> quote_excerpt("the data. We label it twice and then we compare both of the labels. Then", max_chars=80)
        '… We label it twice and then we compare both of the labels. …'
    """
    return best_excerpt(text, max_chars)[0]


@dataclass
class ThemeTables:
    """What the theme charts need, gathered once from the processed tables.

    Attributes:
        answers: one row per modelled answer: ``turn_id``, ``speaker_id``, ``topic``,
            ``theme`` (label), ``stage`` (the theme's primary stage id), ``kind``
            (``issue``/``fix``/``""``), ``text``; from :func:`theme_tables` also
            ``source_file``, ``line_start``, ``similarity`` (cosine to its theme's centre,
            when embeddings are given), ``clarity`` (:func:`quote_clarity`), ``meta_talk``
            (set aside as interview meta-talk) and ``meta_reason``.
        themes: one row per theme (outliers left out): ``topic``, ``theme``, ``stage``,
            ``stage_name``, ``answers``; ordered by stage (taxonomy order), then size; from
            :func:`theme_tables` also ``interviewees``, ``meta_talk`` (the theme is set
            aside), ``meta_reason`` and ``group`` (its stage's name, or "Interview
            meta-talk (set aside)"); set-aside themes come last.
        stage_names: stage id -> display name, in taxonomy order.
    """

    answers: pd.DataFrame
    themes: pd.DataFrame
    stage_names: dict[str, str]

    def findings(self) -> ThemeTables:
        """The tables without interview meta-talk: the themes' main view (charts,
        saturation). Theme sizes count the answers that remain; a theme left with none is
        dropped from this view (it stays in :meth:`set_aside`).

        Example:
            >>> a = pd.DataFrame({"turn_id": list("abc"), "speaker_id": ["I1", "I1", "I2"], "topic": [0, 0, 1],
            ...                   "meta_talk": [False, True, True]})
            >>> t = ThemeTables(a, pd.DataFrame({"topic": [0, 1], "answers": [2, 1], "meta_talk": [False, True]}), {})
            >>> t.findings().themes[["topic", "answers"]].values.tolist()
            [[0, 1]]
        """
        if "meta_talk" not in self.answers:
            return self
        answers = self.answers[~self.answers["meta_talk"].astype(bool)].reset_index(drop=True)
        sizes = answers.groupby("topic").size()
        themes = self.themes
        if "meta_talk" in themes:
            themes = themes[~themes["meta_talk"].astype(bool)]
        themes = themes.assign(answers=themes["topic"].map(sizes).fillna(0).astype(int))
        if "interviewees" in themes:
            people = answers.groupby("topic")["speaker_id"].nunique()
            themes = themes.assign(interviewees=themes["topic"].map(people).fillna(0).astype(int))
        themes = themes[themes["answers"] > 0].reset_index(drop=True)
        return ThemeTables(answers, themes, self.stage_names)

    def set_aside(self) -> pd.DataFrame:
        """The answers set aside as interview meta-talk, as one group with counts: a row
        per set-aside theme, one for meta-talk answers found in kept themes, and a total.

        Columns: ``group``, ``theme``, ``answers``, ``interviewees``, ``why``.

        Example:
            >>> a = pd.DataFrame({"speaker_id": ["I1", "I2", "I2"], "topic": [0, 1, 1], "theme": ["bye", "x", "x"],
            ...                   "meta_talk": [True, True, False], "meta_reason": ["theme set aside", "cues", ""]})
            >>> t = ThemeTables(a, pd.DataFrame({"topic": [0, 1], "meta_talk": [True, False],
            ...                                  "meta_reason": ["top words", ""]}), {})
            >>> t.set_aside()[["theme", "answers", "interviewees"]].values.tolist()
            [['bye', 1, 1], ['(answers in kept themes)', 1, 1], ['all set aside', 2, 2]]
        """
        columns = ["group", "theme", "answers", "interviewees", "why"]
        if "meta_talk" not in self.answers:
            return pd.DataFrame(columns=columns)
        meta = self.answers[self.answers["meta_talk"].astype(bool)]
        themes = self.themes[self.themes["meta_talk"].astype(bool)] if "meta_talk" in self.themes else self.themes[:0]
        reason = dict(zip(themes["topic"], themes.get("meta_reason", pd.Series("", index=themes.index))))
        rows = []
        for topic in themes["topic"]:
            mine = meta[meta["topic"] == topic]
            label = mine["theme"].iloc[0] if len(mine) and "theme" in mine else str(topic)
            rows.append([SET_ASIDE, label, len(mine), mine["speaker_id"].nunique(), f"theme: {reason[topic]}"])
        loose = meta[~meta["topic"].isin(set(themes["topic"]))]
        if len(loose):
            rows.append(
                [
                    SET_ASIDE,
                    "(answers in kept themes)",
                    len(loose),
                    loose["speaker_id"].nunique(),
                    "short answers saying interview-process cues",
                ]
            )
        if rows:
            rows.append([SET_ASIDE, "all set aside", len(meta), meta["speaker_id"].nunique(), ""])
        return pd.DataFrame(rows, columns=columns)


def _similarity(answers: pd.DataFrame, embeddings: pd.DataFrame | None) -> pd.Series:
    """Cosine of each answer to the mean vector of its theme (NaN without a vector)."""
    if embeddings is None or embeddings.empty or answers.empty:
        return pd.Series(np.nan, index=answers.index)
    vectors = dict(zip(embeddings["turn_id"], embeddings["vector"]))
    out = pd.Series(np.nan, index=answers.index)
    for _, group in answers.groupby("topic"):
        have = [i for i in group.index if group.at[i, "turn_id"] in vectors]
        if not have:
            continue
        m = np.vstack([np.asarray(vectors[answers.at[i, "turn_id"]], dtype=float) for i in have])
        out.loc[have] = centre_similarity(m).round(4)
    return out


def theme_tables(
    turns: pd.DataFrame,
    topics: pd.DataFrame,
    topic_info: pd.DataFrame,
    topic_stages: pd.DataFrame,
    stages: pd.DataFrame,
    stage_names: dict[str, str],
    labels: dict[int, str] | None = None,
    *,
    meta_talk: MetaTalkSettings | None = None,
    embeddings: pd.DataFrame | None = None,
) -> ThemeTables:
    """Join the processed tables into :class:`ThemeTables`; ``labels`` overrides theme
    labels (a researcher's renames).

    Interview meta-talk is recognised with ``meta_talk`` (default: the built-in settings)
    and marked, never dropped: :meth:`ThemeTables.findings` is the view without it,
    :meth:`ThemeTables.set_aside` the set-aside group. ``embeddings`` (``turn_id``,
    ``vector``) give each answer its closeness to its theme, used to pick quotes."""
    meta_talk = meta_talk or MetaTalkSettings()
    label = dict(zip(topic_info["topic"], topic_info["label"])) | {int(k): v for k, v in (labels or {}).items()}
    primary = dict(zip(topic_stages["topic"], topic_stages["primary_stage"]))
    kind = dict(zip(stages["turn_id"], stages["kind"]))
    source = [c for c in ("source_file", "line_start") if c in turns]
    answers = topics[topics["topic"] != -1][["turn_id", "topic"]].merge(
        turns[["turn_id", "speaker_id", "text", *source]], on="turn_id"
    )
    answers["theme"] = answers["topic"].map(label)
    answers["stage"] = answers["topic"].map(primary)
    answers["kind"] = answers["turn_id"].map(kind).fillna("")
    answers["similarity"] = _similarity(answers, embeddings)
    answers["clarity"] = answers["text"].map(quote_clarity)
    flags = meta_talk_answers(answers["text"].tolist(), meta_talk)
    words = dict(zip(topic_info["topic"], topic_info["words"])) if "words" in topic_info else {}
    topic_flags = meta_talk_topics(words, answers.assign(meta_talk=flags["meta_talk"].to_numpy()), meta_talk)
    aside = dict(zip(topic_flags["topic"], topic_flags["set_aside"]))
    why = dict(zip(topic_flags["topic"], topic_flags["reason"]))
    in_aside = answers["topic"].map(aside).fillna(False).astype(bool)
    own = flags["meta_talk"].to_numpy()
    answers["meta_talk"] = in_aside.to_numpy() | own
    answers["meta_reason"] = np.where(
        in_aside, "theme set aside", np.where(own, "cues: " + flags["meta_cues"].to_numpy(), "")
    )
    order = list(stage_names)
    sizes = answers.groupby("topic").size()
    themes = pd.DataFrame({"topic": sizes.index, "answers": sizes.to_numpy()})
    themes["theme"] = themes["topic"].map(label)
    themes["stage"] = themes["topic"].map(primary)
    themes["stage_name"] = themes["stage"].map(stage_names)
    themes["interviewees"] = themes["topic"].map(answers.groupby("topic")["speaker_id"].nunique()).astype(int)
    themes["meta_talk"] = themes["topic"].map(aside).fillna(False).astype(bool)
    themes["meta_reason"] = themes["topic"].map(why).fillna("")
    themes["group"] = np.where(themes["meta_talk"], SET_ASIDE, themes["stage_name"].fillna(""))
    themes["_rank"] = themes["stage"].map(lambda s: order.index(s) if s in order else len(order))
    themes = (
        themes.sort_values(["meta_talk", "_rank", "answers", "topic"], ascending=[True, True, False, True])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
    return ThemeTables(answers.reset_index(drop=True), themes, stage_names)


def theme_quotes(tables: ThemeTables, per_theme: int = 3, pool: int = QUOTE_POOL, max_chars: int = 300) -> pd.DataFrame:
    """Representative quotes per theme: among the ``pool`` answers closest to the theme's
    centre (all its answers when there are no embeddings), the ``per_theme`` whose clearest
    run of sentences (:func:`best_excerpt`) reads best, from different interviewees where possible
    (:func:`analysis._quotes.rank_quotes`, which picks the topic table's quotes too); meta-talk
    answers are never quoted for a kept theme.

    Returns:
        One row per quote: ``topic``, ``theme``, ``group``, ``rank``, ``speaker_id``,
        ``source`` (``file:line``), ``quote`` (:func:`best_excerpt`), ``clarity`` (of the quote), ``similarity``.

    Example:
        >>> a = pd.DataFrame({"turn_id": list("ab"), "speaker_id": ["I1", "I2"], "topic": [0, 0], "theme": ["t"] * 2,
        ...     "text": ["um so, the, the data", "We relabel the noisy images by hand every month."]})
        >>> t = ThemeTables(a, pd.DataFrame({"topic": [0], "theme": ["t"]}), {})
        >>> theme_quotes(t, per_theme=1)["quote"].tolist()
        ['We relabel the noisy images by hand every month.']
    """
    columns = ["topic", "theme", "group", "rank", "speaker_id", "source", "quote", "clarity", "similarity"]
    answers = tables.answers
    if "similarity" not in answers:
        answers = answers.assign(similarity=np.nan)
    rows = []
    for theme in tables.themes.itertuples():
        mine = answers[answers["topic"] == theme.topic]
        if "meta_talk" in mine and not getattr(theme, "meta_talk", False):
            mine = mine[~mine["meta_talk"].astype(bool)]
        if mine.empty:
            continue
        ranked = rank_quotes(
            mine["text"].tolist(),
            mine["similarity"].to_numpy(),
            mine["speaker_id"].tolist(),
            pool=pool,
            max_chars=max_chars,
        ).head(per_theme)
        picked = mine.iloc[ranked["position"]].assign(
            excerpt=ranked["excerpt"].to_numpy(), clarity=ranked["clarity"].to_numpy()
        )
        for rank, r in enumerate(picked.itertuples(), start=1):
            file, line = getattr(r, "source_file", ""), getattr(r, "line_start", "")
            rows.append(
                [
                    theme.topic,
                    theme.theme,
                    getattr(theme, "group", getattr(theme, "stage_name", "")),
                    rank,
                    r.speaker_id,
                    f"{file}:{line}" if file else "",
                    r.excerpt,
                    r.clarity,
                    r.similarity,
                ]
            )
    return pd.DataFrame(rows, columns=columns)


def stage_quotes(
    predictions: pd.DataFrame, turns: pd.DataFrame, stage_names: dict[str, str], per_stage: int = 3
) -> pd.DataFrame:
    """For each stage, the answers with its highest score among those coded with it, with
    the stage's cue phrases the answer says (``cues said``), when the predictions carry them."""
    merged = predictions.merge(turns[["turn_id", "speaker_id", "question_text"]], on="turn_id", how="left")
    lists = merged["stages"].map(stage_list)
    rows = []
    for stage, name in stage_names.items():
        mine = merged[lists.map(lambda v, s=stage: s in v)]
        if mine.empty:
            continue
        top = mine.sort_values([f"score_{stage}", "turn_id"], ascending=[False, True]).head(per_stage)
        for r in top.itertuples():
            text = " ".join(str(r.text).split())
            rows.append(
                {
                    "stage": name,
                    "kind": r.kind,
                    "speaker_id": r.speaker_id,
                    "source": f"{r.source_file}:{r.line_start}",
                    "quote": text if len(text) <= 300 else text[:299] + "…",
                    "cues said": getattr(r, "matched_cues", "") or "",
                }
            )
    columns = ["stage", "kind", "speaker_id", "source", "quote"] + (
        ["cues said"] if "matched_cues" in predictions else []
    )
    return pd.DataFrame(rows, columns=["stage", "kind", "speaker_id", "source", "quote", "cues said"])[columns]


def saturation_table(tables: ThemeTables, orders: int = 200, seed: int = 42, min_answers: int = 1) -> pd.DataFrame:
    """Thematic saturation (Guest, Namey and Chen 2020): for k = 1..n interviews added in
    random order, the mean number of new themes the k-th interview brings and the mean
    share of all themes reached, with 2.5-97.5% bands over ``orders`` random orders.
    An interviewee raises a theme with at least ``min_answers`` answers in it (1: any
    mention; 2 or more discounts passing remarks).

    Example:
        >>> t = ThemeTables(pd.DataFrame({"speaker_id": ["I1", "I2"], "topic": [0, 1]}), pd.DataFrame(), {})
        >>> saturation_table(t, orders=10)["share_reached"].tolist()
        [0.5, 1.0]
    """
    sets = {
        p: {t for t, n in g["topic"].value_counts().items() if n >= min_answers}
        for p, g in tables.answers.groupby("speaker_id")
    }
    people = natural_sorted(sets)
    total = len(set().union(*sets.values())) if sets else 0
    rng = np.random.default_rng(seed)
    new = np.zeros((orders, len(people)))
    reached = np.zeros((orders, len(people)))
    for o in range(orders):
        seen: set = set()
        for k, p in enumerate(rng.permutation(people)):
            added = sets[p] - seen
            seen |= added
            new[o, k] = len(added)
            reached[o, k] = len(seen) / total if total else 0.0
    return pd.DataFrame(
        {
            "interviews": np.arange(1, len(people) + 1),
            "new_themes": new.mean(axis=0).round(3),
            "new_low": np.percentile(new, 2.5, axis=0),
            "new_high": np.percentile(new, 97.5, axis=0),
            "share_reached": reached.mean(axis=0).round(4),
            "share_low": np.percentile(reached, 2.5, axis=0).round(4),
            "share_high": np.percentile(reached, 97.5, axis=0).round(4),
        }
    )


def saturation_milestones(saturation: pd.DataFrame, interviews=(1, 3, 6, 12)) -> pd.DataFrame:
    """Rows of a saturation table after 1, 3, 6 and 12 interviews and after the last one.

    Example:
        >>> t = pd.DataFrame({"interviews": [1, 2, 3], "new_themes": [2.0, 1.0, 0.0], "share_reached": [0.6, 0.9, 1.0],
        ...                   "share_low": [0.5, 0.8, 1.0], "share_high": [0.7, 1.0, 1.0]})
        >>> saturation_milestones(t)["interviews"].tolist()
        [1, 3]
    """
    wanted = sorted({k for k in interviews if k <= len(saturation)} | {len(saturation)})
    rows = saturation[saturation["interviews"].isin(wanted)]
    return rows[["interviews", "new_themes", "share_reached", "share_low", "share_high"]].reset_index(drop=True)


def theme_tables_for(
    cfg: Config,
    *,
    turns: pd.DataFrame | None = None,
    topics: pd.DataFrame | None = None,
    topic_info: pd.DataFrame | None = None,
    topic_stages: pd.DataFrame | None = None,
) -> tuple[ThemeTables, dict[int, str]]:
    """The theme charts' tables from ``data/processed``, with the researcher's theme
    renames applied, and the topics' original labels. Tables the caller has already read
    are passed in and not read again."""
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    topic_info = read_table(cfg, "topic_info") if topic_info is None else topic_info
    labels = load_theme_labels(cfg.paths.theme_labels, topic_info)
    tables = theme_tables(
        read_table(cfg, "turns") if turns is None else turns,
        read_table(cfg, "topics") if topics is None else topics,
        topic_info,
        read_table(cfg, "topic_stages") if topic_stages is None else topic_stages,
        read_table(cfg, "stages"),
        {s.id: s.name for s in taxonomy.stages},
        labels,
        meta_talk=cfg.meta_talk,
        embeddings=read_table(cfg, "embeddings"),
    )
    return tables, dict(zip(topic_info["topic"], topic_info["label"]))
