"""Stage-coding agreement with the human coders of the reference study.

Reference: the consensus codes (``coded/moderation``) of the interviews whose PDF
carries codes. Prints, side by side:

- zero-shot (taxonomy only);
- few-shot, leave-one-interview-out: calibrated on every coded file (consensus and
  single coders' codings) of the *other* interviews, predict the held-out one, pool;
  also with the other interviews' consensus files only;
- two human coders of the same interview (``coded/codings``);
- a single coder against the consensus;

each as macro-F1, micro-F1, Krippendorff's alpha and "coded vs not coded" kappa, and
per stage F1 and kappa.

    .venv/bin/python benchmarks/stage_agreement.py [--corpus ../shared/corpus] [--processed DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd
import yaml

from analysis import load_config
from analysis.human_codes import (
    compare_coders,
    compare_to_consensus,
    evaluate_predictions,
    headline,
    per_stage_table,
    predicted_labels,
)
from analysis.pipeline import embed_step, load_step, read_human_codes, stage_signals_for, stages_step, topics_step
from analysis.stages import few_shot_leave_one_out

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--processed", help="processed folder to use (and keep); default: a temporary one")
    args = parser.parse_args()
    corpus = Path(args.corpus).resolve()

    with tempfile.TemporaryDirectory() as tmp:
        processed = Path(args.processed).resolve() if args.processed else Path(tmp) / "processed"
        config = Path(tmp) / "settings.yaml"
        settings = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text())
        settings["paths"] = {
            "transcripts": str(corpus / "transcripts"),
            "processed": str(processed),
            "reports": str(Path(tmp) / "reports"),
            "notebooks": str(ROOT / "notebooks"),
        }
        settings["stages"]["taxonomy"] = str(ROOT / "config" / "taxonomy.yaml")
        settings["stages"]["code_map"] = str(ROOT / "config" / "code_map.yaml")
        config.write_text(yaml.safe_dump(settings))
        cfg = load_config(config)

        started = time.perf_counter()
        corpus_tables = load_step(cfg)
        embed_step(cfg, show_progress=False)
        topics_step(cfg)
        prepared = time.perf_counter() - started
        turns = corpus_tables.turns
        answers = turns[turns["role"] == "interviewee"]

        started = time.perf_counter()
        consensus = read_human_codes(cfg, corpus / "coded" / "moderation", turns)
        codings = read_human_codes(cfg, corpus / "coded" / "codings", turns)
        read_s = time.perf_counter() - started

        started = time.perf_counter()
        result = stages_step(cfg)
        zero_s = time.perf_counter() - started
        predictions, ids = result.coding.table, result.taxonomy.ids
        zero = evaluate_predictions(predicted_labels(predictions, answers), consensus, answers, ids)

        started = time.perf_counter()
        signals, _ = stage_signals_for(cfg, turns)
        topics = pd.read_parquet(processed / "topics.parquet").set_index("turn_id")["topic"]
        few_labels = few_shot_leave_one_out(signals, consensus, cfg.stages, topics, extra=(codings,))
        few = evaluate_predictions(few_labels, consensus, answers, ids)
        few_s = time.perf_counter() - started
        few_consensus_only = evaluate_predictions(
            few_shot_leave_one_out(signals, consensus, cfg.stages, topics), consensus, answers, ids
        )

        humans = compare_coders(codings, answers, ids)
        single = compare_to_consensus(codings, consensus, answers, ids)

    print(f"corpus: {corpus}")
    print(
        f"prepared turns, embeddings and topics in {prepared:.0f} s; "
        f"read {len(consensus.documents) + len(codings.documents)} coded PDFs in {read_s:.0f} s"
    )
    print(
        f"consensus files with codes: {', '.join(zero['interviews'])}; "
        f"without codes: {len(zero['files_without_codes'])}"
    )
    print(f"human coders compared on interviews: {', '.join(humans['interviews'])}")
    rows = {
        "zero-shot (suite)": headline(zero),
        "few-shot leave-one-interview-out (suite)": headline(few),
        "  same, trained on consensus files only": headline(few_consensus_only),
        "coder vs coder (humans)": headline(humans),
        "single coder vs consensus (humans)": headline(single["overall"]),
    }
    print(pd.DataFrame(rows).T.to_string())
    for name, result in (("zero-shot", zero), ("few-shot", few)):
        spread = result["intervals"]
        print(
            f"{name}: {spread['level']:.0%} intervals over {spread['resamples']} resamples "
            f"of the {spread['interviews']} interviews: "
            + ", ".join(f"{k} {v[0]:.3f}-{v[1]:.3f}" for k, v in spread.items() if isinstance(v, list))
        )
    print(f"zero-shot coding took {zero_s:.1f} s; few-shot leave-one-out {few_s:.1f} s")
    print("\nbars: zero-shot macro-F1 >= 0.30 and alpha >= 0.30; few-shot macro-F1 >= 0.40 and alpha >= 0.45")
    for name, result in (("zero-shot", zero), ("few-shot", few), ("coder vs coder", humans)):
        print(f"\nper stage, {name}:")
        columns = ["stage", "f1", "kappa", "reference_positives", "other_positives"]
        print(per_stage_table(result)[columns].to_string(index=False))


if __name__ == "__main__":
    main()
