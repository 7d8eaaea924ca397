"""Tables for the stage and agreement notebooks."""

from __future__ import annotations

import pandas as pd


def taxonomy_table(taxonomy) -> pd.DataFrame:
    """One row per stage: id, name, description, cues, number of guide questions."""
    return pd.DataFrame([{"id": s.id, "name": s.name, "description": s.description, "cues": ", ".join(s.cues[:8]),
                          "guide_questions": len(s.guide_questions)} for s in taxonomy.stages])


def stage_summary(predictions: pd.DataFrame, stage_names: dict[str, str]) -> pd.DataFrame:
    """Answers per stage and kind, plus the uncoded ones.

    Example:
        >>> p = pd.DataFrame({"stages": ["data", "data;other", ""], "kind": ["issue", "fix", ""]})
        >>> stage_summary(p, {"data": "Data", "other": "Other"})["answers"].tolist()
        [2, 1, 1]
    """
    rows = []
    lists = predictions["stages"].fillna("").map(lambda v: [s for s in v.split(";") if s])
    for stage, name in stage_names.items():
        mine = predictions[lists.map(lambda v, s=stage: s in v)]
        rows.append({"stage": name, "answers": len(mine), "issue": int((mine["kind"] == "issue").sum()),
                     "fix": int((mine["kind"] == "fix").sum())})
    rows.append({"stage": "(no stage)", "answers": int((lists.map(len) == 0).sum()), "issue": 0, "fix": 0})
    return pd.DataFrame(rows)


def headline_table(results: dict) -> pd.DataFrame:
    """One row per comparison in ``results`` (``suite_vs_reference``, ``coder_vs_coder``...)."""
    from ._evaluate import headline

    names = {"suite_vs_reference": "suite vs reference codes", "coder_vs_coder": "coder vs coder (humans)",
             "coders_vs_reference": "single coder vs reference (humans)"}
    rows = {}
    for key, label in names.items():
        value = results.get(key)
        if value:
            rows[label] = headline(value)
            spread = value.get("intervals") if isinstance(value, dict) else None
            if spread and spread.get("macro_f1") and spread.get("alpha"):
                pct = round(spread["level"] * 100)
                rows[label][f"macro_f1 {pct}% by interview"] = "{:.3f}-{:.3f}".format(*spread["macro_f1"])
                rows[label][f"alpha {pct}% by interview"] = "{:.3f}-{:.3f}".format(*spread["alpha"])
    return pd.DataFrame(rows).T if rows else pd.DataFrame({"note": ["no human codes to compare with"]})


def agreement_by_interview(results: dict) -> pd.DataFrame:
    """Per-interview figures of the suite against the reference."""
    per = (results.get("suite_vs_reference") or {}).get("per_interview", {})
    return pd.DataFrame.from_dict(per, orient="index").round(3) if per else pd.DataFrame()


def topic_stage_table(mix: pd.DataFrame, topic_info: pd.DataFrame) -> pd.DataFrame:
    """Each topic with its label, size, coded answers and primary stage.

    Example:
        >>> mix = pd.DataFrame({"topic": [0], "answers": [4], "coded_answers": [2], "primary_stage": ["data"],
        ...                     "primary_share": [1.0], "basis": ["coded answers"]})
        >>> topic_stage_table(mix, pd.DataFrame({"topic": [0], "label": ["labels"]}))["label"].tolist()
        ['labels']
    """
    labels = dict(zip(topic_info["topic"], topic_info["label"]))
    return mix.assign(label=mix["topic"].map(labels))[["topic", "label", "answers", "coded_answers", "primary_stage",
                                                        "primary_share", "basis"]]
