"""The stage taxonomy: a YAML file a researcher edits, validated when loaded.

Example:
    >>> tax = load_taxonomy("config/stages.yaml")     # doctest: +SKIP
    >>> tax.ids[:3]                                    # doctest: +SKIP
    ['data', 'model_training', 'model_evaluation']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError

STAGE_KEYS = {"id", "name", "description", "cues", "guide_questions", "applies_when", "not_when"}
ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    description: str
    cues: tuple[str, ...] = ()
    guide_questions: tuple[str, ...] = ()
    applies_when: str = ""  # codebook: when an answer gets this stage
    not_when: str = ""  # codebook: what looks like it but belongs elsewhere

    def prototype_texts(self) -> list[str]:
        """Texts whose embeddings stand for the stage: its description and each cue."""
        return [f"{self.name}: {self.description}", *self.cues]


@dataclass(frozen=True)
class Taxonomy:
    stages: tuple[Stage, ...]
    path: Path | None = None
    other_guide_questions: tuple[str, ...] = ()
    kinds: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def kind_examples(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.kinds}

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.stages]

    def name_of(self, stage_id: str) -> str:
        return next((s.name for s in self.stages if s.id == stage_id), stage_id)


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Read and validate ``stages.yaml``.

    Raises:
        ConfigError: missing file, bad YAML, a stage without id/name/description, a
            duplicate or malformed id, an unknown key; the message names the stage.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the stage taxonomy ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{path}{f', line {mark.line + 1}' if mark else ''}: not valid YAML") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("stages"), list) or not raw["stages"]:
        raise ConfigError(f"{path}: expected `stages:` with a list of stages")
    unknown_top = set(raw) - {"stages", "other_guide_questions", "kinds"}
    if unknown_top:
        raise ConfigError(f"{path}: {sorted(unknown_top)[0]}: unknown key")
    other_questions = raw.get("other_guide_questions") or []
    if not isinstance(other_questions, list) or not all(isinstance(q, str) for q in other_questions):
        raise ConfigError(f"{path}: other_guide_questions: expected a list of texts")
    stages, seen = [], set()
    for k, item in enumerate(raw["stages"]):
        where = f"{path}: stages[{k}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping with id, name, description")
        unknown = set(item) - STAGE_KEYS
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
        for key in ("id", "name", "description"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ConfigError(f"{where}.{key}: required text")
        stage_id = item["id"].strip()
        if not ID_RE.match(stage_id):
            raise ConfigError(f"{where}.id: {stage_id!r} must be lower-case letters, digits and underscores")
        if stage_id in seen:
            raise ConfigError(f"{where}.id: duplicate stage id {stage_id!r}")
        seen.add(stage_id)
        lists = {}
        for key in ("cues", "guide_questions"):
            value = item.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}.{key}: expected a list of texts")
            lists[key] = tuple(v.strip() for v in value if v.strip())
        for key in ("applies_when", "not_when"):  # optional codebook texts
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{where}.{key}: expected a text")
            lists[key] = " ".join((value or "").split())
        stages.append(Stage(stage_id, item["name"].strip(), " ".join(item["description"].split()), **lists))
    kinds = raw.get("kinds") or {}
    if (
        not isinstance(kinds, dict)
        or set(kinds) != {"issue", "fix"}
        or not all(isinstance(v, list) and v and all(isinstance(x, str) for x in v) for v in kinds.values())
    ):
        raise ConfigError(f"{path}: kinds: expected `issue:` and `fix:`, each a list of example sentences")
    return Taxonomy(
        tuple(stages),
        path,
        tuple(q.strip() for q in other_questions if q.strip()),
        tuple((k, tuple(v)) for k, v in sorted(kinds.items())),
    )
