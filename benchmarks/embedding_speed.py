"""Embedding throughput and fidelity: plain fp32 ``encode`` vs the suite's path, or vs ONNX Runtime.

Side by side in one run on the same turns (the substantive interviewee turns of the
corpus): the model's own fp32 encode (truncates at its limit), the suite's path on a cold
cache (chunks over-long turns, writes the cache, in the configured ``embedding.precision``
or ``--precision``), and the suite's path again on the warm cache (must embed nothing).
Prints turns/s and the cosine between the plain vectors and the suite's: over the turns
the suite does not chunk (where only the precision differs) its minimum and how many fall
below 0.985 (issue 14's bar for a faster path).

With ``--onnx`` (needs ``pip install -e '.[onnx]'``; skipped with a message without
onnxruntime) it instead compares three paths on the same turns: the plain
sentence-transformers fp32 encode (the reference), the model's transformer exported to
ONNX (fp32) and that export dynamically quantised to int8, both run by ONNX Runtime with
the same tokenizer, 256-token truncation, length-sorted batches, mean pooling and
normalisation. Runs are interleaved and repeated so that background load hits every path
alike; prints turns/s per run, and the min / 1st percentile / mean cosine to the reference
over every turn and how many turns fall below 0.985 (issue 14's bar for a faster path).

    .venv/bin/python benchmarks/embedding_speed.py [--data ../shared/corpus/transcripts] [--limit N] [--precision bf16]
    .venv/bin/python benchmarks/embedding_speed.py --onnx [--repeats 2] [--threads 2]
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
from analysis.embeddings import PRECISIONS, Embedder
from analysis.transcripts import SubstanceSettings, load_corpus, mark_substantive

COSINE_BAR = 0.985  # issue 14: a faster path must keep every answer at least this close to fp32
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model, path: Path) -> Path:
    """Export the sentence-transformers model's transformer (token embeddings only) to ONNX.

    Pooling and normalisation stay outside the graph (numpy, as in :func:`onnx_encode`),
    so the int8 model differs from the fp32 one only in its quantised weights.
    """
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = model.preprocess(["An example answer.", "Another one, longer than that."])
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=model.max_seq_length)
    torch.onnx.export(
        LastHiddenState(model[0].auto_model).eval(),
        tuple(sample[k] for k in ONNX_INPUTS),
        str(path),
        input_names=list(ONNX_INPUTS),
        output_names=["last_hidden_state"],
        dynamic_shapes={k: {0: batch, 1: seq} for k in ONNX_INPUTS},
        dynamo=True,
        opset_version=18,
        verbose=False,
    )
    return path


INT8_VARIANTS = {
    # name: (per-channel weight scales, keep the feed-forward output MatMuls in fp32)
    "per-tensor": (False, False),
    "per-channel": (True, False),
    "per-channel-fp32-ffn-out": (True, True),
}


def quantize_int8(fp32_path: Path, int8_path: Path, variant: str) -> Path:
    """Dynamic int8 quantisation (``onnxruntime.quantization.quantize_dynamic``, QInt8 weights,
    activations quantised per batch at run time) of the MatMuls with constant weights: the 36
    linear layers (Q, K, V, attention output, feed-forward in and out of each of the 6 layers).
    Attention's QK and AV products, embeddings, LayerNorm, GELU and softmax stay fp32.

    ``variant`` (see ``INT8_VARIANTS``): one scale per weight matrix or per output column, and
    optionally the 6 feed-forward output MatMuls (input 1536 wide, after GELU) left in fp32.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    per_channel, keep_ffn_out = INT8_VARIANTS[variant]
    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    inputs_of = {w.name: w.dims[0] for w in graph.initializer if len(w.dims) == 2}  # MatMul weights are [in, out]
    linear = {n.name: inputs_of[n.input[1]] for n in graph.node if n.op_type == "MatMul" and n.input[1] in inputs_of}
    widest = max(linear.values())  # the feed-forward output layers read the 1536-wide intermediate activations
    exclude = [name for name, width in linear.items() if keep_ffn_out and width == widest]
    print(
        f"int8 {variant}: {len(linear) - len(exclude)} of {len(linear)} weight MatMuls int8, {len(exclude)} kept fp32"
    )
    quantize_dynamic(
        str(fp32_path),
        str(int8_path),
        op_types_to_quantize=["MatMul"],
        per_channel=per_channel,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude,
    )
    return int8_path


def onnx_session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_encode(session, model, texts: list[str], batch_size: int) -> np.ndarray:
    """Unit vectors of ``texts`` as ``model.encode`` computes them, with ``session`` as the transformer:
    the model's own tokenisation (its 256-token truncation), batches of texts sorted by length,
    mean of the token embeddings over the attention mask, L2 normalisation."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.empty((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        features = model.preprocess([texts[i] for i in rows])
        feed = {k: features[k].numpy() for k in ONNX_INPUTS}
        tokens = session.run(None, feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        out[rows] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return out


def cosine_summary(reference: np.ndarray, vectors: np.ndarray) -> tuple[float, float, float, int]:
    """Min, 1st percentile and mean cosine of each row to the reference row, and rows below the bar."""
    cos = (reference * vectors).sum(axis=1) / (np.linalg.norm(reference, axis=1) * np.linalg.norm(vectors, axis=1))
    return float(cos.min()), float(np.percentile(cos, 1)), float(cos.mean()), int((cos < COSINE_BAR).sum())


def compare_onnx(embedder: Embedder, texts: list[str], repeats: int, threads: int, variants: list[str]) -> None:
    """Plain sentence-transformers fp32 vs ONNX Runtime fp32 vs ONNX Runtime int8 (see the module doc)."""
    try:
        import onnx  # noqa: F401 - the exporter writes through it
        import onnxruntime as ort
        import onnxscript  # noqa: F401 - torch's ONNX exporter needs it
    except ImportError as exc:
        print(f"--onnx skipped: {exc.name} is not installed (pip install -e '.[onnx]')")
        return
    import torch

    torch.set_num_threads(threads)
    model = embedder.model
    print(
        f"threads: {threads} (torch and ONNX Runtime intra-op); onnxruntime {ort.__version__}, "
        f"torch {torch.__version__}; max_seq_length {model.max_seq_length}; batch {embedder.batch_size}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )

    def onnx_path(session):
        return lambda batch: onnx_encode(session, model, batch, embedder.batch_size)

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        fp32_path = export_onnx(model, Path(folder) / "model.onnx")
        print(f"export to ONNX: {time.perf_counter() - started:.1f} s")
        paths = {
            "sentence-transformers fp32": embedder.encode_plain,
            "ONNX Runtime fp32": onnx_path(onnx_session(fp32_path, threads)),
        }
        for variant in variants:
            started = time.perf_counter()
            int8_path = quantize_int8(fp32_path, Path(folder) / f"model.int8.{variant}.onnx", variant)
            fp32_mb = sum(f.stat().st_size for f in Path(folder).glob("model.onnx*")) / 1e6
            print(
                f"int8 {variant}: quantised in {time.perf_counter() - started:.1f} s, "
                f"{int8_path.stat().st_size / 1e6:.1f} MB (fp32 {fp32_mb:.1f} MB)"
            )
            paths[f"ONNX Runtime int8 {variant}"] = onnx_path(onnx_session(int8_path, threads))
        for encode in paths.values():
            encode(texts[:64])  # warm up each path before timing

        rates: dict[str, list[float]] = {name: [] for name in paths}
        vectors: dict[str, np.ndarray] = {}
        for run in range(repeats):
            # interleaved, order reversed every other run: load that drifts during a run hits all paths alike
            names = list(paths) if run % 2 == 0 else list(reversed(paths))
            for name in names:
                started = time.perf_counter()
                vectors[name] = paths[name](texts)
                rates[name].append(len(texts) / (time.perf_counter() - started))
                print(
                    f"  run {run + 1}: {name:<40} {rates[name][-1]:7.1f} turns/s "
                    f"(load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )

    reference = vectors["sentence-transformers fp32"]
    print(
        f"\n{'path':<40} {'turns/s per run':>16} {'vs fp32':>8} {'cos min':>8} {'cos p1':>8} {'cos mean':>8} "
        f"{'<' + str(COSINE_BAR):>7}"
    )
    for name in paths:
        low, p1, mean, below = cosine_summary(reference, vectors[name])
        runs = " / ".join(f"{r:.1f}" for r in rates[name])
        # speed-up per run against the reference's run of the same round, then the median of those
        ratio = np.median(np.array(rates[name]) / np.array(rates["sentence-transformers fp32"]))
        print(f"{name:<40} {runs:>16} {ratio:7.2f}x {low:8.4f} {p1:8.4f} {mean:8.4f} {below:7d}")
    print(
        f"(cosine over all {len(texts)} turns to the sentence-transformers fp32 vectors of the last run; "
        f"a faster path must keep every turn at {COSINE_BAR} or above)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "corpus" / "transcripts")
    )
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--precision", choices=PRECISIONS, help="default: embedding.precision")
    parser.add_argument("--onnx", action="store_true", help="compare with ONNX Runtime fp32 and int8 instead")
    parser.add_argument("--repeats", type=int, default=2, help="--onnx: interleaved runs of each path")
    parser.add_argument("--threads", type=int, default=2, help="--onnx: intra-op threads of every path")
    parser.add_argument(
        "--int8",
        nargs="+",
        choices=list(INT8_VARIANTS),
        default=["per-tensor", "per-channel"],
        help="--onnx: int8 quantisations to measure",
    )
    args = parser.parse_args()

    cfg = load_config()
    turns = mark_substantive(load_corpus(args.data).turns, SubstanceSettings())
    texts = turns.loc[turns["substantive"], "text"].tolist()[: args.limit]
    print(f"corpus: {args.data}")
    print(f"turns: {len(texts)} substantive interviewee turns, {sum(len(t.split()) for t in texts)} words")

    if args.onnx:
        embedder = Embedder(
            cfg.embedding.model, batch_size=cfg.embedding.batch_size, show_progress=False, precision="fp32"
        )
        compare_onnx(embedder, texts, args.repeats, args.threads, args.int8)
        return

    with tempfile.TemporaryDirectory() as cache_dir:
        embedder = Embedder(
            cfg.embedding.model,
            cache_dir=cache_dir,
            batch_size=cfg.embedding.batch_size,
            show_progress=False,
            precision=args.precision or cfg.embedding.precision,
        )
        print(f"suite precision: {embedder.precision} (asked: {args.precision or cfg.embedding.precision})")
        embedder.encode_plain(texts[:64])  # load and warm up the models before timing
        embedder.embed(texts[:64])
        embedder.stats = type(embedder.stats)()
        embedder.cache = type(embedder.cache)(Path(cache_dir) / "timed")  # the timed pass starts cold

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
    whole = np.array([len(embedder.chunks(t)) == 1 for t in texts])
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
    print(f"cosine plain fp32 vs suite, all turns: mean {cos.mean():.4f}, min {cos.min():.4f}")
    print(
        f"cosine plain fp32 vs suite, the {int(whole.sum())} turns not chunked: min {cos[whole].min():.6f}, "
        f"mean {cos[whole].mean():.6f}, below {COSINE_BAR}: {int((cos[whole] < COSINE_BAR).sum())}"
    )
    print(f"warm vectors equal cold vectors: {np.array_equal(suite, again)}")


if __name__ == "__main__":
    main()
