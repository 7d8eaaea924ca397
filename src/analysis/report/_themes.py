"""Theme tables for the charts and the explorer, example quotes, and thematic saturation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._ids import natural_sorted
from ..config import Config
from ..pipeline import load_taxonomy_and_codes, read_table
from ..stages import stage_list
from ..topics import load_theme_labels


@dataclass
class ThemeTables:
    """What the theme charts need, gathered once from the processed tables.

    Attributes:
        answers: one row per modelled answer: ``turn_id``, ``speaker_id``, ``topic``,
            ``theme`` (label), ``stage`` (the theme's primary stage id), ``kind``
            (``issue``/``fix``/``""``), ``text``.
        themes: one row per theme (outliers left out): ``topic``, ``theme``, ``stage``,
            ``stage_name``, ``answers``; ordered by stage (taxonomy order), then size.
        stage_names: stage id -> display name, in taxonomy order.
    """

    answers: pd.DataFrame
    themes: pd.DataFrame
    stage_names: dict[str, str]


def theme_tables(
    turns: pd.DataFrame,
    topics: pd.DataFrame,
    topic_info: pd.DataFrame,
    topic_stages: pd.DataFrame,
    stages: pd.DataFrame,
    stage_names: dict[str, str],
    labels: dict[int, str] | None = None,
) -> ThemeTables:
    """Join the processed tables into :class:`ThemeTables`; ``labels`` overrides theme
    labels (a researcher's renames)."""
    label = dict(zip(topic_info["topic"], topic_info["label"])) | {int(k): v for k, v in (labels or {}).items()}
    primary = dict(zip(topic_stages["topic"], topic_stages["primary_stage"]))
    kind = dict(zip(stages["turn_id"], stages["kind"]))
    answers = topics[topics["topic"] != -1][["turn_id", "topic"]].merge(
        turns[["turn_id", "speaker_id", "text"]], on="turn_id"
    )
    answers["theme"] = answers["topic"].map(label)
    answers["stage"] = answers["topic"].map(primary)
    answers["kind"] = answers["turn_id"].map(kind).fillna("")
    order = list(stage_names)
    sizes = answers.groupby("topic").size()
    themes = pd.DataFrame({"topic": sizes.index, "answers": sizes.to_numpy()})
    themes["theme"] = themes["topic"].map(label)
    themes["stage"] = themes["topic"].map(primary)
    themes["stage_name"] = themes["stage"].map(stage_names)
    themes["_rank"] = themes["stage"].map(lambda s: order.index(s) if s in order else len(order))
    themes = (
        themes.sort_values(["_rank", "answers", "topic"], ascending=[True, False, True])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
    return ThemeTables(answers.reset_index(drop=True), themes, stage_names)


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


def theme_tables_for(cfg: Config) -> tuple[ThemeTables, dict[int, str]]:
    """The theme charts' tables from ``data/processed``, with the researcher's theme
    renames applied, and the topics' original labels."""
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    topic_info = read_table(cfg, "topic_info")
    labels = load_theme_labels(cfg.paths.theme_labels, topic_info)
    tables = theme_tables(
        read_table(cfg, "turns"),
        read_table(cfg, "topics"),
        topic_info,
        read_table(cfg, "topic_stages"),
        read_table(cfg, "stages"),
        {s.id: s.name for s in taxonomy.stages},
        labels,
    )
    return tables, dict(zip(topic_info["topic"], topic_info["label"]))
