"""BERTopic's own figures for the topic notebook, made offline-safe (escaped hover
text, no progress bars); each returns a ``plotly.graph_objects.Figure``."""

from __future__ import annotations

import contextlib
import html
import io
import textwrap

from ._charts import empty_figure

NO_TOPICS = (
    "No topics: every answer is an outlier (-1), so there is nothing to chart here. A corpus this small "
    "rarely has recurring topics; add interviews, or lower topics.min_cluster_size."
)


def _n_topics(model) -> int:
    """Topics the model found, outliers (-1) left out."""
    return sum(1 for t in (model.get_topics() or {}) if t != -1)


@contextlib.contextmanager
def _ctfidf_words_only(model):
    """BERTopic re-runs the representation model (KeyBERTInspired: embeddings of words)
    for every class in ``topics_per_class`` and every merge in ``hierarchical_topics``;
    plain c-TF-IDF words are enough there and take a fraction of the time."""
    saved = model.representation_model
    model.representation_model = None
    try:
        yield model
    finally:
        model.representation_model = saved


def topic_barchart(model, top_n_topics: int = 12):
    """BERTopic's bar chart of the top words of the largest topics; subplot titles
    (topic labels) are wrapped so that neighbours do not overlap."""
    if _n_topics(model) == 0:
        return empty_figure("Top words of the largest topics", NO_TOPICS)
    fig = model.visualize_barchart(
        top_n_topics=top_n_topics,
        n_words=6,
        custom_labels=True,
        title="Top words of the largest topics",
        width=280,
        height=260,
    )
    for annotation in fig.layout.annotations:
        annotation.text = "<br>".join(textwrap.wrap(annotation.text, 30)[:2])
        annotation.font.size = 11
    return fig


def document_map(model, texts: list[str], map_2d):
    """BERTopic's document map: each answer at its 2-D position, coloured by topic."""
    # hover labels render a subset of HTML: transcript text goes in escaped
    texts = [html.escape(" ".join(str(t).split())[:300]) for t in texts]
    return model.visualize_documents(
        texts,
        reduced_embeddings=map_2d,
        custom_labels=True,
        hide_annotations=True,
        title="Answers by topic (2-D map of their embeddings)",
    )


def topic_hierarchy(model, texts: list[str]):
    """BERTopic's hierarchy of topics (Ward linkage of their c-TF-IDF vectors)."""
    if _n_topics(model) < 2:  # a hierarchy needs two topics to join
        return empty_figure("Topic hierarchy", NO_TOPICS if _n_topics(model) == 0 else "One topic: no hierarchy.")
    with contextlib.redirect_stderr(io.StringIO()), _ctfidf_words_only(model):  # its progress bar is noise in a report
        hierarchy = model.hierarchical_topics(texts)
    return model.visualize_hierarchy(hierarchical_topics=hierarchy, custom_labels=True, title="Topic hierarchy")


def topics_per_interviewee(model, texts: list[str], interviewees: list[str], top_n_topics: int = 12):
    """BERTopic's topics-per-class chart with interviewees as classes."""
    if _n_topics(model) == 0:
        return empty_figure("Answers per topic and interviewee", NO_TOPICS)
    with _ctfidf_words_only(model):
        per_class = model.topics_per_class(texts, classes=interviewees)
    return model.visualize_topics_per_class(
        per_class, top_n_topics=top_n_topics, custom_labels=True, title="Answers per topic and interviewee"
    )
