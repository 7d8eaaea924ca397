"""The static explorer of notebook 07 in a real browser, offline: search, filter, page, sort."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest

from analysis import read_table
from analysis.report import explorer_rows, theme_tables_for
from analysis.stages import read_stage_csv

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = "07_explore_themes"


@pytest.fixture(scope="module")
def explorer_page(sample_report):
    """Notebook 07 of the session's rendered sample reports: (HTML path, the explorer's
    rows as computed in Python from the same processed tables)."""
    cfg, rendered = sample_report
    page = next(r.html for r in rendered if r.html.name == f"{NOTEBOOK}.html")
    themes, _ = theme_tables_for(cfg)
    predictions = read_stage_csv(cfg.paths.processed / "stage_predictions.csv")
    rows = explorer_rows(read_table(cfg, "turns"), themes, predictions)
    return page, rows


def _total(page) -> int:
    """The number of answers the table says pass the search and filters."""
    info = page.inner_text(".ta-explorer .dt-info")
    return int(re.search(r"of ([\d,]+) answers", info).group(1).replace(",", ""))


def _column(page, name: str) -> list[str]:
    """The visible cells of a column, by its header text."""
    headers = page.eval_on_selector_all(".ta-explorer table.dataTable thead th", "ths => ths.map(t => t.innerText)")
    k = [h.strip() for h in headers].index(name)
    return page.eval_on_selector_all(
        ".ta-explorer table.dataTable tbody tr", f"trs => trs.map(tr => tr.children[{k}].innerText)"
    )


def _column_when_drawn(page, name: str, expected: list[str], seconds: float = 10.0) -> list[str]:
    """The visible cells of a column once the table shows ``expected`` (or after
    ``seconds``): a click's redraw can land after the click returns on a busy machine."""
    deadline = time.monotonic() + seconds
    while (shown := _column(page, name)) != expected and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return shown


def _visible_text(rows: pd.DataFrame) -> pd.Series:
    shown = ["answer", "question", "interviewee", "source", "stages", "stage scores", "theme", "kind", "evidence"]
    return rows[shown].astype(str).agg("  ".join, axis=1).str.lower()


def test_the_explorer_searches_filters_pages_and_sorts_offline(explorer_page, browser):
    path, rows = explorer_page
    source = path.read_text(encoding="utf-8")
    # the live widget's cell is left out of the page (no empty `In [ ]:`), the static one is in
    assert "explorer.widget" not in source and "ta-explorer" in source
    assert len(source) < 5_000_000  # the library once (~1 MB) and the sample's answers

    page = browser.new_page()
    outside, errors = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(("file:", "blob:", "data:")) else outside.append(r.url))
    page.route(re.compile(r"^https?://"), lambda route: route.abort())
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_selector(".ta-explorer[data-ready=true]", timeout=30000)
    assert _total(page) == len(rows) > 10
    assert len(_column(page, "answer")) == 10

    # search: every visible row holds the word, and as many rows pass as hold it in Python
    words = pd.Series(" ".join(rows["answer"]).lower().split()).str.strip(".,?!\"'()")
    text = _visible_text(rows)
    counts = {w: int(text.str.contains(w, regex=False).sum()) for w in words[words.str.len() >= 6].unique()}
    word = next(w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if 2 <= n < len(rows))
    page.fill(".ta-explorer .dt-search input", word)
    info = "document.querySelector('.ta-explorer .dt-info').innerText"
    page.wait_for_function(f"!{info}.includes('of {len(rows)} answers')")
    assert _total(page) == counts[word] < len(rows)
    visible = page.eval_on_selector_all(".ta-explorer table.dataTable tbody tr", "trs => trs.map(t => t.innerText)")
    assert visible and all(word in v.lower() for v in visible)
    page.fill(".ta-explorer .dt-search input", "")

    # stage filter: every visible row carries the stage (an answer with two stages counts once)
    stage_counts = rows["stage_ids"].explode().value_counts()
    stage = stage_counts.index[0]
    page.select_option("select[data-filter=stage]", stage)
    assert _total(page) == int(rows["stage_ids"].map(lambda ids: stage in ids).sum()) < len(rows)
    stage_name = page.eval_on_selector(
        f"select[data-filter=stage] option[value='{stage}']", "o => o.textContent"
    )
    assert all(stage_name in cell.split(", ") for cell in _column(page, "stages"))

    # interviewee and kind on top: both hold for every visible row
    who = rows.loc[rows["stage_ids"].map(lambda ids: stage in ids), "interviewee"].iloc[0]
    page.select_option("select[data-filter=interviewee]", who)
    assert set(_column(page, "interviewee")) == {who}
    assert _total(page) == int(((rows["interviewee"] == who) & rows["stage_ids"].map(lambda i: stage in i)).sum())
    page.click(".ta-explorer [data-filter-reset]")
    assert _total(page) == len(rows)

    # paging: the second page starts at the 11th answer
    first_page = _column(page, "source")
    page.click(".ta-explorer .dt-paging-button.next")
    assert page.inner_text(".ta-explorer .dt-info").startswith("11 to 20 of")
    assert _column(page, "source") == rows["source"].iloc[10:20].tolist() != first_page

    # sorting by source: human order (Interview 101.txt:9 before Interview 101.txt:12), both ways
    natural = rows.sort_values("order_source")["source"].tolist()
    header = page.locator(".ta-explorer table.dataTable thead th", has_text=re.compile(r"^source$"))
    header.click()
    assert _column_when_drawn(page, "source", natural[:10]) == natural[:10]
    header.click()
    assert _column_when_drawn(page, "source", natural[::-1][:10]) == natural[::-1][:10]
    lines = [int(s.rsplit(":", 1)[1]) for s in natural if s.startswith(natural[0].rsplit(":", 1)[0] + ":")]
    assert lines == sorted(lines)

    assert not outside, outside
    assert not errors, errors[:3]
    page.close()
