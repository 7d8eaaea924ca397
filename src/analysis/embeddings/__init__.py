"""Step 2, embed: sentence-transformers vectors of the answers, cached by model and text."""

from ._cache import EmbeddingCache, text_key
from ._embedder import (
    BUNDLED_MODEL,
    PRECISIONS,
    Embedder,
    EmbeddingSettings,
    EmbedStats,
    model_problem,
    native_bf16,
    nearest_answers,
    resolve_model_path,
    resolve_precision,
)

__all__ = [
    "BUNDLED_MODEL",
    "PRECISIONS",
    "EmbedStats",
    "Embedder",
    "EmbeddingCache",
    "EmbeddingSettings",
    "model_problem",
    "native_bf16",
    "nearest_answers",
    "resolve_model_path",
    "resolve_precision",
    "text_key",
]
