"""Which notebooks of a report can keep their page: ``make report`` skips a notebook whose
inputs and outputs are as they were when it last ran, as make, DVC or snakemake skip a
step whose inputs did not change.

A record per notebook is kept in ``reports/.runs.json``. A notebook keeps its page when

1. its static key is the recorded one (see :func:`inputs_digest` and :func:`notebook_key`):
   the notebook's bytes, the parameters it declares, the settings file and the files it
   names, the input folders, the package's source and the installed distributions;
2. the processed folder holds, for every file its recorded run left there, the same
   content (content-keyed caches excepted, see :func:`counts_as_output`); files written
   later by later notebooks do not matter (nor files a later notebook writes that were
   already there, left by an earlier run: see :func:`drop_later_results`);
3. its page and executed notebook in the reports folder are the ones it published.

Hashing reuses a recorded sha256 while a file's size and modification time are unchanged
(as git's index does), so a warm run does not read hundreds of MB again.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..config import Config
from ..files import LOCK_NAME, TEMPORARY_RE, atomic_write_text

RUNS_FILE = ".runs.json"
RECORD_FORMAT = 2  # 2: files known by a hash of their path
MISSING = "missing"
# A file changed within this long before it was hashed may change again without its
# (size, mtime) changing (coarse file-system clocks): its hash is not reused.
RACY_NS = 2_000_000_000
# The embedding cache: vectors keyed by sha256(model, text), written by every step that embeds
EMBEDDING_CACHE_RE = re.compile(r"^embeddings/cache\.sqlite(?:-journal|-wal|-shm)?$")


def utc_now() -> str:
    """The current time, UTC, to the second (ISO 8601, ``Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown_time(stamp: str) -> str:
    """A recorded UTC time as a reader sees it: ``2025-01-31 14:05:09 UTC``."""
    return stamp.replace("T", " ").removesuffix("Z") + " UTC"


class FileHashes:
    """sha256 of files; a hash recorded by an earlier run is reused while the file's size
    and ``mtime_ns`` are the recorded ones.

    Files are known by a hash of their absolute path, not the path: the record file sits
    in the reports folder, and input file names may carry participants' names (README,
    Privacy).

    Args:
        known: ``{path key: [size, mtime_ns, sha256]}`` from the record file.
    """

    def __init__(self, known: dict | None = None):
        self._known = known if isinstance(known, dict) else {}
        self.seen: dict[str, list] = {}  # what this run hashed or reused and may trust later

    def sha256(self, path: Path) -> str | None:
        """The file's sha256, or ``None`` when it is missing (or not a file)."""
        key = hashlib.sha256(os.fsencode(os.path.abspath(path))).hexdigest()[:32]
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if not os.path.isfile(path):
            return None
        size, mtime = stat.st_size, stat.st_mtime_ns
        for entry in (self.seen.get(key), self._known.get(key)):
            if isinstance(entry, list) and len(entry) == 3 and entry[0] == size and entry[1] == mtime:
                self.seen[key] = entry
                return entry[2]
        hashed_at = time.time_ns()
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        except OSError:
            return None
        sha = digest.hexdigest()
        if mtime < hashed_at - RACY_NS:  # a later write would show in the mtime
            self.seen[key] = [size, mtime, sha]
        else:
            self.seen.pop(key, None)
        return sha

    def folder(self, folder: Path, counts=lambda relative: True) -> dict[str, str] | None:
        """``{relative path: sha256}`` of the files under ``folder`` that ``counts``
        (by their POSIX relative path); ``None`` when the folder is missing. A file
        instead of a folder gives ``{"": sha256}``."""
        folder = Path(folder)
        if folder.is_file():
            return {"": self.sha256(folder) or MISSING}
        if not folder.is_dir():
            return None
        found: dict[str, str] = {}
        for parent, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = Path(parent) / name
                relative = path.relative_to(folder).as_posix()
                if not counts(relative):
                    continue
                sha = self.sha256(path)
                if sha is not None:  # removed while walked
                    found[relative] = sha
        return found


def digest(value) -> str:
    """sha256 of a JSON-able value (keys sorted)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()


def counts_as_output(relative: str) -> bool:
    """Whether a file of the processed folder (POSIX path relative to it) is a result a
    notebook left: not the content-keyed caches (``cache/``, the embedding cache: keyed by
    their content, they never change a result and every step adds to them), the lock,
    nor temporary files."""
    name = relative.rsplit("/", 1)[-1]
    return not (
        relative.startswith("cache/")
        or EMBEDDING_CACHE_RE.match(relative)
        or name == LOCK_NAME
        or name.endswith(".tmp")
        or (name.startswith(".") and name.endswith(".old"))
        or TEMPORARY_RE.match(name)
    )


def processed_outputs(processed: Path, hashes: FileHashes) -> dict[str, str]:
    """The processed folder's results now: ``{relative path: sha256}``."""
    return hashes.folder(processed, counts_as_output) or {}


def _distributions() -> list[str]:
    from importlib import metadata

    found = set()
    for dist in metadata.distributions():
        try:
            found.add(f"{dist.metadata['Name']}=={dist.version}")
        except (KeyError, TypeError, ValueError):  # a broken installation's metadata
            continue
    return sorted(found)


def _package_source() -> Path:
    return Path(__file__).resolve().parents[1]  # src/analysis


def _files_named(cfg: Config) -> dict[str, Path]:
    """Files the settings name that a notebook may read outside the processed folder."""
    named = {
        "stages.taxonomy": cfg.resolve(Path(cfg.stages.taxonomy)),
        "stages.code_map": cfg.resolve(Path(cfg.stages.code_map)),
        "paths.theme_labels": cfg.resolve(Path(cfg.paths.theme_labels)),
    }
    if isinstance(cfg.privacy.pseudonyms, Path):
        named["privacy.pseudonyms"] = cfg.resolve(cfg.privacy.pseudonyms)
    model = cfg.resolve(Path(str(cfg.embedding.model)))
    if model.exists():  # a local model folder (a model from a package: its version below)
        named["embedding.model"] = model
    return named


def inputs_digest(cfg: Config, codes: str | None, settings_file: Path | None, hashes: FileHashes) -> str:
    """What every notebook of the run reads besides its own file and the processed folder:
    the settings file, the files it names, the input folders (each file's relative path
    and sha256; a missing one: ``"missing"``), the package's source files and the Python
    version with the installed distributions (an upgrade runs everything again)."""
    cfg = cfg.with_codes(codes) if codes else cfg
    folders = {
        "paths.transcripts": cfg.paths.transcripts,
        "paths.reference_codes": cfg.paths.reference_codes,
        "paths.independent_codings": cfg.paths.independent_codings,
        "paths.review_codes": cfg.paths.review_codes,
    }
    named = {
        name: (hashes.folder(path) if path.is_dir() else hashes.sha256(path)) or MISSING
        for name, path in _files_named(cfg).items()
    }
    return digest(
        {
            "settings": (hashes.sha256(settings_file) if settings_file else None) or MISSING,
            "files": named,
            "folders": {
                name: (hashes.folder(cfg.resolve(Path(path))) if path is not None else None) or MISSING
                for name, path in folders.items()
            },
            "package": hashes.folder(_package_source(), lambda rel: not rel.endswith((".pyc", ".pyo"))),
            "python": sys.version,
            "distributions": _distributions(),
        }
    )


def declared_parameters(notebook_bytes: bytes) -> set[str] | None:
    """Names assigned in the notebook's cell tagged ``parameters`` (what papermill may
    inject into it); ``None`` when that cannot be told (then every parameter counts)."""
    try:
        nb = json.loads(notebook_bytes)
        cell = next(
            c for c in nb.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])
        )
        source = cell.get("source", "")
        tree = ast.parse(source if isinstance(source, str) else "".join(source))
    except (ValueError, SyntaxError, StopIteration, AttributeError, TypeError):
        return None
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            for name in ast.walk(target) if target is not None else ():
                if isinstance(name, ast.Name):
                    names.add(name.id)
    return names


def notebook_key(inputs: str, notebook: Path, parameters: dict, hashes: FileHashes) -> str:
    """The static key of one notebook: ``inputs`` (see :func:`inputs_digest`), the
    notebook's bytes and the parameters injected into it."""
    data = Path(notebook).read_bytes()
    declared = declared_parameters(data)
    given = {k: v for k, v in parameters.items() if declared is None or k in declared}
    return digest({"inputs": inputs, "notebook": hashlib.sha256(data).hexdigest(), "parameters": given})


@dataclass
class NotebookRecord:
    """What a notebook's last published run was made of and left behind.

    Attributes:
        key: its static key (see :func:`notebook_key`).
        ran_at: when it ran (UTC, ISO 8601).
        seconds: how long it ran.
        processed: the processed folder's results right after it ran (relative path -> sha256).
        written: the processed files its run created, changed or deleted.
        page: sha256 of its published page ``reports/NN_x.html``.
        executed: sha256 of ``reports/executed/NN_x.ipynb``.
    """

    key: str
    ran_at: str
    seconds: float
    processed: dict[str, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    page: str = ""
    executed: str = ""

    @classmethod
    def from_json(cls, data) -> NotebookRecord:
        record = cls(
            key=str(data["key"]), ran_at=str(data["ran_at"]), seconds=float(data["seconds"]),
            processed=dict(data["processed"]), written=list(data["written"]), page=str(data["page"]),
            executed=str(data["executed"]),
        )
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in record.processed.items()):
            raise TypeError("processed: expected relative paths and hashes")
        if not all(isinstance(name, str) for name in record.written):
            raise TypeError("written: expected relative paths")
        return record


def written_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The processed files a run created, changed or deleted, from the folder's results
    before and after it."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def drop_later_results(records: list[NotebookRecord]) -> None:
    """Leave out of each record's processed files (in place) those that only later
    notebooks of the run write: the version a notebook saw was left by an earlier run (a
    fresh run would not have it yet). Without this, a later notebook writing other bytes
    (an export with its time) would make every notebook before it run again. A file an
    earlier notebook (or the notebook itself) writes stays, even when a later one
    replaces it: the notebook may have read that version. A file no notebook writes (the
    command's own ``run.json``, a file a ``load`` left) stays too. ``records``: in the
    notebooks' order."""
    first_writer: dict[str, int] = {}
    for k, record in enumerate(records):
        for name in record.written:
            first_writer.setdefault(name, k)
    for k, record in enumerate(records):
        record.processed = {name: sha for name, sha in record.processed.items() if first_writer.get(name, k) <= k}


def read_records(reports: Path) -> tuple[dict[str, NotebookRecord], dict]:
    """The notebooks' records and the file hashes of the last published run; a missing,
    unreadable or other-format file gives none (every notebook runs), never an error."""
    try:
        data = json.loads((Path(reports) / RUNS_FILE).read_text(encoding="utf-8"))
        if data.get("format") != RECORD_FORMAT:
            return {}, {}
        records = {str(name): NotebookRecord.from_json(r) for name, r in data["notebooks"].items()}
        hashes = data.get("hashes", {})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}, {}
    return records, hashes if isinstance(hashes, dict) else {}


def write_records(reports: Path, records: dict[str, NotebookRecord], hashes: FileHashes) -> None:
    """Write ``reports/.runs.json`` atomically."""
    data = {
        "format": RECORD_FORMAT,
        "notebooks": {name: asdict(record) for name, record in records.items()},
        "hashes": dict(sorted(hashes.seen.items())),
    }
    atomic_write_text(Path(reports) / RUNS_FILE, json.dumps(data, indent=1))


def why_run(
    record: NotebookRecord | None,
    key: str,
    notebook: Path,
    processed: Path,
    reports: Path,
    hashes: FileHashes,
) -> str | None:
    """Why ``notebook`` must run, or ``None`` when its page can be kept (see the module)."""
    if record is None:
        return "no record of an earlier run"
    if record.key != key:
        return "the notebook, its settings, inputs, the package or its environment changed"
    for relative, sha in record.processed.items():
        if hashes.sha256(Path(processed) / relative) != sha:
            return f"{relative} in the processed folder is not what its run left"
    if hashes.sha256(Path(reports) / f"{notebook.stem}.html") != record.page:
        return "its page changed or is missing"
    if hashes.sha256(Path(reports) / "executed" / notebook.name) != record.executed:
        return "its executed notebook changed or is missing"
    return None
