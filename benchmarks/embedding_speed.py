"""Embedding throughput and fidelity: plain fp32 ``encode`` vs the suite's path.

Side by side in one run on the same turns (the substantive interviewee turns of the
corpus): the model's own encode (truncates at its limit), the suite's path on a cold
cache (chunks over-long turns, writes the cache), and the suite's path again on the
warm cache (must embed nothing). Prints turns/s and the mean and minimum cosine
between the plain vectors and the suite's.

    .venv/bin/python benchmarks/embedding_speed.py [--data ../shared/corpus/transcripts] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from analysis import load_config
from analysis.embeddings import Embedder
from analysis.transcripts import SubstanceSettings, load_corpus, mark_substantive


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "corpus" / "transcripts")
    )
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    cfg = load_config()
    turns = mark_substantive(load_corpus(args.data).turns, SubstanceSettings())
    texts = turns.loc[turns["substantive"], "text"].tolist()[: args.limit]
    print(f"corpus: {args.data}")
    print(f"turns: {len(texts)} substantive interviewee turns, {sum(len(t.split()) for t in texts)} words")

    with tempfile.TemporaryDirectory() as cache_dir:
        embedder = Embedder(
            cfg.embedding.model, cache_dir=cache_dir, batch_size=cfg.embedding.batch_size, show_progress=False
        )
        embedder.encode_plain(texts[:64])  # load and warm up the model before timing

        started = time.perf_counter()
        plain = embedder.encode_plain(texts)
        plain_s = time.perf_counter() - started

        started = time.perf_counter()
        suite = embedder.embed(texts)
        suite_s = time.perf_counter() - started
        cold_stats = embedder.stats

        embedder.stats = type(cold_stats)()
        started = time.perf_counter()
        again = embedder.embed(texts)
        warm_s = time.perf_counter() - started

    cos = (plain * suite).sum(axis=1)
    over = cold_stats.chunked_texts
    print(f"plain fp32 encode:      {len(texts) / plain_s:7.1f} turns/s  ({plain_s:.1f} s)")
    print(
        f"suite path, cold cache: {len(texts) / suite_s:7.1f} turns/s  ({suite_s:.1f} s; "
        f"{over} over-long turns cut into {cold_stats.chunks - len(texts) + over} chunks)"
    )
    print(
        f"suite path, warm cache: {len(texts) / warm_s:7.1f} turns/s  ({warm_s:.2f} s; "
        f"embedded {embedder.stats.embedded}, from cache {embedder.stats.from_cache})"
    )
    print(f"speed-up of suite path over plain: {plain_s / suite_s:.2f}x")
    print(
        f"cosine plain vs suite: mean {cos.mean():.4f}, min {cos.min():.4f}; "
        f"identical where not chunked: {np.allclose(cos[cos < 0.9999].size, over)}"
    )
    print(f"warm vectors equal cold vectors: {np.array_equal(suite, again)}")


if __name__ == "__main__":
    main()
