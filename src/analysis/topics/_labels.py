"""A researcher's theme renames (saved by the explorer, read by every later run)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def load_theme_labels(path: str | Path, topic_info: pd.DataFrame | None = None) -> dict[int, str]:
    """Researcher's theme labels: topic -> label. With ``topic_info``, an entry applies
    only while the topic still has the label it was renamed from (a refit that changes
    the topics does not silently relabel another theme)."""
    path = Path(path)
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text(encoding="utf-8"))
    current = dict(zip(topic_info["topic"], topic_info["label"])) if topic_info is not None else None
    out = {}
    for entry in entries:
        topic = int(entry["topic"])
        if current is None or current.get(topic) == entry["original"]:
            out[topic] = entry["label"]
    return out


def save_theme_label(path: str | Path, topic: int, original: str, label: str) -> None:
    """Add or replace one rename in the labels file (JSON list, sorted by topic)."""
    path = Path(path)
    entries = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    entries = [e for e in entries if int(e["topic"]) != int(topic)]
    entries.append({"topic": int(topic), "original": original, "label": label})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(sorted(entries, key=lambda e: e["topic"]), indent=2, ensure_ascii=False), encoding="utf-8"
    )
