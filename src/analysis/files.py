"""Safe writes: every table and cache file goes to a temporary file in its folder and is
moved into place with ``os.replace``, so a killed run or a full disk never leaves a
half-written file under the real name; a lock keeps two runs out of one folder and, when
taken, removes the temporary files of runs that were killed; CSV cells meant for
spreadsheets are neutralised against formula injection.

A shared leaf: imports nothing of the package but ``errors``.

Example:
    >>> import tempfile, pandas as pd
    >>> folder = Path(tempfile.mkdtemp())
    >>> atomic_write_text(folder / "a.txt", "done").read_text()
    'done'
    >>> neutralise_cell("=1+1"), restore_cell("'=1+1")
    ("'=1+1", '=1+1')
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .errors import AnalysisError

# OWASP CSV injection: a spreadsheet evaluates a cell starting with one of these.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
LOCK_NAME = ".lock"
# `.{name}.{writer's pid}.{mkstemp's 8 characters}[.tmp]`: what atomic_path (and
# temporary_folder) make; the pid tells a killed writer's leftovers from a live one's.
TEMPORARY_RE = re.compile(r"^\..+\.(?P<pid>\d+)\.[a-z0-9_]{8}(?:\.tmp)?$")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``; what is written there replaces ``path`` when the
    block ends without error (``os.replace``), and is deleted otherwise.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "t.bin"
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_bytes(b"x")
        >>> target.read_bytes()
        b'x'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder: os.replace is atomic only within one file system.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets the mode open() would give
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def temporary_folder(path: str | Path) -> Path:
    """A fresh, empty folder beside ``path`` (named like :func:`atomic_path`'s files, so
    that a killed run's one is removed by the next :func:`folder_lock`), with the mode
    ``mkdir`` would give."""
    path = Path(path)
    fresh = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", dir=path.parent))
    os.chmod(fresh, 0o777 & ~_umask())  # mkdtemp makes 0700
    return fresh


def remove_stale_temporaries(folder: str | Path, recursive: bool = True, of: str | None = None) -> list[Path]:
    """Remove the temporary files and folders (see :func:`atomic_path`) in ``folder`` (and
    its sub-folders, when ``recursive``) whose writing process is gone (killed before it
    could move or delete them); a live process's ones are kept. ``of``: only those of the
    file of that name (in a folder of the user's, e.g. a command's ``--out``). Returns what
    was removed.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / ".t.parquet.999999999.abcd1234.tmp").write_bytes(b"PAR1 half")  # no such process
        >>> _ = (folder / f".u.parquet.{os.getpid()}.abcd1234.tmp").write_bytes(b"PAR1 writing")  # this one
        >>> [p.name for p in remove_stale_temporaries(folder)], len(list(folder.iterdir()))
        (['.t.parquet.999999999.abcd1234.tmp'], 1)
    """
    removed = []
    for parent, dirs, files in os.walk(folder):
        if not recursive:
            dirs.clear()
        for name in [*files, *dirs]:
            match = TEMPORARY_RE.match(name)
            if not match or (of is not None and not name.startswith(f".{of}.")) or _alive(int(match.group("pid"))):
                continue
            path = Path(parent) / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                dirs.remove(name)
            else:
                with contextlib.suppress(OSError):  # cannot be removed: it stays, the run goes on
                    path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone (or a pid no system gives)
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_pickle(path: str | Path, obj: object) -> Path:
    """Pickle ``obj`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with tmp.open("wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(path)


def atomic_to_parquet(table: pd.DataFrame, path: str | Path, **kwargs) -> Path:
    """``table.to_parquet(path)``, atomically."""
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, **kwargs)
    return Path(path)


def neutralise_cell(value):
    """A text cell as a spreadsheet may open it: a ``'`` is put in front of text that
    starts with ``= + - @``, tab or CR (or with quotes before one of them, so that
    :func:`restore_cell` gives back the original text exactly); other values unchanged.

    Example:
        >>> [neutralise_cell(v) for v in ["=HYPERLINK(1)", "-ok", "'=x", "plain", 3]]
        ["'=HYPERLINK(1)", "'-ok", "''=x", 'plain', 3]
    """
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def restore_cell(value):
    """The original text of a cell :func:`neutralise_cell` wrote."""
    if isinstance(value, str) and value.startswith("'") and value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def _map_text(table: pd.DataFrame, cell) -> pd.DataFrame:
    """A copy of ``table`` with ``cell`` applied to every text cell and column name."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(cell)
    out.columns = [cell(c) for c in out.columns]
    return out


def neutralise_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` with every text cell, column name and index label neutralised."""
    out = _map_text(table, neutralise_cell)
    out.index = out.index.map(neutralise_cell)
    if out.index.name is not None:
        out.index.name = neutralise_cell(out.index.name)
    return out


def restore_table(table: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_table` on a table read back from CSV (text columns only)."""
    out = _map_text(table, restore_cell)
    return out


def atomic_to_csv(table: pd.DataFrame, path: str | Path, *, neutralise: bool = False, **kwargs) -> Path:
    """``table.to_csv(path)`` atomically; ``neutralise`` for CSV meant for spreadsheets
    (see :func:`neutralise_cell`)."""
    if neutralise:
        table = neutralise_table(table)
    if _holds_cr(table):
        # Python 3.11's csv quotes a cell only for the characters of the line ending: with
        # "\n" a bare CR would split the row (and its second half could start with "=").
        kwargs.setdefault("lineterminator", "\r\n")
    with atomic_path(path) as tmp:
        table.to_csv(tmp, **kwargs)
    return Path(path)


def _holds_cr(table: pd.DataFrame) -> bool:
    cells = [*map(str, table.columns), *map(str, table.index)]
    for column in table.columns:
        if table[column].dtype == object or pd.api.types.is_string_dtype(table[column]):
            cells += [v for v in table[column] if isinstance(v, str)]
    return any("\r" in cell for cell in cells)


# ---------------------------------------------------------------- one run per folder

_held: dict[Path, list] = {}  # folder -> [open lock file, depth]: re-entrant within a process


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str | None = None) -> Iterator[None]:
    """Hold ``folder/.lock`` (``fcntl.flock``) while the block runs, so that two runs
    never write one folder at the same time. Re-entrant within a process. A lock held
    by a killed process is released by the system; the temporary files it left are
    removed when the lock is taken (:func:`remove_stale_temporaries`).

    Raises:
        AnalysisError: another process holds the lock; the message names the folder
            and that process (its id, command and start time).
    """
    folder = Path(folder).resolve()
    if folder in _held:
        _held[folder][1] += 1
        try:
            yield
        finally:
            _held[folder][1] -= 1
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fh = open(folder / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held across the block
    except OSError as exc:
        raise AnalysisError(f"{folder}: cannot create the lock file {LOCK_NAME} ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise AnalysisError(
            f"{folder} is in use by another run ({holder}); wait for it to finish, "
            "or give this run another paths.processed"
        ) from None
    fh.seek(0)
    fh.truncate()
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    program = "python -m analysis" if program == "__main__.py" else program
    command = what or " ".join([program, *sys.argv[1:]])
    fh.write(f"process {os.getpid()}, `{command}`, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
    fh.flush()
    _held[folder] = [fh, 1]
    try:
        remove_stale_temporaries(folder)
        yield
    finally:
        del _held[folder]
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()
