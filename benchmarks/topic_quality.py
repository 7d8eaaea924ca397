"""Topic-model bars on a corpus (default: the 36 reference transcripts).

Runs notebooks 01-03 through papermill on a fresh processed folder (cold), then 02-03
again (warm: cached embeddings and fitted model), fits the model twice more without
the cache to check that the same seed gives the same assignments, and prints:

- number of topics, largest topic's share of the modelled answers, outlier share,
  topics whose top-10 words contain a stop word or filler;
- determinism; cold and warm times of notebooks 02 + 03 and their ratio;
- the 10 largest topics with their labels.

    .venv/bin/python benchmarks/topic_quality.py [--data ../shared/corpus/transcripts] [--fit-sample N]
    .venv/bin/python benchmarks/topic_quality.py --processed DIR --fit-sample 1500

``--fit-sample N`` fits on a seeded sample of N answers and assigns the rest, as corpora
larger than ``topics.fit_sample`` are (issue 14: the quality bars must hold on that path).
``--processed DIR`` reads the turns and vectors of a finished run (``load`` and ``embed``
done, nothing written there) instead of running the notebooks: the quality figures and
determinism only, no cold/warm times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import papermill as pm

from _corpus_config import write_settings
from analysis import fit_topics, load_config, read_embeddings, read_table, topic_quality
from analysis.pipeline import make_embedder

ROOT = Path(__file__).resolve().parents[1]


def run(notebook: str, out_dir: Path, data: str) -> float:
    started = time.perf_counter()
    pm.execute_notebook(
        str(ROOT / "notebooks" / notebook),
        str(out_dir / notebook),
        parameters={"transcripts_dir": data},
        cwd=str(ROOT / "notebooks"),
        kernel_name="python3",
        progress_bar=False,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "corpus" / "transcripts"))
    parser.add_argument("--fit-sample", type=int, default=None,
                        help="topics.fit_sample for this run (default: the settings file's)")
    parser.add_argument("--processed", type=Path, default=None,
                        help="a processed folder with turns and embeddings: no notebooks, figures only")
    args = parser.parse_args()
    data = str(Path(args.data).resolve())

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = write_settings(
            tmp, Path(data), overrides=None if args.fit_sample is None else {"topics.fit_sample": args.fit_sample}
        )
        os.environ["ANALYSIS_CONFIG"] = str(config)
        cfg = load_config(config)

        cold = warm = {}
        if args.processed is None:
            run("01_load_transcripts.ipynb", tmp, data)
            cold = {nb: run(nb, tmp, data) for nb in ("02_embed_answers.ipynb", "03_topic_model.ipynb")}
            warm = {nb: run(nb, tmp, data) for nb in ("02_embed_answers.ipynb", "03_topic_model.ipynb")}
        else:  # a copy of its two tables: the given folder is only read
            (tmp / "processed").mkdir()
            for name in ("turns.parquet", "embeddings.parquet"):
                shutil.copy(args.processed / name, tmp / "processed" / name)

        turns = read_table(cfg, "turns")
        table, vectors = read_embeddings(cfg)
        docs = table[["turn_id"]].merge(turns, on="turn_id", how="left")
        embedder = make_embedder(cfg, show_progress=False)
        topic_settings = cfg.topics
        def fit():
            return fit_topics(docs, vectors, topic_settings, seed=cfg.seed, embedding_model=lambda: embedder.model,
                              model_id=embedder.model_id)

        first, second = fit(), fit()  # two fits with one seed: the same topics?
        from_notebook = read_table(cfg, "topics") if args.processed is None else None

    quality = topic_quality(first.info, first.assignments, topic_settings)
    same = first.assignments["topic"].tolist() == second.assignments["topic"].tolist()
    same_nb = None if from_notebook is None else from_notebook["topic"].tolist() == first.assignments["topic"].tolist()
    interviewee_turns = int((turns["role"] == "interviewee").sum())
    reasons = turns.loc[turns["role"] == "interviewee", "reason"].str.replace(r" [(].*", "", regex=True)
    set_aside = reasons.value_counts().drop("", errors="ignore").to_dict()
    print(f"corpus: {args.processed or data}; fit_sample: {topic_settings.fit_sample}")
    print(
        f"interviewee turns: {interviewee_turns}; modelled (substantive, English): {quality['answers']}; "
        f"set aside: {set_aside}"
    )
    print(f"topics: {quality['topics']}                       (bar: >= 15)")
    print(f"largest topic share: {quality['largest_topic_share']:.1%}        (bar: <= 15%)")
    print(f"outlier share after reduction: {quality['outlier_share']:.1%}   (bar: <= 15%)")
    print(
        "topics with a stop word or filler in their top 10 words: "
        f"{quality['topics_with_stop_or_filler_words']}   (bar: none)"
    )
    print(f"outliers that joined a topic: {quality['outliers_joined_a_topic']}")
    print(f"same seed, two fits, identical assignments: {same}; notebook run identical too: {same_nb}")
    if cold:
        cold_s, warm_s = sum(cold.values()), sum(warm.values())
        print("cold run 02 + 03: " + " + ".join(f"{s:.1f}" for s in cold.values()) + f" = {cold_s:.1f} s")
        print("warm run 02 + 03: " + " + ".join(f"{s:.1f}" for s in warm.values()) + f" = {warm_s:.1f} s")
        print(f"warm / cold: {warm_s / cold_s:.1%}                (bar: <= 15%)")
    print("10 largest topics:")
    real = first.info[first.info["topic"] != -1].sort_values(["size", "topic"], ascending=[False, True]).head(10)
    for row in real.itertuples():
        print(f"  {row.topic:>3}  {row.size:>4}  {row.share:6.1%}  {row.label}")


if __name__ == "__main__":
    main()
