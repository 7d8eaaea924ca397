"""Charts stay legible from 3 to 300 interviewees: checked through each figure's layout
(sizes, tick labels, titles, legends, ticks) on synthetic tables of 3 and 300 interviewees
and on the sample's real tables."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from analysis import read_table, topics_step
from analysis.report import (
    ThemeTables,
    document_map,
    interviewees_per_theme_figure,
    reliability_figure,
    saturation_figure,
    stage_by_interviewee_figure,
    stage_distribution_figure,
    theme_cooccurrence_figure,
    theme_heatmap_figure,
    theme_tables_for,
    topic_stage_figure,
    topics_per_interviewee,
    words_by_role_figure,
)

STAGES = {
    "data": "Data",
    "model_training": "Model training",
    "model_deployment": "Model deployment",
    "ml_pipeline_infrastructure": "ML pipeline and infrastructure",
    "other": "Stakeholders and organisation",
}
TITLE_PX_PER_CHAR = 16 * 0.62  # plotly's title font (16 px), a little wider than average


def synthetic(people: int, topics: int = 36, seed: int = 0) -> ThemeTables:
    """Theme tables of ``people`` interviewees and ``topics`` themes with long, similar labels."""
    rng = np.random.default_rng(seed)
    n = max(people * 8, topics * 6)
    stage_ids = list(STAGES)
    theme_stage = [stage_ids[min(t * len(stage_ids) // topics, len(stage_ids) - 1)] for t in range(topics)]
    label = [f"model monitoring and data drift in production systems, variant {t}" for t in range(topics)]
    answers = pd.DataFrame(
        {
            "turn_id": [f"t{i}" for i in range(n)],
            "speaker_id": [f"I{1 + i % people}" for i in range(n)],
            "topic": rng.integers(0, topics, n),
            "kind": rng.choice(["issue", "fix", ""], n),
            "text": [f"answer {i} <b>markup</b>" for i in range(n)],
        }
    )
    answers["theme"] = answers["topic"].map(dict(enumerate(label)))
    answers["stage"] = answers["topic"].map(dict(enumerate(theme_stage)))
    sizes = answers["topic"].value_counts()
    themes = pd.DataFrame({"topic": range(topics), "theme": label, "stage": theme_stage})
    themes["stage_name"] = themes["stage"].map(STAGES)
    themes["answers"] = themes["topic"].map(sizes).fillna(0).astype(int)
    return ThemeTables(answers, themes, STAGES)


def stage_predictions(tables: ThemeTables) -> tuple[pd.DataFrame, dict[str, str]]:
    p = tables.answers.assign(stages=tables.answers["stage"])
    return p[["turn_id", "stages", "kind"]], dict(zip(p["turn_id"], p["speaker_id"]))


def grid_charts(tables: ThemeTables) -> dict:
    """The charts with one row per interviewee."""
    predictions, speaker_of = stage_predictions(tables)
    summary = tables.answers.groupby("speaker_id").size().rename("words_interviewee").to_frame()
    summary.index = summary.index.str[1:]
    summary["words_interviewer"] = 3
    return {
        "heatmap": theme_heatmap_figure(tables),
        "topics per interviewee": topics_per_interviewee(tables.answers, dict(zip(tables.themes["topic"],
                                                                                 tables.themes["theme"]))),
        "stage by interviewee": stage_by_interviewee_figure(predictions, speaker_of, STAGES),
        "words by role": words_by_role_figure(summary),
    }


def plot_height(fig) -> float:
    return fig.layout.height - fig.layout.margin.t - fig.layout.margin.b


def category_rows(fig) -> list[str]:
    trace = fig.data[0]
    return list(dict.fromkeys(trace.y)) if trace.type == "bar" else list(trace.y)


def all_figures(tables: ThemeTables) -> dict:
    predictions, _ = stage_predictions(tables)
    mix = tables.themes.assign(**{f"share_{s}": 1.0 / len(STAGES) for s in STAGES})
    saturation = pd.DataFrame({"interviews": [1, 2, 3], "new_themes": [26.77, 1.87, 0.93],
                               "share_reached": [0.9, 0.97, 1.0], "share_low": [0.8, 0.9, 1.0],
                               "share_high": [1.0, 1.0, 1.0]})
    return grid_charts(tables) | {
        "interviewees per theme": interviewees_per_theme_figure(tables),
        "co-occurrence": theme_cooccurrence_figure(tables),
        "stage distribution": stage_distribution_figure(predictions, STAGES),
        "topic stages": topic_stage_figure(mix, dict(zip(tables.themes["topic"], tables.themes["theme"])), STAGES),
        "saturation": saturation_figure(saturation),
        "reliability": reliability_figure({"brier": 0.2, "base_rate_brier": 0.25, "units": 30, "bins": [
            {"low": k / 5, "high": (k + 1) / 5, "answers": 3 + k, "predicted": k / 5 + 0.1, "observed": k / 5}
            for k in range(5)
        ]}),
    }


@lru_cache
def tables_of(people: int) -> ThemeTables:
    return synthetic(people)


@lru_cache
def figures_of(people: int) -> dict:
    """Every chart drawn from the synthetic tables of ``people`` interviewees (read only)."""
    return all_figures(tables_of(people))


GRID = ("heatmap", "topics per interviewee", "stage by interviewee", "words by role")


@pytest.mark.parametrize("people", [3, 300])
def test_every_row_has_its_own_tick_label_and_room_for_it(people):
    for name in GRID:
        fig = figures_of(people)[name]
        rows = category_rows(fig)
        assert len(rows) == people, name
        axis = fig.layout.yaxis
        assert list(axis.tickvals) == rows and len(axis.ticktext) == people, name  # no row skipped
        assert all(str(t).strip() for t in axis.ticktext) and len(set(axis.ticktext)) == people, name
        # a 12 px label needs 14 px of row: labels of neighbouring rows never touch
        assert plot_height(fig) / people >= 14, (name, plot_height(fig), people)


def test_heights_grow_with_the_interviewees():
    small, large = figures_of(3), figures_of(300)
    for name in GRID:
        assert small[name].layout.height >= 300, name  # a plot area, not a 50 px strip
        assert plot_height(small[name]) >= 160, name
        assert large[name].layout.height > 10 * plot_height(small[name]) / 3, name


def test_interviewees_in_natural_order():
    tables = synthetic(12)
    for name, fig in grid_charts(tables).items():
        rows = category_rows(fig)
        assert rows[:3] == ["I1", "I2", "I3"] and rows[-3:] == ["I10", "I11", "I12"], (name, rows)


@pytest.mark.parametrize("people", [3, 300])
def test_column_labels_are_distinct_after_abbreviation_and_fit_their_column(people):
    for name in ("heatmap", "topics per interviewee"):  # 36 labels alike in their first 50 characters
        fig = figures_of(people)[name]
        axis = fig.layout.xaxis
        assert len(axis.ticktext) == len(fig.data[0].x) == 36, name
        assert len(set(axis.ticktext)) == 36, name
        plot_w = fig.layout.width - fig.layout.margin.l - fig.layout.margin.r
        column = plot_w / 36
        if axis.tickangle == -90:  # written downwards: a column holds a 12 px line
            assert column >= 14, name
            longest = max(len(t) for t in axis.ticktext)
            assert fig.layout.margin.b >= longest * 12 * 0.6, name
        else:  # wrapped across: each line fits its column
            assert max(len(line) for t in axis.ticktext for line in t.split("<br>")) * 12 * 0.6 <= column, name


def test_titles_fit_the_width_and_the_top_margin():
    for people in (3, 300):
        for name, fig in figures_of(people).items():
            text = fig.layout.title.text
            lines = text.split("<br>")
            width = fig.layout.width or 640  # responsive figures: the narrowest a report page draws them
            assert max(len(line) for line in lines) * TITLE_PX_PER_CHAR <= width - 20, (name, text)
            assert fig.layout.margin.t >= 22 * len(lines) + 30, (name, fig.layout.margin.t)


def test_count_axes_have_titles_and_whole_number_ticks():
    for name, fig in figures_of(3).items():
        for axis in (fig.layout.xaxis, fig.layout.yaxis):
            assert axis.title.text, name
        if fig.data[0].type == "heatmap":
            bar = fig.data[0].colorbar
            assert bar.tickformat == "d" and bar.dtick >= 1 and float(bar.dtick).is_integer(), name
    for name in ("words by role", "stage distribution", "interviewees per theme"):
        axis = figures_of(3)[name].layout.xaxis
        assert axis.tickformat == "d" and float(axis.dtick).is_integer() and axis.dtick >= 1, name
    right = figures_of(3)["saturation"].layout.yaxis2  # new themes: 26.77, 1.87, 0.93
    assert right.title.text and right.tickmode == "linear" and right.dtick in (1, 2, 5, 10) and right.tick0 == 0


def test_the_legend_has_one_entry_per_category_in_its_colour():
    tables = synthetic(30)
    fig = interviewees_per_theme_figure(tables)
    entries = [t for t in fig.data if t.showlegend is not False]
    names = [t.name for t in entries]
    assert len(names) == len(set(names))
    stage_colour = {}
    for trace in entries:
        assert isinstance(trace.marker.color, str), trace.name  # one colour: the swatch is the category's
        stage_colour[trace.name] = trace.marker.color
    present = [STAGES[s] for s in STAGES if s in set(tables.themes["stage"])]
    assert [n for n in names if n in STAGES.values()] == present  # taxonomy order, whatever the bar order
    assert len({stage_colour[n] for n in present}) == len(present)
    assert len({stage_colour[n] for n in names}) == len(names)  # the kinds do not borrow a stage's colour
    # each stage trace holds exactly its themes, with their mention counts
    stage_of = dict(zip(tables.themes["topic"], tables.themes["stage"]))
    mention = tables.answers.groupby("topic")["speaker_id"].nunique()
    for trace in entries:
        if trace.name in present:
            for label, count in zip(trace.y, trace.x):
                topic = int(label.split(":")[0][1:])
                assert STAGES[stage_of[topic]] == trace.name and count == mention[topic]


def test_document_map_tells_36_topics_apart():
    rng = np.random.default_rng(1)
    topics = np.r_[np.repeat(np.arange(36), 5), [-1] * 7]
    labels = {t: f"same long label prefix for every topic, {t}" for t in range(36)}
    texts = [f"answer <script>{i}</script>" for i in range(len(topics))]
    fig = document_map(rng.normal(size=(len(topics), 2)), topics, labels, texts)
    named = [t for t in fig.data if not t.name.startswith("outliers")]
    assert len(named) == 36 and len({t.name for t in fig.data}) == 37
    styles = {(t.marker.color, t.marker.symbol) for t in named}
    assert len(styles) == 36 and all(isinstance(c, str) for c, _ in styles)
    assert sum(len(t.x) for t in fig.data) == len(topics)
    assert all("<script>" not in h for t in fig.data for h in t.hovertext)
    legend_h = 22 * len(fig.data)
    assert plot_height(fig) >= legend_h  # the legend is not cut off or scrolled
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_issue_counts_exclude_fixes():
    tables = synthetic(20)
    a = tables.answers
    for kind, wanted in (("issue", a[a["kind"] == "issue"]), ("fix", a[a["kind"] == "fix"]), ("all", a)):
        fig = theme_heatmap_figure(tables, kind=kind)
        heat = fig.data[0]
        topics = [int(x.split(":")[0][1:]) for x in heat.x]
        for i, person in enumerate(heat.y):
            for j, topic in enumerate(topics):
                expected = int(((wanted["speaker_id"] == person) & (wanted["topic"] == topic)).sum())
                assert heat.z[i][j] == expected, (kind, person, topic)
    # the buttons switch between the same three views
    fig = theme_heatmap_figure(tables)
    views = {b.label: b.args[0]["z"][0] for b in fig.layout.updatemenus[0].buttons}
    assert views["Issues"] == [list(r) for r in fig.data[0].z]
    assert views["Fixes"] == [list(r) for r in theme_heatmap_figure(tables, kind="fix").data[0].z]
    assert sum(map(sum, views["Issues"])) + sum(map(sum, views["Fixes"])) < sum(map(sum, views["All answers"]))


@pytest.mark.slow
def test_topics_per_interviewee_from_the_sample(sample_run):
    cfg, _ = sample_run
    topics, info = read_table(cfg, "topics"), read_table(cfg, "topic_info")
    fig = topics_per_interviewee(topics, info)
    heat = fig.data[0]
    real = topics[topics["topic"] != -1]
    shown = [int(x.split(":")[0][1:]) for x in heat.x]
    assert sorted(shown) == sorted(real["topic"].unique())  # every topic, not only topic 0
    sizes = real["topic"].value_counts()
    assert [sizes[t] for t in shown] == sorted(sizes, reverse=True)  # largest first
    label = dict(zip(info["topic"], info["label"]))
    assert all(x.split(": ", 1)[1].rstrip("…") in label[t] for x, t in zip(heat.x, shown))  # our labels
    assert "Class" not in fig.to_json() and "Global Topic Representation" not in fig.to_json()
    for i, person in enumerate(heat.y):
        for j, t in enumerate(shown):
            assert heat.z[i][j] == int(((real["speaker_id"] == person) & (real["topic"] == t)).sum())
    # the older call form (model, texts, interviewees) draws the same chart
    result, docs = topics_step(cfg)
    old = topics_per_interviewee(result.model, docs["text"].tolist(), docs["speaker_id"].tolist())
    assert [list(r) for r in old.data[0].z] == [list(r) for r in heat.z] and list(old.data[0].y) == list(heat.y)
    new_map = document_map(result.map_2d, result.assignments, result.info, docs["text"].tolist())
    old_map = document_map(result.model, docs["text"].tolist(), result.map_2d)
    assert [(t.name, len(t.x)) for t in new_map.data] == [(t.name, len(t.x)) for t in old_map.data]
    assert sum(len(t.x) for t in new_map.data) == len(docs)


@pytest.mark.slow
def test_sample_heatmap_counts_issues_only(sample_run):
    cfg, _ = sample_run
    tables, _ = theme_tables_for(cfg)
    stages = read_table(cfg, "stages")
    kind = dict(zip(stages["turn_id"], stages["kind"]))
    topics = read_table(cfg, "topics")
    issues = topics[(topics["topic"] != -1) & (topics["turn_id"].map(kind) == "issue")]
    heat = theme_heatmap_figure(tables).data[0]
    assert "raising it as an issue" in theme_heatmap_figure(tables).layout.title.text
    for i, person in enumerate(heat.y):
        for j, x in enumerate(heat.x):
            topic = int(x.split(":")[0][1:])
            assert heat.z[i][j] == int(((issues["speaker_id"] == person) & (issues["topic"] == topic)).sum())
    assert sum(map(sum, heat.z)) == len(issues) < int((topics["topic"] != -1).sum())
