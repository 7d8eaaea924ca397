"""Agreement between codings, and of the suite's stage coding with human codes.

A coding is a mapping from unit (an interviewee turn) to a set of stage ids; every
stage is a binary decision per unit. Metrics: per-stage Cohen's kappa and F1, macro-
and micro-F1, Krippendorff's alpha, and "coded vs not coded".

Unit: the interviewee turns of each interview whose reference file carries codes,
between the first and the last coded turn of that file. Files without codes are
listed as such and left out; they are never read as "every turn uncoded". A review log
(documents' ``units`` = ``listed``) lists its units: exactly the turns the researcher
decided, a turn decided "none" being a unit with no stage.

Example:
    >>> ref = {"t1": {"data"}, "t2": set(), "t3": {"model_evaluation"}}
    >>> pred = {"t1": {"data"}, "t2": {"data"}, "t3": {"model_evaluation"}}
    >>> round(agreement(ref, pred, ["data", "model_evaluation"])["micro_f1"], 3)
    0.8
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .._ids import natural_sorted
from ._readers import HumanCodes


def cohen_kappa(a: Iterable[bool], b: Iterable[bool]) -> float | None:
    """Cohen's kappa of two binary codings; ``None`` when undefined (both constant and equal)."""
    a, b = np.asarray(list(a), bool), np.asarray(list(b), bool)
    return _kappa_from_pairs(*(int(c) for c in _pair_counts(a, b)))


def _pair_counts(a: np.ndarray, b: np.ndarray) -> list:
    """(both, first only, second only, neither) of two boolean codings, summed along the
    first axis (per column of a units x stages matrix)."""
    return [(a & b).sum(0), (a & ~b).sum(0), (~a & b).sum(0), (~a & ~b).sum(0)]


def f1_counts(a: Iterable[bool], b: Iterable[bool]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of ``b`` against reference ``a``."""
    a, b = np.asarray(list(a), bool), np.asarray(list(b), bool)
    return int((a & b).sum()), int((~a & b).sum()), int((a & ~b).sum())


def f1(tp: int, fp: int, fn: int) -> float:
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def krippendorff_alpha_nominal(a: Iterable, b: Iterable) -> float | None:
    """Krippendorff's alpha (nominal) for two coders who both coded every unit.

    Computed from the coincidence matrix: alpha = 1 - D_o / D_e.
    """
    a, b = list(a), list(b)
    if not a:
        return None
    values = sorted(set(a) | set(b), key=str)
    index = {v: i for i, v in enumerate(values)}
    k = len(values)
    rows = np.fromiter((index[x] for x in a), dtype=np.intp, count=len(a))
    cols = np.fromiter((index[y] for y in b), dtype=np.intp, count=len(b))
    # each unit with two values contributes both ordered pairs, weight 1/(m-1) = 1
    return _alpha_of_pairs(np.bincount(rows * k + cols, minlength=k * k).reshape(k, k).astype(float))


def _alpha_of_pairs(pairs: np.ndarray) -> float | None:
    """Krippendorff's alpha (nominal) from the counts of (first coder's value, second's)
    over the values seen: alpha = 1 - D_o / D_e of the coincidence matrix."""
    o = pairs + pairs.T
    n_c = o.sum(axis=1)
    n = n_c.sum()
    d_o = (o.sum() - np.trace(o)) / n
    d_e = (n * n - (n_c**2).sum()) / (n * (n - 1))
    if d_e == 0:
        return None
    return float(1 - d_o / d_e)


def agreement(reference: Mapping[str, set], other: Mapping[str, set], stages: list[str]) -> dict:
    """Agreement of ``other`` with ``reference`` on the units of ``reference``.

    Returns:
        ``per_stage`` (kappa, F1, reference and other positives per stage),
        ``macro_f1`` (mean F1 over stages with at least one reference positive),
        ``micro_f1`` (pooled over stages), ``alpha`` (Krippendorff, nominal, on the pooled
        per-stage binary decisions), ``coded`` (kappa, F1 and alpha of "has any stage"),
        and ``units``.
    """
    units = sorted(reference)
    missing = [u for u in units if u not in other]
    if missing:
        raise ValueError(f"{len(missing)} units of the reference have no coding in the other (e.g. {missing[0]})")
    per_stage, pooled_a, pooled_b = {}, [], []
    tp_all = fp_all = fn_all = 0
    for stage in stages:
        a = [stage in reference[u] for u in units]
        b = [stage in other[u] for u in units]
        tp, fp, fn = f1_counts(a, b)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        per_stage[stage] = {
            "kappa": cohen_kappa(a, b),
            "f1": f1(tp, fp, fn),
            "reference_positives": int(sum(a)),
            "other_positives": int(sum(b)),
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
        pooled_a += a
        pooled_b += b
    scored = [v["f1"] for v in per_stage.values() if v["reference_positives"] > 0]
    coded_a = [bool(reference[u]) for u in units]
    coded_b = [bool(other[u]) for u in units]
    return {
        "units": len(units),
        "per_stage": per_stage,
        "macro_f1": float(np.mean(scored)) if scored else None,
        "micro_f1": f1(tp_all, fp_all, fn_all),
        "alpha": krippendorff_alpha_nominal(pooled_a, pooled_b),
        "coded": {
            "kappa": cohen_kappa(coded_a, coded_b),
            "f1": f1(*f1_counts(coded_a, coded_b)),
            "alpha": krippendorff_alpha_nominal(coded_a, coded_b),
            "reference_share": float(np.mean(coded_a)) if units else None,
            "other_share": float(np.mean(coded_b)) if units else None,
        },
    }


def coded_range_labels(
    answers: pd.DataFrame,
    codes: pd.DataFrame,
    interview_id: str,
    source_file: str,
    lo: int,
    hi: int,
    stage_ids: list[str],
    *,
    units: str = "range",
    coder: str | None = None,
) -> dict[str, set[str]]:
    """turn_id -> stages of one coded file, for the interviewee turns from its first (``lo``)
    to its last (``hi``) coded turn: the agreement units.

    Args:
        units: ``listed`` (a review log): only the turns ``coder`` decided in the file,
            within ``lo``..``hi``; skipped and superseded rows are no decision.
        coder: the coder of a ``listed`` file (a log may hold several).
    """
    mine = codes[(codes["interview_id"] == interview_id) & (codes["source_file"] == source_file)]
    if units == "listed" and coder is not None:
        mine = mine[mine["coder"] == coder]
    mapped = mine[mine["status"] == "mapped"]
    by_turn = mapped.groupby("turn_index")["stage"].agg(lambda s: set(s) & set(stage_ids))
    unit = answers[(answers["interview_id"] == interview_id) & answers["turn_index"].between(lo, hi)]
    if units == "listed":
        decided = set(mine.loc[~mine["status"].isin(["skip", "superseded"]), "turn_index"].dropna().astype(int))
        unit = unit[unit["turn_index"].isin(decided)]
    return {row.turn_id: set(by_turn.get(row.turn_index, set())) for row in unit.itertuples()}


def _document_labels(
    answers: pd.DataFrame, codes: pd.DataFrame, doc, stage_ids: list[str], lo: int | None = None, hi: int | None = None
) -> dict[str, set[str]]:
    """:func:`coded_range_labels` of one documents row (a dict or a named tuple), over its own
    coded range unless ``lo``/``hi`` are given."""
    get = doc.get if isinstance(doc, dict) else lambda k, d=None: getattr(doc, k, d)
    units = get("units", "range")
    return coded_range_labels(
        answers,
        codes,
        get("interview_id"),
        get("source_file"),
        int(get("first_coded_turn")) if lo is None else lo,
        int(get("last_coded_turn")) if hi is None else hi,
        stage_ids,
        units="listed" if units == "listed" else "range",
        coder=get("coder"),
    )


def predicted_labels(predictions: pd.DataFrame, answers: pd.DataFrame) -> dict[str, set[str]]:
    """turn_id -> stages of a predictions table (``StageCoding.table`` or the ``code-stages`` CSV
    read with ``read_stage_csv``)."""
    key = dict(zip(zip(answers["interview_id"].astype(str), answers["turn_index"].astype(int)), answers["turn_id"]))
    out = {}
    for row in predictions.itertuples():
        turn_id = key.get((str(row.interview_id), int(row.turn_index)))
        if turn_id is not None:
            value = row.stages
            if isinstance(value, str):  # a table read from the CSV without splitting
                value = value.split(";")
            out[turn_id] = {str(s) for s in value if isinstance(s, str) and s}
    return out


def _summaries(reference: HumanCodes) -> tuple[list[dict], list[str]]:
    docs = reference.documents
    without = natural_sorted(docs.loc[~docs["has_codes"], "source_file"].tolist())
    return docs[docs["has_codes"]].to_dict("records"), without


def evaluate_predictions(
    predicted: dict[str, set[str]], reference: HumanCodes, answers: pd.DataFrame, stage_ids: list[str]
) -> dict:
    """The suite (``predicted``, turn_id -> stages) against a reference folder of codes.

    Returns:
        ``overall`` (pooled over interviews; see :func:`agreement`),
        ``per_interview``, ``interviews`` used and ``files_without_codes``.
    """
    documents, without = _summaries(reference)
    pooled_ref, per_interview = {}, {}
    for doc in documents:
        if pd.isna(doc["first_coded_turn"]):
            continue
        labels = _document_labels(answers, reference.codes, doc, stage_ids)
        pooled_ref.update(labels)
        other = {t: predicted.get(t, set()) for t in labels}
        per_interview[doc["interview_id"]] = _brief(agreement(labels, other, stage_ids))
    other = {t: predicted.get(t, set()) for t in pooled_ref}
    interview_of = dict(zip(answers["turn_id"], answers["interview_id"].astype(str)))
    return {
        "overall": agreement(pooled_ref, other, stage_ids),
        "per_interview": per_interview,
        "interviews": natural_sorted(per_interview),
        "files_without_codes": without,
        "intervals": interview_intervals(pooled_ref, other, interview_of, stage_ids),
    }


def interview_intervals(
    reference: dict[str, set[str]],
    other: dict[str, set[str]],
    interview_of: dict[str, str],
    stage_ids: list[str],
    resamples: int = 500,
    level: float = 0.9,
    seed: int = 0,
) -> dict | None:
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
    draws = _interview_draws(by_interview, interviews, reference, other, stage_ids, resamples, seed)
    tail = (1 - level) / 2 * 100
    return {
        key: [round(float(np.percentile(v, tail)), 3), round(float(np.percentile(v, 100 - tail)), 3)] if v else None
        for key, v in draws.items()
    } | {"level": level, "resamples": resamples, "interviews": len(interviews)}


def _interview_draws(
    by_interview: dict[str, list[str]], interviews: list[str], reference, other, stage_ids: list[str],
    resamples: int, seed: int,
) -> dict[str, list[float]]:
    """The figures of each resample of the interviews (see :func:`interview_intervals`),
    undefined ones left out."""
    # Every figure is a function of counts that add up over units, so each interview's
    # counts are summed once and a resample weighs them by how often it drew the interview
    # (the same figures as agreement() on the resampled units; 500 resamples: 0.1 s, not 2 s).
    counts = np.array([_unit_counts(by_interview[i], reference, other, stage_ids) for i in interviews])
    index = {interview: k for k, interview in enumerate(interviews)}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {"macro_f1": [], "micro_f1": [], "alpha": [], "coded_kappa": []}
    for _ in range(resamples):
        drawn = rng.choice(interviews, size=len(interviews), replace=True)
        weights = np.bincount([index[i] for i in drawn], minlength=len(interviews))
        for key, value in zip(draws, _figures_from_counts(weights @ counts, len(stage_ids))):
            if value is not None and value == value:
                draws[key].append(value)
    return draws


def _unit_counts(units: list[str], reference, other, stage_ids: list[str]) -> np.ndarray:
    """Counts of ``units`` that :func:`_figures_from_counts` reads: per stage (reference,
    other) both / reference only / other only / neither, then the same for "has any stage"."""

    def stages_of(codes) -> np.ndarray:  # units x stages
        return np.array([[s in codes[u] for s in stage_ids] for u in units], dtype=bool).reshape(len(units), -1)

    def coded(codes) -> np.ndarray:
        return np.array([bool(codes[u]) for u in units], dtype=bool)

    per_stage = np.stack(_pair_counts(stages_of(reference), stages_of(other)), axis=1).ravel()
    return np.concatenate([per_stage, _pair_counts(coded(reference), coded(other))]).astype(np.int64)


def _figures_from_counts(counts: np.ndarray, n_stages: int) -> tuple:
    """(macro F1, micro F1, alpha, coded kappa) of :func:`agreement` from summed
    :func:`_unit_counts`, with the same arithmetic."""
    per_stage = counts[: 4 * n_stages].reshape(n_stages, 4)
    both, ref_only, oth_only, neither = per_stage.T
    scored = [f1(int(tp), int(fp), int(fn)) for tp, fn, fp in zip(both, ref_only, oth_only) if tp + fn > 0]
    micro = f1(int(both.sum()), int(oth_only.sum()), int(ref_only.sum()))
    alpha = _binary_alpha(int(neither.sum()), int(oth_only.sum()), int(ref_only.sum()), int(both.sum()))
    c_both, c_ref, c_oth, c_neither = (int(v) for v in counts[4 * n_stages :])
    return float(np.mean(scored)) if scored else None, micro, alpha, _kappa_from_pairs(c_both, c_ref, c_oth, c_neither)


def _binary_alpha(ff: int, ft: int, tf: int, tt: int) -> float | None:
    """:func:`krippendorff_alpha_nominal` of two binary codings given as counts of pairs
    (reference, other): (False, False), (False, True), (True, False), (True, True)."""
    pairs = np.array([[ff, ft], [tf, tt]], dtype=float)
    present = pairs.sum(axis=0) + pairs.sum(axis=1) > 0
    if not present.any():
        return None
    return _alpha_of_pairs(pairs[np.ix_(present, present)])  # the values seen, as krippendorff_alpha_nominal has them


def _kappa_from_pairs(both: int, ref_only: int, oth_only: int, neither: int) -> float | None:
    """:func:`cohen_kappa` from the counts of a 2x2 table."""
    n = both + ref_only + oth_only + neither
    if n == 0:
        return None
    po = float((both + neither) / n)
    pa, pb = (both + ref_only) / n, (both + oth_only) / n
    pe = float(pa * pb + (1 - pa) * (1 - pb))
    if pe == 1.0:
        return None
    return (po - pe) / (1 - pe)


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
        if "listed" in (a.get("units"), b.get("units")):
            # a review log holds only the turns decided: compare on the turns both decided
            la = _document_labels(answers, codes.codes, a, stage_ids)
            lb = _document_labels(answers, codes.codes, b, stage_ids)
            la = {t: v for t, v in la.items() if t in lb}
            lb = {t: lb[t] for t in la}
            if not la:
                single.append(interview_id)
                continue
        else:
            lo = int(min(a["first_coded_turn"], b["first_coded_turn"]))
            hi = int(max(a["last_coded_turn"], b["last_coded_turn"]))
            la = coded_range_labels(answers, codes.codes, interview_id, a["source_file"], lo, hi, stage_ids)
            lb = coded_range_labels(answers, codes.codes, interview_id, b["source_file"], lo, hi, stage_ids)
        pooled_a.update(la)
        pooled_b.update(lb)
        per_interview[interview_id] = _brief(agreement(la, lb, stage_ids))
    result = {
        "overall": agreement(pooled_a, pooled_b, stage_ids) if pooled_a else None,
        "per_interview": per_interview,
        "interviews": list(per_interview),
        "interviews_with_one_coded_file": single,
        "files_without_codes": without,
    }
    return result


def compare_to_consensus(
    codings: HumanCodes, consensus: HumanCodes, answers: pd.DataFrame, stage_ids: list[str]
) -> dict:
    """Each single coder's file against the consensus of the same interview, pooled."""
    pooled_ref, pooled_other, pairs = {}, {}, []
    consensus_docs, _ = _summaries(consensus)
    coder_docs, _ = _summaries(codings)
    for ref_doc in consensus_docs:
        if pd.isna(ref_doc["first_coded_turn"]):
            continue
        lo, hi = int(ref_doc["first_coded_turn"]), int(ref_doc["last_coded_turn"])
        reference = _document_labels(answers, consensus.codes, ref_doc, stage_ids)
        for doc in coder_docs:
            if doc["interview_id"] != ref_doc["interview_id"]:
                continue
            mine = _document_labels(answers, codings.codes, doc, stage_ids, lo, hi)
            # A review log says nothing of the turns it did not decide: only the turns it did count.
            shared = [t for t in reference if t in mine] if doc.get("units") == "listed" else list(reference)
            # A key per pair: one interview may have two coders compared to one consensus.
            for t in shared:
                pooled_ref[f"{doc['source_file']}|{doc['coder']}|{t}"] = reference[t]
                pooled_other[f"{doc['source_file']}|{doc['coder']}|{t}"] = mine.get(t, set())
            pairs.append(f"{doc['interview_id']}:{doc['coder']}")
    return {"overall": agreement(pooled_ref, pooled_other, stage_ids) if pooled_ref else None, "pairs": pairs}


def _brief(result: dict) -> dict:
    return {
        "units": result["units"],
        "macro_f1": result["macro_f1"],
        "micro_f1": result["micro_f1"],
        "alpha": result["alpha"],
        "coded_kappa": result["coded"]["kappa"],
    }


def headline(result: dict) -> dict:
    """macro-F1, micro-F1, alpha and coded-vs-not kappa of an agreement result, rounded."""
    overall = result["overall"] if "overall" in result else result
    if overall is None:
        return {}

    def r(v):
        return None if v is None else round(v, 3)

    return {
        "units": overall["units"],
        "macro_f1": r(overall["macro_f1"]),
        "micro_f1": r(overall["micro_f1"]),
        "alpha": r(overall["alpha"]),
        "coded_kappa": r(overall["coded"]["kappa"]),
    }


def per_stage_table(result: dict) -> pd.DataFrame:
    """Per-stage kappa, F1 and positives of an agreement result."""
    overall = result["overall"] if "overall" in result else result
    rows = [
        {"stage": s, **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}}
        for s, d in overall["per_stage"].items()
    ]
    return pd.DataFrame(rows)


def reference_labels(
    answers: pd.DataFrame, codes: pd.DataFrame, documents: pd.DataFrame, stage_ids: list[str]
) -> dict[str, set[str]]:
    """turn_id -> set of stages, for the interviewee turns inside each coded document's
    coded range (first to last coded turn; a review log: the turns it lists); the agreement
    units. When several documents
    code the same interview, the later one wins (see :func:`training_labels` to keep each)."""
    labels: dict[str, set[str]] = {}
    for doc_labels in training_labels(answers, codes, documents, stage_ids):
        labels.update(doc_labels)
    return labels


def training_labels(
    answers: pd.DataFrame, codes: pd.DataFrame, documents: pd.DataFrame, stage_ids: list[str]
) -> list[dict[str, set[str]]]:
    """One ``turn_id -> stages`` mapping per coded document (its coded range, or the turns a
    review log lists), so that two coders of one interview both count as examples."""
    return [
        _document_labels(answers, codes, doc, stage_ids)
        for doc in documents[documents["has_codes"]].itertuples()
        if not pd.isna(doc.first_coded_turn)
    ]


def reference_kinds(answers: pd.DataFrame, codes: pd.DataFrame) -> dict[str, str]:
    """turn_id -> ``fix`` when any of the turn's mapped codes is a fix, else ``issue``."""
    mapped = codes[codes["status"] == "mapped"]
    kinds = mapped.groupby(["interview_id", "turn_index"])["kind"].agg(
        lambda k: "fix" if (k == "fix").any() else "issue"
    )
    key = dict(zip(zip(answers["interview_id"], answers["turn_index"]), answers["turn_id"]))
    return {key[k]: v for k, v in kinds.items() if k in key}


def calibration(p_coded: Mapping[str, float], reference: Mapping[str, set], bins: int = 10) -> dict:
    """How well P(coded) is calibrated on the reference units: the Brier score (next to
    that of always saying the base rate) and, per bin of P(coded), the mean predicted
    and the share the reference coded (a reliability diagram's points).

    Example:
        >>> c = calibration({"a": 0.9, "b": 0.1, "c": 0.8}, {"a": {"data"}, "b": set(), "c": set()}, bins=2)
        >>> round(c["brier"], 3), [b["answers"] for b in c["bins"]]
        (0.22, [1, 2])
    """
    units = [u for u in reference if u in p_coded]
    if not units:
        return {"units": 0, "brier": None, "base_rate_brier": None, "bins": []}
    p = np.array([float(p_coded[u]) for u in units])
    y = np.array([bool(reference[u]) for u in units], dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    table = [{"low": b / bins, "high": (b + 1) / bins, "answers": int((which == b).sum()),
              "predicted": float(p[which == b].mean()), "observed": float(y[which == b].mean())}
             for b in range(bins) if (which == b).any()]
    base = float(y.mean())
    return {"units": len(units), "brier": float(np.mean((p - y) ** 2)), "base_rate_brier": base * (1 - base),
            "bins": table}
