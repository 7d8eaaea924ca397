"""Command line: ``python -m analysis <verb>``.

Verbs:
    load    read transcripts into data/processed/turns.parquet (+ line accounting)
    embed   embed the substantive answers (cached by model and text hash)
    topics  fit the topic model (cached by texts, vectors and settings)
    code-stages  lifecycle stages per interviewee turn (zero-shot, or --train-codes)
    evaluate     agreement with human codes (Cohen's kappa, F1, Krippendorff's alpha)
    export       REFI-QDA .qdpx project and .qdc codebook, CSV and .xlsx tables
    report  execute all notebooks in order and render HTML to reports/
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from .config import Config, load_config
from .errors import AnalysisError
from .human_codes import compare_coders, evaluate_predictions, headline, predicted_labels
from .pipeline import (
    embed_step,
    export_step,
    load_step,
    load_taxonomy_and_codes,
    processed,
    read_corpus,
    read_human_codes,
    stages_step,
    topics_step,
)
from .stages import read_stage_csv
from .topics import topic_quality


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis", description="Thematic analysis of interview transcripts."
    )
    parser.add_argument("--config", help="settings file (default: config/settings.yaml of this project)")
    verbs = parser.add_subparsers(dest="verb", required=True)

    load = verbs.add_parser("load", help="read transcripts into data/processed/turns.parquet")
    load.add_argument("--transcripts", help="folder of transcripts (default: paths.transcripts of the config)")

    embed = verbs.add_parser(
        "embed", help="embed the substantive answers (cached) into data/processed/embeddings.parquet"
    )
    embed.add_argument("--transcripts", help="folder of transcripts; loads it first when given")

    topics = verbs.add_parser("topics", help="fit the topic model on the embedded answers")
    topics.add_argument("--transcripts", help="folder of transcripts; loads and embeds it first when given")

    code = verbs.add_parser("code-stages", help="code every interviewee turn with lifecycle stages")
    code.add_argument("--transcripts", help="folder of transcripts; loads it first when given")
    code.add_argument("--train-codes", help="folder of human codes (Delve PDFs or CSV) to learn from (few-shot)")
    code.add_argument("--out", help="CSV to write (default: data/processed/stage_predictions.csv)")

    evaluate = verbs.add_parser("evaluate", help="agreement of predictions (or of two human codings) with human codes")
    evaluate.add_argument(
        "--predictions", help="CSV from code-stages; omit to compare the two coders of each interview in --codes"
    )
    evaluate.add_argument("--codes", required=True, help="folder of reference codes (Delve PDFs or CSV)")
    evaluate.add_argument(
        "--transcripts", help="folder of transcripts the codes belong to (default: paths.transcripts)"
    )
    evaluate.add_argument("--out", required=True, help="metrics JSON to write")

    export = verbs.add_parser("export", help="REFI-QDA project (.qdpx), codebook (.qdc), CSV and .xlsx of the coding")
    export.add_argument("--format", choices=["qdpx", "qdc", "csv", "xlsx", "all"], default="all")
    export.add_argument("--out", required=True, help="a .qdpx/.qdc/.csv/.xlsx file for one format, a folder for all")

    report = verbs.add_parser("report", help="execute the notebooks in order and render HTML reports")
    report.add_argument("--transcripts", help="folder of transcripts (default: paths.transcripts of the config)")
    report.add_argument(
        "--codes",
        help="human codes of these transcripts for notebooks 06 and 08 (default: paths.reference_codes of the "
        "config, or none when --transcripts names another corpus)",
    )
    return parser


def _cmd_load(cfg: Config, args) -> None:
    corpus = load_step(cfg)
    by_role = corpus.turns.groupby("role").size().to_dict()
    print(
        f"{len(corpus.files)} interviews, {len(corpus.turns)} turns "
        + ", ".join(f"{n} {role}" for role, n in sorted(by_role.items()))
    )
    print(
        f"{len(corpus.lines)} non-blank lines: "
        + ", ".join(f"{n} {s}" for s, n in corpus.lines["status"].value_counts().items())
    )
    print(f"wrote {cfg.paths.processed}/turns.parquet")


def _cmd_embed(cfg: Config, args) -> None:
    if args.transcripts:
        load_step(cfg)
    result = embed_step(cfg)
    s = result.stats
    print(f"{s.texts} answers: {s.from_cache} from the cache, {s.embedded} embedded ({s.chunked_texts} chunked)")
    print(f"wrote {cfg.paths.processed}/embeddings.parquet")


def _cmd_topics(cfg: Config, args) -> None:
    if args.transcripts:
        load_step(cfg)
        embed_step(cfg)
    result, _ = topics_step(cfg)
    q = topic_quality(result.info, result.assignments, cfg.topics)
    print(
        f"{q['topics']} topics over {q['answers']} answers; largest {q['largest_topic_share']:.1%}, "
        f"outliers {q['outlier_share']:.1%}{' (from cache)' if result.from_cache else ''}"
    )
    print(f"wrote {cfg.paths.processed}/topics.parquet, topic_info.parquet, topic_quotes.parquet, topic_model/")


def _cmd_code_stages(cfg: Config, args) -> None:
    if args.transcripts:
        load_step(cfg)
        embed_step(cfg, show_progress=False)
        topics_step(cfg)
    result = stages_step(cfg, args.train_codes)
    predictions = result.coding.table
    coded = predictions["stages"].map(len) > 0
    print(
        f"{result.coding.describe()}: {int(coded.sum())} of {len(predictions)} interviewee turns coded; "
        + ", ".join(f"{s} {int(predictions['stages'].map(lambda v, s=s: s in v).sum())}" for s in result.taxonomy.ids)
    )
    out = processed(cfg, "stage_predictions.csv")
    if args.out:
        shutil.copyfile(out, args.out)
        out = args.out
    print(f"wrote {out}")


def _read_predictions(path: str) -> pd.DataFrame:
    try:
        predictions = read_stage_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise AnalysisError(f"{path}: cannot read predictions ({exc})") from None
    missing = {"interview_id", "turn_index", "stages"} - set(predictions.columns)
    if missing:
        raise AnalysisError(f"{path}, line 1: missing column(s) {', '.join(sorted(missing))}")
    return predictions


def _cmd_evaluate(cfg: Config, args) -> None:
    turns = read_corpus(cfg).turns
    answers = turns[turns["role"] == "interviewee"]
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    reference = read_human_codes(cfg, args.codes, turns)
    if args.predictions:
        predictions = _read_predictions(args.predictions)
        result = evaluate_predictions(predicted_labels(predictions, answers), reference, answers, taxonomy.ids)
        result["compared"] = "predictions vs reference codes"
    else:
        result = compare_coders(reference, answers, taxonomy.ids)
        result["compared"] = "first vs second coder of each interview"
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2, default=lambda v: None if v != v else v)
    print(f"{result['compared']}: {headline(result)}")
    if result.get("files_without_codes"):
        print(f"{len(result['files_without_codes'])} reference files carry no codes (left out)")
    print(f"wrote {args.out}")


def _cmd_export(cfg: Config, args) -> None:
    if args.format == "all":
        written = export_step(cfg, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            made = export_step(cfg, tmp, formats=(args.format,))
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(made[args.format], args.out)
        written = {args.format: Path(args.out)}
    for fmt, path in written.items():
        print(f"{fmt}: {path} ({Path(path).stat().st_size / 1024:.0f} KiB)")


def _cmd_report(cfg: Config, args) -> None:
    # The report renders notebooks: its packages load only for this verb.
    from .report import run_report

    started = time.perf_counter()
    # The configured codes belong to the configured corpus; another corpus gets none
    # unless its own codes are named.
    codes = args.codes if args.codes else ("none" if args.transcripts else None)
    if codes and codes != "none":
        codes = str(Path(codes).resolve())
    rendered = run_report(cfg, codes=codes)
    print(
        f"{len(rendered)} notebooks rendered to {cfg.paths.reports} in {time.perf_counter() - started:.0f} s; "
        f"open {cfg.paths.reports}/index.html"
    )


VERBS = {
    "load": _cmd_load,
    "embed": _cmd_embed,
    "topics": _cmd_topics,
    "code-stages": _cmd_code_stages,
    "evaluate": _cmd_evaluate,
    "export": _cmd_export,
    "report": _cmd_report,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = load_config(args.config).with_transcripts(getattr(args, "transcripts", None))
        VERBS[args.verb](cfg, args)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
