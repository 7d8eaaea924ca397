"""Crash safety: the real command line on the embedded sample is killed (SIGKILL) in every
step just as it writes its outputs, then that step is run again and the run goes on; its outputs
must be those of a run never killed, and nothing the killed run left (temporary files,
the lock) may block or stay after the re-run.

The kill comes from inside the process at a chosen write, so that it always hits the
same point (a timer would hit another point on a loaded machine): right before the step
moves a finished temporary file into place under its real name (``os.replace``), with
some of the step's outputs already replaced and the others not (``evaluate``: its
``--out`` file, written whole beside it, not yet moved in).

Compared byte for byte: every table (parquet, CSV), ``agreement.json``, ``run.json``, the
topic model's files, the exports (``.qdpx``, ``.qdc``, CSV). Compared by content, where
bytes legitimately differ: the embedding cache (SQLite pages depend on the order rows
were written in, which a kill changes), the topic cache entry (a pickle; its result
tables are compared) and ``study.xlsx`` (its properties hold the time it was written).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SAMPLE, SAMPLE_CODES, sample_settings, write_config

pytestmark = pytest.mark.slow

# A stray temporary file or folder of the suite (files.atomic_path, files.temporary_folder, run.json's).
TEMPORARY = re.compile(r"^\..+\.\d+\.[a-z0-9_]{8}(\.tmp)?$|^\.run-.*\.json$|^\.topic_model\.old$")

# The CLI, with a kill switch: SIGKILL right before ``os.replace`` moves a file named
# KILL_BEFORE into place, or right after KILL_ON_OPEN is opened for writing.
DRIVER = textwrap.dedent(
    """
    import builtins, os, signal, sys

    before, on_open = os.environ.get("KILL_BEFORE"), os.environ.get("KILL_ON_OPEN")
    real_replace, real_open = os.replace, builtins.open

    def replace(src, dst, *args, **kwargs):
        if (before and os.path.basename(os.fspath(dst)) == before) or on_open == os.path.abspath(dst):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        writes = isinstance(file, (str, os.PathLike)) and set(mode) & set("wax")
        if on_open and writes and os.path.abspath(file) == on_open:
            os.kill(os.getpid(), signal.SIGKILL)
        return handle

    os.replace, builtins.open = replace, open_
    from analysis.cli import main

    sys.exit(main(sys.argv[1:]))
    """
)


class Study:
    """A project folder (its config, processed folder, agreement and exports) run through the CLI."""

    def __init__(self, base: Path):
        self.base = base
        self.processed = base / "processed"
        self.agreement = base / "agreement.json"
        self.export = base / "export"
        self.config = write_config(
            base,
            sample_settings(
                transcripts=str(SAMPLE),
                processed=str(self.processed),
                reference_codes=str(SAMPLE_CODES),
                theme_labels=str(base / "theme_labels.json"),
                review_codes=str(base / "codes"),
            ),
        )
        (base / "driver.py").write_text(DRIVER)

    def args(self, step: str) -> list[str]:
        return {
            "load": ["load"],
            "embed": ["embed"],
            "topics": ["topics"],
            "code-stages": ["code-stages"],
            "evaluate": [
                "evaluate",
                "--predictions",
                str(self.processed / "stage_predictions.csv"),
                "--codes",
                str(SAMPLE_CODES),
                "--out",
                str(self.agreement),
            ],
            "export": ["export", "--out", str(self.export)],
        }[step]

    def run(self, step: str, **kill) -> subprocess.CompletedProcess:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **kill}
        command = [sys.executable, str(self.base / "driver.py"), "--config", str(self.config), *self.args(step)]
        return subprocess.run(command, cwd=self.base, env=env, capture_output=True, text=True, timeout=1800)

    def run_ok(self, step: str) -> None:
        done = self.run(step)
        assert done.returncode == 0, f"{step} failed:\n{done.stdout}\n{done.stderr[-3000:]}"

    def outputs(self) -> list[Path]:
        folders = [self.processed, self.export]
        files = [p for f in folders if f.is_dir() for p in f.rglob("*") if p.is_file()]
        return sorted([p for p in files if p.name != ".lock"] + [self.agreement] * self.agreement.is_file())

    def strays(self) -> list[str]:
        return sorted(str(p.relative_to(self.base)) for p in self.base.rglob("*") if TEMPORARY.match(p.name))


STEPS = ["load", "embed", "topics", "code-stages", "evaluate", "export"]
# Where each step is killed: the file it is about to move into place (some outputs of the
# step written, others not).
KILL = {
    "load": {"KILL_BEFORE": "line_accounting.parquet"},  # turns.parquet already new
    "embed": {"KILL_BEFORE": "embeddings.parquet"},  # the vectors in the cache, the table not moved in
    "topics": {"KILL_BEFORE": "topic_info.parquet"},  # the model cached and topics.parquet written
    "code-stages": {"KILL_BEFORE": "stages.parquet"},  # stage_predictions.csv already new
    "evaluate": {"KILL_BEFORE": "agreement.json"},  # its --out, outside the processed folder
    "export": {"KILL_BEFORE": "coded_segments.csv"},  # study.qdpx and codebook.qdc written
}


def sqlite_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT key, model, dim, vec FROM vectors ORDER BY key").fetchall()


def rounded(value, digits: int = 5):
    """A JSON value with its floats rounded to ``digits`` significant digits."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def differences(ours: Path, theirs: Path) -> str | None:
    """How ``ours`` differs from ``theirs`` (None: the same)."""
    try:
        if ours.suffix == ".sqlite":
            assert sqlite_rows(ours) == sqlite_rows(theirs)
        elif ours.suffix == ".pkl":
            with ours.open("rb") as a, theirs.open("rb") as b:
                mine, other = pickle.load(a), pickle.load(b)
            for table in ("assignments", "info", "quotes"):
                pd.testing.assert_frame_equal(getattr(mine, table), getattr(other, table))
            assert np.array_equal(mine.map_2d, other.map_2d)
        elif ours.suffix == ".xlsx":
            mine, other = pd.read_excel(ours, sheet_name=None), pd.read_excel(theirs, sheet_name=None)
            assert list(mine) == list(other)
            for sheet in mine:
                pd.testing.assert_frame_equal(mine[sheet], other[sheet])
        elif ours.parent.name == "topic_model" and ours.suffix == ".json":
            assert rounded(json.loads(ours.read_text())) == rounded(json.loads(theirs.read_text()))
        else:
            assert ours.read_bytes() == theirs.read_bytes(), "bytes differ"
    except AssertionError as exc:
        return f"{ours.name}: {str(exc)[:300]}"
    return None


def assert_same_outputs(done: Study, reference: Study) -> None:
    names = [str(p.relative_to(done.base)) for p in done.outputs()]
    assert names == [str(p.relative_to(reference.base)) for p in reference.outputs()]
    found = [differences(ours, theirs) for ours, theirs in zip(done.outputs(), reference.outputs())]
    assert [d for d in found if d] == []


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of every step."""
    study = Study(tmp_path_factory.mktemp("reference"))
    for step in STEPS:
        study.run_ok(step)
    assert not study.strays()
    return study


def test_a_run_killed_in_each_step_and_resumed_gives_the_same_outputs(reference, tmp_path):
    """Each step is killed as it writes, then run again as a researcher would, and the
    run goes on to the next step: the end result is the uninterrupted run's."""
    study = Study(tmp_path)
    for step in STEPS:
        kill = {k: str(study.agreement) if k == "KILL_ON_OPEN" else v for k, v in KILL[step].items()}

        killed = study.run(step, **kill)

        assert killed.returncode == -signal.SIGKILL, f"{step} was not killed:\n{killed.stdout}\n{killed.stderr[-3000:]}"
        if "KILL_BEFORE" in kill:  # killed as it wrote: the finished temporary file is there, not yet moved in
            assert any(kill["KILL_BEFORE"] in name for name in study.strays()), (step, study.strays())
        study.run_ok(step)
        assert study.strays() == [], step
    assert_same_outputs(study, reference)
