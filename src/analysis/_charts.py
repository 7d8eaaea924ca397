"""Charts: one pure function per chart, tables in, ``plotly.graph_objects.Figure`` out."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
ROLE_COLOURS = {"interviewee": OKABE_ITO[4], "interviewer": OKABE_ITO[0], "other": "#999999"}


def words_by_role_figure(summary: pd.DataFrame) -> go.Figure:
    """Words spoken by interviewee and interviewer(s) per interview, as grouped bars.

    Args:
        summary: The table of :func:`analysis.interview_summary` (index: interview id;
            columns ``words_interviewee``, ``words_interviewer``, ``words_other``).

    Returns:
        A figure with one bar trace per role that spoke.

    Example:
        >>> s = pd.DataFrame({"words_interviewee": [120], "words_interviewer": [40],
        ...                   "words_other": [0]}, index=pd.Index(["7"], name="interview_id"))
        >>> [t.name for t in words_by_role_figure(s).data]
        ['interviewee', 'interviewer']
    """
    fig = go.Figure()
    labels = [f"I{i}" for i in summary.index]
    for role in ("interviewee", "interviewer", "other"):
        column = f"words_{role}"
        if column not in summary or not summary[column].any():
            continue
        fig.add_bar(
            name=role, x=labels, y=summary[column].tolist(), marker_color=ROLE_COLOURS[role],
            hovertemplate="%{x}<br>" + role + ": %{y} words<extra></extra>",
        )
    fig.update_layout(
        title="Words spoken per interview, by role",
        xaxis_title="Interview", yaxis_title="Words", barmode="group",
        xaxis={"type": "category", "tickangle": -45 if len(labels) > 20 else 0},
        legend_title_text="Role", template="plotly_white",
    )
    return fig


def _stage_lists(values: pd.Series) -> pd.Series:
    return values.fillna("").map(lambda v: [s for s in (v.split(";") if isinstance(v, str) else list(v)) if s])


def stage_by_interviewee_figure(predictions: pd.DataFrame, speaker_of: dict[str, str], stage_names: dict[str, str]) -> go.Figure:
    """Heatmap of coded answers per interviewee (rows) and stage (columns).

    Args:
        predictions: the stage table (``turn_id``, ``stages`` joined by ``;``).
        speaker_of: turn_id -> pseudonymous interviewee id.
        stage_names: stage id -> display name, in taxonomy order.

    Example:
        >>> p = pd.DataFrame({"turn_id": ["1-1", "1-3", "2-1"], "stages": ["data", "data;model_training", ""]})
        >>> fig = stage_by_interviewee_figure(p, {"1-1": "I1", "1-3": "I1", "2-1": "I2"},
        ...                                   {"data": "Data", "model_training": "Model training"})
        >>> fig.data[0].z
        ((2, 1), (0, 0))
    """
    stages = list(stage_names)
    people = sorted({speaker_of[t] for t in predictions["turn_id"] if t in speaker_of}, key=lambda s: [int(t) if t.isdigit() else t for t in __import__("re").split(r"(\d+)", s)])
    counts = {p: dict.fromkeys(stages, 0) for p in people}
    for turn_id, picked in zip(predictions["turn_id"], _stage_lists(predictions["stages"])):
        person = speaker_of.get(turn_id)
        for s in picked:
            if person in counts and s in counts[person]:
                counts[person][s] += 1
    z = [[counts[p][s] for s in stages] for p in people]
    fig = go.Figure(go.Heatmap(
        z=z, x=[stage_names[s] for s in stages], y=people, colorscale="Cividis", colorbar={"title": "answers"},
        hovertemplate="%{y}<br>%{x}: %{z} coded answers<extra></extra>",
    ))
    fig.update_layout(title="Coded answers per interviewee and lifecycle stage", xaxis_title="Stage",
                      yaxis_title="Interviewee", yaxis={"autorange": "reversed", "type": "category"},
                      height=max(320, 18 * len(people) + 160), template="plotly_white")
    return fig


def topic_stage_figure(mix: pd.DataFrame, labels: dict[int, str], stage_names: dict[str, str]) -> go.Figure:
    """Stacked horizontal bars: each topic's mix of stages (shares of its coded answers).

    Example:
        >>> mix = pd.DataFrame({"topic": [0], "answers": [5], "share_data": [0.75], "share_other": [0.25]})
        >>> [t.x for t in topic_stage_figure(mix, {0: "labels"}, {"data": "Data", "other": "Other"}).data]
        [(0.75,), (0.25,)]
    """
    real = mix[mix["topic"] != -1].sort_values("answers", ascending=True)
    names = [f"{labels.get(int(t), t)} ({int(n)})" for t, n in zip(real["topic"], real["answers"])]
    fig = go.Figure()
    for k, (stage, name) in enumerate(stage_names.items()):
        fig.add_bar(y=names, x=real[f"share_{stage}"].tolist(), name=name, orientation="h",
                    marker_color=OKABE_ITO[k % len(OKABE_ITO)],
                    hovertemplate="%{y}<br>" + name + ": %{x:.0%}<extra></extra>")
    fig.update_layout(title="Lifecycle stages within each topic", barmode="stack", xaxis_title="Share of the topic's coded answers",
                      yaxis_title="Topic (answers)", xaxis={"tickformat": ".0%", "range": [0, 1]},
                      height=max(360, 20 * len(real) + 160), legend_title_text="Stage", template="plotly_white")
    return fig


def stage_quotes(predictions: pd.DataFrame, turns: pd.DataFrame, stage_names: dict[str, str], per_stage: int = 3) -> pd.DataFrame:
    """For each stage, the answers with its highest score among those coded with it."""
    merged = predictions.merge(turns[["turn_id", "speaker_id", "question_text"]], on="turn_id", how="left")
    lists = _stage_lists(merged["stages"])
    rows = []
    for stage, name in stage_names.items():
        mine = merged[lists.map(lambda v, s=stage: s in v)]
        if mine.empty:
            continue
        top = mine.sort_values([f"score_{stage}", "turn_id"], ascending=[False, True]).head(per_stage)
        for r in top.itertuples():
            text = " ".join(str(r.text).split())
            rows.append({"stage": name, "kind": r.kind, "speaker_id": r.speaker_id,
                         "source": f"{r.source_file}:{r.line_start}",
                         "quote": text if len(text) <= 300 else text[:299] + "…"})
    return pd.DataFrame(rows, columns=["stage", "kind", "speaker_id", "source", "quote"])
