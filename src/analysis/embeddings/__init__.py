"""Step 2, embed: sentence-transformers vectors of the answers, cached by model and text."""

from ._cache import EmbeddingCache, text_key
from ._embedder import (
    BUNDLED_MODEL,
    Embedder,
    EmbeddingSettings,
    EmbedStats,
    model_problem,
    nearest_answers,
    resolve_model_path,
)

__all__ = [
    "BUNDLED_MODEL",
    "EmbedStats",
    "Embedder",
    "EmbeddingCache",
    "EmbeddingSettings",
    "model_problem",
    "nearest_answers",
    "resolve_model_path",
    "text_key",
]
