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

With ``--acquisition NAME`` the active queue ranks by that acquisition function
(default: the shipped one). With ``--acquisition nested`` the acquisition is itself chosen
by nested validation, one interview at a time: for each outer oracle interview, on the
other seven only (each in turn the inner oracle, the rest and the codings as training,
review at ``--inner-budget`` in ``--inner-batches`` batches), the candidate with the best
mean inner alpha over all answers is chosen and runs the outer fold; the outer oracle's
codes never touch the choice (checked in ``choose_acquisition``). It prints each fold's
choice, the outer table (nested active vs random at ``--budgets``, the honest figure),
each fixed candidate's outer figure at ``--fixed-budgets`` (for information only: picking
the best of them would read the outer scores), and the choice on all eight interviews
(the shipped default).

    .venv/bin/python benchmarks/review_curve.py [--corpus ../shared/corpus] [--processed DIR]
        [--budgets 0 0.05 0.1 0.2 0.4] [--scenarios loio all] [--acquisition NAME]
    .venv/bin/python benchmarks/review_curve.py --acquisition nested --budgets 0.1 0.2
        [--fixed-budgets 0.2] [--inner-budget 0.2] [--inner-batches 2]
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
from analysis.stages import ACQUISITIONS, DEFAULT_ACQUISITION, Oracle, StageCoder, choose_acquisition, simulate_review
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
    parser.add_argument("--acquisition", choices=[*ACQUISITIONS, "nested"], default=DEFAULT_ACQUISITION,
                        help="the active queue's acquisition, or 'nested': chosen per fold by nested validation")
    parser.add_argument("--fixed-budgets", type=float, nargs="*", default=[0.2],
                        help="with nested: budgets at which every fixed candidate's outer figure is printed")
    parser.add_argument("--inner-budget", type=float, default=0.2)
    parser.add_argument("--inner-batches", type=int, default=2)
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

    def figures_row(coded: pd.DataFrame, **labels) -> dict:
        everything, suite = _figures(reference, coded, ids)
        # the coding (researcher's and suite's answers) against each single coder of
        # the interviews coded twice, next to coder vs coder on the same units
        vs_single = suite_vs_single_coders(coded, codings, answers, ids)
        return {**labels, **{f"all {k}": v for k, v in headline(everything).items() if k != "units"},
                "suite-coded alpha": headline(suite)["alpha"], "suite-coded units": suite["units"],
                "vs single coder alpha": headline(vs_single)["alpha"]}

    if args.acquisition == "nested":
        context = {"cfg": cfg, "signals": signals, "topics": topics, "reference": reference, "answers": answers,
                   "substantive": substantive, "oracle_ids": oracle_ids, "train_without": train_without,
                   "figures_row": figures_row, "per_stage_f1": lambda coded: {
                       s: round(v["f1"], 3) for s, v in _figures(reference, coded, ids)[0]["per_stage"].items()}}
        _nested(args, context)
        return

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
                        train, kinds, oracle, in_group & substantive, budget, strategy, seed=cfg.seed,
                        acquisition=args.acquisition)
                    tables.append(coding.table[in_group])
                coded = pd.concat(tables, ignore_index=True)
                everything, _ = _figures(reference, coded, ids)
                row = {**figures_row(coded, scenario=scenario, budget=budget, strategy=strategy),
                       "seconds": round(time.perf_counter() - started)}
                rows.append(row)
                print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1), flush=True)
                per_stage.append({"scenario": scenario, "budget": budget, "strategy": strategy,
                                  **{s: round(v["f1"], 3) for s, v in everything["per_stage"].items()}})
    print("\n" + pd.DataFrame(rows).to_string(index=False))
    print("\nper-stage F1 over all answers:\n" + pd.DataFrame(per_stage).to_string(index=False))


def _nested(args, context: dict) -> None:
    """The review curve with the acquisition chosen by nested validation (see the module
    docstring); every outer run of a fold shares the fold's first coding."""
    cfg, signals, topics = context["cfg"], context["signals"], context["topics"]
    reference, answers, substantive = context["reference"], context["answers"], context["substantive"]
    oracle_ids, train_without, figures_row = context["oracle_ids"], context["train_without"], context["figures_row"]
    per_stage_f1 = context["per_stage_f1"]
    interview = answers["interview_id"].astype(str).to_numpy()
    interview_of = dict(zip(answers["turn_id"], interview))
    candidates = list(ACQUISITIONS)
    budgets = [b for b in args.budgets if b > 0]

    def factory():
        return StageCoder(cfg.stages, seed=cfg.seed)

    def inner_codes(held_out: str | None):
        def codes_of(inner: str) -> dict:
            if inner == held_out:  # the outer oracle's codes are never read while choosing
                raise AssertionError(f"the nested choice asked for the outer oracle {held_out}'s codes")
            return {t: s for t, s in reference.items() if interview_of[t] == inner}
        return codes_of

    def choose(interviews: list[str], held_out: str | None):
        started = time.perf_counter()
        choice = choose_acquisition(factory, signals, topics, interviews, train_without, inner_codes(held_out),
                                    held_out=held_out, budget=args.inner_budget, batches=args.inner_batches,
                                    seed=cfg.seed, log=print)
        print(f"  -> {choice.best} (mean inner alpha " + ", ".join(f"{n} {a:.3f}" for n, a in
                                                             choice.mean_alpha.items())
              + f"); {time.perf_counter() - started:.0f} s", flush=True)
        return choice

    print(f"\nnested choice of the acquisition: inner budget {args.inner_budget}, {args.inner_batches} batches, "
          f"candidates {', '.join(candidates)}")
    print("shipped default: the choice on all eight reference interviews", flush=True)
    shipped = choose(oracle_ids, None)

    runs: dict[tuple[str, str, float], pd.DataFrame] = {}  # (fold, strategy or acquisition, budget) -> table
    chosen: dict[str, str] = {}
    started = time.perf_counter()
    for fold in oracle_ids:
        print(f"outer oracle {fold}: choosing on {', '.join(i for i in oracle_ids if i != fold)}", flush=True)
        choice = choose([i for i in oracle_ids if i != fold], fold)
        chosen[fold] = choice.best
        train, kinds = train_without({fold})
        start = factory()
        start.fit(signals, train, kinds, topics)
        in_fold = interview == fold
        codes = {t: s for t, s in reference.items() if interview_of[t] == fold}
        runs[(fold, "none", 0.0)] = start.predict(signals, topics).table[in_fold]
        plan = [("random", b) for b in budgets] + [(choice.best, b) for b in budgets]
        plan += [(a, b) for b in args.fixed_budgets for a in candidates if (a, b) not in plan]
        for what, budget in plan:
            strategy = "random" if what == "random" else "active"
            coding, _ = simulate_review(factory, signals, topics, train, kinds, Oracle(codes), in_fold & substantive,
                                        budget, strategy, seed=cfg.seed, start=start,
                                        acquisition=None if what == "random" else what)
            runs[(fold, what, budget)] = coding.table[in_fold]
        print(f"  outer fold {fold} done; {time.perf_counter() - started:.0f} s so far", flush=True)

    def pooled(what_of, budget: float) -> pd.DataFrame:
        return pd.concat([runs[(f, what_of(f), budget)] for f in oracle_ids], ignore_index=True)

    print("\nper-fold choice (made on the other seven interviews only):")
    print(pd.DataFrame({"outer oracle": list(chosen), "chosen acquisition": list(chosen.values())}).to_string(
        index=False))
    honest, stages = [], []
    arms = (("active (nested)", lambda f: chosen[f]), ("random", lambda f: "random"))
    for budget, strategy, what_of in [(0.0, "(no review)", lambda f: "none")] + [
        (b, s, w) for b in budgets for s, w in arms
    ]:
        coded = pooled(what_of, budget)
        honest.append(figures_row(coded, budget=budget, strategy=strategy))
        stages.append({"budget": budget, "strategy": strategy, **per_stage_f1(coded)})
    print("\nouter figures, LOIO over the eight reference interviews (the honest figure: nested active vs random):")
    print(pd.DataFrame(honest).to_string(index=False))
    print("\nper-stage F1 over all answers (same runs):\n" + pd.DataFrame(stages).to_string(index=False))
    fixed = [figures_row(pooled(lambda f, a=a: a, b), budget=b, acquisition=a)
             for b in args.fixed_budgets for a in candidates]
    print("\nfor information only, NOT the honest figure (choosing among these rows would read outer scores):")
    print(pd.DataFrame(fixed).to_string(index=False))
    print(f"\nshipped default (chosen on all eight): {shipped.best}; mean inner alpha "
          + ", ".join(f"{n} {a:.3f}" for n, a in shipped.mean_alpha.items()))
    print(f"outer folds: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
