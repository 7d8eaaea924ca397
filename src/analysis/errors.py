"""Errors that name the file (and line) a researcher has to look at."""

from __future__ import annotations

from pathlib import Path


class AnalysisError(Exception):
    """Base class for errors the command line reports without a traceback."""


class ConfigError(AnalysisError):
    """A configuration file is missing, malformed, or holds a bad value."""


class TranscriptError(AnalysisError):
    """One transcript cannot be read.

    Args:
        path: The transcript file.
        message: What is wrong, in words a researcher understands.
        line: 1-based line (or paragraph, for .docx) where the problem is, if any.

    Example:
        >>> str(TranscriptError(Path("a.txt"), "empty file"))
        'a.txt: empty file'
    """

    def __init__(self, path: Path | str, message: str, line: int | None = None, unit: str = "line"):
        self.path = Path(path)
        self.line = line
        self.unit = unit
        self.reason = message
        where = f"{self.path.name}" if line is None else f"{self.path.name}, {unit} {line}"
        super().__init__(f"{where}: {message}")


class CorpusError(AnalysisError):
    """Several transcripts of one corpus could not be loaded; lists every one."""

    def __init__(self, folder: Path | str, problems: list[TranscriptError | str]):
        self.folder = Path(folder)
        self.problems = problems
        lines = [f"cannot load the transcripts in {self.folder}:"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))
