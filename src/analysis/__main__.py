"""Command line: ``python -m analysis <verb>``.

Verbs:
    load    read transcripts into data/processed/turns.parquet (+ line accounting)
    embed   embed the substantive answers (cached by model and text hash)
    topics  fit the topic model (cached by texts, vectors and settings)
    report  execute all notebooks in order and render HTML to reports/
"""

from __future__ import annotations

import argparse
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

    report = verbs.add_parser("report", help="execute the notebooks in order and render HTML reports")
    report.add_argument("--transcripts", help="folder of transcripts (default: paths.transcripts of the config)")
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


def _cmd_report(cfg, args) -> None:
    from ._report import run_report

    started = time.perf_counter()
    rendered = run_report(cfg)
    print(f"{len(rendered)} notebooks rendered to {cfg.paths.reports} in {time.perf_counter() - started:.0f} s; open {cfg.paths.reports}/index.html")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = load_config(args.config).with_transcripts(getattr(args, "transcripts", None))
        {"load": _cmd_load, "embed": _cmd_embed, "topics": _cmd_topics, "report": _cmd_report}[args.verb](cfg, args)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
