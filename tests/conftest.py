from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
TRANSCRIPTS = CORPUS / "transcripts"
SAMPLE = ROOT / "data" / "raw" / "sample"


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
