"""Tables for the stage and agreement notebooks, and how every notebook shows a table:
:func:`show_table` (left-aligned wrapped text, line breaks kept, no index column, numbers
formatted), :func:`key_value_table` and :func:`list_table` for dicts and lists, :func:`note`
for a sentence instead of a bare string."""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .._ids import natural_key
from ..human_codes import headline
from ..stages import stage_list

TEXT_WIDTH = "46em"  # a long answer wraps at a readable measure instead of widening the page


def _cell(value, precision: int) -> str:
    """One cell as escaped HTML: line breaks as ``<br>``, lists joined, numbers rounded,
    missing values blank."""
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else f"{value:.{precision}f}"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, Mapping):
        text = "; ".join(f"{k}: {v}" for k, v in value.items())
    elif isinstance(value, list | tuple | set | np.ndarray):
        text = ", ".join(str(v) for v in value)
    else:
        if value is pd.NA or value is pd.NaT:
            return ""
        text = str(value)
    return html.escape(text.strip()).replace("\r\n", "\n").replace("\n", "<br>")


def _decimals(column: pd.Series, precision: int) -> int:
    """The fewest decimals (up to ``precision``) that show every value of ``column`` as
    rounding to ``precision`` would."""
    values = column.dropna().to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    target = np.round(values, precision)
    enough = (d for d in range(precision) if np.allclose(np.round(values, d), target, rtol=0, atol=1e-12))
    return next(enough, precision)


def _without_default_index(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with a meaningful index (interview ids, stage names) as its first column
    and a default one (0, 1, 2... or the row numbers of a filtered table) dropped."""
    index = df.index
    meaningful = index.nlevels > 1 or index.name is not None or not pd.api.types.is_integer_dtype(index)
    if not meaningful:
        return df.reset_index(drop=True)
    out = df.reset_index()
    if index.nlevels == 1 and index.name is None:
        out = out.rename(columns={"index": ""})
    return out


def show_table(
    df: pd.DataFrame | pd.Series,
    *,
    max_rows: int | None = None,
    precision: int = 3,
    caption: str | None = None,
    sort_by: str | None = None,
    empty: str | None = None,
):
    """A table as a reader should see it, in JupyterLab and in the HTML report: text
    left-aligned and wrapped at a readable width, never cut; line breaks in a cell shown as
    line breaks (not ``\\n``); no index column (a meaningful index, such as interview ids,
    becomes the first column); numbers right-aligned with ``precision`` decimals; lists
    joined with commas; every cell escaped, so markup in a transcript shows as text.

    Args:
        df: the table (a Series is shown as a one-column table).
        max_rows: show only the first rows; the caption then says how many there are.
        precision: decimals of floating-point numbers.
        caption: a line shown above the table.
        sort_by: a column to sort in human order (``I3`` before ``I11``, ``Interview 3.txt``
            before ``Interview 11.txt``).
        empty: for a table without rows, this sentence (a :func:`note`) instead of an
            empty table.

    Returns:
        A :class:`pandas.io.formats.style.Styler` (displayed as HTML; ``.to_html()`` gives it),
        or the ``empty`` note.

    Example:
        >>> html = show_table(pd.DataFrame({"quote": ["first line\\nsecond line"], "n": [0.5]})).to_html()
        >>> "first line<br>second line" in html, "\\\\n" in html
        (True, False)
    """
    frame = df.to_frame() if isinstance(df, pd.Series) else df
    if empty is not None and frame.empty:
        return note(empty)
    frame = _without_default_index(frame)
    frame.columns = [str(c) for c in frame.columns]
    if sort_by is not None:
        frame = frame.sort_values(sort_by, key=lambda col: col.map(natural_key), kind="stable").reset_index(drop=True)
    total = len(frame)
    if max_rows is not None and total > max_rows:
        frame = frame.head(max_rows)
        shown = f"the first {max_rows} of {total} rows"
        caption = f"{caption} ({shown})" if caption else shown.capitalize()
    numeric = [
        c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    decimals = {c: _decimals(frame[c], precision) for c in numeric if pd.api.types.is_float_dtype(frame[c])}
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes())
    styler = frame.style.hide(axis="index").format(lambda v: _cell(v, precision)).format_index(escape="html", axis=1)
    for column, places in decimals.items():  # 89.1 stays 89.1, not 89.100; a column shares its decimals
        styler = styler.format(lambda v, places=places: _cell(v, places), subset=[column])
    styler = styler.set_uuid(digest.hexdigest()[:10])  # the same table gives the same page, run after run
    styler = styler.set_table_styles(
        [
            {"selector": "", "props": "border-collapse: collapse; margin: .4em 0 1em 0;"},
            {
                "selector": "th",
                "props": "text-align: left; vertical-align: bottom; padding: .25em .6em; "
                "border-bottom: 1px solid #888; white-space: normal;",
            },
            {
                "selector": "td",
                "props": f"text-align: left; vertical-align: top; padding: .25em .6em; white-space: normal; "
                f"overflow-wrap: break-word; max-width: {TEXT_WIDTH}; border-bottom: 1px solid #ddd;",
            },
            {"selector": "caption", "props": "caption-side: top; text-align: left; color: #444; padding: .2em 0;"},
        ]
    )
    if numeric:  # a column's own rule (``td.col2``) outranks the table's ``td`` rule
        right = [{"selector": sel, "props": "text-align: right; white-space: nowrap;"} for sel in ("td", "th")]
        styler = styler.set_table_styles({c: right for c in numeric}, overwrite=False)
    if caption:
        styler = styler.set_caption(html.escape(caption))
    return styler


def key_value_table(mapping: Mapping, key: str = "item", value: str = "value") -> pd.DataFrame:
    """A dict as a two-column table (``show_table`` shows it), instead of a printed dict.

    Example:
        >>> key_value_table({"coherence": 0.41, "diversity": 0.8}, "measure", "value")["measure"].tolist()
        ['coherence', 'diversity']
    """
    pairs = list(mapping.items())  # a dict or a Series (value_counts)
    return pd.DataFrame({key: [str(k) for k, _ in pairs], value: [v for _, v in pairs]})


def list_table(items: Iterable, column: str = "item") -> pd.DataFrame:
    """A list as a one-column table in human order (``Interview 3.pdf`` before ``Interview 11.pdf``).

    Example:
        >>> list_table(["Interview 11.pdf", "Interview 3.pdf"], "file")["file"].tolist()
        ['Interview 3.pdf', 'Interview 11.pdf']
    """
    return pd.DataFrame({column: sorted((str(i) for i in items), key=natural_key)})


def note(text: str):
    """A sentence shown as Markdown (no quotes around it, no ``Out[ ]`` string), for what a
    notebook would otherwise print as a bare string: "No reference codes: ...".

    Example:
        >>> note("No reference codes: nothing to compare with.").data
        'No reference codes: nothing to compare with.'
    """
    from IPython.display import Markdown  # needs IPython: only in a notebook

    return Markdown(text)


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
    """One row per comparison in ``results`` (``suite_vs_reference``, ``coder_vs_coder``...),
    named in its first column ``comparison``."""
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
    if not rows:
        return pd.DataFrame({"note": ["no human codes to compare with"]})
    return pd.DataFrame(rows).T.rename_axis("comparison").reset_index()


def agreement_by_interview(results: dict) -> pd.DataFrame:
    """Per-interview figures of the suite against the reference, one row per interview
    (column ``interview``) in human order: 3, 11, 30.

    Example:
        >>> per = {"11": {"units": 4, "macro_f1": 0.5}, "3": {"units": 2, "macro_f1": 1.0}}
        >>> agreement_by_interview({"suite_vs_reference": {"per_interview": per}})["interview"].tolist()
        ['3', '11']
    """
    per = (results.get("suite_vs_reference") or {}).get("per_interview", {})
    if not per:
        return pd.DataFrame()
    table = pd.DataFrame.from_dict(per, orient="index").round(3)
    table = table.loc[sorted(table.index, key=natural_key)]
    return table.rename_axis("interview").reset_index()


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


def files_table(paths) -> pd.DataFrame:
    """The files a step wrote, in human order, with their size: for a folder, every file in
    it; for a dict (``{format: path}``, as ``export_step`` returns) or a list, those files.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "b.csv").write_text("x" * 2048)
        >>> files_table(folder).values.tolist()
        [['b.csv', 2.0]]
    """
    from pathlib import Path

    if isinstance(paths, str | Path) and Path(paths).is_dir():
        found = [p for p in Path(paths).iterdir() if p.is_file() and not p.name.startswith(".")]
    else:
        found = [Path(p) for p in (paths.values() if isinstance(paths, Mapping) else paths)]
    found = sorted(found, key=lambda p: natural_key(p.name))
    return pd.DataFrame(
        {"file": [p.name for p in found], "size_kb": [round(p.stat().st_size / 1024, 1) for p in found]}
    )
