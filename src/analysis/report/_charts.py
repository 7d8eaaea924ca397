"""Charts: one pure function per chart, tables in, ``plotly.graph_objects.Figure`` out.

Every chart sizes itself to its rows and columns through the rules of ``_layout``, so a
report of 3 interviewees and one of 300 are equally legible."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from .._ids import natural_sorted
from ..stages import stage_list
from ._layout import (
    FONT,
    NARROWEST,
    PALETTE,
    colorbar,
    count_axis,
    esc,
    fit_title,
    grid_layout,
    label_px,
    nice_step,
    row_px,
    text_px,
    title,
    unique_labels,
)
from ._themes import ThemeTables

OKABE_ITO = PALETTE  # the name earlier code used
ROLE_COLOURS = {"interviewee": PALETTE[4], "interviewer": PALETTE[0], "other": "#999999"}
KIND_COLOURS = {"issue": PALETTE[5], "fix": PALETTE[2]}
NO_THEMES = (
    "No themes: the topic model found no topic in these answers (all are outliers). A corpus this small "
    "rarely has recurring topics; add interviews, or lower topics.min_cluster_size."
)


def empty_figure(title_text: str, message: str) -> go.Figure:
    """A figure with nothing to draw that says why, in place of a chart of no data.

    Example:
        >>> empty_figure("Themes", "No themes.").layout.annotations[0].text
        'No themes.'
    """
    fig = go.Figure()
    head, top = title(title_text, None)
    fig.add_annotation(
        text=html.escape(message), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14}
    )
    fig.update_layout(
        title=head, margin={"t": top}, template="plotly_white", height=260,
        xaxis={"visible": False}, yaxis={"visible": False},
    )
    return fit_title(fig)


def _esc(text: object, limit: int | None = None) -> str:
    return esc(text, limit)


def _legend_rows(entries: list[str], width: int = NARROWEST - 40) -> int:
    """Rows a horizontal legend of ``entries`` takes in ``width`` px (swatch and gap: 50 px an entry)."""
    rows, used = 1, 0.0
    for entry in entries:
        need = text_px(entry, FONT) + 50
        if used and used + need > width:
            rows, used = rows + 1, 0.0
        used += need
    return rows


def _bar_rows_layout(names: list[str], title_text: str, *, per_row: float = 1.0, legend: list[str] = ()) -> dict:
    """Layout of a horizontal bar chart with ``names`` as rows (top to bottom): height per
    row, labels cut to 34 characters (full on hover), room on the left for the longest,
    and the ``legend`` entries in rows between the title and the plot."""
    legend_px = 24 * _legend_rows(list(legend)) + 12 if legend else 0
    head, top = title(title_text, None, legend_px)
    plot_h = max(200, int(len(names) * row_px(len(names)) * per_row))
    ticktext = unique_labels(names, 34)
    return {
        "title": head,
        "height": top + plot_h + 70,
        "margin": {"l": label_px(ticktext) + 50, "t": top, "b": 70, "r": 30},
        "template": "plotly_white",
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom",
                   "yref": "paper", "traceorder": "normal"},
        "yaxis": {"type": "category", "autorange": "reversed", "categoryorder": "array", "categoryarray": names,
                  "tickmode": "array", "tickvals": names, "ticktext": ticktext, "tickfont": {"size": FONT},
                  "automargin": True},
    }


def words_by_role_figure(summary: pd.DataFrame) -> go.Figure:
    """Words spoken by interviewee and interviewer(s) per interview, as stacked horizontal
    bars (one row per interview, in natural order).

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
    order = natural_sorted(summary.index.astype(str))
    summary = summary.set_axis(summary.index.astype(str)).loc[order]
    labels = [f"I{i}" for i in order]
    fig = go.Figure()
    for role in ("interviewee", "interviewer", "other"):
        column = f"words_{role}"
        if column not in summary or not summary[column].any():
            continue
        fig.add_bar(
            name=role,
            y=labels,
            x=summary[column].tolist(),
            orientation="h",
            marker_color=ROLE_COLOURS[role],
            hovertemplate="%{y}<br>" + role + ": %{x} words<extra></extra>",
        )
    present = [c for c in ("words_interviewee", "words_interviewer", "words_other") if c in summary]
    top = float(summary[present].sum(axis=1).max()) if len(summary) else 0
    roles = [t.name for t in fig.data]
    fig.update_layout(**_bar_rows_layout(labels, "Words spoken per interview, by role", legend=["Role"] + roles))
    fig.update_layout(
        barmode="stack",
        xaxis=count_axis(top, "Words"),
        yaxis_title="Interview",
        legend_title_text="Role",
    )
    return fit_title(fig)


def _heatmap(z, rows, columns, *, hover, title_text, x_title, y_title, colour_title, extra_top=0):
    """A count heatmap on the shared grid layout; returns the figure and its geometry."""
    top_value = max((max(r) for r in z if len(r)), default=0)
    layout, geometry = grid_layout(
        rows, columns, title_text=title_text, x_title=x_title, y_title=y_title, extra_top=extra_top
    )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=rows,
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale="Cividis",
            zmin=0,
            colorbar=colorbar(colour_title, top_value, geometry["plot_h"]),
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(**layout)
    return fit_title(fig), geometry


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
    names = [esc(stage_names[s]) for s in stages]
    hover = [[f"{esc(p)}<br>{n}: {counts[p][s]} coded answers" for s, n in zip(stages, names)] for p in people]
    fig, _ = _heatmap(
        z, [esc(p) for p in people], names, hover=hover, title_text="Coded answers per interviewee and lifecycle stage",
        x_title="Stage", y_title="Interviewee", colour_title="answers",
    )
    return fit_title(fig)


def _stage_colour(stage_names: dict[str, str]) -> dict[str, str]:
    return {s: PALETTE[k % len(PALETTE)] for k, s in enumerate(stage_names)}


def topic_stage_figure(mix: pd.DataFrame, labels: dict[int, str], stage_names: dict[str, str]) -> go.Figure:
    """Stacked horizontal bars: each topic's mix of stages (shares of its coded answers),
    largest topic on top; one colour per stage, the same in every chart.

    Example:
        >>> mix = pd.DataFrame({"topic": [0], "answers": [5], "share_data": [0.75], "share_other": [0.25]})
        >>> [t.x for t in topic_stage_figure(mix, {0: "labels"}, {"data": "Data", "other": "Other"}).data]
        [(0.75,), (0.25,)]
    """
    if mix is None or not (mix["topic"] != -1).any():
        return empty_figure("Stage mix per topic", NO_THEMES)
    real = mix[mix["topic"] != -1].sort_values(["answers", "topic"], ascending=[False, True])
    full = [f"T{int(t)}: {esc(labels.get(int(t), t))} ({int(n)})" for t, n in zip(real["topic"], real["answers"])]
    names = unique_labels(full, 44)
    colours = _stage_colour(stage_names)
    fig = go.Figure()
    for stage, name in stage_names.items():
        fig.add_bar(
            y=names,
            x=real[f"share_{stage}"].tolist() if f"share_{stage}" in real else [0] * len(real),
            name=esc(name),
            orientation="h",
            marker_color=colours[stage],
            customdata=full,
            hovertemplate="%{customdata}<br>" + esc(name) + ": %{x:.0%}<extra></extra>",
        )
    fig.update_layout(**_bar_rows_layout(names, "Lifecycle stages within each topic",
                                         legend=["Stage"] + [t.name for t in fig.data]))
    fig.update_layout(
        barmode="stack",
        xaxis={"title": {"text": "Share of the topic's coded answers"}, "tickformat": ".0%", "range": [0, 1],
               "dtick": 0.2},
        yaxis_title="Topic (answers)",
        legend_title_text="Stage",
    )
    return fit_title(fig)


def _theme_axis(themes: pd.DataFrame) -> list[str]:
    """Theme names as categories: ``T<topic>: <label>``, unique by their topic number."""
    return [f"T{t}: {esc(n, 40)}" for t, n in zip(themes["topic"], themes["theme"])]


HEATMAP_VIEWS = {
    "issue": ("Issues", "Issue frequency: answers per interviewee and theme raising it as an issue"),
    "fix": ("Fixes", "Fix frequency: answers per interviewee and theme describing a mitigation"),
    "all": ("All answers", "Theme frequency: answers per interviewee and theme, issues, fixes and the rest"),
}


def theme_heatmap_figure(tables: ThemeTables, kind: str = "issue") -> go.Figure:
    """Issue frequency per interviewee: interviewees (rows, natural order) x themes
    (columns, grouped and ordered by lifecycle stage); a cell is the number of the
    interviewee's answers in the theme that raise an issue. Buttons switch to the answers
    that describe a fix, and to all answers. Hover: theme, interviewee, count and one
    exemplar quote.

    Args:
        tables: the theme tables (their ``answers`` carry ``kind``: issue / fix / "").
        kind: the view shown first: ``issue`` (default), ``fix`` or ``all``.

    Example:
        >>> t = ThemeTables(pd.DataFrame({"turn_id": ["a", "b", "c"], "speaker_id": ["I1", "I1", "I2"],
        ...     "topic": [0, 0, 1], "theme": ["labels", "labels", "drift"], "stage": ["data", "data", "other"],
        ...     "kind": ["issue", "", "fix"], "text": ["x", "y", "z"]}),
        ...     pd.DataFrame({"topic": [0, 1], "theme": ["labels", "drift"], "stage": ["data", "other"],
        ...                   "stage_name": ["Data", "Other"], "answers": [2, 1]}), {"data": "Data", "other": "Other"})
        >>> [list(row) for row in theme_heatmap_figure(t).data[0].z]
        [[1, 0], [0, 0]]
        >>> [list(row) for row in theme_heatmap_figure(t, kind="fix").data[0].z]
        [[0, 0], [0, 1]]
    """
    if kind not in HEATMAP_VIEWS:
        raise ValueError(f"kind must be one of {sorted(HEATMAP_VIEWS)}, not {kind!r}")
    if tables.themes.empty:
        return empty_figure("Issue frequency per interviewee and theme", NO_THEMES)
    answers = tables.answers
    people = natural_sorted(answers["speaker_id"].unique())
    topics = tables.themes["topic"].tolist()
    theme_names = dict(zip(tables.themes["topic"], tables.themes["theme"]))
    stage_of = dict(zip(tables.themes["topic"], tables.themes["stage_name"]))
    columns = _theme_axis(tables.themes)
    views = {}
    for view in HEATMAP_VIEWS:
        picked = answers if view == "all" else answers[answers["kind"] == view]
        counts = pd.crosstab(picked["speaker_id"], picked["topic"]).reindex(index=people, columns=topics, fill_value=0)
        # exemplar: the interviewee's longest answer of this view in the theme (most context for a reader)
        exemplar = (
            picked.assign(_len=picked["text"].str.len())
            .sort_values(["_len", "turn_id"], ascending=[False, True])
            .drop_duplicates(["speaker_id", "topic"])
            .set_index(["speaker_id", "topic"])["text"]
        )
        what = {"issue": "answers raising it as an issue", "fix": "answers describing a fix", "all": "answers"}[view]
        hover = [
            [
                (
                    f"<b>{esc(theme_names[t], 80)}</b> ({esc(stage_of[t])})<br>{esc(p)}: {counts.at[p, t]} {what}"
                    + (f"<br><i>“{esc(exemplar.get((p, t), ''), 160)}”</i>" if counts.at[p, t] else "")
                )
                for t in topics
            ]
            for p in people
        ]
        views[view] = (counts.to_numpy().tolist(), hover)
    z, hover = views[kind]
    band, buttons = 22, 34
    fig, geo = _heatmap(
        z, [esc(p) for p in people], columns, hover=hover, title_text=HEATMAP_VIEWS[kind][1],
        x_title="Theme (grouped by lifecycle stage)", y_title="Interviewee", colour_title="answers",
        extra_top=band + buttons,
    )
    # stage bands above the columns: a box as wide as the stage's columns, its name cut to fit (full on hover)
    colours = _stage_colour(tables.stage_names)
    themes = tables.themes.reset_index(drop=True)
    runs = (themes["stage"] != themes["stage"].shift()).cumsum()
    for _, group in themes.groupby(runs, sort=False):
        first, last = int(group.index.min()), int(group.index.max())
        stage = group["stage"].iloc[0]
        name = str(tables.stage_names.get(stage, stage))
        px = geo["col_px"] * (last - first + 1) - 2
        fig.add_annotation(
            x=(first + last) / 2,
            xref="x",
            y=1.0 + 3 / geo["plot_h"],
            yref="paper",
            yanchor="bottom",
            showarrow=False,
            text=esc(name, max(1, int(px / (10 * 0.6)) - 1)) if px >= 14 else "",
            hovertext=esc(name),
            width=max(px, 4),
            height=band - 6,
            bgcolor=colours.get(stage, "#999999"),
            opacity=0.85,
            font={"size": 10, "color": "#000000" if colours.get(stage) != "#000000" else "#FFFFFF"},
        )
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 0,
                "xanchor": "left",
                "y": 1.0 + (band + 4) / geo["plot_h"],
                "yanchor": "bottom",
                "pad": {"t": 0, "b": 0, "l": 0, "r": 0},
                "showactive": True,
                "active": list(HEATMAP_VIEWS).index(kind),
                "font": {"size": 11},
                "buttons": [
                    {
                        "label": label,
                        "method": "update",
                        "args": [
                            {"z": [views[v][0]], "customdata": [views[v][1]],
                             "colorbar.dtick": max(1, nice_step(max(max(r) for r in views[v][0]) if people else 0, 5))},
                            {"title.text": title(text, geo["width"], band + buttons)[0]["text"]},
                        ],
                    }
                    for v, (label, text) in HEATMAP_VIEWS.items()
                ],
            }
        ]
    )
    return fit_title(fig)


def interviewees_per_theme_figure(tables: ThemeTables) -> go.Figure:
    """How many interviewees mention each theme (bars sorted by that number, largest on
    top), coloured by the theme's stage, next to how many raise it as an issue and how
    many describe a mitigation (one interviewee can do both). One legend entry per stage
    and per kind, each in its own colour.

    Example:
        >>> t = ThemeTables(pd.DataFrame({"turn_id": ["a", "b", "c"], "speaker_id": ["I1", "I2", "I2"],
        ...     "topic": [0, 0, 0], "theme": ["labels"] * 3, "stage": ["data"] * 3,
        ...     "kind": ["issue", "issue", "fix"], "text": ["x", "y", "z"]}),
        ...     pd.DataFrame({"topic": [0], "theme": ["labels"], "stage": ["data"], "stage_name": ["Data"],
        ...                   "answers": [3]}),
        ...     {"data": "Data"})
        >>> [(tr.name, tr.x) for tr in interviewees_per_theme_figure(t).data]
        [('Data', (2,)), ('raise it as an issue', (2,)), ('describe a mitigation', (1,))]
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
    themes = themes.sort_values(["mention", "answers", "topic"], ascending=[False, False, True])
    names = _theme_axis(themes)
    colours = _stage_colour(tables.stage_names)
    fig = go.Figure()
    # one trace per stage (not one trace coloured bar by bar): its legend swatch is the stage's colour
    stages = [s for s in tables.stage_names if s in set(themes["stage"])]
    stages += [s for s in dict.fromkeys(themes["stage"]) if s not in stages]
    for rank, stage in enumerate(stages):
        mine = themes["stage"] == stage
        name = esc(tables.stage_names.get(stage, stage))
        fig.add_bar(
            y=[n for n, m in zip(names, mine) if m],
            x=themes.loc[mine, "mention"].tolist(),
            orientation="h",
            name=name,
            legendrank=rank,
            offsetgroup="mention",
            marker_color=colours.get(stage, "#999999"),
            hovertemplate="%{y}<br>" + name + "<br>%{x} interviewees mention it<extra></extra>",
        )
    # kinds in greys: every colour of the palette may be a stage's
    for rank, (kind, name, colour, pattern, says) in enumerate(
        (("issue", "raise it as an issue", "#555555", "", "raise it as an issue"),
         ("fix", "describe a mitigation", "#AAAAAA", "/", "describe a mitigation"))
    ):
        fig.add_bar(y=names, x=themes[kind].tolist(), orientation="h", name=name, marker_color=colour,
                    marker_pattern_shape=pattern, offsetgroup=kind, legendrank=100 + rank,
                    hovertemplate="%{y}<br>%{x} interviewees " + says + "<extra></extra>")
    fig.update_layout(**_bar_rows_layout(names, "Interviewees per theme (bar colour: lifecycle stage of the theme)",
                                         per_row=2.2, legend=[t.name for t in fig.data]))
    fig.update_layout(
        barmode="group",
        xaxis=count_axis(int(themes["mention"].max()), "Interviewees"),
        yaxis_title="Theme",
    )
    return fit_title(fig)


def stage_distribution_figure(predictions: pd.DataFrame, stage_names: dict[str, str]) -> go.Figure:
    """Coded answers per lifecycle stage (rows, taxonomy order), split by kind (issue /
    fix); answers marked ``uncertain`` (to check) in a lighter shade of their kind.

    Example:
        >>> p = pd.DataFrame({"stages": ["data", "data;other", ""], "kind": ["issue", "fix", ""]})
        >>> [tr.x for tr in stage_distribution_figure(p, {"data": "Data", "other": "Other"}).data]
        [(1, 0), (1, 1)]
    """
    lists = predictions["stages"].map(stage_list)
    unsure = (predictions["uncertain"].astype(bool) if "uncertain" in predictions
              else pd.Series(False, index=predictions.index))
    names = unique_labels([esc(n) for n in stage_names.values()], 40)
    fig = go.Figure()
    shades = (("issue", False, KIND_COLOURS["issue"], ""), ("fix", False, KIND_COLOURS["fix"], "/"))
    if unsure.any():
        shades += (("issue", True, "#F3B58F", ""), ("fix", True, "#8FD3BE", "/"))
    totals = [0] * len(stage_names)
    for kind, uncertain, colour, pattern in shades:
        counts = [
            sum(1 for st, k, u in zip(lists, predictions["kind"], unsure) if s in st and k == kind and u == uncertain)
            for s in stage_names
        ]
        totals = [a + b for a, b in zip(totals, counts)]
        label = f"{kind}, uncertain (to check)" if uncertain else kind
        fig.add_bar(
            y=names,
            x=counts,
            name=label,
            orientation="h",
            marker_color=colour,
            marker_pattern_shape=pattern,
            hovertemplate="%{y}<br>" + label + ": %{x} answers<extra></extra>",
        )
    fig.update_layout(**_bar_rows_layout(names, "Coded answers per lifecycle stage",
                                         legend=["Kind"] + [t.name for t in fig.data]))
    fig.update_layout(
        barmode="stack",
        yaxis_title="Stage",
        xaxis=count_axis(max(totals, default=0), "Answers"),
        legend_title_text="Kind",
    )
    return fit_title(fig)


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
    z = both.to_numpy().tolist()
    hover = [[f"{a}<br>{b}<br>{z[i][j]} interviewees mention both" for j, b in enumerate(names)]
             for i, a in enumerate(names)]
    fig, _ = _heatmap(z, names, names, hover=hover, title_text="Co-occurrence of themes within interviewees",
                      x_title="Theme", y_title="Theme", colour_title="interviewees")
    return fit_title(fig)


def saturation_figure(saturation: pd.DataFrame) -> go.Figure:
    """Share of all themes reached after k interviews (line, with its 95% band) and new
    themes per added interview (bars, right axis with round ticks), averaged over random
    interview orders.

    Example:
        >>> s = pd.DataFrame({"interviews": [1, 2, 3], "new_themes": [26.77, 1.87, 0.93],
        ...     "share_reached": [0.9, 0.97, 1.0], "share_low": [0.8, 0.9, 1.0], "share_high": [1.0, 1.0, 1.0]})
        >>> saturation_figure(s).layout.yaxis2.dtick
        10
    """
    k = saturation["interviews"].tolist()
    fig = go.Figure()
    fig.add_bar(
        x=k,
        y=saturation["new_themes"].tolist(),
        name="new themes (mean)",
        marker_color=PALETTE[1],
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
        line={"color": PALETTE[4]},
        hovertemplate="after %{x} interviews: %{y:.0%} of themes<extra></extra>",
    )
    new_top = float(saturation["new_themes"].max()) if len(saturation) else 1.0
    step = nice_step(new_top, 5)
    head, top = title("Thematic saturation: themes reached as interviews are added (random orders)", None, 34)
    fig.update_layout(
        title=head,
        height=460,
        margin={"t": top, "b": 60, "r": 70},
        xaxis=count_axis(max(k, default=1), "Interviews added", range=[0.5, max(k, default=1) + 0.5]),
        yaxis={"title": {"text": "Share of all themes"}, "tickformat": ".0%", "range": [0, 1.02], "dtick": 0.2},
        yaxis2={"title": {"text": "New themes per interview (mean)"}, "overlaying": "y", "side": "right",
                "showgrid": False, "tickmode": "linear", "tick0": 0, "dtick": step,
                "tickformat": "d" if step >= 1 else ".1f", "range": [0, new_top * 1.05 or 1]},
        template="plotly_white",
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
    )
    return fit_title(fig)


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
        name="suite", marker={"size": [8 + 22 * n / biggest for n in sizes], "color": PALETTE[4]},
        customdata=sizes, hovertemplate="predicted %{x:.2f}<br>coded by the humans %{y:.2f}<br>%{customdata} answers"
        "<extra></extra>")
    brier = calibration.get("brier")
    note = "" if brier is None else f" (Brier {brier:.3f}; always the base rate: {calibration['base_rate_brier']:.3f})"
    head, top = title("Is P(coded) calibrated?" + note, None)
    fig.update_layout(title=head, template="plotly_white", height=440 + top, margin={"t": top + 10},
                      xaxis={"title": {"text": "P(coded) the suite gave"}, "range": [-0.04, 1.04], "dtick": 0.2},
                      yaxis={"title": {"text": "Share the human coders coded"}, "range": [-0.04, 1.04], "dtick": 0.2})
    return fit_title(fig)
