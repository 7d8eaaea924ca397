"""Theme charts, checked through their data against counts computed independently from
the processed tables; the explorer, driven through its widgets."""

from __future__ import annotations

import html
import json

import pandas as pd
import pytest

from analysis import export_step, read_table
from analysis.report import (
    ThemeExplorer,
    ThemeTables,
    interviewees_per_theme_figure,
    saturation_figure,
    saturation_table,
    stage_distribution_figure,
    theme_cooccurrence_figure,
    theme_heatmap_figure,
    theme_tables_for,
)
from analysis.topics import load_theme_labels

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(sample_run):
    cfg, _ = sample_run
    tables, original = theme_tables_for(cfg)
    topics = read_table(cfg, "topics")
    turns = read_table(cfg, "turns")
    modelled = topics[topics["topic"] != -1].merge(turns[["turn_id", "speaker_id"]], on="turn_id", suffixes=("_t", ""))
    return cfg, tables, original, modelled, turns


def test_heatmap_cells_are_answer_counts(run):
    cfg, tables, _, modelled, _ = run
    fig = theme_heatmap_figure(tables, kind="all").to_dict()
    heat = fig["data"][0]
    topics = [int(x.split(":")[0][1:]) for x in heat["x"]]
    for i, person in enumerate(heat["y"]):
        for j, topic in enumerate(topics):
            expected = sum(1 for p, t in zip(modelled["speaker_id"], modelled["topic"]) if p == person and t == topic)
            assert heat["z"][i][j] == expected
    # the default view counts the answers that raise an issue, the fixes have their own
    stages = read_table(cfg, "stages")
    kind = dict(zip(stages["turn_id"], stages["kind"]))
    for view, fig in (("issue", theme_heatmap_figure(tables)), ("fix", theme_heatmap_figure(tables, kind="fix"))):
        z = fig.data[0].z
        for i, person in enumerate(heat["y"]):
            for j, topic in enumerate(topics):
                expected = sum(
                    1
                    for p, t, turn in zip(modelled["speaker_id"], modelled["topic"], modelled["turn_id"])
                    if p == person and t == topic and kind.get(turn) == view
                )
                assert z[i][j] == expected, (view, person, topic)
    assert sorted(topics) == sorted(set(modelled["topic"]))
    assert (
        fig["layout"]["title"]["text"]
        and fig["layout"]["xaxis"]["title"]["text"]
        and fig["layout"]["yaxis"]["title"]["text"]
    )
    # themes are grouped by stage: the stage order of the columns never goes back
    order = list(tables.stage_names)
    stage_of = dict(zip(tables.themes["topic"], tables.themes["stage"]))
    ranks = [order.index(stage_of[t]) for t in topics]
    assert ranks == sorted(ranks)


def test_interviewees_per_theme_and_cooccurrence(run):
    _, tables, _, modelled, _ = run
    fig = interviewees_per_theme_figure(tables)
    mention = {}
    for trace in fig.data:
        if trace.offsetgroup == "mention":  # one trace per stage
            mention.update(zip(trace.y, trace.x))
    assert len(mention) == len(tables.themes)
    for name, count in mention.items():
        topic = int(name.split(":")[0][1:])
        assert count == modelled.loc[modelled["topic"] == topic, "speaker_id"].nunique()
    order = list(fig.layout.yaxis.categoryarray)  # top to bottom: most mentioned first
    assert sorted(order) == sorted(mention) and [mention[n] for n in order] == sorted(mention.values(), reverse=True)
    co = theme_cooccurrence_figure(tables).to_dict()["data"][0]
    topics = [int(x.split(":")[0][1:]) for x in co["x"]]
    people = {t: set(modelled.loc[modelled["topic"] == t, "speaker_id"]) for t in topics}
    for i, a in enumerate(topics):
        for j, b in enumerate(topics):
            assert co["z"][i][j] == len(people[a] & people[b])


def test_stage_distribution_counts(run):
    cfg, tables, _, _, _ = run
    predictions = pd.read_csv(cfg.paths.processed / "stage_predictions.csv", keep_default_na=False)
    data = stage_distribution_figure(predictions, tables.stage_names).to_dict()["data"]
    unsure = predictions["uncertain"].astype(str) == "True"
    names = [trace["name"] for trace in data]
    assert names[:2] == ["issue", "fix"]
    if unsure.any():  # the uncertain answers in their own, lighter traces
        assert names[2:] == ["issue, uncertain (to check)", "fix, uncertain (to check)"]
    for trace in data:
        kind = trace["name"].split(",")[0]
        wants_unsure = "uncertain" in trace["name"]
        for stage, count in zip(tables.stage_names, trace["x"]):
            expected = sum(
                1
                for st, k, u in zip(predictions["stages"], predictions["kind"], unsure)
                if stage in st.split(";") and k == kind and u == wants_unsure
            )
            assert count == expected
    total = sum(sum(trace["x"]) for trace in data)
    assert total == sum(len([s for s in st.split(";") if s]) for st in predictions["stages"])


def test_saturation(run):
    _, tables, _, modelled, _ = run
    table = saturation_table(tables, orders=50, seed=1)
    assert len(table) == modelled["speaker_id"].nunique()
    assert table["share_reached"].iloc[-1] == 1.0
    assert table["new_themes"].sum() == pytest.approx(modelled["topic"].nunique())
    assert table["share_reached"].is_monotonic_increasing
    assert table.equals(saturation_table(tables, orders=50, seed=1))  # seeded
    fig = saturation_figure(table).to_dict()
    assert fig["layout"]["xaxis"]["title"]["text"] == "Interviews added"


def test_forty_interviewees_sixty_themes_stay_readable():
    rows = [
        {
            "turn_id": f"{p}-{t}",
            "speaker_id": f"I{p}",
            "topic": t,
            "theme": f"theme number {t}",
            "stage": "data",
            "kind": "issue",
            "text": "x",
        }
        for p in range(40)
        for t in range(60)
        if (p + t) % 3 == 0
    ]
    answers = pd.DataFrame(rows)
    themes = pd.DataFrame(
        {
            "topic": range(60),
            "theme": [f"theme number {t}" for t in range(60)],
            "stage": "data",
            "stage_name": "Data",
            "answers": 1,
        }
    )
    fig = theme_heatmap_figure(ThemeTables(answers, themes, {"data": "Data"}))
    assert len(fig.data[0].y) == 40 and len(fig.data[0].x) == 60
    assert fig.layout.height >= 40 * 16 and fig.layout.width >= 60 * 16


def test_hover_text_is_escaped():
    answers = pd.DataFrame(
        [
            {
                "turn_id": "a",
                "speaker_id": "I1",
                "topic": 0,
                "theme": "<b>x</b>",
                "stage": "data",
                "kind": "issue",
                "text": "<script>alert(1)</script> <img src=x onerror=alert(1)>",
            }
        ]
    )
    themes = pd.DataFrame(
        {"topic": [0], "theme": ["<b>x</b>"], "stage": ["data"], "stage_name": ["Data"], "answers": [1]}
    )
    fig = theme_heatmap_figure(ThemeTables(answers, themes, {"data": "Data"}))
    hover = json.dumps(fig.to_dict())
    assert "<script>" not in hover and "<img" not in hover
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hover


def test_explorer_filters_search_and_rename(run):
    cfg, tables, original, modelled, turns = run
    explorer = ThemeExplorer(turns, tables, original, cfg.paths.theme_labels)
    assert len(explorer.matches()) == len(modelled)
    person = sorted(modelled["speaker_id"].unique())[0]
    explorer.interviewee.value = person
    assert len(explorer.matches()) == int((modelled["speaker_id"] == person).sum())
    assert f"<b>{int((modelled['speaker_id'] == person).sum())}</b> answers" in explorer.output.value
    explorer.interviewee.value = "(all)"
    explorer.search.value = "latency"
    expected = turns.set_index("turn_id").loc[modelled["turn_id"]]
    hits = expected["text"].str.lower().str.contains("latency") | expected["question_text"].fillna(
        ""
    ).str.lower().str.contains("latency")
    assert len(explorer.matches()) == int(hits.sum()) > 0
    explorer.search.value = ""
    stage = tables.themes["stage"].iloc[0]
    explorer.stage.value = stage
    assert set(explorer.matches()["stage"]) == {stage}
    explorer.stage.value = "(all)"
    # rename: saved, shown, and used by later runs and charts
    topic = int(tables.themes["topic"].iloc[0])
    explorer.theme.value = topic
    explorer.new_label.value = "Label noise from busy operators"
    explorer.rename_button.click()
    assert load_theme_labels(cfg.paths.theme_labels, read_table(cfg, "topic_info")) == {
        topic: "Label noise from busy operators"
    }
    again, _ = theme_tables_for(cfg)
    assert "Label noise from busy operators" in again.themes["theme"].tolist()
    assert any("Label noise from busy operators" in x for x in theme_heatmap_figure(again).data[0].x)
    exported = export_step(cfg, cfg.paths.processed / "export_after_rename", formats=("qdc", "csv"))
    assert "Label noise from busy operators" in exported["qdc"].read_text(encoding="utf-8")
    # every quote shows its question and its source line, as the turns table has them
    shown = explorer.matches().head(explorer.page_size)
    assert len(shown) > 0 and explorer.theme.value == topic
    output = explorer.output.value
    assert output.count("Q: ") == len(shown)
    source = turns.set_index("turn_id").loc[shown["turn_id"]]
    for turn_id, row in source.iterrows():
        question = " ".join(str(row["question_text"] or "").split())
        assert f"{html.escape(row['source_file'])}:{int(row['line_start'])}</div>" in output, turn_id
        assert f"Q: {html.escape(question)}</div>" in output, turn_id
