"""Agreement of the suite's stage coding with human codes, and of humans with each other.

Unit: the interviewee turns of each interview whose reference file carries codes,
between the first and the last coded turn of that file. Files without codes are
listed as such and left out; they are never read as "every turn uncoded".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._agreement import agreement
from ._codes import HumanCodes
from ._ingest import natural_sorted


def _document_labels(answers: pd.DataFrame, codes: pd.DataFrame, interview_id: str, source_file: str,
                     lo: int, hi: int, stage_ids: list[str]) -> dict[str, set[str]]:
    mapped = codes[(codes["status"] == "mapped") & (codes["interview_id"] == interview_id) & (codes["source_file"] == source_file)]
    by_turn = mapped.groupby("turn_index")["stage"].agg(lambda s: set(s) & set(stage_ids))
    unit = answers[(answers["interview_id"] == interview_id) & answers["turn_index"].between(lo, hi)]
    return {row.turn_id: set(by_turn.get(row.turn_index, set())) for row in unit.itertuples()}


def predicted_labels(predictions: pd.DataFrame, answers: pd.DataFrame) -> dict[str, set[str]]:
    """turn_id -> stages of a predictions table (the ``code-stages`` CSV)."""
    key = dict(zip(zip(answers["interview_id"].astype(str), answers["turn_index"].astype(int)), answers["turn_id"]))
    out = {}
    for row in predictions.itertuples():
        turn_id = key.get((str(row.interview_id), int(row.turn_index)))
        if turn_id is not None:
            value = "" if pd.isna(row.stages) else str(row.stages)
            out[turn_id] = {s for s in value.split(";") if s}
    return out


def _summaries(reference: HumanCodes) -> tuple[list[dict], list[str]]:
    docs = reference.documents
    without = sorted(docs.loc[~docs["has_codes"], "source_file"].tolist())
    return docs[docs["has_codes"]].to_dict("records"), without


def evaluate_predictions(predicted: dict[str, set[str]], reference: HumanCodes, answers: pd.DataFrame, stage_ids: list[str]) -> dict:
    """The suite (``predicted``, turn_id -> stages) against a reference folder of codes.

    Returns:
        ``overall`` (pooled over interviews; see :func:`analysis._agreement.agreement`),
        ``per_interview``, ``interviews`` used and ``files_without_codes``.
    """
    documents, without = _summaries(reference)
    pooled_ref, per_interview = {}, {}
    for doc in documents:
        if pd.isna(doc["first_coded_turn"]):
            continue
        labels = _document_labels(answers, reference.codes, doc["interview_id"], doc["source_file"],
                                  int(doc["first_coded_turn"]), int(doc["last_coded_turn"]), stage_ids)
        pooled_ref.update(labels)
        other = {t: predicted.get(t, set()) for t in labels}
        per_interview[doc["interview_id"]] = _brief(agreement(labels, other, stage_ids))
    other = {t: predicted.get(t, set()) for t in pooled_ref}
    interview_of = dict(zip(answers["turn_id"], answers["interview_id"].astype(str)))
    return {"overall": agreement(pooled_ref, other, stage_ids), "per_interview": per_interview,
            "interviews": natural_sorted(per_interview), "files_without_codes": without,
            "intervals": interview_intervals(pooled_ref, other, interview_of, stage_ids)}


def interview_intervals(reference: dict[str, set[str]], other: dict[str, set[str]], interview_of: dict[str, str],
                        stage_ids: list[str], resamples: int = 500, level: float = 0.9, seed: int = 0) -> dict | None:
    """How much the pooled figures depend on which interviews were coded: percentile
    intervals over resamples of the interviews (with replacement, seeded).

    Turns of one interview are not independent (one interviewee, one coder), so the
    interview, not the turn, is what is resampled. ``None`` with fewer than 3 interviews.

    Example:
        >>> ref = {f"{i}-{k}": ({"data"} if k % 2 else set()) for i in range(4) for k in range(6)}
        >>> got = interview_intervals(ref, ref, {u: u.split("-")[0] for u in ref}, ["data"], resamples=50)
        >>> got["micro_f1"]
        [1.0, 1.0]
    """
    by_interview: dict[str, list[str]] = {}
    for unit in sorted(reference):
        by_interview.setdefault(interview_of[unit], []).append(unit)
    interviews = natural_sorted(by_interview)
    if len(interviews) < 3:
        return None
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {"macro_f1": [], "micro_f1": [], "alpha": [], "coded_kappa": []}
    for _ in range(resamples):
        ref, oth = {}, {}
        for k, interview in enumerate(rng.choice(interviews, size=len(interviews), replace=True)):
            for unit in by_interview[interview]:
                ref[f"{k}|{unit}"], oth[f"{k}|{unit}"] = reference[unit], other[unit]
        result = agreement(ref, oth, stage_ids)
        for key, value in (("macro_f1", result["macro_f1"]), ("micro_f1", result["micro_f1"]), ("alpha", result["alpha"]),
                           ("coded_kappa", result["coded"]["kappa"])):
            if value is not None and value == value:
                draws[key].append(value)
    tail = (1 - level) / 2 * 100
    return {key: [round(float(np.percentile(v, tail)), 3), round(float(np.percentile(v, 100 - tail)), 3)] if v else None
            for key, v in draws.items()} | {"level": level, "resamples": resamples, "interviews": len(interviews)}


def compare_coders(codes: HumanCodes, answers: pd.DataFrame, stage_ids: list[str]) -> dict:
    """Two human codings of the same interviews (a folder with two coders per interview).

    For each interview where both files carry codes, the unit is the interviewee turns
    from the first to the last turn coded in either file; the first coder (by file
    order) is the reference. Pooled over interviews.
    """
    documents, without = _summaries(codes)
    by_interview: dict[str, list[dict]] = {}
    for doc in documents:
        by_interview.setdefault(doc["interview_id"], []).append(doc)
    pooled_a, pooled_b, per_interview, single = {}, {}, {}, []
    for interview_id in natural_sorted(by_interview):
        docs = by_interview[interview_id]
        docs = [d for d in docs if not pd.isna(d["first_coded_turn"])]
        if len(docs) < 2:
            single.append(interview_id)
            continue
        a, b = docs[0], docs[1]
        lo = int(min(a["first_coded_turn"], b["first_coded_turn"]))
        hi = int(max(a["last_coded_turn"], b["last_coded_turn"]))
        la = _document_labels(answers, codes.codes, interview_id, a["source_file"], lo, hi, stage_ids)
        lb = _document_labels(answers, codes.codes, interview_id, b["source_file"], lo, hi, stage_ids)
        pooled_a.update(la)
        pooled_b.update(lb)
        per_interview[interview_id] = _brief(agreement(la, lb, stage_ids))
    result = {"overall": agreement(pooled_a, pooled_b, stage_ids) if pooled_a else None, "per_interview": per_interview,
              "interviews": list(per_interview), "interviews_with_one_coded_file": single, "files_without_codes": without}
    return result


def compare_to_consensus(codings: HumanCodes, consensus: HumanCodes, answers: pd.DataFrame, stage_ids: list[str]) -> dict:
    """Each single coder's file against the consensus of the same interview, pooled."""
    pooled_ref, pooled_other, pairs = {}, {}, []
    consensus_docs, _ = _summaries(consensus)
    coder_docs, _ = _summaries(codings)
    for ref_doc in consensus_docs:
        if pd.isna(ref_doc["first_coded_turn"]):
            continue
        lo, hi = int(ref_doc["first_coded_turn"]), int(ref_doc["last_coded_turn"])
        reference = _document_labels(answers, consensus.codes, ref_doc["interview_id"], ref_doc["source_file"], lo, hi, stage_ids)
        for doc in coder_docs:
            if doc["interview_id"] != ref_doc["interview_id"]:
                continue
            mine = _document_labels(answers, codings.codes, doc["interview_id"], doc["source_file"], lo, hi, stage_ids)
            # A key per pair: one interview may have two coders compared to one consensus.
            for t in reference:
                pooled_ref[f"{doc['source_file']}|{t}"] = reference[t]
                pooled_other[f"{doc['source_file']}|{t}"] = mine.get(t, set())
            pairs.append(f"{doc['interview_id']}:{doc['coder']}")
    return {"overall": agreement(pooled_ref, pooled_other, stage_ids) if pooled_ref else None, "pairs": pairs}


def _brief(result: dict) -> dict:
    return {"units": result["units"], "macro_f1": result["macro_f1"], "micro_f1": result["micro_f1"],
            "alpha": result["alpha"], "coded_kappa": result["coded"]["kappa"]}


def headline(result: dict) -> dict:
    """macro-F1, micro-F1, alpha and coded-vs-not kappa of an agreement result, rounded."""
    overall = result["overall"] if "overall" in result else result
    if overall is None:
        return {}
    r = lambda v: None if v is None else round(v, 3)
    return {"units": overall["units"], "macro_f1": r(overall["macro_f1"]), "micro_f1": r(overall["micro_f1"]),
            "alpha": r(overall["alpha"]), "coded_kappa": r(overall["coded"]["kappa"])}


def per_stage_table(result: dict) -> pd.DataFrame:
    """Per-stage kappa, F1 and positives of an agreement result."""
    overall = result["overall"] if "overall" in result else result
    rows = [{"stage": s, **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}}
            for s, d in overall["per_stage"].items()]
    return pd.DataFrame(rows)
