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
from pathlib import Path
import sys
import time

from ._config import load_config
from ._errors import AnalysisError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description="Thematic analysis of interview transcripts.")
    parser.add_argument("--config", help="configuration file (default: config/analysis.yaml of this project)")
    verbs = parser.add_subparsers(dest="verb", required=True)

    load = verbs.add_parser("load", help="read transcripts into data/processed/turns.parquet")
    load.add_argument("--transcripts", help="folder of transcripts (default: paths.transcripts of the config)")

    embed = verbs.add_parser("embed", help="embed the substantive answers (cached) into data/processed/embeddings.parquet")
    embed.add_argument("--transcripts", help="folder of transcripts; loads it first when given")

    topics = verbs.add_parser("topics", help="fit the topic model on the embedded answers")
    topics.add_argument("--transcripts", help="folder of transcripts; loads and embeds it first when given")

    code = verbs.add_parser("code-stages", help="code every interviewee turn with lifecycle stages")
    code.add_argument("--transcripts", help="folder of transcripts; loads it first when given")
    code.add_argument("--train-codes", help="folder of human codes (Delve PDFs or CSV) to learn from (few-shot)")
    code.add_argument("--out", help="CSV to write (default: data/processed/stage_predictions.csv)")

    evaluate = verbs.add_parser("evaluate", help="agreement of predictions (or of two human codings) with human codes")
    evaluate.add_argument("--predictions", help="CSV from code-stages; omit to compare the two coders of each interview in --codes")
    evaluate.add_argument("--codes", required=True, help="folder of reference codes (Delve PDFs or CSV)")
    evaluate.add_argument("--transcripts", help="folder of transcripts the codes belong to (default: paths.transcripts)")
    evaluate.add_argument("--out", required=True, help="metrics JSON to write")

    export = verbs.add_parser("export", help="REFI-QDA project (.qdpx), codebook (.qdc), CSV and .xlsx of the coding")
    export.add_argument("--format", choices=["qdpx", "qdc", "csv", "xlsx", "all"], default="all")
    export.add_argument("--out", required=True, help="a .qdpx/.qdc/.csv/.xlsx file for one format, a folder for all")

    report = verbs.add_parser("report", help="execute the notebooks in order and render HTML reports")
    report.add_argument("--transcripts", help="folder of transcripts (default: paths.transcripts of the config)")
    report.add_argument("--codes", help="human codes of these transcripts for notebook 05 (default: paths.codes of the "
                                        "config, or none when --transcripts names another corpus)")
    return parser


def _cmd_load(cfg, args) -> None:
    from ._pipeline import load_step

    corpus = load_step(cfg)
    by_role = corpus.turns.groupby("role").size().to_dict()
    print(f"{len(corpus.files)} interviews, {len(corpus.turns)} turns "
          + ", ".join(f"{n} {role}" for role, n in sorted(by_role.items())))
    print(f"{len(corpus.lines)} non-blank lines: " + ", ".join(f"{n} {s}" for s, n in corpus.lines["status"].value_counts().items()))
    print(f"wrote {cfg.paths.processed}/turns.parquet")


def _cmd_embed(cfg, args) -> None:
    from ._pipeline import embed_step, load_step

    if args.transcripts:
        load_step(cfg)
    result = embed_step(cfg)
    s = result.stats
    print(f"{s.texts} answers: {s.from_cache} from the cache, {s.embedded} embedded ({s.chunked_texts} chunked)")
    print(f"wrote {cfg.paths.processed}/embeddings.parquet")


def _cmd_topics(cfg, args) -> None:
    from ._pipeline import embed_step, load_step, topics_step
    from ._topics import topic_quality

    if args.transcripts:
        load_step(cfg)
        embed_step(cfg)
    result, _ = topics_step(cfg)
    q = topic_quality(result.info, result.assignments, cfg.topic_settings())
    print(f"{q['topics']} topics over {q['answers']} answers; largest {q['largest_topic_share']:.1%}, "
          f"outliers {q['outlier_share']:.1%}{' (from cache)' if result.from_cache else ''}")
    print(f"wrote {cfg.paths.processed}/topics.parquet, topic_info.parquet, topic_quotes.parquet, topic_model/")


def _cmd_code_stages(cfg, args) -> None:
    import shutil

    from ._pipeline import embed_step, load_step, processed, stages_step, topics_step

    if args.transcripts:
        load_step(cfg)
        embed_step(cfg, show_progress=False)
        topics_step(cfg)
    predictions, _, taxonomy, mode = stages_step(cfg, args.train_codes)
    coded = predictions["stages"] != ""
    print(f"{mode}: {int(coded.sum())} of {len(predictions)} interviewee turns coded; "
          + ", ".join(f"{s} {int(predictions['stages'].str.split(';').map(lambda v, s=s: s in v).sum())}" for s in taxonomy.ids))
    out = processed(cfg, "stage_predictions.csv")
    if args.out:
        shutil.copyfile(out, args.out)
        out = args.out
    print(f"wrote {out}")


def _cmd_evaluate(cfg, args) -> None:
    import json

    import pandas as pd

    from ._evaluate import compare_coders, evaluate_predictions, headline, predicted_labels
    from ._ingest import load_corpus
    from ._pipeline import load_taxonomy_and_codes, read_human_codes

    turns = load_corpus(cfg.paths.transcripts, speaker_roles=dict(cfg.ingest.speaker_roles), keep_names=cfg.privacy.keep_names).turns
    answers = turns[turns["role"] == "interviewee"]
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    reference = read_human_codes(cfg, args.codes, turns)
    if args.predictions:
        try:
            predictions = pd.read_csv(args.predictions, dtype={"interview_id": str, "stages": str}, keep_default_na=False)
        except (OSError, pd.errors.ParserError) as exc:
            raise AnalysisError(f"{args.predictions}: cannot read predictions ({exc})") from None
        missing = {"interview_id", "turn_index", "stages"} - set(predictions.columns)
        if missing:
            raise AnalysisError(f"{args.predictions}, line 1: missing column(s) {', '.join(sorted(missing))}")
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


def _cmd_export(cfg, args) -> None:
    import shutil
    import tempfile
    from pathlib import Path

    from ._pipeline import export_step

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


def _cmd_report(cfg, args) -> None:
    from ._report import run_report

    started = time.perf_counter()
    # The configured codes belong to the configured corpus; another corpus gets none
    # unless its own codes are named.
    codes = args.codes if args.codes else ("none" if args.transcripts else None)
    if codes and codes != "none":
        codes = str(Path(codes).resolve())
    rendered = run_report(cfg, codes=codes)
    print(f"{len(rendered)} notebooks rendered to {cfg.paths.reports} in {time.perf_counter() - started:.0f} s; open {cfg.paths.reports}/index.html")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = load_config(args.config).with_transcripts(getattr(args, "transcripts", None))
        verbs = {"load": _cmd_load, "embed": _cmd_embed, "topics": _cmd_topics, "code-stages": _cmd_code_stages,
         "evaluate": _cmd_evaluate, "export": _cmd_export, "report": _cmd_report}
        verbs[args.verb](cfg, args)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
