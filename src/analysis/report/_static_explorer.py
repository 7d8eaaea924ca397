"""The theme explorer for readers of the HTML report: every modelled answer in one
interactive table that runs in the page, without a kernel and without the internet.

A reviewer searches the answers' words, filters by stage, theme, interviewee and kind
(issue/fix), sorts by any column and pages through; each row holds the full answer, the
question it replies to, the interviewee, the source file and line, the answer's stages with
their probabilities, its theme and the cue phrases it says (the evidence).

The table is an `itables <https://mwouts.github.io/itables/>`_ DataTable with its JavaScript
and CSS embedded in the page (no CDN); the four filters are plain ``<select>`` boxes wired to
DataTables' search, reading each row's ids (not its display text), so an answer coded with
two stages shows under both.

Example:
    >>> page = static_explorer(turns, tables, predictions)   # doctest: +SKIP
    >>> page                                                    # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import html
import json

import numpy as np
import pandas as pd

from .._ids import natural_key, natural_sort_key
from ..stages import stage_list

NO_THEME = "(no theme: outlier)"
NO_STAGE = "(no stage)"
NO_KIND = "(neither)"
# shares of the table's width: the answer gets the room, short labels little
WIDTHS = {"answer": "30%", "question": "16%", "interviewee": "5%", "source": "8%", "stages": "8%",
          "stage scores": "10%", "theme": "11%", "kind": "4%", "evidence": "8%"}
COLUMNS = ["answer", "question", "interviewee", "source", "stages", "stage scores", "theme", "kind", "evidence"]


def explorer_rows(turns: pd.DataFrame, tables, predictions: pd.DataFrame, top_stages: int = 3) -> pd.DataFrame:
    """One row per modelled answer (substantive interviewee turn), in interview and line
    order, with what the static explorer shows and the ids its filters read.

    Args:
        turns: the turns table.
        tables: :class:`analysis.report.ThemeTables` of the run (themes with renames).
        predictions: the stage predictions (``stage_predictions.csv`` read back with
            :func:`analysis.stages.read_stage_csv`): ``turn_id``, ``stages``, ``kind``,
            ``p_<stage>`` (or, from an older run, ``score_<stage>``) and, when present,
            ``matched_cues``.
        top_stages: stage scores shown per answer (the highest): the coder's probabilities
            ``p_<stage>`` when the predictions carry them, else its similarity scores.

    Returns:
        The columns of :data:`COLUMNS`, plus ``turn_id``, ``stage_ids`` (list), ``topic``
        (-1 for an outlier), ``kind_id`` and ``order_interviewee`` / ``order_source`` (ranks in
        human order, for sorting).

    Example:
        >>> from analysis.report import ThemeTables
        >>> turns = pd.DataFrame({"turn_id": ["3-1", "3-2"], "role": ["interviewer", "interviewee"],
        ...     "substantive": [False, True], "speaker_id": ["I3-interviewer-1", "I3"], "interview_id": ["3", "3"],
        ...     "text": ["Why?", "Labels drift."], "question_text": [None, "Why?"],
        ...     "source_file": ["Interview 3.txt"] * 2, "line_start": [1, 2]})
        >>> tables = ThemeTables(pd.DataFrame({"turn_id": ["3-2"], "topic": [0], "theme": ["labels"]}),
        ...     pd.DataFrame(), {"data": "Data"})
        >>> p = pd.DataFrame({"turn_id": ["3-2"], "stages": [["data"]], "kind": ["issue"], "p_data": [0.8]})
        >>> explorer_rows(turns, tables, p)[["source", "stages", "stage scores", "theme"]].values.tolist()
        [['Interview 3.txt:2', 'Data', 'Data 0.80', 'T0: labels']]
    """
    names = dict(tables.stage_names)
    answers = turns[(turns["role"] == "interviewee") & turns["substantive"].astype(bool)].copy()
    answers = answers.sort_values(["interview_id", "line_start"], key=natural_sort_key, kind="stable")
    pred = predictions.drop_duplicates("turn_id").set_index("turn_id")
    themed = tables.answers.set_index("turn_id")
    rows = pd.DataFrame({"turn_id": answers["turn_id"].to_numpy()})
    rows["answer"] = answers["text"].fillna("").map(_tidy).to_numpy()
    rows["question"] = answers["question_text"].fillna("").map(_tidy).to_numpy()
    rows["interviewee"] = answers["speaker_id"].to_numpy()
    rows["source"] = [f"{f}:{int(line)}" for f, line in zip(answers["source_file"], answers["line_start"])]
    stage_ids = rows["turn_id"].map(pred["stages"]) if "stages" in pred else pd.Series([[]] * len(rows))
    rows["stage_ids"] = [stage_list(v) for v in stage_ids]
    rows["stages"] = [", ".join(names.get(s, s) for s in ids) or NO_STAGE for ids in rows["stage_ids"]]
    prefix = "p_" if any(f"p_{s}" in pred for s in names) else "score_"
    score_columns = [f"{prefix}{s}" for s in names if f"{prefix}{s}" in pred]
    rows["stage scores"] = _top_scores(rows["turn_id"], pred, score_columns, names, prefix, top_stages)
    rows["topic"] = rows["turn_id"].map(themed["topic"]).fillna(-1).astype(int)
    theme = rows["turn_id"].map(themed["theme"])
    rows["theme"] = [NO_THEME if t < 0 else f"T{t}: {label}" for t, label in zip(rows["topic"], theme)]
    kinds = rows["turn_id"].map(pred["kind"]) if "kind" in pred else pd.Series([""] * len(rows))
    rows["kind_id"] = kinds.fillna("").astype(str).to_numpy()
    rows["kind"] = rows["kind_id"].replace("", NO_KIND)
    cues = rows["turn_id"].map(pred["matched_cues"]) if "matched_cues" in pred else pd.Series([""] * len(rows))
    rows["evidence"] = cues.fillna("").astype(str).map(lambda c: c.replace(";", ", ")).to_numpy()
    rows["order_interviewee"] = _ranks(rows["interviewee"])
    rows["order_source"] = _ranks(rows["source"])
    return rows


def _tidy(text: str) -> str:
    """Line breaks kept (the page shows them), other runs of spaces folded."""
    return "\n".join(" ".join(line.split()) for line in str(text).splitlines() if line.strip())


def _top_scores(
    turn_ids: pd.Series, pred: pd.DataFrame, columns: list[str], names: dict[str, str], prefix: str, top: int
) -> list[str]:
    """Each turn's ``top`` highest scores of ``columns`` of ``pred`` (indexed by turn id),
    highest first (ties in column order; a missing score is left out), as "Stage 0.80, ...";
    "" for a turn without predictions. One matrix, not a row lookup per answer (3,324
    lookups took 2 s)."""
    if not columns:
        return [""] * len(turn_ids)
    known = turn_ids.isin(pred.index).to_numpy()
    scores = pred.reindex(turn_ids.to_numpy())[columns].to_numpy(dtype=float)
    labels = [names.get(c[len(prefix):], c) for c in columns]
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top]  # a missing score (NaN) sorts last
    return [
        ", ".join(f"{labels[k]} {row[k]:.2f}" for k in best if row[k] == row[k]) if ok else ""
        for ok, row, best in zip(known, scores, order)
    ]


def _ranks(values: pd.Series) -> list[int]:
    order = {v: k for k, v in enumerate(sorted(set(values), key=natural_key))}
    return [order[v] for v in values]


def _options(pairs) -> str:
    return "".join(f'<option value="{html.escape(str(v))}">{html.escape(str(label))}</option>' for v, label in pairs)


def static_explorer(
    turns: pd.DataFrame,
    tables,
    predictions: pd.DataFrame,
    *,
    page_length: int = 10,
    include_library: bool = True,
):
    """The explorer as HTML that works in a saved page: search, four filters, sorting and
    paging over every modelled answer, with the DataTables library embedded (about 1 MB
    once per page; ``include_library=False`` when the page already holds it).

    Args:
        turns, tables, predictions: as for :func:`explorer_rows`.
        page_length: answers per page at first (the reader can pick 10 to 100).
        include_library: embed itables' JavaScript and CSS (offline); leave it on unless
            another static explorer came before on the same page.

    Returns:
        An :class:`IPython.display.HTML` (``.data`` is the HTML).
    """
    import itables
    from IPython.display import HTML  # needs IPython: only in a notebook
    from itables import to_html_datatable
    from itables.javascript import generate_init_offline_itables_html
    from itables.options import dt_bundle

    rows = explorer_rows(turns, tables, predictions)
    digest = hashlib.sha256(pd.util.hash_pandas_object(rows[["turn_id", "theme", "stages"]], index=False).values)
    table_id = f"explorer-{digest.hexdigest()[:10]}"  # stable: the same run gives the same page
    shown = rows[COLUMNS + ["order_interviewee", "order_source"]].copy()
    # escaped here, line breaks as <br> (itables would show an escaped line break as a literal \\n)
    shown[COLUMNS] = shown[COLUMNS].map(lambda v: html.escape(str(v)).replace("\n", " <br>"))
    col = {c: k for k, c in enumerate(shown.columns)}
    table = to_html_datatable(
        shown,
        table_id=table_id,
        connected=False,
        maxBytes=0,  # never downsample: the reader must see every answer
        allow_html=True,  # every cell is escaped above
        showIndex=False,
        classes="display compact cell-border",
        style="width:100%;margin:0;caption-side:top",
        pageLength=page_length,
        lengthMenu=[10, 25, 50, 100],
        order=[],  # interview and line order, as the rows come
        autoWidth=False,
        text_in_header_can_be_selected=False,  # a click anywhere on a header sorts
        columnDefs=[
            *({"targets": [col[c]], "width": w} for c, w in WIDTHS.items()),
            {"targets": [col["answer"]], "className": "ta-text ta-answer"},
            {"targets": [col["question"], col["evidence"]], "className": "ta-text"},
            {"targets": [col["interviewee"]], "orderData": [col["order_interviewee"], col["order_source"]]},
            {"targets": [col["source"]], "orderData": [col["order_source"]]},
            {"targets": [col["order_interviewee"], col["order_source"]], "visible": False, "searchable": False},
            {"targets": "_all", "className": "dt-left"},
        ],
        language={"search": "Search answers and questions:", "info": "_START_ to _END_ of _TOTAL_ answers"},
    )
    keys = [
        [ids or [""], int(topic), who, kind]
        for ids, topic, who, kind in zip(rows["stage_ids"], rows["topic"], rows["interviewee"], rows["kind_id"])
    ]
    stage_options = [("", "(all)")] + list(tables.stage_names.items())
    if any(not ids for ids in rows["stage_ids"]):
        stage_options.append(("-", NO_STAGE))
    by_size = rows[rows["topic"] >= 0].groupby(["topic", "theme"]).size().sort_values(ascending=False, kind="stable")
    theme_options = [("", "(all)")] + [(str(t), f"{label} ({n})") for (t, label), n in by_size.items()]
    if (rows["topic"] < 0).any():
        theme_options.append(("-1", NO_THEME))
    people = sorted(rows["interviewee"].unique(), key=natural_key)
    kind_options = [("", "(all)")] + [(k, k) for k in ("issue", "fix") if (rows["kind_id"] == k).any()]
    if (rows["kind_id"] == "").any():
        kind_options.append(("-", NO_KIND))
    filters = "".join(
        f'<label>{label} <select data-filter="{name}">{_options(options)}</select></label>'
        for name, label, options in (
            ("stage", "Stage", stage_options),
            ("theme", "Theme", theme_options),
            ("interviewee", "Interviewee", [("", "(all)")] + [(p, p) for p in people]),
            ("kind", "Kind", kind_options),
        )
    )
    library = generate_init_offline_itables_html(dt_bundle) if include_library else ""
    # the promise itables' embedded library sets on window, named after its version
    library_var = "_itables_" + itables.__version__.replace(".", "_").replace("-", "_")
    wiring = _WIRING.replace("TABLE_ID", table_id).replace("LIBRARY_VAR", library_var)
    data = json.dumps(keys).replace("<", "\\u003c")  # ids only; never closes the script
    page = f"""<div class="ta-explorer" id="{table_id}-box">
<style>
.ta-explorer .ta-filters {{display:flex;flex-wrap:wrap;gap:.4em 1.2em;margin:.4em 0 .8em 0;align-items:center}}
.ta-explorer .ta-filters select {{max-width:28em}}
.ta-explorer table.dataTable td, .ta-explorer table.dataTable th {{text-align:left;vertical-align:top}}
.ta-explorer table.dataTable td.ta-text {{white-space:normal;overflow-wrap:break-word}}
.ta-explorer table.dataTable td.ta-answer {{min-width:20em}}
</style>
<p>{len(rows)} answers from {len(people)} interviewees. Search their words, filter, sort by a column
(click its header; interviewees and sources sort in human order) and page through; this runs in the
page, no kernel needed.</p>
<div class="ta-filters">{filters}<button type="button" data-filter-reset>Clear filters</button></div>
{library}
{table}
<script type="application/json" id="{table_id}-keys">{data}</script>
<script type="module">{wiring}</script>
</div>"""
    return HTML(page)


# Connects the four <select> boxes to the DataTable once itables has drawn it: a row passes
# when its ids match every chosen value ("-" chooses "none"); the search box, sorting and
# paging are DataTables' own.
_WIRING = """
const box = document.getElementById("TABLE_ID-box");
const keys = JSON.parse(document.getElementById("TABLE_ID-keys").textContent);
const selects = Array.from(box.querySelectorAll("select[data-filter]"));
const drawn = () => new Promise(resolve => {
  const look = () => {
    const table = document.getElementById("TABLE_ID");
    if (table && table.classList.contains("dataTable")) resolve(table); else setTimeout(look, 50);
  };
  look();
});
drawn().then(async table => {
  const module = await window.LIBRARY_VAR;
  const DataTable = module.default || module.jQuery.fn.dataTable;
  const api = new DataTable.Api(table);
  const chosen = () => Object.fromEntries(selects.map(s => [s.dataset.filter, s.value]));
  const matches = (value, wanted) => wanted === "" || (wanted === "-" ? value === "" : value === wanted);
  DataTable.ext.search.push((settings, _data, index) => {
    if (settings.nTable !== table) return true;
    const [stages, topic, who, kind] = keys[index];
    const c = chosen();
    return (c.stage === "" || stages.some(s => matches(s, c.stage)))
      && (c.theme === "" || String(topic) === c.theme)
      && matches(who, c.interviewee) && matches(kind, c.kind);
  });
  selects.forEach(s => s.addEventListener("change", () => api.draw()));
  box.querySelector("[data-filter-reset]").addEventListener("click", () => {
    selects.forEach(s => { s.value = ""; });
    api.search("").draw();
  });
  box.dataset.ready = "true";
});
"""
