"""Safe writes (temporary file + os.replace), damaged cache entries as misses, the lock
on the processed folder, embedding progress kept in batches, and exports that open in a
spreadsheet as text, never as formulas. Inputs are built in each test."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analysis import AnalysisError, load_config, read_table
from analysis.embeddings import Embedder, EmbeddingCache
from analysis.files import (
    atomic_to_csv,
    atomic_to_parquet,
    atomic_write_bytes,
    folder_lock,
    neutralise_cell,
    restore_cell,
    restore_table,
)
from analysis.qda import write_xlsx
from analysis.stages import read_stage_csv, write_stage_csv
from conftest import SAMPLE, sample_settings, write_config

HOSTILE = [
    '=HYPERLINK("http://example.invalid/?"&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
    "''+twice",
    "plain text",
    "it's fine",
    "",
]


# ---------------------------------------------------------------- atomic writes


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "t.parquet"
    atomic_to_parquet(pd.DataFrame({"a": [1, 2]}), path, index=False)
    before = path.read_bytes()

    class Broken(pd.DataFrame):
        def to_parquet(self, *args, **kwargs):  # a full disk half way through
            with open(args[0], "wb") as fh:
                fh.write(b"PAR1 half")
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_to_parquet(Broken({"a": [3]}), path, index=False)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_atomic_files_get_the_usual_permissions(tmp_path):
    path = atomic_write_bytes(tmp_path / "x.bin", b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_truncated_table_is_a_clear_error(tmp_path):
    cfg = load_config(write_config(tmp_path, sample_settings(transcripts=str(SAMPLE), processed=str(tmp_path / "p"))))
    (tmp_path / "p").mkdir()
    atomic_to_parquet(pd.DataFrame({"turn_id": ["a"] * 100}), tmp_path / "p" / "turns.parquet")
    data = (tmp_path / "p" / "turns.parquet").read_bytes()
    (tmp_path / "p" / "turns.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(AnalysisError, match=r"turns\.parquet cannot be read .*run the step that writes it again"):
        read_table(cfg, "turns")


# ---------------------------------------------------------------- the lock


def test_a_second_run_on_one_folder_is_refused_naming_the_folder_and_the_other_process(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from analysis.files import folder_lock
                with folder_lock({str(tmp_path)!r}, "python -m analysis topics"):
                    print("held", flush=True)
                    sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AnalysisError) as caught:
            with folder_lock(tmp_path):
                pass
        message = str(caught.value)
        assert str(tmp_path) in message and f"process {holder.pid}" in message
        assert "python -m analysis topics" in message and "another paths.processed" in message
    finally:
        holder.communicate("")
    with folder_lock(tmp_path):  # released when the other run ends
        with folder_lock(tmp_path):  # re-entrant within one process (a verb runs several steps)
            pass


# ---------------------------------------------------------------- spreadsheets


@pytest.mark.parametrize("value", HOSTILE)
def test_neutralised_cells_restore_exactly(value):
    cell = neutralise_cell(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore_cell(cell) == value


def test_csv_cells_are_neutralised_and_recoverable(tmp_path):
    table = pd.DataFrame({"text": HOSTILE, "score": [-0.5] * len(HOSTILE)}, index=HOSTILE)
    table.index.name = "=who"
    atomic_to_csv(table, tmp_path / "t.csv", neutralise=True)
    raw = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    for column in raw.columns:
        for cell in [column, *raw[column]]:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or cell == "-0.5", cell  # numbers stay numbers
    back = restore_table(pd.read_csv(tmp_path / "t.csv", keep_default_na=False))
    assert back["text"].tolist() == HOSTILE and back.columns[0] == "=who"
    assert back["score"].tolist() == [-0.5] * len(HOSTILE)


def test_stage_csv_is_neutralised_and_reads_back_the_same(tmp_path):
    table = pd.DataFrame(
        {
            "interview_id": ["7"] * len(HOSTILE),
            "turn_index": list(range(len(HOSTILE))),
            "text": HOSTILE,
            "stages": [["data", "other"]] + [[]] * (len(HOSTILE) - 1),
            "kind": ["issue"] + [""] * (len(HOSTILE) - 1),
            "score_data": [0.5] * len(HOSTILE),
            "matched_cues": ["-labels"] + [""] * (len(HOSTILE) - 1),
        }
    )
    path = write_stage_csv(table, tmp_path / "stage_predictions.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw["text"].iloc[0] == "'" + HOSTILE[0] and raw["matched_cues"].iloc[0] == "'-labels"
    back = read_stage_csv(path)
    assert back["text"].tolist() == HOSTILE and back["matched_cues"].iloc[0] == "-labels"
    assert back["stages"].tolist() == table["stages"].tolist()
    assert back["interview_id"].tolist() == ["7"] * len(HOSTILE)


def test_xlsx_holds_text_never_formulas(tmp_path):
    table = pd.DataFrame({"text": HOSTILE, "n": range(len(HOSTILE))})
    sheets = {"coded_segments": table, "=sheet": table.rename(columns={"text": "=h"})}
    path = write_xlsx(tmp_path / "study.xlsx", sheets)
    book = openpyxl.load_workbook(path)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    values = [c.value for c in book["coded_segments"]["A"][1:]]
    assert values == [v if v else None for v in HOSTILE]  # the text as it was (an empty cell reads as None)
    assert book["=sheet"]["A1"].value == "=h" and book["=sheet"]["A1"].data_type == "s"


def test_xlsx_shows_control_characters_it_cannot_hold(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", {"t": pd.DataFrame({"text": ["a\x0bb", "=c\x00d"], "n": [1, 2]})})
    sheet = openpyxl.load_workbook(path)["t"]
    assert [(c.value, c.data_type) for c in sheet["A"][1:]] == [("a\ufffdb", "s"), ("=c\ufffdd", "s")]
    assert [c.value for c in sheet["B"][1:]] == [1, 2]


# ---------------------------------------------------------------- the embedding cache


class FakeTokenizer:
    """Words as tokens; like a Hugging Face tokenizer, one text or a list of texts."""

    def __call__(self, text, add_special_tokens=False, verbose=False):
        return {"input_ids": [t.split() for t in text] if isinstance(text, list) else text.split()}


class FakeModel:
    """A stand-in for a SentenceTransformer: a vector from the text's length, and a kill switch."""

    max_seq_length = 512
    tokenizer = FakeTokenizer()

    def __init__(self, die_after: int | None = None):
        self.calls = 0
        self.die_after = die_after

    def encode(self, texts, **kwargs):
        self.calls += 1
        if self.die_after is not None and self.calls > self.die_after:
            raise KeyboardInterrupt  # the run is killed here
        vectors = np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fake_embedder(folder, model, batch_size=4):
    embedder = Embedder(cache_dir=folder, batch_size=batch_size, show_progress=False)
    embedder.__dict__["model"] = model  # cached_property: the real model is never loaded
    embedder.__dict__["model_id"] = "fake"
    return embedder


def test_a_killed_embedding_run_keeps_the_batches_it_committed(tmp_path, monkeypatch):
    from analysis.embeddings import _embedder

    monkeypatch.setattr(_embedder, "COMMIT_TEXTS", 8)
    texts = [f"answer number {i} " + "word " * i for i in range(40)]
    with pytest.raises(KeyboardInterrupt):
        fake_embedder(tmp_path, FakeModel(die_after=6)).embed(texts)  # 6 batches of 4 done, 3 commits of 8
    assert len(EmbeddingCache(tmp_path)) == 24
    again = fake_embedder(tmp_path, FakeModel())
    vectors = again.embed(texts)
    assert (again.stats.from_cache, again.stats.embedded) == (24, 16)
    whole = fake_embedder(tmp_path / "fresh", FakeModel()).embed(texts)
    assert np.array_equal(vectors, whole)


@pytest.mark.parametrize(
    "damage",
    [b"", b"SQLite format 3\x00" + b"\x00" * 80, b"not a database at all" * 100],
    ids=["empty", "truncated-header", "garbage"],
)
def test_a_damaged_embedding_cache_is_started_afresh(tmp_path, caplog, damage):
    texts = ["labels were noisy", "drift broke the model"]
    first = fake_embedder(tmp_path, FakeModel()).embed(texts)
    data = (tmp_path / "cache.sqlite").read_bytes()
    (tmp_path / "cache.sqlite").write_bytes(damage or data[: len(data) // 3])
    with caplog.at_level(logging.WARNING):
        again = fake_embedder(tmp_path, FakeModel())
        vectors = again.embed(texts)
    assert np.array_equal(vectors, first) and again.stats.embedded == 2
    assert "cannot be read" in caplog.text
    assert len(EmbeddingCache(tmp_path)) == 2  # and it caches again
