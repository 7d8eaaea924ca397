"""The codebook of a run, in the form qualitative researchers publish: for each lifecycle
stage its definition, when it applies and when not, counts, exemplar quotes with their
source file and line and, where human codes exist, the agreement with them; for each
theme its label, top words, counts and exemplar quotes; the interview meta-talk set aside.

Example:
    >>> book = codebook_for(load_config())           # doctest: +SKIP
    >>> book.stages[["stage", "answers", "f1"]]       # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._quotes import rank_quotes
from ..config import Config
from ..pipeline import load_taxonomy_and_codes, read_table
from ..stages import stage_list
from ._themes import ThemeTables, theme_quotes, theme_tables_for

STAGE_COLUMNS = [
    "stage",
    "definition",
    "applies when",
    "not when",
    "answers",
    "interviewees",
    "themes",
    "f1",
    "kappa",
    "human-coded answers",
    "exemplars",
]
THEME_COLUMNS = [
    "stage",
    "theme",
    "top words",
    "answers",
    "interviewees",
    "as an issue",
    "as a mitigation",
    "exemplars",
]


@dataclass
class Codebook:
    """The codebook tables of a run.

    Attributes:
        stages: one row per stage in taxonomy order (:data:`STAGE_COLUMNS`): the
            taxonomy's texts, the answers coded with the stage (interview meta-talk left
            out) and their interviewees, the themes whose primary stage it is, F1 and
            Cohen's kappa against the human codes (empty without codes), the human-coded
            answers of the stage, and exemplar quotes (``"quote" (file:line)``, one a line).
        themes: one row per theme of the findings (:data:`THEME_COLUMNS`).
        set_aside: the interview meta-talk group (:meth:`ThemeTables.set_aside`).
        quotes: every exemplar quote, one a row: ``kind`` (``stage``/``theme``), ``code``
            (stage or theme), ``speaker_id``, ``source`` (``file:line``), ``quote``.
        agreement: where the F1 and kappa come from, or why there are none.
    """

    stages: pd.DataFrame
    themes: pd.DataFrame
    set_aside: pd.DataFrame
    quotes: pd.DataFrame
    agreement: str


def _exemplars(rows: pd.DataFrame) -> str:
    return "\n".join(f"“{q}” ({s})" for q, s in zip(rows["quote"], rows["source"]))


def stage_exemplars(
    predictions: pd.DataFrame,
    turns: pd.DataFrame,
    stage_ids: list[str],
    exclude: set | frozenset = frozenset(),
    per_stage: int = 3,
    pool: int = 12,
    max_chars: int = 300,
) -> pd.DataFrame:
    """For each stage, the ``per_stage`` clearest quotes among the ``pool`` answers coded
    with it that score highest for it, from different interviewees where possible, picked
    as topics and themes pick theirs (:func:`analysis._quotes.rank_quotes`); answers in
    ``exclude`` (interview meta-talk) are never quoted.

    Args:
        predictions: ``turn_id``, ``stages`` and ``score_<stage>`` per answer (``stages.parquet``).
        turns: the turns table (``speaker_id``, ``text``, ``source_file``, ``line_start``).
        stage_ids: the stages, in taxonomy order.

    Returns:
        ``stage``, ``rank``, ``turn_id``, ``speaker_id``, ``source``, ``quote``, ``clarity``.

    Example:
        >>> p = pd.DataFrame({"turn_id": ["a", "b"], "stages": [["data"], ["data"]], "score_data": [0.9, 0.5]})
        >>> t = pd.DataFrame({"turn_id": ["a", "b"], "speaker_id": ["I1", "I2"], "source_file": ["x.txt"] * 2,
        ...     "line_start": [3, 9], "text": ["uh the, the", "We relabel the images whenever annotators disagree."]})
        >>> stage_exemplars(p, t, ["data"], per_stage=1)[["source", "quote"]].values.tolist()
        [['x.txt:9', 'We relabel the images whenever annotators disagree.']]
    """
    columns = ["stage", "rank", "turn_id", "speaker_id", "source", "quote", "clarity"]
    merged = predictions.merge(turns[["turn_id", "speaker_id", "text", "source_file", "line_start"]], on="turn_id")
    merged = merged[~merged["turn_id"].isin(exclude)].sort_values("turn_id", kind="stable")
    lists = merged["stages"].map(stage_list)
    rows = []
    for stage in stage_ids:
        mine = merged[lists.map(lambda v, s=stage: s in v)].reset_index(drop=True)
        if mine.empty:
            continue
        score = f"score_{stage}"
        # the answers that score highest for the stage stand for it, as the answers
        # nearest a topic's centre stand for the topic (no score: the first answers)
        closeness = mine[score].to_numpy(dtype=float) if score in mine else np.zeros(len(mine))
        ranked = rank_quotes(mine["text"].tolist(), closeness, mine["speaker_id"].tolist(), pool=pool,
                             max_chars=max_chars)
        for rank, r in enumerate(ranked.head(per_stage).itertuples(), start=1):
            row = mine.iloc[r.position]
            rows.append([stage, rank, row["turn_id"], row["speaker_id"], f"{row['source_file']}:{row['line_start']}",
                         r.excerpt, r.clarity])
    return pd.DataFrame(rows, columns=columns)


def _agreement_by_stage(agreement: dict | None) -> tuple[dict, str]:
    overall = ((agreement or {}).get("suite_vs_reference") or {}).get("overall")
    if not overall:
        return {}, "no human codes in this run: F1 and kappa are left empty (pass codes to fill them)"
    per_stage = overall.get("per_stage") or {}
    interviews = (agreement.get("suite_vs_reference") or {}).get("interviews") or []
    return per_stage, (
        f"F1 and Cohen's kappa of the suite's coding against the human codes ({overall.get('units', 0)} answers "
        f"of {len(interviews)} coded interviews; agreement.json of notebook 06)"
    )


def codebook(
    tables: ThemeTables,
    taxonomy,
    predictions: pd.DataFrame,
    turns: pd.DataFrame,
    agreement: dict | None = None,
    per_code: int = 3,
) -> Codebook:
    """Build the :class:`Codebook` from the run's tables.

    Args:
        tables: the theme tables (interview meta-talk marked, :func:`theme_tables`).
        taxonomy: the stage taxonomy (its ``applies_when`` and ``not_when`` texts).
        predictions: the stage coding (``stages.parquet``: ``turn_id``, ``stages``, ``kind``, scores).
        turns: the turns table.
        agreement: ``agreement.json`` of the run, if any.
        per_code: exemplar quotes per stage and per theme.
    """
    answers = tables.answers
    exclude = set(answers.loc[answers["meta_talk"].astype(bool), "turn_id"]) if "meta_talk" in answers else set()
    speakers = dict(zip(turns["turn_id"], turns["speaker_id"]))
    coded = predictions[~predictions["turn_id"].isin(exclude)]
    lists = coded["stages"].map(stage_list)
    per_stage, agreement_text = _agreement_by_stage(agreement)
    findings = tables.findings()
    stage_quotes = stage_exemplars(predictions, turns, [s.id for s in taxonomy.stages], exclude, per_code)
    rows = []
    for stage in taxonomy.stages:
        mine = coded[lists.map(lambda v, s=stage.id: s in v)]
        scores = per_stage.get(stage.id) or {}
        rows.append(
            [
                stage.name,
                stage.description,
                stage.applies_when,
                stage.not_when,
                len(mine),
                mine["turn_id"].map(speakers).nunique(),
                int((findings.themes["stage"] == stage.id).sum()) if "stage" in findings.themes else 0,
                scores.get("f1"),
                scores.get("kappa"),
                scores.get("reference_positives"),
                _exemplars(stage_quotes[stage_quotes["stage"] == stage.id]),
            ]
        )
    stages = pd.DataFrame(rows, columns=STAGE_COLUMNS)
    quotes = theme_quotes(findings, per_theme=per_code)
    a = findings.answers
    rows = []
    for theme in findings.themes.itertuples():
        mine = a[a["topic"] == theme.topic]
        kind = mine["kind"] if "kind" in mine else pd.Series("", index=mine.index)
        rows.append(
            [
                getattr(theme, "stage_name", ""),
                theme.theme,
                getattr(theme, "words", "") or theme.theme,
                len(mine),
                mine["speaker_id"].nunique(),
                mine.loc[kind == "issue", "speaker_id"].nunique(),
                mine.loc[kind == "fix", "speaker_id"].nunique(),
                _exemplars(quotes[quotes["topic"] == theme.topic]),
            ]
        )
    themes = pd.DataFrame(rows, columns=THEME_COLUMNS)
    names = {s.id: s.name for s in taxonomy.stages}
    all_quotes = pd.concat(
        [
            stage_quotes.assign(kind="stage", code=stage_quotes["stage"].map(names)),
            quotes.assign(kind="theme", code=quotes["theme"]),
        ],
        ignore_index=True,
    )[["kind", "code", "speaker_id", "source", "quote"]]
    return Codebook(stages, themes, tables.set_aside(), all_quotes, agreement_text)


def codebook_for(cfg: Config, per_code: int = 3) -> Codebook:
    """The :class:`Codebook` of the run in ``data/processed`` (``agreement.json`` is read
    when notebook 06 or ``evaluate`` wrote it there)."""
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    tables, _ = theme_tables_for(cfg)
    words = read_table(cfg, "topic_info")
    top = {t: ", ".join(map(str, list(w)[:8])) for t, w in zip(words["topic"], words["words"])}
    tables.themes["words"] = tables.themes["topic"].map(top).fillna("")
    agreement = None
    path = cfg.paths.processed / "agreement.json"
    if path.is_file() and cfg.paths.reference_codes is not None:
        try:
            agreement = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            agreement = None
    return codebook(tables, taxonomy, read_table(cfg, "stages"), read_table(cfg, "turns"), agreement, per_code)
