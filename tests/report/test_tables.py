"""Tables as a reader sees them: the HTML that show_table and its helpers give."""

from __future__ import annotations

from io import StringIO

import pandas as pd
import pytest

from analysis.report import agreement_by_interview, files_table, key_value_table, list_table, note, show_table

QUOTES = (
    "“We watch drift on every feature, and when a feature's distribution moves we retrain; the alerts fire twice a "
    "week and most of them are noise, which is its own quality problem.” (I3, Interview 3.txt:12)\n"
    "“Labels came from three vendors with different guidelines.” (I11, Interview 11.txt:40)\n"
    "“Nobody owned the pipeline after the team split.” (I30, Interview 30.txt:7)"
)


def _cells(html: str) -> pd.DataFrame:
    return pd.read_html(StringIO(html))[0]


def test_long_text_is_whole_wrapped_left_aligned_and_keeps_its_line_breaks():
    table = pd.DataFrame({"topic": [4, 7], "quotes": [QUOTES, "short"]}, index=[12, 40])  # a filtered frame's rows
    html = show_table(table).to_html()
    # each quote whole, the line breaks as <br>, never a literal backslash-n
    for line in QUOTES.split("\n"):
        assert line.replace("'", "&#x27;") in html
    assert html.count("<br>") == 2 and "\\n" not in html
    # no index column: the first header is `topic`, and the row numbers 12 and 40 are not cells
    assert _cells(html).columns.tolist() == ["topic", "quotes"]
    assert "12</td>" not in html and "40</td>" not in html
    # text cells left-aligned and wrapped (the notebook's default CSS right-aligns and does not wrap)
    assert "text-align: left" in html and "white-space: normal" in html and "max-width: 46em" in html


def test_numbers_are_formatted_and_missing_values_blank():
    table = pd.DataFrame({"stage": ["data", "other"], "kappa": [0.74512, None], "share_%": [89.1, 7.3], "n": [3, 4]})
    cells = _cells(show_table(table).to_html())
    assert cells["kappa"].tolist()[0] == 0.745 and pd.isna(cells["kappa"].tolist()[1])
    html = show_table(table).to_html()
    assert ">89.1</td>" in html and ">89.100<" not in html and ">3</td>" in html


def test_markup_in_a_cell_shows_as_text():
    html = show_table(pd.DataFrame({"text": ["<script>alert(1)</script> & <b>x</b>"]})).to_html()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;x&lt;/b&gt;" in html


def test_a_meaningful_index_becomes_a_column_and_rows_can_be_cut_with_a_caption():
    table = pd.DataFrame({"turns": [10, 9, 8]}, index=pd.Index(["3", "11", "30"], name="interview_id"))
    html = show_table(table, max_rows=2).to_html()
    cells = _cells(html)
    assert cells.columns.tolist() == ["interview_id", "turns"] and cells["interview_id"].tolist() == [3, 11]
    assert "the first 2 of 3 rows" in html.lower()


def test_natural_order_of_interview_ids():
    table = pd.DataFrame({"interview": ["30", "11", "3", "x1f"], "units": [1, 2, 3, 4]})
    assert _cells(show_table(table, sort_by="interview").to_html())["interview"].astype(str).tolist() == [
        "3",
        "11",
        "30",
        "x1f",
    ]
    per = {"11": {"units": 2}, "30": {"units": 1}, "3": {"units": 3}}
    assert agreement_by_interview({"suite_vs_reference": {"per_interview": per}})["interview"].tolist() == [
        "3",
        "11",
        "30",
    ]
    assert list_table(["Interview 30.pdf", "Interview 3.pdf", "Interview 11.pdf"], "file")["file"].tolist() == [
        "Interview 3.pdf",
        "Interview 11.pdf",
        "Interview 30.pdf",
    ]


def test_dicts_lists_and_strings_become_tables_and_sentences(tmp_path):
    quality = key_value_table({"coherence (c_npmi)": 0.1234, "diversity": 0.8}, "measure", "value")
    cells = _cells(show_table(quality).to_html())
    assert cells.values.tolist() == [["coherence (c_npmi)", 0.123], ["diversity", 0.8]]
    counts = key_value_table(pd.Series({"data": 3, "none": 1}), "code", "rows")
    assert counts.values.tolist() == [["data", 3], ["none", 1]]
    # an empty table says so in a sentence, not as an empty grid or `[]`
    empty = show_table(list_table([], "file"), empty="Every reference file carries codes.")
    assert empty.data == "Every reference file carries codes." and type(empty) is type(note(""))
    for name, size in (("study.qdpx", 3000), ("codebook.qdc", 1024), ("coded_segments.csv", 10)):
        (tmp_path / name).write_bytes(b"x" * size)
    files = files_table(tmp_path)
    assert files["file"].tolist() == ["codebook.qdc", "coded_segments.csv", "study.qdpx"]
    assert files["size_kb"].tolist() == [1.0, pytest.approx(0.0, abs=0.05), pytest.approx(2.9, abs=0.05)]


def test_the_same_table_renders_the_same_html():
    table = pd.DataFrame({"a": ["x"], "b": [1.5]})
    assert show_table(table).to_html() == show_table(table.copy()).to_html()
