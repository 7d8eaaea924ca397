"""Cost per answer and peak memory of each step as the corpus grows.

Synthesises corpora of 1x, 4x, 16x and 64x the reference corpus' answers (about 250k
answers at 64x for the 36 reference interviews): each new interview follows the turn
sequence of a reference interview, and each of its turns is a new combination of
sentences drawn from different turns of the same role, so no text repeats and no cache
can help. Each step then runs as its own command on a fresh processed folder (``python -m
analysis load``, ``embed``, ``topics``, ``code-stages``), and the table gives per step
and size: milliseconds per answer (and its ratio to 1x), peak resident memory of the
step's process tree, topics found and the outlier share.

Goals: cost per answer within 1.5x of 1x up to 16x; peak RSS < 4 GB at 64x.

    .venv/bin/python benchmarks/scale_curve.py [--factors 1 4 16 64] [--transcripts ../shared/corpus/transcripts]
    .venv/bin/python benchmarks/scale_curve.py --factors 1 4 --interviews 3   # a quick check
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from _corpus_config import write_settings
from analysis import load_corpus
from suite_speed import TreeMemory

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "corpus" / "transcripts"
SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
STEPS = ("load", "embed", "topics", "code-stages")


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END_RE.split(" ".join(str(text).split())) if s]


def synthesise(turns: pd.DataFrame, factor: int, folder: Path, seed: int) -> int:
    """Write ``factor`` times the reference interviews as new transcripts in ``folder``;
    returns the number of interviews written."""
    rng = np.random.default_rng(seed + factor)
    pools = {
        role: [sentences(t) for t in group["text"] if sentences(t)] for role, group in turns.groupby("role", sort=True)
    }
    templates = [group for _, group in turns.groupby("interview_id", sort=True)]
    seen: set[int] = set()
    folder.mkdir(parents=True)
    n_interviews = factor * len(templates)
    for k in range(n_interviews):
        template = templates[k % len(templates)]
        lines = [f"Interview {k + 1} (synthesised for the scale benchmark)", ""]
        for role, text in zip(template["role"], template["text"]):
            pool = pools[role]
            size = max(1, len(sentences(text)))
            for _ in range(20):  # a new combination; short ones ("Yeah.") may repeat, they are not embedded
                new = " ".join(pool[i][rng.integers(len(pool[i]))] for i in rng.integers(len(pool), size=size))
                if hash(new) not in seen:
                    break
            seen.add(hash(new))
            lines += [f"{'Interviewer' if role == 'interviewer' else 'Interviewee'}: {new}", ""]
        (folder / f"Interview {k + 1}.txt").write_text("\n".join(lines), encoding="utf-8")
    return n_interviews


def run_step(step: str, config: Path, log: Path) -> tuple[float, int]:
    """Seconds and peak tree RSS of ``python -m analysis STEP``."""
    command = [sys.executable, "-m", "analysis", "--config", str(config), step]
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "ANALYSIS_CONFIG": str(config)},
                                stdout=out, stderr=subprocess.STDOUT)
        with TreeMemory(proc.pid) as memory:
            code = proc.wait()
    if code != 0:
        sys.exit(f"{step} failed (exit {code}); its output:\n{log.read_text()[-4000:]}")
    return time.perf_counter() - started, memory.peak


def measure(factor: int, turns: pd.DataFrame, tmp: Path, seed: int, keep: bool = False) -> list[dict]:
    work = tmp / f"x{factor}"
    started = time.perf_counter()
    interviews = synthesise(turns, factor, work / "transcripts", seed)
    print(f"x{factor}: {interviews} interviews synthesised in {time.perf_counter() - started:.0f} s", flush=True)
    config = write_settings(work, work / "transcripts")
    rows = []
    for step in STEPS:
        seconds, peak = run_step(step, config, work / f"{step}.log")
        rows.append({"factor": factor, "step": step, "seconds": seconds, "peak_gb": peak / 1e9})
        print(f"x{factor} {step}: {seconds:.1f} s, peak {peak / 1e9:.2f} GB", flush=True)
    processed = work / "processed"
    answers = pq.ParquetFile(processed / "embeddings.parquet").metadata.num_rows
    topics = pd.read_parquet(processed / "topics.parquet", columns=["topic"])["topic"]
    info = pd.read_parquet(processed / "topic_info.parquet", columns=["topic"])
    for row in rows:
        row.update(answers=answers, topics=int((info["topic"] != -1).sum()), outliers=float((topics == -1).mean()))
    if not keep:
        shutil.rmtree(work, ignore_errors=True)  # the next size needs the disk more than this one
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transcripts", type=Path, default=REFERENCE, help="reference corpus to recombine")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16, 64], help="sizes, times the reference")
    parser.add_argument("--interviews", type=int, default=None, help="use only the first N reference interviews")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep each size's transcripts and processed folder here (default: removed)")
    args = parser.parse_args()

    turns = load_corpus(args.transcripts).turns
    if args.interviews:
        keep = sorted(turns["interview_id"].unique(), key=str)[: args.interviews]
        turns = turns[turns["interview_id"].isin(keep)]
    print(f"reference: {args.transcripts} ({turns['interview_id'].nunique()} interviews, {len(turns)} turns)")

    rows: list[dict] = []
    keep = args.workdir is not None
    tmp = args.workdir if keep else Path(tempfile.mkdtemp(prefix="scale-curve-"))
    try:
        for factor in sorted(set(args.factors)):
            rows += measure(factor, turns, tmp, args.seed, keep)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)

    table = pd.DataFrame(rows)
    table["ms_per_answer"] = 1000 * table["seconds"] / table["answers"]
    base = table[table["factor"] == table["factor"].min()].set_index("step")["ms_per_answer"]
    table["vs_smallest"] = table["ms_per_answer"] / table["step"].map(base)
    print()
    print(f"{'factor':>6} {'answers':>8} {'step':<12}{'seconds':>9}{'ms/answer':>10}{'vs smallest':>12}"
          f"{'peak GB':>9}{'topics':>7}{'outliers':>9}")
    for r in table.itertuples():
        print(f"{r.factor:>5}x {r.answers:>8} {r.step:<12}{r.seconds:>9.1f}{r.ms_per_answer:>10.2f}"
              f"{r.vs_smallest:>11.2f}x{r.peak_gb:>9.2f}{r.topics:>7}{r.outliers:>9.1%}")
    totals = table.groupby("factor").agg(answers=("answers", "first"), seconds=("seconds", "sum"),
                                         peak_gb=("peak_gb", "max"))
    print()
    for factor, t in totals.iterrows():
        print(f"{factor:>5}x all steps: {t.seconds:.0f} s, {1000 * t.seconds / t.answers:.2f} ms/answer, "
              f"peak {t.peak_gb:.2f} GB")
    print("goals: ms/answer within 1.5x of 1x up to 16x; peak RSS < 4 GB at 64x")


if __name__ == "__main__":
    main()
