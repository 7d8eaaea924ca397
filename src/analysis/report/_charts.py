"""Charts: one pure function per chart, tables in, ``plotly.graph_objects.Figure`` out."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from .._ids import natural_sorted
from ..stages import stage_list
from ._themes import ThemeTables

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
ROLE_COLOURS = {"interviewee": OKABE_ITO[4], "interviewer": OKABE_ITO[0], "other": "#999999"}


NO_THEMES = (
    "No themes: the topic model found no topic in these answers (all are outliers). A corpus this small "
    "rarely has recurring topics; add interviews, or lower topics.min_cluster_size."
)


def empty_figure(title: str, message: str) -> go.Figure:
    """A figure with nothing to draw that says why, in place of a chart of no data.

    Example:
        >>> empty_figure("Themes", "No themes.").layout.annotations[0].text
        'No themes.'
    """
    fig = go.Figure()
    fig.add_annotation(
        text=html.escape(message), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14}
    )
    fig.update_layout(
        title=title, template="plotly_white", height=260, xaxis={"visible": False}, yaxis={"visible": False}
    )
    return fig


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
            name=role,
            x=labels,
            y=summary[column].tolist(),
            marker_color=ROLE_COLOURS[role],
            hovertemplate="%{x}<br>" + role + ": %{y} words<extra></extra>",
        )
    fig.update_layout(
        title="Words spoken per interview, by role",
        xaxis_title="Interview",
        yaxis_title="Words",
        barmode="group",
        xaxis={"type": "category", "tickangle": -45 if len(labels) > 20 else 0},
        legend_title_text="Role",
        template="plotly_white",
    )
    return fig


def stage_by_interviewee_figure(
    predictions: pd.DataFrame, speaker_of: dict[str, str], stage_names: dict[str, str]
) -> go.Figure:
    """Heatmap of coded answers per interviewee (rows) and stage (columns).

    Args:
        predictions: the stage table (``turn_id``, ``stages`` joined by ``;``).
        speaker_of: turn_id -> pseudonymous interviewee id.
        stage_names: stage id -> display name, in taxonomy order.

    Example:
        >>> p = pd.DataFrame({"turn_id": ["1-1", "1-3", "2-1"], "stages": ["data", "data;model_training", ""]})
        >>> fig = stage_by_interviewee_figure(p, {"1-1": "I1", "1-3": "I1", "2-1": "I2"},
        ...                                   {"data": "Data", "model_training": "Model training"})
        >>> [list(row) for row in fig.data[0].z]
        [[2, 1], [0, 0]]
    """
    stages = list(stage_names)
    people = natural_sorted({speaker_of[t] for t in predictions["turn_id"] if t in speaker_of})
    counts = {p: dict.fromkeys(stages, 0) for p in people}
    for turn_id, picked in zip(predictions["turn_id"], predictions["stages"].map(stage_list)):
        person = speaker_of.get(turn_id)
        for s in picked:
            if person in counts and s in counts[person]:
                counts[person][s] += 1
    z = [[counts[p][s] for s in stages] for p in people]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[stage_names[s] for s in stages],
            y=people,
            colorscale="Cividis",
            colorbar={"title": "answers"},
            hovertemplate="%{y}<br>%{x}: %{z} coded answers<extra></extra>",
        )
    )
    fig.update_layout(
        title="Coded answers per interviewee and lifecycle stage",
        xaxis_title="Stage",
        yaxis_title="Interviewee",
        yaxis={"autorange": "reversed", "type": "category"},
        height=max(320, 18 * len(people) + 160),
        template="plotly_white",
    )
    return fig


def topic_stage_figure(mix: pd.DataFrame, labels: dict[int, str], stage_names: dict[str, str]) -> go.Figure:
    """Stacked horizontal bars: each topic's mix of stages (shares of its coded answers).

    Example:
        >>> mix = pd.DataFrame({"topic": [0], "answers": [5], "share_data": [0.75], "share_other": [0.25]})
        >>> [t.x for t in topic_stage_figure(mix, {0: "labels"}, {"data": "Data", "other": "Other"}).data]
        [(0.75,), (0.25,)]
    """
    if mix is None or not (mix["topic"] != -1).any():
        return empty_figure("Stage mix per topic", NO_THEMES)
    real = mix[mix["topic"] != -1].sort_values("answers", ascending=True)
    names = [f"{labels.get(int(t), t)} ({int(n)})" for t, n in zip(real["topic"], real["answers"])]
    fig = go.Figure()
    for k, (stage, name) in enumerate(stage_names.items()):
        fig.add_bar(
            y=names,
            x=real[f"share_{stage}"].tolist(),
            name=name,
            orientation="h",
            marker_color=OKABE_ITO[k % len(OKABE_ITO)],
            hovertemplate="%{y}<br>" + name + ": %{x:.0%}<extra></extra>",
        )
    fig.update_layout(
        title="Lifecycle stages within each topic",
        barmode="stack",
        xaxis_title="Share of the topic's coded answers",
        yaxis_title="Topic (answers)",
        xaxis={"tickformat": ".0%", "range": [0, 1]},
        height=max(360, 20 * len(real) + 160),
        legend_title_text="Stage",
        template="plotly_white",
    )
    return fig


def _esc(text: object, limit: int | None = None) -> str:
    """Transcript text made safe for plotly hover labels (which render a subset of
    HTML): escaped, whitespace folded, optionally shortened."""
    value = " ".join(str(text).split())
    if limit and len(value) > limit:
        value = value[: limit - 1] + "…"
    return html.escape(value)


def _stage_colour(stage_names: dict[str, str]) -> dict[str, str]:
    return {s: OKABE_ITO[k % len(OKABE_ITO)] for k, s in enumerate(stage_names)}


def _theme_axis(themes: pd.DataFrame) -> list[str]:
    return [f"T{t}: {_esc(n, 40)}" for t, n in zip(themes["topic"], themes["theme"])]


def theme_heatmap_figure(tables: ThemeTables) -> go.Figure:
    """Issue frequency per interviewee: interviewees (rows) x themes (columns, grouped and
    ordered by lifecycle stage); a cell is the number of the interviewee's answers in the
    theme. Hover: theme, interviewee, count and one exemplar quote.

    Example:
        >>> t = ThemeTables(pd.DataFrame({"turn_id": ["a", "b", "c"], "speaker_id": ["I1", "I1", "I2"],
        ...     "topic": [0, 0, 1], "theme": ["labels", "labels", "drift"], "stage": ["data", "data", "other"],
        ...     "kind": ["issue", "", "fix"], "text": ["x", "y", "z"]}),
        ...     pd.DataFrame({"topic": [0, 1], "theme": ["labels", "drift"], "stage": ["data", "other"],
        ...                   "stage_name": ["Data", "Other"], "answers": [2, 1]}), {"data": "Data", "other": "Other"})
        >>> [list(row) for row in theme_heatmap_figure(t).data[0].z]
        [[2, 0], [0, 1]]
    """
    if tables.themes.empty:
        return empty_figure("Issue frequency per interviewee and theme", NO_THEMES)
    people = natural_sorted(tables.answers["speaker_id"].unique())
    topics = tables.themes["topic"].tolist()
    counts = pd.crosstab(tables.answers["speaker_id"], tables.answers["topic"]).reindex(
        index=people, columns=topics, fill_value=0
    )
    # exemplar: the interviewee's longest answer in the theme (most context for a reader)
    exemplar = (
        tables.answers.assign(_len=tables.answers["text"].str.len())
        .sort_values(["_len", "turn_id"], ascending=[False, True])
        .drop_duplicates(["speaker_id", "topic"])
        .set_index(["speaker_id", "topic"])["text"]
    )
    theme_names = dict(zip(tables.themes["topic"], tables.themes["theme"]))
    stage_of = dict(zip(tables.themes["topic"], tables.themes["stage_name"]))
    hover = [
        [
            (
                f"<b>{_esc(theme_names[t], 80)}</b> ({_esc(stage_of[t])})<br>{p}: {counts.at[p, t]} answers"
                + (f"<br><i>“{_esc(exemplar.get((p, t), ''), 160)}”</i>" if counts.at[p, t] else "")
            )
            for t in topics
        ]
        for p in people
    ]
    fig = go.Figure(
        go.Heatmap(
            z=counts.to_numpy().tolist(),
            x=_theme_axis(tables.themes),
            y=people,
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale="Cividis",
            colorbar={"title": "answers"},
            xgap=1,
            ygap=1,
        )
    )
    # stage bands above the columns, so the grouping is visible
    for stage, group in tables.themes.reset_index().groupby("stage", sort=False):
        first, last = group.index.min(), group.index.max()
        fig.add_annotation(
            x=(first + last) / 2,
            y=1.0,
            xref="x",
            yref="paper",
            yanchor="bottom",
            showarrow=False,
            text=_esc(tables.stage_names.get(stage, stage), 24),
            font={"size": 10},
        )
    fig.update_layout(
        title="Issue frequency: answers per interviewee and theme (themes grouped by lifecycle stage)",
        xaxis_title="Theme",
        yaxis_title="Interviewee",
        template="plotly_white",
        xaxis={"tickangle": -60, "tickfont": {"size": 9}, "type": "category"},
        yaxis={"autorange": "reversed", "type": "category", "tickfont": {"size": 10}},
        height=max(420, 16 * len(people) + 320),
        width=max(700, 16 * len(topics) + 360),
        margin={"t": 110, "b": 260},
    )
    return fig


def interviewees_per_theme_figure(tables: ThemeTables) -> go.Figure:
    """How many interviewees mention each theme (bars sorted by that number), coloured
    by the theme's stage, split into interviewees who raise it as an issue and who
    describe a mitigation (one interviewee can do both).

    Example:
        >>> t = ThemeTables(pd.DataFrame({"turn_id": ["a", "b", "c"], "speaker_id": ["I1", "I2", "I2"],
        ...     "topic": [0, 0, 0], "theme": ["labels"] * 3, "stage": ["data"] * 3,
        ...     "kind": ["issue", "issue", "fix"], "text": ["x", "y", "z"]}),
        ...     pd.DataFrame({"topic": [0], "theme": ["labels"], "stage": ["data"], "stage_name": ["Data"],
        ...                   "answers": [3]}),
        ...     {"data": "Data"})
        >>> [(tr.name, tr.x) for tr in interviewees_per_theme_figure(t).data][:3]
        [('mentions it', (2,)), ('as an issue', (2,)), ('as a mitigation', (1,))]
    """
    if tables.themes.empty:
        return empty_figure("Interviewees per theme", NO_THEMES)
    a = tables.answers
    mention = a.groupby("topic")["speaker_id"].nunique()
    issue = a[a["kind"] == "issue"].groupby("topic")["speaker_id"].nunique()
    fix = a[a["kind"] == "fix"].groupby("topic")["speaker_id"].nunique()
    themes = tables.themes.assign(
        mention=tables.themes["topic"].map(mention).fillna(0).astype(int),
        issue=tables.themes["topic"].map(issue).fillna(0).astype(int),
        fix=tables.themes["topic"].map(fix).fillna(0).astype(int),
    )
    themes = themes.sort_values(["mention", "answers", "topic"], ascending=[True, True, False])
    names = _theme_axis(themes)
    colours = _stage_colour(tables.stage_names)
    bar_colours = [colours.get(s, "#999999") for s in themes["stage"]]
    stage_text = [_esc(n) for n in themes["stage_name"].fillna("")]
    fig = go.Figure()
    fig.add_bar(
        y=names,
        x=themes["mention"].tolist(),
        orientation="h",
        name="mentions it",
        marker_color=bar_colours,
        customdata=stage_text,
        hovertemplate="%{y}<br>%{customdata}<br>%{x} interviewees<extra></extra>",
    )
    for kind, name, colour, pattern, says in (("issue", "as an issue", "#D55E00", "", "raise it as an issue"),
                                              ("fix", "as a mitigation", "#009E73", "/", "describe a mitigation")):
        fig.add_bar(y=names, x=themes[kind].tolist(), orientation="h", name=name, marker_color=colour,
                    marker_pattern_shape=pattern, opacity=0.55,
                    hovertemplate="%{y}<br>%{x} interviewees " + says + "<extra></extra>")
    for stage, name in tables.stage_names.items():  # legend entries for the stage colours
        if stage in set(themes["stage"]):
            fig.add_scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={"color": colours[stage], "size": 10, "symbol": "square"},
                name=_esc(name),
                legendgroup="stages",
                showlegend=True,
                hoverinfo="skip",
            )
    fig.update_layout(
        title="Interviewees per theme (bar colour: lifecycle stage)",
        barmode="group",
        xaxis_title="Interviewees",
        yaxis_title="Theme",
        template="plotly_white",
        yaxis={"tickfont": {"size": 9}, "type": "category"},
        height=max(420, 30 * len(themes) + 160),
        legend={"orientation": "v"},
    )
    return fig


def stage_distribution_figure(predictions: pd.DataFrame, stage_names: dict[str, str]) -> go.Figure:
    """Coded answers per lifecycle stage, split by kind (issue / fix); answers marked
    ``uncertain`` (to check) in a lighter shade of their kind.

    Example:
        >>> p = pd.DataFrame({"stages": ["data", "data;other", ""], "kind": ["issue", "fix", ""]})
        >>> [tr.y for tr in stage_distribution_figure(p, {"data": "Data", "other": "Other"}).data]
        [(1, 0), (1, 1)]
    """
    lists = predictions["stages"].map(stage_list)
    unsure = (predictions["uncertain"].astype(bool) if "uncertain" in predictions
              else pd.Series(False, index=predictions.index))
    names = list(stage_names.values())
    fig = go.Figure()
    shades = (("issue", False, "#D55E00", ""), ("fix", False, "#009E73", "/"))
    if unsure.any():
        shades += (("issue", True, "#F3B58F", ""), ("fix", True, "#8FD3BE", "/"))
    for kind, uncertain, colour, pattern in shades:
        counts = [
            sum(1 for st, k, u in zip(lists, predictions["kind"], unsure) if s in st and k == kind and u == uncertain)
            for s in stage_names
        ]
        label = f"{kind}, uncertain (to check)" if uncertain else kind
        fig.add_bar(
            x=names,
            y=counts,
            name=label,
            marker_color=colour,
            marker_pattern_shape=pattern,
            hovertemplate="%{x}<br>" + label + ": %{y} answers<extra></extra>",
        )
    fig.update_layout(
        title="Coded answers per lifecycle stage",
        barmode="stack",
        xaxis_title="Stage",
        yaxis_title="Answers",
        template="plotly_white",
        legend_title_text="Kind",
    )
    return fig


def theme_cooccurrence_figure(tables: ThemeTables) -> go.Figure:
    """Themes x themes: how many interviewees mention both (the diagonal: the theme alone).

    Example:
        >>> t = ThemeTables(pd.DataFrame({"turn_id": list("abc"), "speaker_id": ["I1", "I1", "I2"],
        ...     "topic": [0, 1, 0], "theme": ["x", "y", "x"], "stage": ["data"] * 3, "kind": [""] * 3,
        ...     "text": list("abc")}),
        ...     pd.DataFrame({"topic": [0, 1], "theme": ["x", "y"], "stage": ["data"] * 2, "stage_name": ["Data"] * 2,
        ...                   "answers": [2, 1]}), {"data": "Data"})
        >>> [list(row) for row in theme_cooccurrence_figure(t).data[0].z]
        [[2, 1], [1, 1]]
    """
    if tables.themes.empty:
        return empty_figure("Co-occurrence of themes within interviewees", NO_THEMES)
    topics = tables.themes["topic"].tolist()
    presence = (pd.crosstab(tables.answers["speaker_id"], tables.answers["topic"]) > 0).astype(int)
    presence = presence.reindex(columns=topics, fill_value=0)
    both = presence.T.dot(presence)
    names = _theme_axis(tables.themes)
    fig = go.Figure(
        go.Heatmap(
            z=both.to_numpy().tolist(),
            x=names,
            y=names,
            colorscale="Cividis",
            colorbar={"title": "interviewees"},
            hovertemplate="%{y}<br>%{x}<br>%{z} interviewees mention both<extra></extra>",
        )
    )
    size = max(520, 14 * len(topics) + 320)
    fig.update_layout(
        title="Co-occurrence of themes within interviewees",
        xaxis_title="Theme",
        yaxis_title="Theme",
        template="plotly_white",
        height=size,
        width=size,
        xaxis={"tickangle": -60, "tickfont": {"size": 8}, "type": "category"},
        yaxis={"autorange": "reversed", "tickfont": {"size": 8}, "type": "category"},
    )
    return fig


def saturation_figure(saturation: pd.DataFrame) -> go.Figure:
    """Share of all themes reached after k interviews (line, with its 95% band) and new
    themes per added interview (bars), averaged over random interview orders."""
    k = saturation["interviews"].tolist()
    fig = go.Figure()
    fig.add_bar(
        x=k,
        y=saturation["new_themes"].tolist(),
        name="new themes (mean)",
        marker_color=OKABE_ITO[1],
        yaxis="y2",
        opacity=0.45,
        hovertemplate="interview %{x}: %{y:.2f} new themes on average<extra></extra>",
    )
    fig.add_scatter(
        x=k + k[::-1],
        y=saturation["share_high"].tolist() + saturation["share_low"].tolist()[::-1],
        mode="lines",
        fill="toself",
        fillcolor="rgba(0,114,178,0.15)",
        line={"width": 0},
        name="95% of orders",
        hoverinfo="skip",
    )
    fig.add_scatter(
        x=k,
        y=saturation["share_reached"].tolist(),
        mode="lines+markers",
        name="share of themes reached",
        line={"color": OKABE_ITO[4]},
        hovertemplate="after %{x} interviews: %{y:.0%} of themes<extra></extra>",
    )
    fig.update_layout(
        title="Thematic saturation: themes reached as interviews are added (random orders)",
        xaxis_title="Interviews added",
        yaxis={"title": "Share of all themes", "tickformat": ".0%", "range": [0, 1.02]},
        yaxis2={"title": "New themes per interview", "overlaying": "y", "side": "right", "showgrid": False},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def reliability_figure(calibration: dict) -> go.Figure:
    """Reliability diagram of P(coded): per bin, the mean predicted probability against
    the share of answers the human coders coded (the diagonal is perfect calibration);
    marker size follows the answers in the bin.

    Example:
        >>> fig = reliability_figure({"brier": 0.2, "base_rate_brier": 0.25, "units": 3,
        ...     "bins": [{"low": 0.0, "high": 0.5, "answers": 2, "predicted": 0.3, "observed": 0.5}]})
        >>> fig.data[1].x, fig.data[1].y
        ((0.3,), (0.5,))
    """
    bins = calibration.get("bins", [])
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                    line={"color": "#999999", "dash": "dash"}, hoverinfo="skip")
    sizes = [b["answers"] for b in bins]
    biggest = max(sizes) if sizes else 1
    fig.add_scatter(
        x=[round(b["predicted"], 3) for b in bins], y=[round(b["observed"], 3) for b in bins], mode="lines+markers",
        name="suite", marker={"size": [8 + 22 * n / biggest for n in sizes], "color": OKABE_ITO[4]},
        customdata=sizes, hovertemplate="predicted %{x:.2f}<br>coded by the humans %{y:.2f}<br>%{customdata} answers"
        "<extra></extra>")
    brier = calibration.get("brier")
    note = "" if brier is None else f" (Brier {brier:.3f}; always the base rate: {calibration['base_rate_brier']:.3f})"
    fig.update_layout(title="Is P(coded) calibrated?" + note, template="plotly_white", height=420,
                      xaxis={"title": "P(coded) the suite gave", "range": [0, 1]},
                      yaxis={"title": "Share the human coders coded", "range": [0, 1]})
    return fig
