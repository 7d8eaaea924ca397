"""The embedding cache: vectors in SQLite keyed by ``sha256(model id, text)``, so a
re-run embeds only new or changed answers. Each :meth:`EmbeddingCache.put` is one
SQLite transaction (a killed run keeps what was committed); a cache file that SQLite
cannot read is logged, deleted and started afresh, never a crash."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def text_key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x00{text}".encode("utf-8")).hexdigest()


class EmbeddingCache:
    """SQLite store of vectors keyed by ``sha256(model id, text)``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "cache.sqlite"
        try:
            self._create()
        except sqlite3.DatabaseError as exc:
            self._discard(exc)
            self._create()

    def _create(self) -> None:
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors "
                "(key TEXT PRIMARY KEY, model TEXT NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL)"
            )
            db.execute("SELECT COUNT(*) FROM vectors").fetchone()  # reads the file: a broken one fails here

    def _discard(self, exc: Exception) -> None:
        """A cache SQLite cannot read (truncated, overwritten) is a miss for every text."""
        logger.warning("embedding cache %s cannot be read (%s); deleted, answers are embedded again", self.path, exc)
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _connect(self):
        return sqlite3.connect(self.path)

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Vectors of the ``keys`` in the cache; a broken cache is discarded (all miss)."""
        try:
            return self._get(keys)
        except sqlite3.DatabaseError as exc:
            self._discard(exc)
            self._create()
            return {}

    def _get(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._connect() as db:
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                marks = ",".join("?" * len(batch))
                for key, dim, blob in db.execute(f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", batch):
                    if not isinstance(blob, bytes) or dim <= 0 or len(blob) != 4 * dim:
                        continue  # a damaged row is a miss for that text
                    found[key] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put(self, model_id: str, items: dict[str, np.ndarray]) -> None:
        """Store ``items`` in one transaction; a failed write (full disk) only loses the cache."""
        rows = [(k, model_id, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()]
        try:
            with self._connect() as db:
                db.executemany("INSERT OR REPLACE INTO vectors (key, model, dim, vec) VALUES (?, ?, ?, ?)", rows)
        except sqlite3.DatabaseError as exc:
            logger.warning("embedding cache %s: %d vectors not stored (%s)", self.path, len(rows), exc)

    def __len__(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
