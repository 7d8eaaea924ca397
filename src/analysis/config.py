"""The suite's settings: one YAML file (``config/settings.yaml``), validated when loaded.

Each step declares its own settings as a pydantic model beside the code that uses
them (``SubstanceSettings`` in ``transcripts``, ``TopicSettings`` in ``topics``...);
:class:`Config` only composes them, with the paths, the seed and privacy that every
step shares. The stage taxonomy and the code-to-stage table are data a researcher
edits, in their own files (``stages.taxonomy``, ``stages.code_map``).

Example:
    >>> from analysis import load_config
    >>> cfg = load_config()                       # doctest: +SKIP
    >>> cfg.paths.processed                       # doctest: +SKIP
    PosixPath('/.../data/processed')
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from ._settings import Settings
from .embeddings import EmbeddingSettings
from .errors import ConfigError
from .stages import StageSettings
from .topics import TopicSettings
from .transcripts import IngestSettings, MetaTalkSettings, SubstanceSettings

CONFIG_ENV = "ANALYSIS_CONFIG"
DEFAULT_CONFIG = Path("config") / "settings.yaml"
RENAMED_KEYS = {
    "paths.codes": "paths.reference_codes",
    "paths.codings": "paths.independent_codings",
    # absolute cosines depend on the embedder; quantiles of the corpus's own cosines do not
    "stages.guide_threshold": "stages.guide_quantile",
    "topics.outlier_threshold": "topics.outlier_quantile",
}


class Paths(Settings):
    """Folders and files every step shares; relative paths are taken from the project root."""

    transcripts: Path
    processed: Path = Path("data/processed")
    reports: Path = Path("reports")
    notebooks: Path = Path("notebooks")
    reference_codes: Path | None = None  # human codes to compare with (Delve PDFs, CSV, .qdpx), if any
    independent_codings: Path | None = None  # two independent codings per interview, if any
    theme_labels: Path = Path("data/theme_labels.json")  # theme renames made in the explorer
    review_codes: Path = Path("data/codes")  # the researcher's review log (review.csv), read as human codes


class Privacy(Settings):
    """Shared by every step that writes names: ``keep_names: false`` replaces them by
    pseudonymous ids and placeholders before anything is written.

    Attributes:
        keep_names: keep names in ids, file names, labels and speech.
        names: more names to replace in speech (people mentioned by name).
        pseudonyms: ``{name: placeholder}`` (e.g. ``{Alice: "[name-1]"}``), or a CSV file
            of ``name,pseudonym`` rows (relative to the project root); these names are
            replaced by the placeholder the researcher chose.
    """

    keep_names: bool = False
    names: list[str] = Field(default_factory=list)
    pseudonyms: dict[str, str] | Path | None = None


class Config(Settings):
    """Validated settings; paths are absolute (resolved against the project root)."""

    paths: Paths
    seed: int = Field(42, ge=0, le=2**32 - 1)
    privacy: Privacy = Privacy()
    ingest: IngestSettings = IngestSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    substance: SubstanceSettings = SubstanceSettings()
    topics: TopicSettings = TopicSettings()
    stages: StageSettings = StageSettings()
    meta_talk: MetaTalkSettings = MetaTalkSettings()  # interview meta-talk, set aside from the themes
    root: Path = Path(".")

    def resolve(self, path: Path) -> Path:
        """A path from the config, absolute (relative ones are taken from the project root)."""
        return path if path.is_absolute() else (self.root / path).resolve()

    def with_codes(self, codes: str | Path | None = None, codings: str | Path | None = None) -> Config:
        """A copy with other human-code folders (``"none"`` for no codes).

        A relative path is taken from the project root, as in the config file and the
        notebooks' parameters; the command line makes its paths absolute (from the current
        directory) before calling this.
        """
        update = {}
        for key, value in (("reference_codes", codes), ("independent_codings", codings)):
            if value and str(value).lower() == "none":
                update[key] = None
            elif value:
                update[key] = self.resolve(Path(value))
        return self.model_copy(update={"paths": self.paths.model_copy(update=update)}) if update else self

    def with_transcripts(self, folder: str | Path | None) -> Config:
        """A copy pointing at another corpus folder.

        A relative path is taken from the project root (see :meth:`with_codes`). The
        configured human codes belong to the configured corpus: another folder gets none
        (``with_codes`` names its own).
        """
        if folder is None or str(folder) == "":
            return self
        folder = self.resolve(Path(folder))
        update: dict = {"transcripts": folder}
        if folder != Path(self.paths.transcripts).resolve():
            update.update(reference_codes=None, independent_codings=None)
        paths = self.paths.model_copy(update=update)
        return self.model_copy(update={"paths": paths})


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds ``config/settings.yaml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_CONFIG).is_file():
            return folder
    raise ConfigError(
        f"no {DEFAULT_CONFIG} found in {here} or any folder above it; run from the project folder or set {CONFIG_ENV}"
    )


def _read_yaml(path: Path) -> dict:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}, line {line}: not UTF-8 text (a binary file?); expected YAML settings") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if "root" in raw:
        raise ConfigError(f"{path}: root: unknown key (the project root is the folder above config/)")
    return raw


def _validation_messages(path: Path, exc: ValidationError) -> str:
    messages = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            msg = f"unknown key (renamed to {RENAMED_KEYS[key]})" if key in RENAMED_KEYS else "unknown key"
        else:
            msg = err["msg"]
        messages.append(f"{path}: {key}: {msg}")
    return "\n".join(messages)


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate the settings.

    Args:
        path: The YAML file. Default: ``$ANALYSIS_CONFIG``, else ``config/settings.yaml``
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
    raw = _read_yaml(path)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_validation_messages(path, exc)) from None
    root = path.parent.parent if path.parent.name == "config" else path.parent
    paths = {
        name: None if value is None else (value if value.is_absolute() else (root / value)).resolve()
        for name, value in cfg.paths.model_dump().items()
    }
    for name in ("processed", "reports"):  # folders the run writes: an existing file there cannot be one
        if paths[name].exists() and not paths[name].is_dir():
            raise ConfigError(f"{path}: paths.{name}: {paths[name]} is a file, not a folder; give a folder")
    return cfg.model_copy(update={"paths": Paths(**paths), "root": root})
