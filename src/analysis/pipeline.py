"""The steps behind the command-line verbs and the notebooks, so the two cannot drift.

Each step reads the tables of the steps before it from ``data/processed`` and writes
its own there:

=============  ================================================================
step           writes
=============  ================================================================
load           ``turns.parquet``, ``line_accounting.parquet``, ``files.parquet``
embed          ``embeddings.parquet`` (and the cache ``embeddings/cache.sqlite``)
topics         ``topics.parquet``, ``topic_info.parquet``, ``topic_quotes.parquet``
stages         ``stages.parquet``, ``stage_predictions.csv``, ``topic_stages.parquet``
agreement      ``agreement.json``
export         ``study.qdpx``, ``codebook.qdc``, CSV and ``.xlsx`` tables
=============  ================================================================
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._last_run import record_run
from .config import Config
from .embeddings import Embedder, EmbedStats, model_problem
from .errors import AnalysisError, ConfigError
from .files import (
    atomic_to_csv,
    atomic_to_parquet,
    atomic_write_text,
    folder_lock,
    remove_stale_temporaries,
    temporary_folder,
)
from .human_codes import (
    CodeMap,
    HumanCodes,
    ReviewLog,
    calibration,
    compare_coders,
    compare_to_consensus,
    evaluate_predictions,
    load_code_map,
    predicted_labels,
    read_codes_folder,
    reference_kinds,
    reference_labels,
    training_labels,
)
from .qda import build_project, coded_segments, interviewee_by_theme, write_qdc, write_qdpx, write_xlsx
from .stages import (
    Oracle,
    StageCoder,
    StageCoding,
    StageSignals,
    Taxonomy,
    load_taxonomy,
    read_stage_csv,
    simulate_review,
    stage_signals,
    topic_stage_mix,
    write_stage_csv,
)
from .topics import TopicResult, fit_topics, load_theme_labels
from .transcripts import LoadedCorpus, load_corpus, mark_substantive, read_pseudonyms


def processed(cfg: Config, name: str) -> Path:
    """A file or folder of ``data/processed``."""
    return Path(cfg.paths.processed) / name


def read_table(cfg: Config, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a table an earlier step wrote (only ``columns``, if given), with a clear
    message when it is missing."""
    path = processed(cfg, f"{name}.parquet")
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist yet: run the step that writes it first (see README)")
    try:
        return pd.read_parquet(path, columns=columns)
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise AnalysisError(f"{path} cannot be read ({exc}); run the step that writes it again") from None


def _locked(step):
    """Run ``step`` holding the processed folder's lock (two runs never write it at once)."""

    @functools.wraps(step)
    def run(cfg: Config, *args, **kwargs):
        with folder_lock(cfg.paths.processed):
            return step(cfg, *args, **kwargs)

    return run


def read_corpus(cfg: Config) -> LoadedCorpus:
    """Read ``cfg.paths.transcripts`` with the configured speaker roles and privacy."""
    pseudonyms = cfg.privacy.pseudonyms
    if isinstance(pseudonyms, Path):
        pseudonyms = cfg.resolve(pseudonyms)
    return load_corpus(
        cfg.paths.transcripts,
        speaker_roles=dict(cfg.ingest.speaker_roles),
        keep_names=cfg.privacy.keep_names,
        names=list(cfg.privacy.names),
        pseudonyms=read_pseudonyms(pseudonyms),
        max_uncompressed_mb=cfg.ingest.max_uncompressed_mb,
        max_text_mb=cfg.ingest.max_text_mb,
    )


@_locked
def load_step(cfg: Config) -> LoadedCorpus:
    """Load ``cfg.paths.transcripts``, mark substantive answers and their language, and
    write ``turns.parquet``, ``line_accounting.parquet`` and ``files.parquet``."""
    corpus = read_corpus(cfg)
    corpus.turns = mark_substantive(corpus.turns, cfg.substance)
    out = Path(cfg.paths.processed)
    out.mkdir(parents=True, exist_ok=True)
    atomic_to_parquet(corpus.turns, out / "turns.parquet", index=False)
    atomic_to_parquet(corpus.lines, out / "line_accounting.parquet", index=False)
    atomic_to_parquet(corpus.files, out / "files.parquet", index=False)
    # Later verbs default to this corpus and its codes (run.json), not to the configured ones.
    record_run(out, cfg.paths.transcripts, cfg.paths.reference_codes, cfg.paths.independent_codings)
    return corpus


def make_embedder(cfg: Config, show_progress: bool = True) -> Embedder:
    """The configured embedder (local or on a Dask cluster), caching in ``data/processed/embeddings``."""
    return Embedder.from_settings(cfg.embedding, cache_dir=processed(cfg, "embeddings"), show_progress=show_progress)


@dataclass
class EmbedResult:
    turns: pd.DataFrame  # the substantive answers, in table order
    vectors: np.ndarray  # one unit-length row per answer
    stats: EmbedStats  # what came from the cache, what was embedded
    model_id: str


@_locked
def embed_step(cfg: Config, show_progress: bool = True) -> EmbedResult:
    """Embed the substantive answers of ``turns.parquet`` through the cache and write
    ``embeddings.parquet`` (``turn_id``, ``vector``)."""
    turns = read_table(cfg, "turns")
    answers = turns[turns["substantive"]].reset_index(drop=True)
    embedder = make_embedder(cfg, show_progress)
    vectors = embedder.embed(answers["text"].tolist())
    table = pd.DataFrame({"turn_id": answers["turn_id"], "vector": list(vectors)})
    table.attrs["model_id"] = embedder.model_id
    atomic_to_parquet(table, processed(cfg, "embeddings.parquet"), index=False)
    return EmbedResult(answers, vectors, embedder.stats, embedder.model_id)


def read_embeddings(cfg: Config) -> tuple[pd.DataFrame, np.ndarray]:
    """``embeddings.parquet`` as its ``turn_id`` table and the vectors as one float32
    matrix (row i is the table's row i).

    The vectors are read from the file's list column straight into the matrix: a table
    of per-row arrays would hold every vector twice while the matrix is built.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = processed(cfg, "embeddings.parquet")
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist yet: run the step that writes it first (see README)")
    try:
        arrow = pq.read_table(path)
        column = arrow.column("vector").combine_chunks()
    except (OSError, ValueError, KeyError) as exc:  # pyarrow's errors derive from these
        raise AnalysisError(f"{path} cannot be read ({exc}); run the step that writes it again") from None
    table = arrow.drop_columns(["vector"]).to_pandas()
    if len(table) == 0:
        return table, np.zeros((0, 0), np.float32)
    lengths = np.diff(column.offsets.to_numpy())
    if column.null_count or (lengths != lengths[0]).any():
        raise AnalysisError(f"{path}: vectors missing or of unequal length; run the embed step again")
    flat = column.flatten().to_numpy(zero_copy_only=False)
    vectors = flat.reshape(len(table), -1).astype(np.float32, copy=False)
    del arrow, column, flat
    # Decoding the list column takes about four times the vectors' size (values, repetition
    # and definition levels, pages); Arrow's allocator keeps those pages unless asked
    # (measured on 58k answers: 360 MB held after the read, 179 MB with this, vectors 89 MB).
    pa.default_memory_pool().release_unused()
    return table, vectors


def _save_topic_model(model, model_dir: Path, embedding_model: str) -> None:
    """Save the model (safetensors) into a fresh folder beside ``model_dir`` and swap it
    in, so a killed run never leaves half a model under the real name (at worst no
    ``topic_model/``, which the next ``topics`` writes again, since its tables were written
    first and the old model would not match them)."""
    fresh = temporary_folder(model_dir)  # a killed run's one is removed by the next lock (files.py)
    try:
        model.save(str(fresh), serialization="safetensors", save_ctfidf=True, save_embedding_model=embedding_model)
        old = model_dir.with_name(f".{model_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if model_dir.exists():
            os.replace(model_dir, old)
        os.replace(fresh, model_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


TOPIC_COLUMNS = ["turn_id", "text", "interview_id", "speaker_id", "source_file", "line_start"]


def topic_result(cfg: Config) -> tuple[TopicResult, pd.DataFrame]:
    """The topic model of the embedded answers, loaded from the topic cache when it holds
    one for these answers and settings, else fitted (and cached); writes no table (the
    ``figures`` verb reads a finished run with it). Returns the result and the modelled
    answers (the columns of the turns table the topics use)."""
    turns = read_table(cfg, "turns", columns=TOPIC_COLUMNS)  # not every column of every turn: memory at scale
    table, vectors = read_embeddings(cfg)
    docs = table[["turn_id"]].merge(turns, on="turn_id", how="left", validate="one_to_one")
    del turns
    embedder = make_embedder(cfg, show_progress=False)
    result = fit_topics(
        docs,
        vectors,
        cfg.topics,
        seed=cfg.seed,
        embedding_model=lambda: embedder.model,
        model_id=embedder.model_id,
        cache_dir=processed(cfg, "cache"),
    )
    return result, docs


@_locked
def topics_step(cfg: Config) -> tuple[TopicResult, pd.DataFrame]:
    """Fit (or load from cache) the topic model on the embedded answers (:func:`topic_result`)
    and write ``topics.parquet``, ``topic_info.parquet``, ``topic_quotes.parquet`` and the
    model (safetensors) in ``topic_model/``. Returns the result and the modelled answers."""
    result, docs = topic_result(cfg)
    assignments = result.assignments.merge(docs[["turn_id", "interview_id", "speaker_id"]], on="turn_id", how="left")
    atomic_to_parquet(assignments, processed(cfg, "topics.parquet"), index=False)
    atomic_to_parquet(result.info, processed(cfg, "topic_info.parquet"), index=False)
    atomic_to_parquet(result.quotes, processed(cfg, "topic_quotes.parquet"), index=False)
    model_dir = processed(cfg, "topic_model")
    if not result.from_cache or not model_dir.is_dir():
        _save_topic_model(result.model, model_dir, cfg.embedding.model)
    return result, docs


def load_taxonomy_and_codes(cfg: Config) -> tuple[Taxonomy, CodeMap]:
    """The stage taxonomy and the code-to-stage table the settings name."""
    taxonomy = load_taxonomy(cfg.resolve(cfg.stages.taxonomy))
    return taxonomy, load_code_map(cfg.resolve(cfg.stages.code_map), taxonomy.ids)


STEPS = ("load", "embed", "topics", "stages", "agreement", "export")


def preflight(cfg: Config, steps=STEPS, codes=()) -> None:
    """Check, before the first step runs, everything ``steps`` will need: the transcripts
    folder, the processed folder, the embedding model, the taxonomy and code map, the
    theme labels file and the folders of human codes (``codes``, and the configured
    ones for agreement and export).

    Raises:
        ConfigError: every problem found, one per line, each naming its file or setting.
    """
    steps = set(steps)
    problems: list[str] = []
    if "load" in steps and not Path(cfg.paths.transcripts).is_dir():
        what = "not found" if not Path(cfg.paths.transcripts).exists() else "not a folder"
        problems.append(f"paths.transcripts: {cfg.paths.transcripts} {what}; give the folder of transcripts")
    out = Path(cfg.paths.processed)
    if out.exists() and not out.is_dir():
        problems.append(f"paths.processed: {out} is a file, not a folder; give a folder")
    if steps & {"embed", "topics", "stages"}:
        problem = model_problem(cfg.embedding.model)
        if problem:
            problems.append(problem)
    if steps & {"stages", "agreement", "export"}:
        try:
            load_taxonomy_and_codes(cfg)
        except AnalysisError as exc:
            problems.append(str(exc))
        except (UnicodeDecodeError, ValueError) as exc:  # a binary taxonomy or code map
            problems.append(f"{cfg.resolve(cfg.stages.taxonomy)} or {cfg.resolve(cfg.stages.code_map)}: {exc}")
    if steps & {"topics", "export"}:
        try:
            load_theme_labels(cfg.paths.theme_labels)
        except AnalysisError as exc:
            problems.append(str(exc))
    folders = [c for c in codes if c and str(c).lower() != "none"]
    if steps & {"agreement", "export"}:
        folders += [cfg.paths.reference_codes] if cfg.paths.reference_codes is not None else []
    if "agreement" in steps and cfg.paths.independent_codings is not None:
        folders.append(cfg.paths.independent_codings)
    for folder in folders:
        if not cfg.resolve(Path(folder)).is_dir():
            problems.append(f"human codes: folder {cfg.resolve(Path(folder))} not found")
    if problems:
        raise ConfigError("cannot start, nothing was run:\n" + "\n".join(f"  - {p}" for p in problems))


def read_human_codes(cfg: Config, folder, turns: pd.DataFrame | None = None) -> HumanCodes:
    """Read a folder of human codes (Delve PDFs, CSV, .qdpx) aligned to the loaded turns."""
    taxonomy, code_map = load_taxonomy_and_codes(cfg)
    turns = read_table(cfg, "turns") if turns is None else turns
    return read_codes_folder(
        cfg.resolve(Path(folder)),
        turns,
        code_map,
        keep_names=cfg.privacy.keep_names,
        stage_names={s.id: s.name for s in taxonomy.stages},
        cache_dir=processed(cfg, "cache") / "delve",
        max_csv_mb=cfg.ingest.max_text_mb,
    )


def stage_signals_for(cfg: Config, turns: pd.DataFrame) -> tuple[StageSignals, Taxonomy]:
    """The stage coder's signals for every interviewee turn of ``turns``."""
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    embedder = make_embedder(cfg, show_progress=False)
    signals = stage_signals(
        turns, embedder.embed, taxonomy, taxonomy.kind_examples(), guide_quantile=cfg.stages.guide_quantile
    )
    return signals, taxonomy


def reviewed_decisions(cfg: Config, answers: pd.DataFrame) -> dict[str, set[str]]:
    """The researcher's review decisions (``paths.review_codes``/review.csv) for the
    loaded answers: turn_id -> stages (empty: reviewed, no stage)."""
    folder = getattr(cfg.paths, "review_codes", None)
    if folder is None:
        return {}
    log = ReviewLog.in_folder(folder)
    if not log.path.is_file():
        return {}
    loaded = set(answers["turn_id"])
    return {t: set(s) for t, s in log.decisions().items() if t in loaded}


@dataclass
class StagesResult:
    """What :func:`stages_step` made: the coding, the stage mix per topic (``None``
    without topics) and the taxonomy it used."""

    coding: StageCoding
    topic_mix: pd.DataFrame | None
    taxonomy: Taxonomy


@_locked
def stages_step(cfg: Config, train_codes=None) -> StagesResult:
    """Code every interviewee turn with stages (zero-shot, or few-shot when
    ``train_codes`` names a folder of human codes) and write ``stages.parquet``,
    ``stage_predictions.csv`` and ``topic_stages.parquet``."""
    turns = read_table(cfg, "turns")
    signals, taxonomy = stage_signals_for(cfg, turns)
    topics_path = processed(cfg, "topics.parquet")
    topics = pd.read_parquet(topics_path) if topics_path.is_file() else None
    topic_of = topics.set_index("turn_id")["topic"] if topics is not None else None
    coder = StageCoder(cfg.stages, seed=cfg.seed)
    reviewed = reviewed_decisions(cfg, signals.answers)
    if train_codes or reviewed:
        train, kinds = [], {}
        if train_codes:
            human = read_human_codes(cfg, train_codes, turns)
            train = training_labels(signals.answers, human.codes, human.documents, taxonomy.ids)
            kinds = reference_kinds(signals.answers, human.codes)
        coder.fit(signals, train, kinds, topic_of, reviewed=reviewed)
    coding = coder.predict(signals, topic_of)
    predictions = coding.table
    write_stage_csv(predictions, processed(cfg, "stage_predictions.csv"))
    probabilities = ["p_coded"] + [f"p_{s}" for s in taxonomy.ids] + ["uncertain", "source"]
    table = predictions[["turn_id", "stages", "kind"] + [f"score_{s}" for s in taxonomy.ids] + probabilities]
    atomic_to_parquet(table, processed(cfg, "stages.parquet"), index=False)
    mix = topic_stage_mix(predictions, topics, taxonomy.ids) if topics is not None else None
    if mix is not None:
        atomic_to_parquet(mix, processed(cfg, "topic_stages.parquet"), index=False)
    return StagesResult(coding, mix, taxonomy)


@dataclass
class SimulatedReview:
    """What :func:`review_simulate_step` made: the coding of the oracle's interviews
    (``source``: ``researcher`` for an asked answer, carrying the oracle's codes, else
    ``suite``) and the turn ids asked."""

    table: pd.DataFrame
    asked: list[str]


def _codes_or_none(cfg: Config, folder, turns: pd.DataFrame) -> HumanCodes | None:
    if not folder:
        return None
    path = cfg.resolve(Path(folder))
    if path.is_dir() and not any(p.suffix.lower() in {".pdf", ".csv", ".qdpx"} for p in path.rglob("*")):
        return None  # an empty folder: start from no codes (zero-shot)
    return read_human_codes(cfg, folder, turns)


def review_simulate_step(cfg: Config, train_codes, oracle_codes, budget: float, strategy: str = "active",
                         batches: int = 10, log=None) -> SimulatedReview:
    """Code the interviews of ``oracle_codes`` as a new study would be coded with the
    suite: start from ``train_codes`` (none: zero-shot), ask the oracle for ``budget`` of
    those interviews' substantive answers in ``batches``, retrain after each batch.
    Training never includes a file of an oracle interview, and the oracle answers only
    what it is asked."""
    turns = read_table(cfg, "turns")
    signals, taxonomy = stage_signals_for(cfg, turns)
    topics_path = processed(cfg, "topics.parquet")
    topic_of = pd.read_parquet(topics_path).set_index("turn_id")["topic"] if topics_path.is_file() else None
    oracle_codes = read_human_codes(cfg, oracle_codes, turns)
    oracle_ids = set(oracle_codes.coded()["interview_id"])
    if not oracle_ids:
        raise AnalysisError(f"{oracle_codes}: the oracle's files carry no codes")
    human = _codes_or_none(cfg, train_codes, turns)
    train, kinds = [], {}
    if human is not None:
        docs = human.documents[~human.documents["interview_id"].isin(oracle_ids)]
        train = training_labels(signals.answers, human.codes, docs, taxonomy.ids)
        kinds = reference_kinds(signals.answers, human.codes[~human.codes["interview_id"].isin(oracle_ids)])
    oracle = Oracle(reference_labels(signals.answers, oracle_codes.codes, oracle_codes.documents, taxonomy.ids))
    in_oracle = signals.answers["interview_id"].isin(oracle_ids).to_numpy()
    candidates = in_oracle & signals.answers["substantive"].to_numpy()
    coding, reviewed = simulate_review(lambda: StageCoder(cfg.stages, seed=cfg.seed), signals, topic_of, train, kinds,
                                       oracle, candidates, budget, strategy, batches=batches, seed=cfg.seed, log=log)
    table = coding.table[in_oracle].reset_index(drop=True)
    return SimulatedReview(table, list(oracle.asked))


@_locked
def agreement_step(cfg: Config) -> dict:
    """Agreement of ``stage_predictions.csv`` with ``paths.reference_codes`` and, when
    given, of the two codings per interview in ``paths.independent_codings`` with each
    other and with the reference; writes ``agreement.json`` and returns the same."""
    turns = read_table(cfg, "turns")
    answers = turns[turns["role"] == "interviewee"]
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    results: dict = {"stages": taxonomy.ids}
    reference = None
    if cfg.paths.reference_codes is not None:
        predictions = read_stage_csv(processed(cfg, "stage_predictions.csv"))
        reference = read_human_codes(cfg, cfg.paths.reference_codes, turns)
        results["suite_vs_reference"] = evaluate_predictions(
            predicted_labels(predictions, answers), reference, answers, taxonomy.ids
        )
        if "p_coded" in predictions:
            units = reference_labels(answers, reference.codes, reference.documents, taxonomy.ids)
            positions = zip(answers["interview_id"].astype(str), answers["turn_index"].astype(int))
            key = dict(zip(positions, answers["turn_id"]))
            p_coded = {key[(str(i), int(t))]: p for i, t, p in
                       zip(predictions["interview_id"], predictions["turn_index"], predictions["p_coded"])
                       if (str(i), int(t)) in key}
            results["suite_vs_reference"]["calibration"] = calibration(p_coded, units)
        results["files_without_codes"] = results["suite_vs_reference"]["files_without_codes"]
    if cfg.paths.independent_codings is not None:
        codings = read_human_codes(cfg, cfg.paths.independent_codings, turns)
        results["coder_vs_coder"] = compare_coders(codings, answers, taxonomy.ids)
        if reference is not None:
            results["coders_vs_reference"] = compare_to_consensus(codings, reference, answers, taxonomy.ids)["overall"]
    atomic_write_text(
        processed(cfg, "agreement.json"), json.dumps(results, indent=2, default=lambda v: None if v != v else v)
    )
    return results


@_locked
def export_step(cfg: Config, out_dir, formats=("qdpx", "qdc", "csv", "xlsx")) -> dict[str, Path]:
    """Hand the coding back: a REFI-QDA project (``study.qdpx``) and codebook
    (``codebook.qdc``), and tables (``coded_segments.csv``, ``interviewee_by_theme.csv``,
    ``study.xlsx``) in ``out_dir``. Human codes in ``paths.reference_codes`` travel with
    their coder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out, recursive=False)  # of a killed export (out is no locked folder)
    turns = read_table(cfg, "turns")
    stages = read_table(cfg, "stages")
    topics = read_table(cfg, "topics")
    topic_info = read_table(cfg, "topic_info")
    renamed = load_theme_labels(cfg.paths.theme_labels, topic_info)  # the researcher's theme renames
    topic_info = topic_info.assign(
        label=[renamed.get(t, label) for t, label in zip(topic_info["topic"], topic_info["label"])]
    )
    topic_stages = read_table(cfg, "topic_stages")
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    human = (
        read_human_codes(cfg, cfg.paths.reference_codes, turns).codes if cfg.paths.reference_codes is not None else None
    )
    project = build_project(
        turns,
        stages,
        taxonomy,
        topics,
        topic_info,
        topic_stages,
        human_codes=human,
        name="Thematic analysis",
        origin="analysis 0.1.0",
    )
    segments = coded_segments(turns, stages, topics, topic_info, taxonomy)
    by_theme = interviewee_by_theme(turns, topics, topic_info)
    written: dict[str, Path] = {}
    if "qdpx" in formats:
        written["qdpx"] = write_qdpx(project, out / "study.qdpx")
    if "qdc" in formats:
        written["qdc"] = write_qdc(project.codes, out / "codebook.qdc", origin="analysis 0.1.0")
    if "csv" in formats:
        # neutralised: these CSV are opened in spreadsheets (README, exports)
        atomic_to_csv(segments, out / "coded_segments.csv", neutralise=True, index=False)
        atomic_to_csv(by_theme, out / "interviewee_by_theme.csv", neutralise=True)
        written["csv"] = out / "coded_segments.csv"
    if "xlsx" in formats:
        themes = topic_info.assign(words=topic_info["words"].map(lambda w: ", ".join(w)))
        written["xlsx"] = write_xlsx(
            out / "study.xlsx",
            {"coded_segments": segments, "interviewee_by_theme": by_theme.reset_index(), "themes": themes},
        )
    return written
