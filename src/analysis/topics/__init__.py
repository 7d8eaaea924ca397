"""Step 3, topics: BERTopic configured for interview speech, its quality figures, and a
researcher's theme renames (a *theme* is a topic as the researcher names it)."""

from ._labels import load_theme_labels, save_theme_label
from ._model import (
    DEFAULT_FILLERS,
    TopicResult,
    TopicSettings,
    fit_topics,
    outlier_threshold_for,
    stop_words,
    topic_quality,
)

__all__ = [
    "DEFAULT_FILLERS",
    "TopicResult",
    "TopicSettings",
    "fit_topics",
    "load_theme_labels",
    "outlier_threshold_for",
    "save_theme_label",
    "stop_words",
    "topic_quality",
]
