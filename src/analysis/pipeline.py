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

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Config
from .embeddings import Embedder, EmbedStats
from .errors import AnalysisError
from .human_codes import (
    CodeMap,
    HumanCodes,
    compare_coders,
    compare_to_consensus,
    evaluate_predictions,
    load_code_map,
    predicted_labels,
    read_codes_folder,
    reference_kinds,
    training_labels,
)
from .qda import build_project, coded_segments, interviewee_by_theme, write_qdc, write_qdpx, write_xlsx
from .stages import (
    StageCoder,
    StageCoding,
    StageSignals,
    Taxonomy,
    load_taxonomy,
    read_stage_csv,
    stage_signals,
    topic_stage_mix,
    write_stage_csv,
)
from .topics import TopicResult, fit_topics, load_theme_labels
from .transcripts import LoadedCorpus, load_corpus, mark_substantive


def processed(cfg: Config, name: str) -> Path:
    """A file or folder of ``data/processed``."""
    return Path(cfg.paths.processed) / name


def read_table(cfg: Config, name: str) -> pd.DataFrame:
    """Read a table an earlier step wrote, with a clear message when it is missing."""
    path = processed(cfg, f"{name}.parquet")
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist yet: run the step that writes it first (see README)")
    return pd.read_parquet(path)


def read_corpus(cfg: Config) -> LoadedCorpus:
    """Read ``cfg.paths.transcripts`` with the configured speaker roles and privacy."""
    return load_corpus(
        cfg.paths.transcripts, speaker_roles=dict(cfg.ingest.speaker_roles), keep_names=cfg.privacy.keep_names
    )


def load_step(cfg: Config) -> LoadedCorpus:
    """Load ``cfg.paths.transcripts``, mark substantive answers and their language, and
    write ``turns.parquet``, ``line_accounting.parquet`` and ``files.parquet``."""
    corpus = read_corpus(cfg)
    corpus.turns = mark_substantive(corpus.turns, cfg.substance)
    out = Path(cfg.paths.processed)
    out.mkdir(parents=True, exist_ok=True)
    corpus.turns.to_parquet(out / "turns.parquet", index=False)
    corpus.lines.to_parquet(out / "line_accounting.parquet", index=False)
    corpus.files.to_parquet(out / "files.parquet", index=False)
    return corpus


def make_embedder(cfg: Config, show_progress: bool = True) -> Embedder:
    """The configured embedder, caching in ``data/processed/embeddings``."""
    return Embedder(
        cfg.embedding.model,
        cache_dir=processed(cfg, "embeddings"),
        batch_size=cfg.embedding.batch_size,
        show_progress=show_progress,
    )


@dataclass
class EmbedResult:
    turns: pd.DataFrame  # the substantive answers, in table order
    vectors: np.ndarray  # one unit-length row per answer
    stats: EmbedStats  # what came from the cache, what was embedded
    model_id: str


def embed_step(cfg: Config, show_progress: bool = True) -> EmbedResult:
    """Embed the substantive answers of ``turns.parquet`` through the cache and write
    ``embeddings.parquet`` (``turn_id``, ``vector``)."""
    turns = read_table(cfg, "turns")
    answers = turns[turns["substantive"]].reset_index(drop=True)
    embedder = make_embedder(cfg, show_progress)
    vectors = embedder.embed(answers["text"].tolist())
    table = pd.DataFrame({"turn_id": answers["turn_id"], "vector": list(vectors)})
    table.attrs["model_id"] = embedder.model_id
    table.to_parquet(processed(cfg, "embeddings.parquet"), index=False)
    return EmbedResult(answers, vectors, embedder.stats, embedder.model_id)


def read_embeddings(cfg: Config) -> tuple[pd.DataFrame, np.ndarray]:
    """``embeddings.parquet`` and its vectors as one float32 matrix."""
    table = read_table(cfg, "embeddings")
    vectors = np.vstack(table["vector"].to_numpy()).astype(np.float32) if len(table) else np.zeros((0, 0), np.float32)
    return table, vectors


def topics_step(cfg: Config) -> tuple[TopicResult, pd.DataFrame]:
    """Fit (or load from cache) the topic model on the embedded answers and write
    ``topics.parquet``, ``topic_info.parquet``, ``topic_quotes.parquet`` and the model
    (safetensors) in ``topic_model/``. Returns the result and the modelled answers."""
    turns = read_table(cfg, "turns")
    table, vectors = read_embeddings(cfg)
    docs = table[["turn_id"]].merge(turns, on="turn_id", how="left", validate="one_to_one")
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
    assignments = result.assignments.merge(turns[["turn_id", "interview_id", "speaker_id"]], on="turn_id", how="left")
    assignments.to_parquet(processed(cfg, "topics.parquet"), index=False)
    result.info.to_parquet(processed(cfg, "topic_info.parquet"), index=False)
    result.quotes.to_parquet(processed(cfg, "topic_quotes.parquet"), index=False)
    model_dir = processed(cfg, "topic_model")
    if not result.from_cache or not model_dir.is_dir():
        result.model.save(
            str(model_dir), serialization="safetensors", save_ctfidf=True, save_embedding_model=cfg.embedding.model
        )
    return result, docs


def load_taxonomy_and_codes(cfg: Config) -> tuple[Taxonomy, CodeMap]:
    """The stage taxonomy and the code-to-stage table the settings name."""
    taxonomy = load_taxonomy(cfg.resolve(cfg.stages.taxonomy))
    return taxonomy, load_code_map(cfg.resolve(cfg.stages.code_map), taxonomy.ids)


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
    )


def stage_signals_for(cfg: Config, turns: pd.DataFrame) -> tuple[StageSignals, Taxonomy]:
    """The stage coder's signals for every interviewee turn of ``turns``."""
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    embedder = make_embedder(cfg, show_progress=False)
    signals = stage_signals(
        turns, embedder.embed, taxonomy, taxonomy.kind_examples(), guide_threshold=cfg.stages.guide_threshold
    )
    return signals, taxonomy


@dataclass
class StagesResult:
    """What :func:`stages_step` made: the coding, the stage mix per topic (``None``
    without topics) and the taxonomy it used."""

    coding: StageCoding
    topic_mix: pd.DataFrame | None
    taxonomy: Taxonomy


def stages_step(cfg: Config, train_codes=None) -> StagesResult:
    """Code every interviewee turn with stages (zero-shot, or few-shot when
    ``train_codes`` names a folder of human codes) and write ``stages.parquet``,
    ``stage_predictions.csv`` and ``topic_stages.parquet``."""
    turns = read_table(cfg, "turns")
    signals, taxonomy = stage_signals_for(cfg, turns)
    topics_path = processed(cfg, "topics.parquet")
    topics = pd.read_parquet(topics_path) if topics_path.is_file() else None
    topic_of = topics.set_index("turn_id")["topic"] if topics is not None else None
    coder = StageCoder(cfg.stages)
    if train_codes:
        human = read_human_codes(cfg, train_codes, turns)
        train = training_labels(signals.answers, human.codes, human.documents, taxonomy.ids)
        coder.fit(signals, train, reference_kinds(signals.answers, human.codes), topic_of)
    coding = coder.predict(signals, topic_of)
    predictions = coding.table
    write_stage_csv(predictions, processed(cfg, "stage_predictions.csv"))
    table = predictions[["turn_id", "stages", "kind"] + [f"score_{s}" for s in taxonomy.ids]]
    table.to_parquet(processed(cfg, "stages.parquet"), index=False)
    mix = topic_stage_mix(predictions, topics, taxonomy.ids) if topics is not None else None
    if mix is not None:
        mix.to_parquet(processed(cfg, "topic_stages.parquet"), index=False)
    return StagesResult(coding, mix, taxonomy)


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
        results["files_without_codes"] = results["suite_vs_reference"]["files_without_codes"]
    if cfg.paths.independent_codings is not None:
        codings = read_human_codes(cfg, cfg.paths.independent_codings, turns)
        results["coder_vs_coder"] = compare_coders(codings, answers, taxonomy.ids)
        if reference is not None:
            results["coders_vs_reference"] = compare_to_consensus(codings, reference, answers, taxonomy.ids)["overall"]
    with open(processed(cfg, "agreement.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2, default=lambda v: None if v != v else v)
    return results


def export_step(cfg: Config, out_dir, formats=("qdpx", "qdc", "csv", "xlsx")) -> dict[str, Path]:
    """Hand the coding back: a REFI-QDA project (``study.qdpx``) and codebook
    (``codebook.qdc``), and tables (``coded_segments.csv``, ``interviewee_by_theme.csv``,
    ``study.xlsx``) in ``out_dir``. Human codes in ``paths.reference_codes`` travel with
    their coder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
        segments.to_csv(out / "coded_segments.csv", index=False)
        by_theme.to_csv(out / "interviewee_by_theme.csv")
        written["csv"] = out / "coded_segments.csv"
    if "xlsx" in formats:
        themes = topic_info.assign(words=topic_info["words"].map(lambda w: ", ".join(w)))
        written["xlsx"] = write_xlsx(
            out / "study.xlsx",
            {"coded_segments": segments, "interviewee_by_theme": by_theme.reset_index(), "themes": themes},
        )
    return written
