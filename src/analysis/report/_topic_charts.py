"""Charts of the topic notebook, each returning a ``plotly.graph_objects.Figure``: top words
per topic, the document map and topics per interviewee are drawn here from the topic
tables (our labels, our palette, sized to the corpus); the hierarchy is BERTopic's,
made offline-safe and sized to its topics."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .._ids import natural_sorted
from ._charts import _heatmap, empty_figure
from ._layout import (
    FITS,
    FONT,
    OUTLIER_COLOUR,
    PALETTE,
    category_style,
    esc,
    fit_title,
    label_px,
    shorten,
    title,
    unique_labels,
    wrap,
)

NO_TOPICS = (
    "No topics: every answer is an outlier (-1), so there is nothing to chart here. A corpus this small "
    "rarely has recurring topics; add interviews, or lower topics.min_cluster_size."
)


def _n_topics(model) -> int:
    """Topics the model found, outliers (-1) left out."""
    return sum(1 for t in (model.get_topics() or {}) if t != -1)


def _is_model(value) -> bool:
    return hasattr(value, "get_topics") and hasattr(value, "topics_")


def _model_labels(model) -> dict[int, str]:
    """Topic id -> label: the labels the topic step set on the model, else BERTopic's names."""
    info = model.get_topic_info()
    column = "CustomName" if "CustomName" in info else "Name"
    return {int(t): str(n) for t, n in zip(info["Topic"], info[column])}


def _labels(labels) -> dict[int, str]:
    """Topic id -> label from a dict or a topic info table (``topic``, ``label``)."""
    if labels is None:
        return {}
    if isinstance(labels, pd.DataFrame):
        return {int(t): str(n) for t, n in zip(labels["topic"], labels["label"])}
    return {int(t): str(n) for t, n in dict(labels).items()}


def _topic_name(topic: int, labels: dict[int, str], limit: int = 40) -> str:
    return f"T{topic}: {esc(labels.get(topic, str(topic)), limit)}"


@contextlib.contextmanager
def _ctfidf_words_only(model):
    """BERTopic re-runs the representation model (KeyBERTInspired: embeddings of words)
    for every merge in ``hierarchical_topics``; plain c-TF-IDF words are enough there and
    take a fraction of the time."""
    saved = model.representation_model
    model.representation_model = None
    try:
        yield model
    finally:
        model.representation_model = saved


def topic_barchart(model, top_n_topics: int = 12, n_words: int = 6) -> go.Figure:
    """Top words of the largest topics: one panel per topic (two per row), its words as
    horizontal bars of their c-TF-IDF weight; panel titles are the topic labels, wrapped,
    with room between panels for the word labels.

    Args:
        model: the fitted BERTopic model (``result.model``); only its topic words are read.
        top_n_topics: panels drawn, largest topics first.
        n_words: words per panel.
    """
    if _n_topics(model) == 0:
        return empty_figure("Top words of the largest topics", NO_TOPICS)
    info = model.get_topic_info()
    info = info[info["Topic"] != -1].sort_values(["Count", "Topic"], ascending=[False, True]).head(top_n_topics)
    labels = _model_labels(model)
    topics = [int(t) for t in info["Topic"]]
    words = {t: [(esc(w, 24), float(s)) for w, s in (model.get_topic(t) or [])[:n_words]] for t in topics}
    cols = 2 if len(topics) > 1 else 1
    rows = math.ceil(len(topics) / cols)
    width, panel_h, gap_h = FITS, 34 + 20 * n_words, 86
    word_px = label_px([w for t in topics for w, _ in words[t]])
    head, top = title("Top words of the largest topics (c-TF-IDF weight of each word in its topic)", width, 44)
    height = top + rows * panel_h + (rows - 1) * gap_h + 70
    # subplot spacing is a fraction of the figure: from pixels, so word labels never reach the left panel
    spacing_x = min(0.45, (word_px + 40) / (width - word_px - 60)) if cols > 1 else 0.0
    spacing_y = gap_h / (height - top - 70) if rows > 1 else 0.0
    titles = [wrap(_topic_name(t, labels, 90) + f" ({int(n)} answers)", 48, lines=2)
              for t, n in zip(topics, info["Count"])]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=spacing_x,
                        vertical_spacing=spacing_y)
    for k, t in enumerate(topics):
        r, c = divmod(k, cols)
        colour, _ = category_style(k)
        fig.add_bar(
            x=[s for _, s in words[t]],
            y=[w for w, _ in words[t]],
            orientation="h",
            marker_color=colour,
            showlegend=False,
            name=f"T{t}",
            hovertemplate=f"T{t}<br>" + "%{y}: %{x:.3f}<extra></extra>",
            row=r + 1,
            col=c + 1,
        )
        fig.update_yaxes(autorange="reversed", type="category", tickfont={"size": FONT}, row=r + 1, col=c + 1)
        fig.update_xaxes(nticks=4, tickformat=".2f", row=r + 1, col=c + 1,
                         title_text="c-TF-IDF weight" if k >= len(topics) - cols else None)
    for annotation in fig.layout.annotations:  # the subplot titles
        annotation.font.size = 12
    fig.update_layout(title=head, width=width, height=height, template="plotly_white",
                      margin={"t": top, "l": word_px + 20, "r": 30, "b": 70, "autoexpand": False})
    return fit_title(fig)


def document_map(map_2d, topics=None, labels=None, texts=None) -> go.Figure:
    """The document map: each answer at its 2-D position (``result.map_2d``), one trace
    per topic (largest first) in its own colour and marker shape, outliers in light
    grey underneath; hover shows the answer's topic and text (escaped).

    Args:
        map_2d: (n, 2) coordinates, one row per answer.
        topics: the answers' topic ids (a sequence, or a table with a ``topic`` column).
        labels: topic id -> label, or the topic info table (``topic``, ``label``).
        texts: the answers' texts.

    ``document_map(model, texts, map_2d)`` (the form before this one) still works: the
    topics and labels are read from the model.

    Example:
        >>> fig = document_map(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]), [0, 0, -1],
        ...                    {0: "labels"}, ["a", "b", "c"])
        >>> [(t.name, len(t.x)) for t in fig.data]
        [('outliers (1)', 1), ('T0: labels (2)', 2)]
    """
    if _is_model(map_2d):  # document_map(model, texts, map_2d)
        model, texts, map_2d = map_2d, topics, labels
        topics, labels = list(model.topics_), _model_labels(model)
    if isinstance(topics, pd.DataFrame):
        topics = topics["topic"]
    points = np.asarray(map_2d, dtype=float).reshape(-1, 2)
    topic = np.asarray(list(topics), dtype=int)
    texts = [esc(t, 300) for t in texts]
    names = _labels(labels)
    if len(topic) != len(points) or len(texts) != len(points):
        raise ValueError(f"document map: {len(points)} positions, {len(topic)} topics and {len(texts)} texts differ")
    sizes = pd.Series(topic).value_counts()
    order = sorted((t for t in sizes.index if t != -1), key=lambda t: (-sizes[t], t))
    fig = go.Figure()
    legend_names = unique_labels([f"T{t}: {shorten(names.get(int(t), str(t)), 30)}" for t in order], 40)
    if -1 in sizes.index:  # drawn first (underneath the topics), listed last
        mine = topic == -1
        fig.add_scatter(x=points[mine, 0].round(4).tolist(), y=points[mine, 1].round(4).tolist(), mode="markers",
                        name=f"outliers ({int(sizes[-1])})", legendrank=10_000,
                        marker={"color": OUTLIER_COLOUR, "size": 6, "opacity": 0.6},
                        hovertext=[texts[i] for i in np.flatnonzero(mine)],
                        hovertemplate="outlier<br>%{hovertext}<extra></extra>")
    for k, (t, legend) in enumerate(zip(order, legend_names)):
        mine = topic == t
        colour, symbol = category_style(k)
        fig.add_scatter(
            x=points[mine, 0].round(4).tolist(),
            y=points[mine, 1].round(4).tolist(),
            mode="markers",
            name=f"{esc(legend)} ({int(sizes[t])})",
            legendrank=k,
            marker={"color": colour, "symbol": symbol, "size": 9, "opacity": 0.9,
                    "line": {"width": 0.6, "color": "#FFFFFF" if colour != PALETTE[7] else "#777777"}},
            hovertext=[texts[i] for i in np.flatnonzero(mine)],
            hovertemplate=f"<b>{_topic_name(int(t), names, 80)}</b><br>" + "%{hovertext}<extra></extra>",
        )
    head, top = title("Answers by topic (2-D map of their embeddings; colour and shape: topic)", None)
    legend_h = 22 * (len(order) + 1) + 40
    fig.update_layout(
        title=head,
        template="plotly_white",
        height=max(560, legend_h + top + 60),
        margin={"t": top + 10, "b": 60},
        xaxis={"title": {"text": "map dimension 1 (no unit: nearby answers say similar things)"},
               "showticklabels": False, "zeroline": False},
        yaxis={"title": {"text": "map dimension 2"}, "showticklabels": False, "zeroline": False},
        legend={"title": {"text": "Topic (answers)"}, "traceorder": "normal", "itemsizing": "constant",
                "font": {"size": 11}},
    )
    return fit_title(fig)


def topic_hierarchy(model, texts: list[str]) -> go.Figure:
    """BERTopic's hierarchy of topics (Ward linkage of their c-TF-IDF vectors), its height
    growing with the topics so every leaf keeps its label."""
    n = _n_topics(model)
    if n < 2:  # a hierarchy needs two topics to join
        return empty_figure("Topic hierarchy", NO_TOPICS if n == 0 else "One topic: no hierarchy.")
    with contextlib.redirect_stderr(io.StringIO()), _ctfidf_words_only(model):  # its progress bar is noise in a report
        hierarchy = model.hierarchical_topics(texts)
    head, top = title("Topic hierarchy (topics joined by the similarity of their words)", FITS)
    fig = model.visualize_hierarchy(hierarchical_topics=hierarchy, custom_labels=True, title=head["text"],
                                    width=FITS, height=max(360, 26 * n + top + 90))
    fig.update_layout(title=head, margin={"t": top + 10, "b": 60}, xaxis_title="Distance between topics (Ward)")
    return fit_title(fig)


def topics_per_interviewee(data, labels=None, interviewees=None, top_n_topics: int | None = None) -> go.Figure:
    """Answers per topic and interviewee: interviewees (rows, natural order: ``3`` before
    ``11``) x topics (columns, largest first, all of them), a cell the number of the
    interviewee's answers in the topic.

    Args:
        data: the topics table (``topic``, ``speaker_id``; ``topics.parquet``).
        labels: topic id -> label, or the topic info table (``topic``, ``label``).
        top_n_topics: only the largest topics; ``None``: all.

    ``topics_per_interviewee(model, texts, interviewees)`` (the form before this one)
    still works: the topics and labels are read from the model.

    Example:
        >>> t = pd.DataFrame({"topic": [1, 1, 0, -1], "speaker_id": ["I11", "I3", "I3", "I3"]})
        >>> fig = topics_per_interviewee(t, {0: "drift", 1: "labels"})
        >>> list(fig.data[0].y), list(fig.data[0].x), [list(r) for r in fig.data[0].z]
        (['I3', 'I11'], ['T1: labels', 'T0: drift'], [[1, 1], [1, 0]])
    """
    if _is_model(data):  # topics_per_interviewee(model, texts, interviewees)
        model = data
        data = pd.DataFrame({"topic": list(model.topics_), "speaker_id": list(interviewees)})
        labels = _model_labels(model)
    names = _labels(labels)
    real = data[data["topic"] != -1]
    if real.empty:
        return empty_figure("Answers per topic and interviewee", NO_TOPICS)
    sizes = real["topic"].value_counts()
    topics = sorted(sizes.index, key=lambda t: (-sizes[t], t))[:top_n_topics]
    people = natural_sorted(data["speaker_id"].astype(str).unique())
    counts = pd.crosstab(real["speaker_id"].astype(str), real["topic"]).reindex(
        index=people, columns=topics, fill_value=0
    )
    columns = [_topic_name(int(t), names) for t in topics]
    hover = [[f"<b>{_topic_name(int(t), names, 100)}</b><br>{esc(p)}: {counts.at[p, t]} answers" for t in topics]
             for p in people]
    fig, _ = _heatmap(counts.to_numpy().tolist(), [esc(p) for p in people], columns, hover=hover,
                      title_text="Answers per topic and interviewee (topics largest first)", x_title="Topic",
                      y_title="Interviewee", colour_title="answers")
    return fit_title(fig)
