"""Agreement between two codings of the same turns: per-stage Cohen's kappa and F1,
macro- and micro-F1, Krippendorff's alpha, and "coded vs not coded".

A coding is a mapping from unit (a turn) to a set of stage ids; every stage is a
binary decision per unit.

Example:
    >>> ref = {"t1": {"data"}, "t2": set(), "t3": {"model_evaluation"}}
    >>> pred = {"t1": {"data"}, "t2": {"data"}, "t3": {"model_evaluation"}}
    >>> round(agreement(ref, pred, ["data", "model_evaluation"])["micro_f1"], 3)
    0.8
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def cohen_kappa(a: Iterable[bool], b: Iterable[bool]) -> float | None:
    """Cohen's kappa of two binary codings; ``None`` when undefined (both constant and equal)."""
    a, b = np.asarray(list(a), bool), np.asarray(list(b), bool)
    if len(a) == 0:
        return None
    po = float((a == b).mean())
    pa, pb = a.mean(), b.mean()
    pe = float(pa * pb + (1 - pa) * (1 - pb))
    if pe == 1.0:
        return None
    return (po - pe) / (1 - pe)


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
    o = np.zeros((len(values), len(values)))
    for x, y in zip(a, b):
        # each unit with two values contributes both ordered pairs, weight 1/(m-1) = 1
        o[index[x], index[y]] += 1
        o[index[y], index[x]] += 1
    n_c = o.sum(axis=1)
    n = n_c.sum()
    d_o = (o.sum() - np.trace(o)) / n
    d_e = (n * n - (n_c ** 2).sum()) / (n * (n - 1))
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
        per_stage[stage] = {"kappa": cohen_kappa(a, b), "f1": f1(tp, fp, fn), "reference_positives": int(sum(a)),
                            "other_positives": int(sum(b)), "tp": tp, "fp": fp, "fn": fn}
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
        "coded": {"kappa": cohen_kappa(coded_a, coded_b), "f1": f1(*f1_counts(coded_a, coded_b)),
                  "alpha": krippendorff_alpha_nominal(coded_a, coded_b),
                  "reference_share": float(np.mean(coded_a)) if units else None,
                  "other_share": float(np.mean(coded_b)) if units else None},
    }
