"""The whole suite against the one step that must cost compute: embedding the answers.

In one run, on one corpus (default: the 36 reference transcripts), with a processed and a
reports folder of its own (temporary, removed afterwards unless ``--keep``):

1. a plain sentence-transformers fp32 ``encode`` of the substantive answers (model
   loaded and warmed up first, not timed): the reference cost;
2. the whole suite cold, ``python -m analysis report`` on the empty processed folder
   (the notebooks in one shared kernel, as ``make report DATA=...`` runs them);
3. the same again, warm: notebooks whose inputs and outputs are unchanged keep their
   pages (``make report`` as a researcher runs it again);
4. the same with ``--force``: every notebook executed again, on filled caches (what a
   re-run costs when every notebook must run, e.g. after an edit under ``src/``).

Prints the time of each notebook (from the report's manifest), cold and warm totals,
the ratios cold / plain embedding and warm / cold (forced warm / cold beside it), and the peak resident memory of the
report's whole process tree (kernels included, sampled with psutil every 0.2 s), against
the targets: cold <= 1.3x plain (1.5x accepted), warm <= 10% of cold, peak memory <= 2 GB
(summed PSS; the summed RSS is printed beside it). Last, the CPU seconds of the plain
encode and of the cold run's whole process tree, and the cold run's wall time if its
work kept every core busy from start to end: the floor no scheduling can go below.

    .venv/bin/python benchmarks/suite_speed.py [--transcripts ../shared/corpus/transcripts] [--codes DIR|none]
        [--precision fp32|bf16]   # the suite's embedding precision (the plain reference is always fp32)
    .venv/bin/python benchmarks/suite_speed.py --transcripts data/raw/sample --codes data/raw/sample_codes
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _corpus_config import write_settings
from analysis.embeddings import PRECISIONS

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "corpus"
TARGET_COLD, ACCEPTED_COLD, TARGET_WARM, TARGET_RSS_GB = 1.3, 1.5, 0.10, 2.0


def proportional_set_size(pid: int) -> int | None:
    """Bytes of memory ``pid`` uses, each page shared with other processes counted as its
    share (``Pss`` of ``/proc/PID/smaps_rollup``, Linux 4.14+); ``None`` where unavailable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class TreeMemory:
    """Peak of the summed memory of a process and all its descendants, sampled in a thread
    (psutil); without psutil, the largest single child's peak RSS from ``getrusage``.

    Two sums: RSS (``peak``), which counts a page shared by several processes once in each
    (a worker forked from a 1.4 GB kernel shows 1.4 GB RSS at once, though it has copied
    little), and PSS (``peak_pss``, Linux), which splits each shared page among its
    processes: the memory the tree really occupies. Per notebook: the PSS sum.
    """

    def __init__(self, pid: int, every: float = 0.2, log: Path | None = None):
        self.pid, self.every, self.peak, self.peak_pss, self.exact = pid, every, 0, 0, True
        self.log = log  # the report's output: its "[k/N] running X" lines say which notebook runs
        self.by_notebook: dict[str, int] = {}  # peak tree PSS while each notebook ran
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        try:
            import psutil
        except ImportError:
            self.exact = False
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            total = shared_split = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                except psutil.Error:  # a kernel that just ended
                    continue
                total += rss
                pss = proportional_set_size(proc.pid)
                shared_split += rss if pss is None else pss
            self.peak = max(self.peak, total)
            self.peak_pss = max(self.peak_pss, shared_split)
            current = self._current_notebook()
            self.by_notebook[current] = max(self.by_notebook.get(current, 0), shared_split)
            self._stop.wait(self.every)

    def _current_notebook(self) -> str:
        try:
            text = self.log.read_text(errors="replace") if self.log else ""
        except OSError:
            return "(outside notebooks)"
        found = re.findall(r"\] running (\S+\.ipynb)", text)
        return found[-1] if found else "(outside notebooks)"

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if not self.exact:  # ru_maxrss is in KiB on Linux: one process's peak, a lower bound
            self.peak = self.peak_pss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def children_cpu_seconds() -> float:
    """User plus system CPU seconds of this process's finished descendants (each reaped
    process adds its own and those of the processes it reaped: the report's runner, its
    kernels and the print reader)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def plain_embedding(transcripts: Path) -> tuple[int, float, float]:
    """Answers, seconds and CPU seconds (all threads) of the model's own fp32 encode of the
    substantive answers."""
    from analysis import Embedder, load_config
    from analysis.transcripts import load_corpus, mark_substantive

    cfg = load_config()
    turns = mark_substantive(load_corpus(transcripts).turns, cfg.substance)
    texts = turns.loc[turns["substantive"], "text"].tolist()
    embedder = Embedder(
        cfg.embedding.model, batch_size=cfg.embedding.batch_size, show_progress=False, precision="fp32"
    )
    embedder.encode_plain(texts[:64])  # load and warm up the model: not part of the reference cost
    started, cpu = time.perf_counter(), time.process_time()
    embedder.encode_plain(texts)
    return len(texts), time.perf_counter() - started, time.process_time() - cpu


@dataclass
class ReportRun:
    """What one ``analysis report`` run cost."""

    seconds: float
    peak_rss: int  # bytes, the process tree's summed RSS at its peak
    peak_pss: int  # bytes, the same in summed PSS
    exact: bool  # False: psutil missing, the largest single process only
    notebook_seconds: dict[str, float]  # 0 for a page kept unchanged
    notebook_pss: dict[str, int]  # peak tree PSS while each notebook ran
    cpu_seconds: float  # user + system of the whole process tree


def run_report(config: Path, transcripts: Path, codes: Path | None, log: Path, force: bool = False) -> ReportRun:
    """Run the report on ``transcripts`` with ``config`` and measure it."""
    command = [sys.executable, "-m", "analysis", "--config", str(config), "report", "--transcripts", str(transcripts)]
    if codes is not None:
        command += ["--codes", str(codes)]
    if force:
        command.append("--force")
    env = {**os.environ, "ANALYSIS_CONFIG": str(config)}
    started, cpu = time.perf_counter(), children_cpu_seconds()
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        with TreeMemory(proc.pid, log=log) as memory:
            code = proc.wait()
    seconds, cpu = time.perf_counter() - started, children_cpu_seconds() - cpu
    if code != 0:
        sys.exit(f"report failed (exit {code}); its output:\n{log.read_text()[-4000:]}")
    manifest = json.loads((config.parent / "reports" / ".report.json").read_text())
    times = {p["notebook"]: 0.0 if p.get("reused") else p["seconds"] for p in manifest["pages"]}
    return ReportRun(seconds, memory.peak, memory.peak_pss, memory.exact, times, memory.by_notebook, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transcripts", type=Path, default=REFERENCE / "transcripts", help="corpus folder")
    parser.add_argument(
        "--codes", default=None,
        help="human codes for notebooks 06/08 (default: the corpus' coded/ folder beside it, if any; 'none': none)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the processed and reports folders here")
    parser.add_argument("--precision", choices=PRECISIONS, help="the suite's (default: the settings')")
    args = parser.parse_args()
    transcripts = args.transcripts.resolve()
    if args.codes is None:
        codes = transcripts.parent / "coded" if (transcripts.parent / "coded").is_dir() else None
    else:
        codes = None if args.codes == "none" else Path(args.codes).resolve()

    answers, plain_s, plain_cpu = plain_embedding(transcripts)
    gc.collect()
    print(f"corpus: {transcripts} ({answers} substantive answers); codes: {codes}")
    print(f"plain fp32 encode: {plain_s:.1f} s ({answers / plain_s:.0f} answers/s)", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="suite-speed-"))
    try:
        config = write_settings(
            tmp, transcripts, codes=codes,
            overrides=None if args.precision is None else {"embedding.precision": args.precision},
        )
        from analysis import Embedder, load_config

        embedding = load_config(config).embedding
        print(f"suite embedding precision: {Embedder.from_settings(embedding).precision} "
              f"(embedding.precision: {embedding.precision})", flush=True)
        cold = run_report(config, transcripts, codes, tmp / "cold.log")
        print(f"cold suite: {cold.seconds:.1f} s", flush=True)
        warm = run_report(config, transcripts, codes, tmp / "warm.log")
        print(f"warm suite: {warm.seconds:.1f} s", flush=True)
        forced = run_report(config, transcripts, codes, tmp / "forced.log", force=True)
        print(f"warm suite, every notebook run again (--force): {forced.seconds:.1f} s\n", flush=True)
        if args.keep:
            shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    width = max(len(n) for n in cold.notebook_seconds) + 2
    print(f"{'notebook':<{width}}{'cold s':>9}{'warm s':>9}{'forced s':>9}{'cold GB':>9}{'forced GB':>10}"
          "  (warm 0.0: page kept; GB: peak tree PSS while it ran)")
    for name in cold.notebook_seconds:
        print(f"{name:<{width}}{cold.notebook_seconds[name]:>9.1f}{warm.notebook_seconds.get(name, float('nan')):>9.1f}"
              f"{forced.notebook_seconds.get(name, float('nan')):>9.1f}"
              f"{cold.notebook_pss.get(name, 0) / 1e9:>9.2f}{forced.notebook_pss.get(name, 0) / 1e9:>10.2f}")
    outside = "(outside notebooks)"
    print(f"{outside:<{width}}"  # process start, checks, index page; kernels start inside each notebook's time
          + "".join(f"{run.seconds - sum(run.notebook_seconds.values()):>9.1f}" for run in (cold, warm, forced))
          + f"{cold.notebook_pss.get(outside, 0) / 1e9:>9.2f}{forced.notebook_pss.get(outside, 0) / 1e9:>10.2f}")
    print(f"{'total':<{width}}{cold.seconds:>9.1f}{warm.seconds:>9.1f}{forced.seconds:>9.1f}\n")

    cold_ratio, warm_ratio = cold.seconds / plain_s, warm.seconds / cold.seconds
    peak_gb = max(run.peak_pss for run in (cold, warm, forced)) / 1e9
    peak_rss_gb = max(run.peak_rss for run in (cold, warm, forced)) / 1e9

    def verdict(ok: bool, accepted: bool = False) -> str:
        return "met" if ok else ("accepted" if accepted else "MISSED")

    print(f"{'figure':<34}{'value':>10}  target")
    print(f"{'cold / plain embedding':<34}{cold_ratio:>9.2f}x  <= {TARGET_COLD}x ({ACCEPTED_COLD}x accepted): "
          f"{verdict(cold_ratio <= TARGET_COLD, cold_ratio <= ACCEPTED_COLD)}")
    print(f"{'warm / cold':<34}{warm_ratio:>9.1%}   <= {TARGET_WARM:.0%}: {verdict(warm_ratio <= TARGET_WARM)}")
    print(f"{'  forced warm / cold':<34}{forced.seconds / cold.seconds:>9.1%}   "
          "(every notebook run again; information)")
    how = "" if cold.exact else " (psutil missing: largest single process only)"
    print(f"{'peak memory, report process tree':<34}{peak_gb:>8.2f} GB  <= {TARGET_RSS_GB} GB: "
          f"{verdict(peak_gb <= TARGET_RSS_GB)}{how} (summed PSS: shared pages split among their processes)")
    print(f"{'  cold / warm / forced run peak':<34}{cold.peak_pss / 1e9:>8.2f} / {warm.peak_pss / 1e9:.2f} / "
          f"{forced.peak_pss / 1e9:.2f} GB")
    print(f"{'  summed RSS, same runs':<34}{peak_rss_gb:>8.2f} GB  (information: counts the pages a forked "
          "worker shares with its kernel once per process)")
    # The work, not the wait: no schedule of the cold run on these cores is faster than
    # its CPU seconds spread over all of them.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"\nCPU seconds (user + system, all threads and processes; {cores} cores)")
    print(f"{'plain fp32 encode':<34}{plain_cpu:>9.1f}   ({plain_cpu / plain_s:.2f} cores busy on average)")
    busy = cold.cpu_seconds / cold.seconds
    print(f"{'cold suite, whole process tree':<34}{cold.cpu_seconds:>9.1f}   ({busy:.2f} cores busy on average, "
          f"{busy / cores:.0%} of the {cores})")
    print(f"{'  its wall time on {0} cores at best'.format(cores):<34}{cold.cpu_seconds / cores:>9.1f}   "
          f"({cold.cpu_seconds / cores / plain_s:.2f}x the plain encode, if every core were busy from start to end)")


if __name__ == "__main__":
    main()
