"""Tables for the stage and agreement notebooks."""

from __future__ import annotations

import pandas as pd

from ..human_codes import headline
from ..stages import stage_list


def taxonomy_table(taxonomy) -> pd.DataFrame:
    """One row per stage: id, name, description, cues, number of guide questions."""
    return pd.DataFrame(
        [
            {
                "id": s.id,
                "name": s.name,
                "description": s.description,
                "cues": ", ".join(s.cues[:8]),
                "guide_questions": len(s.guide_questions),
            }
            for s in taxonomy.stages
        ]
    )


def stage_summary(predictions: pd.DataFrame, stage_names: dict[str, str]) -> pd.DataFrame:
    """Answers per stage and kind, plus the uncoded ones.

    Example:
        >>> p = pd.DataFrame({"stages": [["data"], ["data", "other"], []], "kind": ["issue", "fix", ""]})
        >>> stage_summary(p, {"data": "Data", "other": "Other"})["answers"].tolist()
        [2, 1, 1]
    """
    rows = []
    lists = predictions["stages"].map(stage_list)
    for stage, name in stage_names.items():
        mine = predictions[lists.map(lambda v, s=stage: s in v)]
        rows.append(
            {
                "stage": name,
                "answers": len(mine),
                "issue": int((mine["kind"] == "issue").sum()),
                "fix": int((mine["kind"] == "fix").sum()),
            }
        )
    rows.append({"stage": "(no stage)", "answers": int((lists.map(len) == 0).sum()), "issue": 0, "fix": 0})
    return pd.DataFrame(rows)


def headline_table(results: dict) -> pd.DataFrame:
    """One row per comparison in ``results`` (``suite_vs_reference``, ``coder_vs_coder``...)."""
    names = {
        "suite_vs_reference": "suite vs reference codes",
        "coder_vs_coder": "coder vs coder (humans)",
        "coders_vs_reference": "single coder vs reference (humans)",
    }
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
    return mix.assign(label=mix["topic"].map(labels))[
        ["topic", "label", "answers", "coded_answers", "primary_stage", "primary_share", "basis"]
    ]


def topic_table(info: pd.DataFrame, quotes: pd.DataFrame, max_quote_chars: int = 220) -> pd.DataFrame:
    """One row per topic: label, size, share of answers, top words, and the
    representative quotes with their interview and source line.

    Example:
        >>> info = pd.DataFrame({"topic": [0], "label": ["drift, alerts"], "size": [4], "share": [0.5],
        ...                      "words": [["drift", "alerts"]]})
        >>> q = pd.DataFrame({"topic": [0], "rank": [1], "speaker_id": ["I3"], "source_file": ["Interview 3.txt"],
        ...                   "line_start": [12], "text": ["We watch drift."]})
        >>> topic_table(info, q).loc[0, "quotes"]
        '“We watch drift.” (I3, Interview 3.txt:12)'
    """

    def cite(rows: pd.DataFrame) -> str:
        out = []
        for r in rows.sort_values("rank").itertuples():
            text = " ".join(str(r.text).split())
            if len(text) > max_quote_chars:
                text = text[: max_quote_chars - 1].rsplit(" ", 1)[0] + "…"
            out.append(f"“{text}” ({r.speaker_id}, {r.source_file}:{r.line_start})")
        return "\n".join(out)

    quotes_by_topic = {t: cite(g) for t, g in quotes.groupby("topic")}
    table = info.copy()
    table["share"] = (table["share"] * 100).round(1)
    table["words"] = table["words"].map(lambda ws: ", ".join(list(ws)[:10]))
    table["quotes"] = table["topic"].map(quotes_by_topic).fillna("")
    table = table.rename(columns={"share": "share_%"})
    real = table[table["topic"] != -1].sort_values(["size", "topic"], ascending=[False, True])
    return pd.concat([real, table[table["topic"] == -1]]).reset_index(drop=True)[
        ["topic", "label", "size", "share_%", "words", "quotes"]
    ]
