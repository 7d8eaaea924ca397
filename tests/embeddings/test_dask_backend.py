"""The Dask backend: two worker processes embed the sample's answers into the same cache,
with the same vectors, as the local path; a warm run never contacts the cluster."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from analysis import AnalysisError, Embedder, load_corpus
from analysis.embeddings import EmbeddingSettings, _embedder
from analysis.transcripts import SubstanceSettings, mark_substantive
from conftest import SAMPLE

pytestmark = pytest.mark.slow

LONG = " ".join(["We spent weeks cleaning missing values in the claims data from three legacy systems."] * 25)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def texts():
    turns = mark_substantive(load_corpus(SAMPLE).turns, SubstanceSettings())
    answers = turns.loc[turns["substantive"], "text"].tolist()
    return [*answers, LONG, answers[0]]  # an over-long answer (chunked) and a repeated one


def cache_rows(folder) -> dict[str, tuple[str, int, np.ndarray]]:
    with sqlite3.connect(folder / "cache.sqlite") as db:
        rows = db.execute("SELECT key, model, dim, vec FROM vectors").fetchall()
    return {key: (model, dim, np.frombuffer(vec, dtype=np.float32)) for key, model, dim, vec in rows}


def test_dask_workers_fill_the_cache_with_the_local_vectors(cluster, texts, tmp_path):
    local = Embedder(cache_dir=tmp_path / "local", show_progress=False)
    expected = local.embed(texts)
    settings = EmbeddingSettings(backend="dask", scheduler=cluster.scheduler_address)
    remote = Embedder.from_settings(settings, cache_dir=tmp_path / "dask", show_progress=False)
    vectors = remote.embed(texts)

    assert vectors.shape == expected.shape == (len(texts), 384)
    assert np.allclose(vectors, expected, rtol=0, atol=1e-6)
    assert remote.stats.embedded == len(set(texts)) and remote.stats.chunked_texts == 1
    assert "model" not in remote.__dict__  # the workers loaded the model, not this process
    ours, theirs = cache_rows(tmp_path / "local"), cache_rows(tmp_path / "dask")
    assert sorted(ours) == sorted(theirs) and len(ours) == len(set(texts))
    for key, (model, dim, vec) in ours.items():
        assert theirs[key][:2] == (model, dim) and np.allclose(theirs[key][2], vec, rtol=0, atol=1e-6)

    warm = Embedder(cache_dir=tmp_path / "dask", show_progress=False, backend="dask", scheduler="tcp://127.0.0.1:9")
    assert np.array_equal(warm.embed(texts), vectors)  # all from the cache: the dead address is never dialled
    assert warm.stats.embedded == 0


def test_an_unreachable_scheduler_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(_embedder, "DASK_CONNECT_TIMEOUT", "2s")  # nothing listens on port 9: no need to wait 15 s
    dead = Embedder(cache_dir=tmp_path, show_progress=False, backend="dask", scheduler="tcp://127.0.0.1:9")
    with pytest.raises(AnalysisError, match=r"embedding\.scheduler: cannot reach the Dask scheduler tcp://127.0.0.1:9"):
        dead.embed(["An answer no cache holds yet, so the workers are needed."])


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"backend": "dask", "scheduler": "localhost:8786"}, "expected a Dask scheduler address"),
        ({"scheduler": "tcp://localhost:8786"}, "only used with backend: dask"),
        ({"backend": "spark"}, "'local' or 'dask'"),
    ],
)
def test_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        EmbeddingSettings(**settings)
