"""Command line: ``python -m analysis <verb>``.

Verbs:
    load    read transcripts into data/processed/turns.parquet (+ line accounting)
    embed   embed the substantive answers (cached by model and text hash)
    topics  fit the topic model (cached by texts, vectors and settings)
    code-stages  lifecycle stages per interviewee turn (zero-shot, or --train-codes)
    evaluate     agreement with human codes (Cohen's kappa, F1, Krippendorff's alpha)
    export       REFI-QDA .qdpx project and .qdc codebook, CSV and .xlsx tables
    report  execute all notebooks in order and render HTML to reports/
    review  the next answers of the review queue as a CSV to fill, or a filled one into the review log
    figures every chart of the reports as SVG, PNG or PDF files (for papers)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ._last_run import RUN_FILE, last_run
from .config import CONFIG_ENV, DEFAULT_CONFIG, Config, find_project_root, load_config
from .errors import AnalysisError
from .files import atomic_write_bytes, folder_lock, remove_stale_temporaries
from .human_codes import compare_coders, evaluate_predictions, headline, predicted_labels
from .pipeline import (
    STEPS,
    embed_step,
    export_step,
    load_step,
    load_taxonomy_and_codes,
    preflight,
    processed,
    read_corpus,
    read_human_codes,
    review_simulate_step,
    stages_step,
    topics_step,
)
from .stages import read_stage_csv, write_stage_csv
from .topics import topic_quality


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Thematic analysis of interview transcripts.",
        epilog="Paths given on the command line (--config, --transcripts, --codes, --train-codes, --out, "
        "--predictions, --log) are taken from the current directory; paths in the settings file from the "
        "project root (the folder above config/). embed, topics, code-stages, evaluate and export work on "
        "what the last load or report processed (data/processed/run.json: its transcripts and human codes) "
        "unless --transcripts is given.",
    )
    parser.add_argument(
        "--config", help="settings file (default: $ANALYSIS_CONFIG, else config/settings.yaml of this project)"
    )
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

    simulate = verbs.add_parser(
        "review-simulate",
        help="code the oracle's interviews as a new study would be, asking a simulated researcher for codes",
    )
    simulate.add_argument("--transcripts", required=True, help="folder of transcripts (training and oracle interviews)")
    simulate.add_argument("--train-codes", help="folder of human codes to start from (omit or empty: zero-shot)")
    simulate.add_argument("--oracle-codes", required=True, help="folder of codes that answer the suite's questions")
    simulate.add_argument("--budget", type=float, required=True, help="share of the oracle's answers to ask (0-1)")
    simulate.add_argument("--strategy", choices=["active", "random"], default="active")
    simulate.add_argument("--batches", type=int, default=10, help="batches the budget is asked in (default 10)")
    simulate.add_argument("--out", required=True, help="CSV to write: the code-stages columns plus source")

    report = verbs.add_parser("report", help="execute the notebooks in order and render HTML reports")
    report.add_argument("--transcripts", help="folder of transcripts (default: paths.transcripts of the config)")
    report.add_argument(
        "--codes",
        help="human codes of these transcripts for notebooks 06 and 08 (default: paths.reference_codes of the "
        "config, or none when --transcripts names another corpus)",
    )
    report.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="run each notebook in a kernel of its own (slower; checks each runs after a restart) instead of one "
        "shared kernel cleared between notebooks",
    )
    report.add_argument(
        "--force",
        action="store_true",
        help="run every notebook, also those whose inputs and outputs are as at their last run (whose pages "
        "are kept otherwise)",
    )

    figures = verbs.add_parser(
        "figures",
        help="write every chart of the reports as an SVG, PNG or PDF file (for papers)",
        description="Builds the charts of notebooks 01 and 03-06 from data/processed (running the steps whose "
        "outputs are missing; cached embeddings and topic models are reused) and exports each as OUT/NN_chart.FORMAT "
        "with kaleido, which needs Chromium (apt-get install chromium, or plotly_get_chrome).",
    )
    figures.add_argument("--format", choices=["svg", "png", "pdf"], default="svg", help="file format (default svg)")
    figures.add_argument("--out", required=True, help="folder to write the figures to (created)")
    figures.add_argument("--scale", type=float, default=1.0, help="pixel multiplier of PNG files (default 1; 2: print)")
    figures.add_argument("--transcripts", help="folder of transcripts; loads it first when given")
    figures.add_argument(
        "--codes", help="human codes for the reliability chart (default: the last run's codes; none: skip the chart)"
    )

    review = verbs.add_parser(
        "review",
        help="write the next answers to review as a CSV to fill in a spreadsheet, or read a filled one back",
        description="--budget N --out batch.csv writes the next N answers of the review queue (from the last "
        "code-stages run): question, turns before and after, the suite's suggestion, its probabilities and "
        "evidence, and an empty `stages` column. Fill it with stage ids separated by ';' (the ids of "
        "config/taxonomy.yaml, listed in the batch's first row), `none` (no stage) or `skip`; leave a row empty "
        "to decide later. --codes batch.csv appends the decisions to the review log (review.csv in "
        "paths.review_codes), which later runs read as human codes.",
    )
    review.add_argument("--budget", type=int, help="how many answers to write (with --out)")
    review.add_argument("--out", help="the batch CSV to write")
    review.add_argument("--codes", help="a filled batch CSV to append to the review log")
    review.add_argument("--coder", default="researcher", help="who decided (written with each decision)")
    review.add_argument("--log", help="the review log (default: review.csv in paths.review_codes)")
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
    # Nothing is left out silently: entries not read and lines read with a caveat.
    for notice in corpus.notices(limit=20):
        print(notice)
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
    q = topic_quality(result.info, result.assignments, cfg.topics, result.outlier_threshold)
    joined = (
        f" ({q['outliers_joined_a_topic']} joined a topic at cosine >= {q['cosine_an_outlier_needed']})"
        if "cosine_an_outlier_needed" in q
        else ""
    )
    print(
        f"{q['topics']} topics over {q['answers']} answers; largest {q['largest_topic_share']:.1%}, "
        f"outliers {q['outlier_share']:.1%}{joined}{' (from cache)' if result.from_cache else ''}"
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
        out = _write_out(args.out, Path(out).read_bytes())
    print(f"wrote {out}")


def _write_out(path: str | Path, data: bytes) -> Path:
    """Write a command's ``--out`` file atomically, first removing what a killed earlier
    run left of it (its temporary file)."""
    path = Path(path)
    remove_stale_temporaries(path.parent, recursive=False, of=path.name)
    return atomic_write_bytes(path, data)


def _cmd_review_simulate(cfg: Config, args) -> None:
    if not 0.0 <= args.budget <= 1.0:
        raise AnalysisError(f"--budget {args.budget}: expected a share between 0 and 1")
    load_step(cfg)
    embed_step(cfg, show_progress=False)
    topics_step(cfg)
    started = time.perf_counter()
    result = review_simulate_step(cfg, args.train_codes, args.oracle_codes, args.budget, args.strategy,
                                  batches=args.batches, log=print)
    write_stage_csv(result.table, args.out)
    researcher = int((result.table["source"] == "researcher").sum())
    print(f"{len(result.table)} interviewee turns of {result.table['interview_id'].nunique()} oracle interviews: "
          f"{researcher} reviewed (asked), the rest coded by the suite; {time.perf_counter() - started:.0f} s")
    print(f"wrote {args.out}")


def _cmd_evaluate(cfg: Config, args) -> None:
    turns = read_corpus(cfg).turns
    answers = turns[turns["role"] == "interviewee"]
    taxonomy, _ = load_taxonomy_and_codes(cfg)
    reference = read_human_codes(cfg, args.codes, turns)
    if args.predictions:
        predictions = read_stage_csv(args.predictions)
        result = evaluate_predictions(predicted_labels(predictions, answers), reference, answers, taxonomy.ids)
        result["compared"] = "predictions vs reference codes"
    else:
        result = compare_coders(reference, answers, taxonomy.ids)
        result["compared"] = "first vs second coder of each interview"
    _write_out(args.out, json.dumps(result, indent=2, default=lambda v: None if v != v else v).encode("utf-8"))
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
            _write_out(args.out, Path(made[args.format]).read_bytes())
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
    # Every notebook loads this settings file (not silently config/settings.yaml).
    config_path = args.config or os.environ.get(CONFIG_ENV) or find_project_root() / DEFAULT_CONFIG
    rendered = run_report(
        cfg, codes=codes, config_path=Path(config_path).resolve(), fresh_kernels=args.fresh_kernels,
        force=args.force,
    )
    kept = sum(r.reused for r in rendered)
    done = f"{len(rendered) - kept} notebooks run"
    if kept:
        done += f", {kept} unchanged (pages kept; --force runs them)"
    print(f"{done}; pages in {cfg.paths.reports} after {time.perf_counter() - started:.0f} s; "
          f"open {cfg.paths.reports}/index.html")


def _cmd_figures(cfg: Config, args) -> None:
    # Charts and kaleido load only for this verb.
    from .report import paper_figures, prepare_figure_folder, write_figures

    if args.scale <= 0:
        raise AnalysisError(f"--scale {args.scale}: expected a number above 0")
    prepare_figure_folder(args.out)  # a folder it cannot write, or no Chromium: say so before the charts are built
    if args.transcripts:
        load_step(cfg)
    if args.codes:
        cfg = cfg.with_codes(args.codes)
    started = time.perf_counter()
    figures = paper_figures(cfg, log=lambda message: print(message, file=sys.stderr))
    written = write_figures(figures, args.out, args.format, args.scale)
    for path in written:
        print(path)
    for name, reason in figures.skipped.items():
        print(f"skipped {name}: {reason}")
    print(f"{len(written)} figures written to {args.out} in {time.perf_counter() - started:.0f} s")


def _cmd_review(cfg: Config, args) -> None:
    from .human_codes import ReviewLog, import_review_batch, write_review_batch
    from .pipeline import read_table

    taxonomy, _ = load_taxonomy_and_codes(cfg)
    log = ReviewLog(args.log) if args.log else ReviewLog.in_folder(cfg.paths.review_codes)
    turns = read_table(cfg, "turns")
    if args.codes:
        if args.out or args.budget is not None:
            raise AnalysisError("review: --codes reads a filled batch; --budget and --out write a new one (not both)")
        counts = import_review_batch(args.codes, log, taxonomy.ids, args.coder, turns)
        print(
            f"{args.codes}: {counts['recorded']} answers with stages, {counts['none']} with none, "
            f"{counts['skipped']} skipped, {counts['unchanged']} already in the log; "
            f"{counts['empty']} rows left empty (not recorded)"
        )
        print(f"appended to {log.path}")
        return
    if args.budget is None or not args.out:
        raise AnalysisError("review: give --budget N --out batch.csv to write a batch, or --codes batch.csv to read")
    if args.budget < 1:
        raise AnalysisError(f"review: --budget {args.budget}: give the number of answers to write (1 or more)")
    from .stages import StageCoding, review_queue

    predictions = processed(cfg, "stage_predictions.csv")
    if not predictions.is_file():
        raise AnalysisError(f"{predictions} does not exist yet: run code-stages first")
    coding = StageCoding(read_stage_csv(str(predictions)), taxonomy.ids)
    # Decided answers are not asked again; a skipped one is (each batch is a new session).
    queue = review_queue(coding, reviewed=set(log.decisions()), size=args.budget, seed=cfg.seed)
    names = {s.id: s.name for s in taxonomy.stages}
    batch = write_review_batch(queue, coding.table, turns, args.out, taxonomy.ids, names)
    print(f"{len(batch)} answers to review written to {args.out} ({len(log.decisions())} reviewed before)")
    print(f"fill its stages column ({', '.join(taxonomy.ids)}; none; skip), then: review --codes {args.out}")


VERBS = {
    "load": _cmd_load,
    "embed": _cmd_embed,
    "topics": _cmd_topics,
    "code-stages": _cmd_code_stages,
    "evaluate": _cmd_evaluate,
    "export": _cmd_export,
    "report": _cmd_report,
    "review": _cmd_review,
    "review-simulate": _cmd_review_simulate,
    "figures": _cmd_figures,
}


VERB_STEPS = {
    "load": ("load",),
    "embed": ("embed",),
    "topics": ("embed", "topics"),
    "code-stages": ("embed", "stages"),
    "evaluate": ("load", "stages"),
    "export": ("export",),
    "report": STEPS,
    "review": (),  # reads the last code-stages output; its --codes is a filled batch file
    "review-simulate": ("load", "embed", "stages"),
    "figures": ("topics", "stages"),  # it runs them when their outputs are missing
}


def _preflight(cfg: Config, args) -> None:
    """Check what the verb will need before its first step (see :func:`analysis.pipeline.preflight`)."""
    steps = set(VERB_STEPS[args.verb])
    if getattr(args, "transcripts", None):
        steps.add("load")  # the verb loads that folder first
    codes = [getattr(args, "codes", None), getattr(args, "train_codes", None)]
    if args.verb == "review":
        codes = []  # review --codes names a filled batch (a file), not a folder of codes
    if args.verb == "report" and not args.codes and args.transcripts:
        cfg = cfg.with_codes("none")  # another corpus gets no codes unless named (see _cmd_report)
    if args.verb == "evaluate":
        steps.discard("agreement")  # its codes are --codes, not paths.reference_codes
    preflight(cfg, steps, codes=codes)


# Options holding paths: taken from the current directory (the config's own paths are
# taken from the project root when the config is loaded).
PATH_OPTIONS = ("config", "transcripts", "codes", "train_codes", "oracle_codes", "out", "predictions", "log")
# Verbs that start a run (their corpus is the one given or configured); the others work
# on what the last run processed.
RUN_VERBS = {"load", "report"}


def _absolute_paths(args) -> None:
    for name in PATH_OPTIONS:
        value = getattr(args, name, None)
        if value and str(value).lower() != "none":
            setattr(args, name, str(Path(value).expanduser().resolve()))


def _with_last_run(cfg: Config, args) -> Config:
    """Without --transcripts, verbs after load/report use the corpus and codes that run
    recorded in ``run.json`` (and say so), not the configured ones."""
    if args.verb in RUN_VERBS or getattr(args, "transcripts", None):
        return cfg
    record = last_run(cfg.paths.processed)
    if record is None:
        return cfg
    before = (cfg.paths.transcripts, cfg.paths.reference_codes, cfg.paths.independent_codings)
    cfg = cfg.with_transcripts(record["transcripts"]).with_codes(
        record.get("reference_codes") or "none", record.get("independent_codings") or "none"
    )
    if (cfg.paths.transcripts, cfg.paths.reference_codes, cfg.paths.independent_codings) != before:
        codes = record.get("reference_codes") or "no human codes"
        print(
            f"using the last run's transcripts ({record['transcripts']}) and codes ({codes}), from "
            f"{Path(cfg.paths.processed) / RUN_FILE}; pass --transcripts to load another corpus",
            file=sys.stderr,
        )
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _absolute_paths(args)
    try:
        cfg = load_config(args.config).with_transcripts(getattr(args, "transcripts", None))
        cfg = _with_last_run(cfg, args)
        _preflight(cfg, args)
        # The report's notebooks take the lock step by step in their kernels; other verbs hold it throughout.
        with contextlib.nullcontext() if args.verb == "report" else folder_lock(cfg.paths.processed):
            VERBS[args.verb](cfg, args)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
