from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.stages import StageSignals, load_taxonomy

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
TRANSCRIPTS = CORPUS / "transcripts"
SAMPLE = ROOT / "data" / "raw" / "sample"
SAMPLE_CODES = ROOT / "data" / "raw" / "sample_codes"
SETTINGS = ROOT / "config" / "settings.yaml"
TAXONOMY = ROOT / "config" / "taxonomy.yaml"
CODE_MAP = ROOT / "config" / "code_map.yaml"
# the stage ids the tests expect, read from the taxonomy a researcher edits
STAGE_IDS = load_taxonomy(TAXONOMY).ids


def pytest_collection_modifyitems(config, items):
    if TRANSCRIPTS.is_dir():
        return
    skip = pytest.mark.skip(reason=f"reference corpus not found at {CORPUS}")
    for item in items:
        if "corpus" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def write_files(tmp_path):
    """Write {name: str | bytes} into a fresh folder and return the folder."""

    def _write(files: dict[str, str | bytes], folder: str = "corpus") -> Path:
        target = tmp_path / folder
        target.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return target

    return _write


def sample_settings(**paths) -> dict:
    """The project's settings (config/settings.yaml) with the taxonomy and code map of the
    project, and ``paths`` overridden."""
    import yaml

    settings = yaml.safe_load(SETTINGS.read_text())
    settings["paths"].update(paths)
    settings["stages"].update({"taxonomy": str(TAXONOMY), "code_map": str(CODE_MAP)})
    return settings


def write_config(base: Path, settings: dict) -> Path:
    """Write ``settings`` as ``base/config/settings.yaml`` and return its path."""
    import yaml

    config = base / "config" / "settings.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(settings))
    return config


def sample_config(base: Path) -> Path:
    """The embedded sample's settings, with its human codes and a processed folder and
    theme-labels file under ``base`` (nothing run): the settings file's path."""
    return write_config(
        base,
        sample_settings(
            transcripts=str(SAMPLE),
            processed=str(base / "processed"),
            reference_codes=str(SAMPLE_CODES),
            theme_labels=str(base / "theme_labels.json"),
        ),
    )


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The embedded sample through load, embed, topics and stages, in a temporary
    processed folder: (config, config path)."""
    from analysis import embed_step, load_config, load_step, stages_step, topics_step

    config = sample_config(tmp_path_factory.mktemp("sample_run"))
    cfg = load_config(config)
    load_step(cfg)
    embed_step(cfg, show_progress=False)
    topics_step(cfg)
    stages_step(cfg)
    return cfg, config


@pytest.fixture(scope="session")
def embedded_sample(tmp_path_factory):
    """The sample's substantive answers, their vectors and the embedder that made them
    (embedded once for the session; read-only): (answers, vectors, embedder)."""
    from analysis import Embedder, load_corpus
    from analysis.transcripts import SubstanceSettings, mark_substantive

    embedder = Embedder(cache_dir=tmp_path_factory.mktemp("emb"), show_progress=False)
    turns = mark_substantive(load_corpus(SAMPLE).turns, SubstanceSettings())
    docs = turns[turns["substantive"]].reset_index(drop=True)
    return docs, embedder.embed(docs["text"].tolist()), embedder


CHROMIUM = "/usr/bin/chromium"
XSS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
XSS_ANSWER = (
    f"Once our scraped training data contained {XSS[0]} and {XSS[1]} inside product descriptions, "
    "so now the data validation step rejects any markup in text fields before training the model."
)


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory):
    """Every notebook run on the sample (one answer carrying markup added) and rendered to
    HTML once for the whole session, in a temporary folder: (config, rendered pages)."""
    import shutil

    from analysis import load_config
    from analysis.report import run_report

    base = tmp_path_factory.mktemp("report")
    settings = sample_settings()
    shutil.copytree(SAMPLE, base / "sample")
    # a transcript line carrying markup must show as text everywhere and run nothing
    first = base / "sample" / "Interview 101.txt"
    title, rest = first.read_text(encoding="utf-8").split("\n", 1)
    first.write_text(
        f"{title}\nInterviewer 1: Anything about scraped data?\nInterviewee: {XSS_ANSWER}\n{rest}", encoding="utf-8"
    )
    settings["paths"] = {
        "transcripts": "sample",
        "reference_codes": str(SAMPLE_CODES),
        "processed": str(base / "processed"),
        "reports": str(base / "reports"),
        "notebooks": str(ROOT / "notebooks"),
        "theme_labels": str(base / "theme_labels.json"),
    }
    config = write_config(base, settings)
    cfg = load_config(config)
    return cfg, run_report(cfg, log=lambda *_: None, config_path=config)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no browser download)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (make test installs Debian's chromium when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def synthetic_stage_signals(
    vectors: np.ndarray,
    interview: list[str],
    episode: list[str | None],
    words: list[int] | None = None,
    stage: np.ndarray | None = None,
    stage_ids: tuple[str, ...] = ("data", "model_evaluation"),
) -> StageSignals:
    """Stage signals of answers given as vectors (the other signals zero): one StageSignals
    for the stage tests, with ``stage`` the answers' similarity to each stage."""
    n = len(vectors)
    answers = pd.DataFrame(
        {
            "interview_id": interview,
            "turn_id": [f"t{i}" for i in range(n)],
            "turn_index": range(n),
            "source_file": "x.txt",
            "line_start": range(1, n + 1),
            "line_end": range(1, n + 1),
            "text": [f"answer {i}" for i in range(n)],
            "substantive": True,
            "n_words": words or [20] * n,
            "question_turn_id": episode,
        }
    )
    stage = np.zeros((n, len(stage_ids))) if stage is None else stage
    return StageSignals(
        answers=answers,
        answer_vectors=vectors.astype(np.float32),
        question_vectors=np.zeros_like(vectors, np.float32),
        answer_stage=stage,
        question_stage=np.zeros_like(stage),
        section=np.zeros_like(stage),
        answer_cues=np.zeros_like(stage),
        question_cues=np.zeros_like(stage),
        matched_cues=[{}] * n,
        issue_similarity=np.zeros(n),
        fix_similarity=np.full(n, -1.0),
        stage_ids=list(stage_ids),
    )
