"""How the names of human codes map to lifecycle stages (``config/code_map.yaml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError


@dataclass(frozen=True)
class CodeMap:
    """How code names map to stages, read from ``config/code_stages.yaml``."""

    prefixes: dict[str, str]
    abbreviations: dict[str, str]
    free_codes: dict[str, str | None]
    fix_suffix: str = "-fix"
    not_codes: str = r"^Q\d+(\.\d+)*$"

    def classify(self, code: str) -> tuple[str | None, str | None, str]:
        """(stage, kind, status) of one code. ``status`` is ``mapped``, ``question-id``,
        ``not-a-stage`` (a free note mapped to nothing on purpose) or ``unmapped``.

        Example:
            >>> m = CodeMap({"Data-": "data"}, {}, {"feedback-loop": "model_evaluation"})
            >>> m.classify("Data-missing-values-fix"), m.classify("Q7.2"), m.classify("feedback-loop")
            (('data', 'fix', 'mapped'), (None, None, 'question-id'), ('model_evaluation', 'issue', 'mapped'))
        """
        code = code.strip()
        if re.match(self.not_codes, code):
            return None, None, "question-id"
        kind = "fix" if code.lower().endswith(self.fix_suffix.lower()) else "issue"
        for prefix, stage in sorted(self.prefixes.items(), key=lambda kv: -len(kv[0])):
            if code.startswith(prefix):
                return stage, kind, "mapped"
        abbreviation = re.search(r"[\[(]([A-Za-z]+)[\])]\s*$", code)
        if abbreviation and abbreviation.group(1) in self.abbreviations:
            return self.abbreviations[abbreviation.group(1)], kind, "mapped"
        if code in self.free_codes:
            stage = self.free_codes[code]
            return (stage, kind, "mapped") if stage else (None, None, "not-a-stage")
        return None, None, "unmapped"


def load_code_map(path: str | Path, stage_ids: list[str]) -> CodeMap:
    """Read and validate the code-to-stage table against the taxonomy's stage ids."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the code-to-stage table ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping")
    unknown = set(raw) - {"prefixes", "abbreviations", "free_codes", "fix_suffix", "not_codes"}
    if unknown:
        raise ConfigError(f"{path}: {sorted(unknown)[0]}: unknown key")
    for section in ("prefixes", "abbreviations", "free_codes"):
        for code, stage in (raw.get(section) or {}).items():
            if stage is not None and stage not in stage_ids:
                raise ConfigError(
                    f"{path}: {section}.{code}: stage {stage!r} is not in the taxonomy ({', '.join(stage_ids)})"
                )
    return CodeMap(
        prefixes=dict(raw.get("prefixes") or {}),
        abbreviations=dict(raw.get("abbreviations") or {}),
        free_codes=dict(raw.get("free_codes") or {}),
        fix_suffix=raw.get("fix_suffix", "-fix"),
        not_codes=raw.get("not_codes", r"^Q\d+(\.\d+)*$"),
    )
