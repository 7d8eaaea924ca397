"""The researcher in the loop, simulated on the reference study: agreement as the
suite asks a share of the answers of new interviews and learns from the answers.

Scenarios (``review-simulate`` in process, so the signals are computed once):

- **one new interview at a time**: each reference interview in turn is the oracle
  (a researcher who codes exactly the answers asked, with the consensus codes), every
  coded file of the *other* interviews is the training codes;
- **all eight new, no codes at all**: the eight reference interviews are the oracle and
  the starting model is learned only from the single coders' codings of interviews
  outside the eight (the shipped prior would have seen them).

For each budget (share of the oracle interviews' substantive answers asked, in 10
batches, retraining after each) and strategy (``active``: the review queue; ``random``),
prints agreement with the consensus over all answers (reviewed ones carry the oracle's
codes) and over the answers the suite coded itself, and the whole coding against each
single coder of the interviews coded twice, next to the human figures (coder vs coder).

    .venv/bin/python benchmarks/review_curve.py [--corpus ../shared/corpus] [--processed DIR]
        [--budgets 0 0.05 0.1 0.2 0.4] [--scenarios loio all]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd

from _corpus_config import corpus_config
from analysis.human_codes import (
    agreement,
    compare_coders,
    compare_to_consensus,
    headline,
    reference_kinds,
    reference_labels,
    training_labels,
)
from analysis.pipeline import embed_step, load_step, read_human_codes, stage_signals_for, topics_step
from analysis.stages import Oracle, StageCoder, simulate_review
from stage_agreement import suite_vs_single_coders

ROOT = Path(__file__).resolve().parents[1]


def _figures(reference: dict, table: pd.DataFrame, ids: list[str]) -> tuple[dict, dict]:
    predicted = {t: set(s) for t, s in zip(table["turn_id"], table["stages"])}
    source = dict(zip(table["turn_id"], table["source"]))
    units = {t: s for t, s in reference.items() if t in predicted}
    everything = agreement(units, {t: predicted[t] for t in units}, ids)
    suite_units = {t: s for t, s in units.items() if source[t] == "suite"}
    suite = agreement(suite_units, {t: predicted[t] for t in suite_units}, ids)
    return everything, suite


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--processed", help="processed folder to use (and keep); default: a temporary one")
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.4])
    parser.add_argument("--scenarios", nargs="+", choices=["loio", "all"], default=["loio", "all"])
    args = parser.parse_args()
    corpus = Path(args.corpus).resolve()

    with tempfile.TemporaryDirectory() as tmp:
        processed = Path(args.processed).resolve() if args.processed else Path(tmp) / "processed"
        cfg = corpus_config(corpus, Path(tmp), processed)
        turns = load_step(cfg).turns
        embed_step(cfg, show_progress=False)
        topics_step(cfg)
        consensus = read_human_codes(cfg, corpus / "coded" / "moderation", turns)
        codings = read_human_codes(cfg, corpus / "coded" / "codings", turns)
        signals, taxonomy = stage_signals_for(cfg, turns)
        topics = pd.read_parquet(processed / "topics.parquet").set_index("turn_id")["topic"]
    ids = taxonomy.ids
    answers = signals.answers
    substantive = answers["substantive"].to_numpy()
    reference = reference_labels(answers, consensus.codes, consensus.documents, ids)
    oracle_ids = list(consensus.coded()["interview_id"])
    humans = compare_coders(codings, answers, ids)
    single = compare_to_consensus(codings, consensus, answers, ids)["overall"]
    print(f"corpus: {corpus}; oracle interviews: {', '.join(oracle_ids)}")
    print(f"humans: coder vs coder alpha {headline(humans)['alpha']}, "
          f"single coder vs consensus alpha {headline(single)['alpha']}")
    # "vs single coder" below is measured on the interviews coded twice that are oracles
    both = [i for i in humans["per_interview"] if i in oracle_ids]
    print("coder vs coder on the oracle interviews coded twice (the units of 'vs single coder'): "
          + (", ".join(f"{i}: alpha {humans['per_interview'][i]['alpha']:.3f}" for i in both) or "none"))

    def train_without(excluded: set[str]) -> tuple[list, dict]:
        docs, kind_codes = [], []
        for source in (consensus, codings):
            others = source.documents[~source.documents["interview_id"].isin(excluded)]
            docs += training_labels(answers, source.codes, others, ids)
            kind_codes.append(source.codes[~source.codes["interview_id"].isin(excluded)])
        return docs, reference_kinds(answers, pd.concat(kind_codes, ignore_index=True))

    rows, per_stage = [], []
    for scenario in args.scenarios:
        for budget in args.budgets:
            for strategy in ("active", "random"):
                if budget == 0 and strategy == "random":
                    continue
                started, tables = time.perf_counter(), []
                groups = [[i] for i in oracle_ids] if scenario == "loio" else [oracle_ids]
                for group in groups:
                    train, kinds = train_without(set(group))
                    prior = None
                    if scenario == "all":
                        # no codes of the study: the starting model knows only interviews outside it
                        prior_coder = StageCoder(cfg.stages, seed=cfg.seed).fit(signals, train, kinds, topics)
                        prior, train, kinds = prior_coder.model_, [], {}
                    oracle = Oracle({t: s for t, s in reference.items()
                                     if answers.set_index("turn_id").at[t, "interview_id"] in group})
                    in_group = answers["interview_id"].isin(group).to_numpy()
                    coding, _ = simulate_review(
                        lambda prior=prior: StageCoder(cfg.stages, seed=cfg.seed, prior=prior), signals, topics,
                        train, kinds, oracle, in_group & substantive, budget, strategy, seed=cfg.seed)
                    tables.append(coding.table[in_group])
                coded = pd.concat(tables, ignore_index=True)
                everything, suite = _figures(reference, coded, ids)
                # the coding (researcher's and suite's answers) against each single coder of
                # the interviews coded twice, next to coder vs coder on the same units
                vs_single = suite_vs_single_coders(coded, codings, answers, ids)
                row = {"scenario": scenario, "budget": budget, "strategy": strategy,
                       **{f"all {k}": v for k, v in headline(everything).items() if k != "units"},
                       "suite-coded alpha": headline(suite)["alpha"], "suite-coded units": suite["units"],
                       "vs single coder alpha": headline(vs_single)["alpha"],
                       "seconds": round(time.perf_counter() - started)}
                rows.append(row)
                print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1), flush=True)
                per_stage.append({"scenario": scenario, "budget": budget, "strategy": strategy,
                                  **{s: round(v["f1"], 3) for s, v in everything["per_stage"].items()}})
    print("\n" + pd.DataFrame(rows).to_string(index=False))
    print("\nper-stage F1 over all answers:\n" + pd.DataFrame(per_stage).to_string(index=False))


if __name__ == "__main__":
    main()
