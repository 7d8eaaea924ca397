"""Stage-coding agreement with the human coders of the reference study, measured nested.

Reference: the consensus codes (``coded/moderation``) of the interviews whose PDF
carries codes. Every figure of the suite is leave-one-interview-out: the held-out
interview is coded by a coder that learned only from the codes of the *other*
interviews (consensus files and single coders' codings), and every choice that reads
codes (the model's weights, the coding threshold, read off its own probabilities) is
made inside that fold. Prints, side by side:

- zero-shot: the model learned from the other interviews, predicting with no codes of
  the held-out one's study voting (what a new study gets from ``prior_model.json``);
- few-shot: the same model with the other interviews' codes voting (nearest coded
  answers);
- two human coders of the same interview, and the suite against each single coder on
  the interviews coded twice (7, 30, 32), the fairest "as good as a second coder" figure;
- a single coder against the consensus;

each as macro-F1, micro-F1, Krippendorff's alpha and "coded vs not coded" kappa, with 90%
intervals over resamples of the interviews, the Brier score of P(coded) and of each
stage's probability, a reliability table, and per-stage F1 and kappa.

    .venv/bin/python benchmarks/stage_agreement.py [--corpus ../shared/corpus] [--processed DIR]
        [--seed N] [--precision fp32|bf16]   # the figures' spread over seeds; one embedding precision
    .venv/bin/python benchmarks/stage_agreement.py --write-prior   # refit src/analysis/stages/prior_model.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd

from _corpus_config import corpus_config
from analysis.embeddings import PRECISIONS, Embedder
from analysis.human_codes import (
    HumanCodes,
    agreement,
    compare_coders,
    compare_to_consensus,
    evaluate_predictions,
    headline,
    per_stage_table,
    reference_labels,
    training_labels,
)
from analysis.pipeline import embed_step, load_step, read_human_codes, stage_signals_for, topics_step
from analysis.stages import StageCoder, StageSettings, leave_one_interview_out, model_to_dict

ROOT = Path(__file__).resolve().parents[1]
PRIOR = ROOT / "src" / "analysis" / "stages" / "prior_model.json"


def brier(table: pd.DataFrame, reference: dict[str, set[str]], ids: list[str]) -> dict[str, float]:
    """Brier score of P(coded) and of each stage's probability on the reference units."""
    rows = table[table["turn_id"].isin(reference)]
    truth = [reference[t] for t in rows["turn_id"]]
    out = {"coded": float(np.mean((rows["p_coded"] - [bool(s) for s in truth]) ** 2))}
    for s in ids:
        out[s] = float(np.mean((rows[f"p_{s}"] - [s in t for t in truth]) ** 2))
    return out


def reliability(table: pd.DataFrame, reference: dict[str, set[str]], bins: int = 10) -> pd.DataFrame:
    """Answers per bin of P(coded), the mean predicted and the share the consensus coded."""
    rows = table[table["turn_id"].isin(reference)]
    coded = np.array([bool(reference[t]) for t in rows["turn_id"]])
    which = np.minimum((rows["p_coded"].to_numpy() * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mine = which == b
        if mine.any():
            out.append({"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "answers": int(mine.sum()),
                        "predicted": round(float(rows["p_coded"].to_numpy()[mine].mean()), 3),
                        "observed": round(float(coded[mine].mean()), 3)})
    return pd.DataFrame(out)


def suite_vs_single_coders(table: pd.DataFrame, codings, answers: pd.DataFrame, ids: list[str]) -> dict:
    """The suite's held-out coding against each single coder of the interviews coded twice
    (the same units as coder vs coder), pooled; interviews ``table`` does not code are
    left out."""
    twice = codings.coded().groupby("interview_id").size()
    coded_here = set(answers.loc[answers["turn_id"].isin(table["turn_id"]), "interview_id"])
    twice = sorted((i for i in twice[twice >= 2].index if i in coded_here), key=int)
    predicted = {t: set(s) for t, s in zip(table["turn_id"], table["stages"])}
    pooled_ref, pooled_suite = {}, {}
    for interview_id in twice:
        docs = codings.coded()[codings.coded()["interview_id"] == interview_id]
        for _, doc in docs.iterrows():
            labels = training_labels(answers, codings.codes, docs[docs["source_file"] == doc["source_file"]], ids)[0]
            for t, s in labels.items():
                pooled_ref[f"{doc['source_file']}|{t}"] = s
                pooled_suite[f"{doc['source_file']}|{t}"] = predicted.get(t, set())
    return {"interviews": twice, **agreement(pooled_ref, pooled_suite, ids)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--processed", help="processed folder to use (and keep); default: a temporary one")
    parser.add_argument("--write-prior", action="store_true", help=f"refit {PRIOR.name} on every coded file")
    parser.add_argument("--seed", type=int, help="default: the project's seed")
    parser.add_argument("--precision", choices=PRECISIONS, help="default: embedding.precision")
    args = parser.parse_args()
    overrides = {"seed": args.seed, "embedding.precision": args.precision}
    corpus = Path(args.corpus).resolve()

    with tempfile.TemporaryDirectory() as tmp:
        processed = Path(args.processed).resolve() if args.processed else Path(tmp) / "processed"
        cfg = corpus_config(corpus, Path(tmp), processed, {k: v for k, v in overrides.items() if v is not None})

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
        signals, taxonomy = stage_signals_for(cfg, turns)
        ids = taxonomy.ids
        topics = pd.read_parquet(processed / "topics.parquet").set_index("turn_id")["topic"]

        if args.write_prior:
            docs = training_labels(signals.answers, consensus.codes, consensus.documents, ids)
            docs += training_labels(signals.answers, codings.codes, codings.documents, ids)
            model = StageCoder(cfg.stages, seed=cfg.seed).fit(signals, docs, topics=topics).model_
            PRIOR.write_text(json.dumps(model_to_dict(model), indent=1) + "\n")
            print(f"wrote {PRIOR} from {len(docs)} coded files")
            print(model.coefficients().to_string(index=False))
            return

        started = time.perf_counter()
        zero_table = leave_one_interview_out(signals, consensus, cfg.stages, topics, extra=(codings,),
                                             use_votes=False, seed=cfg.seed)
        zero_s = time.perf_counter() - started
        started = time.perf_counter()
        few_table = leave_one_interview_out(signals, consensus, cfg.stages, topics, extra=(codings,), seed=cfg.seed)
        few_s = time.perf_counter() - started

        def labels(table):
            return {t: set(s) for t, s in zip(table["turn_id"], table["stages"])}

        zero = evaluate_predictions(labels(zero_table), consensus, answers, ids)
        few = evaluate_predictions(labels(few_table), consensus, answers, ids)
        humans = compare_coders(codings, answers, ids)
        single = compare_to_consensus(codings, consensus, answers, ids)
        reference = reference_labels(signals.answers, consensus.codes, consensus.documents, ids)
        # the interviews coded twice, each held out in turn (training: every other interview's files)
        twice = codings.coded().groupby("interview_id").size()
        twice_docs = codings.documents[codings.documents["interview_id"].isin(twice[twice >= 2].index)]
        twice_codes = HumanCodes(codings.codes, twice_docs)
        suite_single = {}
        for name, use_votes in (("zero-shot", False), ("few-shot", True)):
            held = leave_one_interview_out(signals, twice_codes, cfg.stages, topics, extra=(consensus, codings),
                                           use_votes=use_votes, seed=cfg.seed)
            suite_single[name] = suite_vs_single_coders(held, codings, signals.answers, ids)

    print(f"corpus: {corpus}")
    print(f"prepared turns, embeddings and topics in {prepared:.0f} s; "
          f"read {len(consensus.documents) + len(codings.documents)} coded PDFs in {read_s:.0f} s")
    print(f"consensus files with codes: {', '.join(zero['interviews'])}; "
          f"without codes: {len(zero['files_without_codes'])}")
    print(f"seed {cfg.seed}; embedding precision {cfg.embedding.precision} "
          f"(here: {Embedder.from_settings(cfg.embedding).precision})")
    print(f"settings: {StageSettings.__name__} = {cfg.stages.model_dump(exclude={'taxonomy', 'code_map'})}")
    rows = {
        "zero-shot, nested leave-one-interview-out (suite)": headline(zero),
        "few-shot, nested leave-one-interview-out (suite)": headline(few),
        "single coder vs consensus (humans)": headline(single["overall"]),
    }
    print(pd.DataFrame(rows).T.to_string())
    for name, result in (("zero-shot", zero), ("few-shot", few)):
        spread = result["intervals"]
        print(f"{name}: {spread['level']:.0%} intervals over {spread['resamples']} resamples of the "
              f"{spread['interviews']} interviews: "
              + ", ".join(f"{k} {v[0]:.3f}-{v[1]:.3f}" for k, v in spread.items() if isinstance(v, list)))
    print(f"\ninterviews coded twice ({', '.join(humans['interviews'])}): is the suite as good as a second coder?")
    twice = {"coder vs coder (humans)": headline(humans)}
    for name, result in suite_single.items():
        twice[f"suite ({name}) vs each single coder"] = headline(result)
    print(pd.DataFrame(twice).T.to_string())
    print("\nBrier score (lower is better; a constant at the base rate scores p(1-p)):")
    base = np.mean([bool(s) for s in reference.values()])
    print(f"  base-rate P(coded) {base:.3f} would score {base * (1 - base):.3f}")
    for name, table in (("zero-shot", zero_table), ("few-shot", few_table)):
        scores = brier(table, reference, ids)
        print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    for name, table in (("zero-shot", zero_table), ("few-shot", few_table)):
        print(f"\nreliability of P(coded), {name} (consensus units):")
        print(reliability(table, reference).to_string(index=False))
        held = table[table["turn_id"].isin(reference)]
        print(f"uncertain answers: {int(held['uncertain'].sum())} of {len(held)} units")
    print(f"\nzero-shot leave-one-out {zero_s:.1f} s; few-shot leave-one-out {few_s:.1f} s (8 folds)")
    for name, result in (("zero-shot", zero), ("few-shot", few), ("coder vs coder", humans)):
        print(f"\nper stage, {name}:")
        columns = ["stage", "f1", "kappa", "reference_positives", "other_positives"]
        print(per_stage_table(result)[columns].to_string(index=False))


if __name__ == "__main__":
    main()
