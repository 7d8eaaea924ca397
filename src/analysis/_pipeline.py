"""The steps behind the command-line verbs and the notebooks, so the two cannot drift.

Each step reads the tables of the steps before it from ``data/processed`` and writes
its own there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._config import Config
from ._errors import AnalysisError
from ._ingest import LoadedCorpus, load_corpus
from ._substance import mark_substantive


def processed(cfg: Config, name: str) -> Path:
    return Path(cfg.paths.processed) / name


def read_table(cfg: Config, name: str) -> pd.DataFrame:
    """Read a table an earlier step wrote, with a clear message when it is missing."""
    path = processed(cfg, f"{name}.parquet")
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist yet: run the step that writes it first (see README)")
    return pd.read_parquet(path)


def load_step(cfg: Config) -> LoadedCorpus:
    """Load ``cfg.paths.transcripts``, mark substantive answers and their language, and
    write ``turns.parquet``, ``line_accounting.parquet`` and ``files.parquet``."""
    corpus = load_corpus(cfg.paths.transcripts, speaker_roles=dict(cfg.ingest.speaker_roles), keep_names=cfg.privacy.keep_names)
    corpus.turns = mark_substantive(corpus.turns, cfg.substance_settings())
    out = Path(cfg.paths.processed)
    out.mkdir(parents=True, exist_ok=True)
    corpus.turns.to_parquet(out / "turns.parquet", index=False)
    corpus.lines.to_parquet(out / "line_accounting.parquet", index=False)
    corpus.files.to_parquet(out / "files.parquet", index=False)
    return corpus


def make_embedder(cfg: Config, show_progress: bool = True):
    from ._embed import Embedder

    return Embedder(cfg.embedding.model, cache_dir=processed(cfg, "embeddings"), batch_size=cfg.embedding.batch_size,
                    show_progress=show_progress)


@dataclass
class EmbedResult:
    turns: pd.DataFrame        # the substantive answers, in table order
    vectors: np.ndarray        # one unit-length row per answer
    stats: object              # what came from the cache, what was embedded
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
    table = read_table(cfg, "embeddings")
    vectors = np.vstack(table["vector"].to_numpy()).astype(np.float32) if len(table) else np.zeros((0, 0), np.float32)
    return table, vectors


def topics_step(cfg: Config):
    """Fit (or load from cache) the topic model on the embedded answers and write
    ``topics.parquet``, ``topic_info.parquet``, ``topic_quotes.parquet`` and the model
    (safetensors) in ``topic_model/``."""
    from ._embed import Embedder
    from ._topics import fit_topics

    turns = read_table(cfg, "turns")
    table, vectors = read_embeddings(cfg)
    docs = table[["turn_id"]].merge(turns, on="turn_id", how="left", validate="one_to_one")
    embedder = make_embedder(cfg, show_progress=False)
    result = fit_topics(docs, vectors, cfg.topic_settings(), embedding_model=lambda: embedder.model,
                        model_id=embedder.model_id, cache_dir=processed(cfg, "cache"))
    assignments = result.assignments.merge(turns[["turn_id", "interview_id", "speaker_id"]], on="turn_id", how="left")
    assignments.to_parquet(processed(cfg, "topics.parquet"), index=False)
    result.info.to_parquet(processed(cfg, "topic_info.parquet"), index=False)
    result.quotes.to_parquet(processed(cfg, "topic_quotes.parquet"), index=False)
    model_dir = processed(cfg, "topic_model")
    if not result.from_cache or not model_dir.is_dir():
        result.model.save(str(model_dir), serialization="safetensors", save_ctfidf=True,
                          save_embedding_model=cfg.embedding.model)
    return result, docs


def load_taxonomy_and_codes(cfg: Config):
    from ._codes import load_code_map
    from ._taxonomy import load_taxonomy

    taxonomy = load_taxonomy(cfg.resolve(cfg.stages.taxonomy))
    return taxonomy, load_code_map(cfg.resolve(cfg.stages.code_map), taxonomy.ids)


def read_human_codes(cfg: Config, folder, turns: pd.DataFrame | None = None):
    """Read a folder of human codes (Delve PDFs, CSV) aligned to the loaded turns."""
    from ._codes import read_codes_folder

    taxonomy, code_map = load_taxonomy_and_codes(cfg)
    turns = read_table(cfg, "turns") if turns is None else turns
    return read_codes_folder(cfg.resolve(Path(folder)), turns, code_map, keep_names=cfg.privacy.keep_names,
                             stage_names={s.id: s.name for s in taxonomy.stages}, cache_dir=processed(cfg, "cache") / "delve")


def stage_signals_for(cfg: Config, turns: pd.DataFrame):
    from ._stages import stage_signals

    taxonomy, _ = load_taxonomy_and_codes(cfg)
    embedder = make_embedder(cfg, show_progress=False)
    return stage_signals(turns, embedder.embed, taxonomy, cfg.stage_settings(), taxonomy.kind_examples()), taxonomy


def stages_step(cfg: Config, train_codes=None):
    """Code every interviewee turn with stages (zero-shot, or few-shot when
    ``train_codes`` names a folder of human codes) and write ``stages.parquet``,
    ``stage_predictions.csv`` and ``topic_stages.parquet``."""
    from ._stages import code_stages_few_shot, code_stages_zero_shot, reference_kinds, topic_stage_mix, training_labels

    turns = read_table(cfg, "turns")
    signals, taxonomy = stage_signals_for(cfg, turns)
    topics_path = processed(cfg, "topics.parquet")
    topics = pd.read_parquet(topics_path) if topics_path.is_file() else None
    topic_of = topics.set_index("turn_id")["topic"] if topics is not None else None
    if train_codes:
        human = read_human_codes(cfg, train_codes, turns)
        train = training_labels(signals.answers, human.codes, human.documents, taxonomy.ids)
        kinds = reference_kinds(signals.answers, human.codes)
        predictions = code_stages_few_shot(signals, train, cfg.stage_settings(), kinds, topic_of)
        fit = predictions.attrs.get("few_shot", {})
        if fit.get("used"):
            chosen = ", ".join(f"{k} {fit[k]:g}" for k in ("question_weight", "section_weight", "stage_calibration", "coded_share"))
            mode = f"few-shot (calibrated on {fit['training_documents']} coded files, {fit['training_answers']} answers: {chosen})"
        else:
            mode = f"zero-shot (few-shot asked, but {fit.get('reason', 'no usable codes')})"
    else:
        predictions = code_stages_zero_shot(signals, cfg.stage_settings(), topic_of)
        mode = "zero-shot"
    predictions.to_csv(processed(cfg, "stage_predictions.csv"), index=False)
    table = predictions[["turn_id", "kind"] + [f"score_{s}" for s in taxonomy.ids]].copy()
    table.insert(1, "stages", [[s for s in v.split(";") if s] for v in predictions["stages"]])
    table.to_parquet(processed(cfg, "stages.parquet"), index=False)
    mix = topic_stage_mix(predictions, topics, taxonomy.ids) if topics is not None else None
    if mix is not None:
        mix.to_parquet(processed(cfg, "topic_stages.parquet"), index=False)
    return predictions, mix, taxonomy, mode


def agreement_step(cfg: Config) -> dict:
    """Agreement of ``stage_predictions.csv`` with ``paths.codes`` and, when given, of
    the two codings per interview in ``paths.codings`` with each other and with the
    reference; writes ``agreement.json`` and returns the same dictionary."""
    import json

    from ._evaluate import compare_coders, compare_to_consensus, evaluate_predictions, predicted_labels

    turns = read_table(cfg, "turns")
    answers = turns[turns["role"] == "interviewee"]
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    results: dict = {"stages": taxonomy.ids}
    reference = None
    if cfg.paths.codes is not None:
        predictions = pd.read_csv(processed(cfg, "stage_predictions.csv"), dtype={"interview_id": str, "stages": str},
                                  keep_default_na=False)
        reference = read_human_codes(cfg, cfg.paths.codes, turns)
        results["suite_vs_reference"] = evaluate_predictions(predicted_labels(predictions, answers), reference, answers, taxonomy.ids)
        results["files_without_codes"] = results["suite_vs_reference"]["files_without_codes"]
    if cfg.paths.codings is not None:
        codings = read_human_codes(cfg, cfg.paths.codings, turns)
        results["coder_vs_coder"] = compare_coders(codings, answers, taxonomy.ids)
        if reference is not None:
            results["coders_vs_reference"] = compare_to_consensus(codings, reference, answers, taxonomy.ids)["overall"]
    with open(processed(cfg, "agreement.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2, default=lambda v: None if v != v else v)
    return results


def export_step(cfg: Config, out_dir, formats=("qdpx", "qdc", "csv", "xlsx")) -> dict[str, Path]:
    """Hand the coding back: a REFI-QDA project (``study.qdpx``) and codebook
    (``codebook.qdc``), and tables (``coded_segments.csv``, ``interviewee_by_theme.csv``,
    ``study.xlsx``) in ``out_dir``. Human codes in ``paths.codes`` travel with their coder."""
    from ._explorer import load_theme_labels
    from ._exports import coded_segments, interviewee_by_theme, write_xlsx
    from ._refi import build_project, write_qdc, write_qdpx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    turns = read_table(cfg, "turns")
    stages = read_table(cfg, "stages")
    topics = read_table(cfg, "topics")
    topic_info = read_table(cfg, "topic_info")
    renamed = load_theme_labels(cfg.paths.theme_labels, topic_info)  # the researcher's theme renames
    topic_info = topic_info.assign(label=[renamed.get(t, label) for t, label in zip(topic_info["topic"], topic_info["label"])])
    topic_stages = read_table(cfg, "topic_stages")
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    human = read_human_codes(cfg, cfg.paths.codes, turns).codes if cfg.paths.codes is not None else None
    written: dict[str, Path] = {}
    project = build_project(turns, stages, taxonomy, topics, topic_info, topic_stages, human_codes=human,
                            name="Thematic analysis", origin="analysis 0.1.0")
    if "qdpx" in formats:
        written["qdpx"] = write_qdpx(project, out / "study.qdpx")
    if "qdc" in formats:
        written["qdc"] = write_qdc(project.codes, out / "codebook.qdc", origin="analysis 0.1.0")
    segments = coded_segments(turns, stages, topics, topic_info, taxonomy)
    by_theme = interviewee_by_theme(turns, topics, topic_info)
    if "csv" in formats:
        segments.to_csv(out / "coded_segments.csv", index=False)
        by_theme.to_csv(out / "interviewee_by_theme.csv")
        written["csv"] = out / "coded_segments.csv"
    if "xlsx" in formats:
        written["xlsx"] = write_xlsx(out / "study.xlsx", {"coded_segments": segments, "interviewee_by_theme": by_theme.reset_index(),
                                                          "themes": topic_info.assign(words=topic_info["words"].map(lambda w: ", ".join(w)))})
    return written


def theme_tables_for(cfg: Config):
    """The theme charts' tables, with the researcher's theme renames applied."""
    from ._charts import theme_tables
    from ._explorer import load_theme_labels

    taxonomy, _ = load_taxonomy_and_codes(cfg)
    topic_info = read_table(cfg, "topic_info")
    labels = load_theme_labels(cfg.paths.theme_labels, topic_info)
    tables = theme_tables(read_table(cfg, "turns"), read_table(cfg, "topics"), topic_info, read_table(cfg, "topic_stages"),
                          read_table(cfg, "stages"), {s.id: s.name for s in taxonomy.stages}, labels)
    return tables, dict(zip(topic_info["topic"], topic_info["label"]))
