"""A researcher's theme renames (saved by the explorer, read by every later run)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import AnalysisError
from ..files import atomic_write_text


def _read_entries(path: Path) -> list[dict]:
    """The entries of the labels file, checked; a malformed file is an error naming it
    (not ignored: it holds the researcher's renames, which exports would silently lose)."""
    what = "fix it or delete it (it holds the theme renames made in the explorer, notebook 07)"
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise AnalysisError(f"{path}: not UTF-8 text; {what}") from None
    except json.JSONDecodeError as exc:
        raise AnalysisError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}); {what}") from None
    except OSError as exc:
        raise AnalysisError(f"{path}: cannot be read ({exc.strerror or exc}); {what}") from None
    if not isinstance(entries, list):
        raise AnalysisError(f"{path}: expected a JSON list of {{topic, original, label}} entries; {what}")
    for k, entry in enumerate(entries, start=1):
        ok = isinstance(entry, dict) and {"topic", "original", "label"} <= set(entry)
        if ok:
            try:
                ok = isinstance(int(str(entry["topic"])), int) and isinstance(entry["label"], str)
            except (TypeError, ValueError):
                ok = False
        if not ok:
            raise AnalysisError(
                f"{path}: entry {k} is not {{\"topic\": <number>, \"original\": <text>, \"label\": <text>}}; {what}"
            )
    return entries


def load_theme_labels(path: str | Path, topic_info: pd.DataFrame | None = None) -> dict[int, str]:
    """Researcher's theme labels: topic -> label. With ``topic_info``, an entry applies
    only while the topic still has the label it was renamed from (a refit that changes
    the topics does not silently relabel another theme)."""
    path = Path(path)
    if not path.is_file():
        return {}
    entries = _read_entries(path)
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
    entries = _read_entries(path) if path.is_file() else []
    entries = [e for e in entries if int(e["topic"]) != int(topic)]
    entries.append({"topic": int(topic), "original": original, "label": label})
    atomic_write_text(path, json.dumps(sorted(entries, key=lambda e: e["topic"]), indent=2, ensure_ascii=False))
