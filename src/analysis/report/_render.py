"""Execute the ordered notebooks headless and render each to HTML with an index page."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .._last_run import record_run
from ..config import CONFIG_ENV, DEFAULT_CONFIG, Config
from ..errors import AnalysisError
from ..files import atomic_write_text
from ..pipeline import preflight, processed, read_corpus
from . import _run_cache
from ._notebook import REPORT_ENV

NOTEBOOK_RE = re.compile(r"^\d{2}_[\w-]+\.ipynb$")


@dataclass
class RenderedNotebook:
    """A notebook's page in the reports folder.

    Attributes:
        notebook: the source notebook.
        html: its page.
        title: its first heading.
        summary: the first sentence after it.
        seconds: how long its run took (a kept page: the run that made it).
        reused: the page was kept from an earlier run (inputs and outputs unchanged).
        ran_at: when the run that made the page ended (UTC, ISO 8601), if known.
    """

    notebook: Path
    html: Path
    title: str
    summary: str
    seconds: float
    reused: bool = False
    ran_at: str | None = None


def ordered_notebooks(folder: Path) -> list[Path]:
    """Notebooks named ``NN_name.ipynb``, in the order their names give."""
    found = sorted(p for p in Path(folder).glob("*.ipynb") if NOTEBOOK_RE.match(p.name))
    if not found:
        raise AnalysisError(f"no notebooks named like 01_name.ipynb in {folder}")
    return found


def describe_notebook(path: Path) -> tuple[str, str]:
    """Title (first heading) and one-line summary (first sentence after it) of a notebook."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell.get("source", []))
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        title = next((ln.lstrip("#").strip() for ln in lines if ln.startswith("#")), path.stem)
        body = " ".join(ln for ln in lines if not ln.startswith("#"))
        summary = re.split(r"(?<=[.!?])\s", body, maxsplit=1)[0] if body else ""
        # Markdown emphasis is not HTML; an underscore inside a word (coded_segments.csv) stays
        return title, re.sub(r"[*`]+|(?<!\w)_+|_+(?!\w)", "", summary)
    return path.stem, ""


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(Path(path).resolve(), start.resolve())


def _shown_path(path: Path, root: Path) -> str:
    """``path`` relative to the project when inside it; else the folder's own name: a
    page never walks up the machine's folders."""
    path, root = Path(path).resolve(), Path(root).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


# Cells a page leaves out: the parameters' defaults and papermill's injected values (the
# index names the corpus), and cells tagged ``remove-cell``.
REMOVED_CELL_TAGS = {"remove-cell", "parameters", "injected-parameters"}
HIDDEN_INPUT_TAGS = {"hide-input"}
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
# A progress line: the plain one of ``setup_notebook`` under ``make report``, or tqdm's usual
# bar (a library's own tqdm); printed by the report command while the notebook runs, left
# out of the page.
PROGRESS_LINE_RE = re.compile(
    r"^.*\b\d[\d.,]*[kMG]?/\d[\d.,]*[kMG]? \(\d+%\), [^,]* elapsed, [^,]* left\s*$"
    r"|^.*\d+%\|.*\|\s*\d[\d.,]*[kMG]?/\d[\d.,]*[kMG]?\s*\[.*\]\s*$"
)


def _without_progress(text: str) -> str:
    lines = re.split(r"\r\n|\r|\n", text)
    return "\n".join(ln for ln in lines if ln.strip() and not PROGRESS_LINE_RE.match(ln))


def _page_outputs(cell) -> list:
    """A cell's outputs as a page shows them: progress lines and emptied streams left out."""
    kept = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            text = _without_progress("".join(output.get("text", "")))
            if not text:
                continue
            output["text"] = text + "\n"
        kept.append(output)
    return kept


def _is_empty_on_page(cell) -> bool:
    """A code cell that would show only an empty prompt: no code, or hidden code and no output."""
    tags = set(cell.metadata.get("tags", []))
    hidden = bool(tags & HIDDEN_INPUT_TAGS) or not cell.source.strip()
    return hidden and not cell.outputs


def prepare_page(nb) -> dict[int, int]:
    """Make an executed notebook (``nbformat`` node, changed in place) what its page shows:
    no parameters cells, no progress lines, no empty cells, and the cells whose code shows
    numbered 1, 2, 3... in order (hidden and never-run cells get no number). Returns the
    new number of each executed cell by its old one; papermill's note on a failed cell
    gives the new number.

    Example:
        >>> import nbformat
        >>> nb = nbformat.v4.new_notebook()
        >>> sources = ["a = 1", "b = 2", "a"]
        >>> cells = [nbformat.v4.new_code_cell(src, execution_count=n) for n, src in enumerate(sources, 1)]
        >>> cells[0].metadata["tags"] = ["parameters"]
        >>> nb.cells = cells
        >>> prepare_page(nb), [c.source for c in nb.cells]
        ({2: 1, 3: 2}, ['b = 2', 'a'])
    """
    kept = []
    for cell in nb.cells:
        if set(cell.metadata.get("tags", [])) & REMOVED_CELL_TAGS:
            continue
        if cell.cell_type == "code":
            cell.outputs = _page_outputs(cell)
            if _is_empty_on_page(cell):
                continue
        kept.append(cell)
    numbers: dict[int, int | None] = {}
    shown = 0
    for cell in kept:
        if cell.cell_type != "code" or cell.execution_count is None:
            continue
        hidden = bool(set(cell.metadata.get("tags", [])) & HIDDEN_INPUT_TAGS)
        shown += not hidden
        numbers[cell.execution_count] = cell.execution_count = None if hidden else shown
        for output in cell.outputs:
            if "execution_count" in output:
                output["execution_count"] = cell.execution_count
    for cell in kept:  # papermill's "An Exception was encountered at In [N]"
        if PAPERMILL_ERROR_TAG in cell.metadata.get("tags", []):
            cell.source = re.sub(
                r"In \[(\d+)\]", lambda m: f"In [{numbers.get(int(m.group(1))) or m.group(1)}]", cell.source
            )
    nb.cells = kept
    return {old: new for old, new in numbers.items() if new}


def render_html(executed: Path, out_html: Path) -> dict[int, int]:
    """Render an executed notebook to standalone HTML (see :func:`prepare_page`): cells
    tagged ``hide-input`` show only their output, ``remove-cell`` cells are left out.
    Returns the cells' numbers on the page by their execution counts."""
    # nbconvert and its exporters are heavy: loaded only when a page is rendered
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config as TraitletsConfig

    c = TraitletsConfig()
    c.TagRemovePreprocessor.remove_input_tags = HIDDEN_INPUT_TAGS
    c.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    c.TagRemovePreprocessor.enabled = True
    c.HTMLExporter.exclude_output_prompt = True  # "Out[n]" repeats the number beside the code
    exporter = HTMLExporter(config=c, template_name="lab")
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    nb = nbformat.read(str(executed), as_version=4)
    # The widget manager that would draw stored widget state loads from a CDN; reports
    # show a static snapshot of the explorer instead (see notebook 07).
    nb.metadata.pop("widgets", None)
    numbers = prepare_page(nb)
    body, _ = exporter.from_notebook_node(nb)
    out_html.write_text(strip_remote_scripts(body), encoding="utf-8")
    return numbers


REMOTE_SCRIPT_RE = re.compile(r"<script[^>]*\bsrc=[\"']https?://[^\"']*[\"'][^>]*>\s*</script>", re.IGNORECASE)


MERMAID_RE = re.compile(r"<script type=\"module\">(?:(?!</script>).)*?mermaid(?:(?!</script>).)*?</script>", re.DOTALL)


def strip_remote_scripts(page: str) -> str:
    """Drop ``<script src="https://...">`` tags (nbconvert's MathJax and require.js from a
    CDN) and nbconvert's mermaid loader (imports from a CDN; no report draws mermaid):
    reports are read offline, and nothing in them needs those scripts."""
    return MERMAID_RE.sub("", REMOTE_SCRIPT_RE.sub("", page))


def write_index(
    rendered: list[RenderedNotebook],
    reports: Path,
    corpus_label: str,
    *,
    failure: dict | None = None,
) -> Path:
    """``reports/index.html`` linking the pages of the last complete run; with ``failure``,
    a banner first names the run that failed (notebook, cell, error) and links its page."""
    items = "\n".join(
        f'<li><a href="{html.escape(r.html.name)}">{html.escape(r.title)}</a> '
        + (f'<small class="kept">kept from the run of {html.escape(_run_cache.shown_time(r.ran_at))}</small> '
           if r.reused and r.ran_at else "")
        + f"<span>{html.escape(r.summary)}</span></li>"
        for r in rendered
    )
    banner = ""
    if failure is not None:
        previous = (
            f"The pages below are from the previous complete run (corpus <code>{html.escape(corpus_label)}</code>)."
            if rendered
            else "No run has completed yet: there are no pages to show."
        )
        banner = (
            '<div class="failed" role="alert"><strong>The last run failed</strong> '
            f"(corpus <code>{html.escape(failure['corpus'])}</code>) in "
            f"<a href=\"{html.escape(failure['page'])}\">{html.escape(failure['notebook'])}</a>"
            f"{html.escape(failure['where'])}: <code>{html.escape(failure['error'])}</code>. "
            f"The link shows that notebook with its error. {previous}</div>"
        )
    intro = (
        f"<p>Corpus: <code>{html.escape(corpus_label)}</code>. Each page is an executed notebook, in order.</p>"
        if rendered
        else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Thematic analysis reports</title>
<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;line-height:1.5}}
li{{margin:.6rem 0}} span{{display:block;color:#444}} .kept{{color:#666}}
.failed{{border:2px solid #D55E00;background:#fff4ec;padding:.8rem 1rem;margin:1rem 0}}</style></head>
<body><h1>Thematic analysis reports</h1>
{banner}
{intro}
<ol>
{items}
</ol></body></html>
"""
    path = reports / "index.html"
    atomic_write_text(path, page)
    return path


MANIFEST = ".report.json"  # the pages of the last complete run, for the index after a failed one
STAGING = ".incoming"  # a run's pages, until every notebook has run
FAILED = "failed"  # the pages of the last failed run, the failed notebook with its error


def _read_manifest(reports: Path) -> tuple[list[RenderedNotebook], str]:
    try:
        data = json.loads((reports / MANIFEST).read_text(encoding="utf-8"))
        pages = [
            RenderedNotebook(
                Path(p["notebook"]), reports / p["html"], p["title"], p["summary"], p["seconds"],
                bool(p.get("reused", False)), p.get("ran_at"),
            )
            for p in data["pages"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return [], ""
    return [p for p in pages if p.html.is_file()], str(data.get("corpus", ""))


def _publish(staging: Path, reports: Path, rendered: list[RenderedNotebook], corpus_label: str) -> None:
    """Move a complete run's pages from ``staging`` into ``reports`` and drop the pages
    of earlier runs that this one did not make (a page it kept counts as made)."""
    (reports / "executed").mkdir(parents=True, exist_ok=True)
    keep = {r.html.name for r in rendered}
    for old in reports.glob("*.html"):
        if NOTEBOOK_RE.match(old.stem + ".ipynb") and old.name not in keep:
            old.unlink()
    for executed in (staging / "executed").glob("*.ipynb"):
        os.replace(executed, reports / "executed" / executed.name)
    for page in staging.glob("*.html"):
        os.replace(page, reports / page.name)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(reports / FAILED, ignore_errors=True)
    manifest = {
        "corpus": corpus_label,
        "pages": [
            {"notebook": r.notebook.name, "html": r.html.name, "title": r.title, "summary": r.summary,
             "seconds": round(r.seconds, 1), "reused": r.reused, "ran_at": r.ran_at}
            for r in rendered
        ],
    }
    atomic_write_text(reports / MANIFEST, json.dumps(manifest, indent=2))


def _keep_failed(staging: Path, reports: Path, corpus_label: str, notebook: Path, where: str, error: str) -> Path:
    """Move a failed run's pages to ``reports/failed/`` and mark the index; the previous
    complete pages stay as they were."""
    failed = reports / FAILED
    shutil.rmtree(failed, ignore_errors=True)
    os.replace(staging, failed)
    previous, previous_label = _read_manifest(reports)
    page = f"{FAILED}/{notebook.stem}.html"
    failure = {"corpus": corpus_label, "notebook": notebook.name, "where": where, "error": error, "page": page}
    write_index(previous, reports, previous_label, failure=failure)
    return failed / f"{notebook.stem}.html"


def _parameters(cfg: Config, codes: str | None, config_path: Path | None) -> dict:
    """The notebooks' parameters: paths inside the project relative to its root (the
    notebooks run there), others absolute (a relative path would walk up the machine's
    folders); pages leave the parameters cells out either way."""

    def given(path: Path) -> str:
        path = Path(path).resolve()
        return path.relative_to(cfg.root.resolve()).as_posix() if path.is_relative_to(cfg.root.resolve()) else str(path)

    parameters = {"transcripts_dir": given(cfg.paths.transcripts)}
    if config_path is not None:
        parameters["config_path"] = given(Path(config_path))
    if codes is not None:  # "none", or a folder of human codes for notebooks 06 and 08
        parameters["codes_dir"] = codes if codes == "none" else given(Path(codes))
    return parameters


class _Lines:
    """A file-like sink for a kernel's stdout or stderr (papermill's ``stdout_file``):
    every line, or every refresh of a progress bar (``\\r``), goes to ``log`` indented."""

    def __init__(self, log):
        self.log = log
        self.pending = ""

    def write(self, text: str) -> int:
        parts = re.split(r"\r\n|\r|\n", self.pending + text)
        self.pending = parts.pop()
        for line in parts:
            if line.strip():
                self.log(f"    {line.rstrip()}")
        return len(text)

    def flush(self) -> None:
        _flush_stdout()


def _flush_stdout() -> None:
    # `make report | tee log` is not a terminal: Python would hold the lines back
    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # pragma: no cover - closed or detached stdout
        pass


@contextmanager
def _report_kernels():
    """Kernels started inside know they run for a report (plain progress lines, see
    ``setup_notebook``)."""
    before = os.environ.get(REPORT_ENV)
    os.environ[REPORT_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(REPORT_ENV, None)
        else:
            os.environ[REPORT_ENV] = before


def _kernel_config():
    """Kernels on an encrypted (CurveZMQ) connection: ipykernel's kernelspec supports it,
    and a kernel on plain TCP warns about it once per notebook."""
    import zmq
    from traitlets.config import Config as TraitletsConfig

    config = TraitletsConfig()
    if zmq.has("curve"):  # pyzmq's wheels have it; a libzmq built without it keeps plain TCP
        config.KernelManager.transport_encryption = "auto"
    return config


class _NotebookFailed(Exception):
    def __init__(self, notebook: Path, where: str, error: str):
        super().__init__(f"{notebook.name}{where}: {error}")
        self.notebook, self.where, self.error = notebook, where, error


def _failure(exc: Exception, numbers: dict[int, int]) -> tuple[str, str]:
    """Where a notebook stopped (the cell's number on its page) and the error."""
    import papermill as pm

    if isinstance(exc, pm.PapermillExecutionError):
        cell = numbers.get(exc.exec_count, exc.exec_count)
        return (f", cell {cell}" if cell is not None else ""), f"{exc.ename}: {exc.evalue}"
    return "", f"{type(exc).__name__}: {exc}"


def _execute(notebook: Path, executed: Path, parameters: dict, root: Path, log, kernel=None) -> None:
    """Run one notebook with papermill in ``root``; what its cells print reaches ``log``.
    With ``kernel`` (a :class:`_SharedKernel`), the notebook runs in it, after a first
    cell that clears the namespace; without, in a kernel of its own."""
    if kernel is not None:
        kernel.restart_if_large()
        kernel.manager  # noqa: B018 - started now: it boots while papermill loads
    import papermill as pm  # heavy (starts Jupyter machinery): only the report needs it

    declared = pm.inspect_notebook(str(notebook))  # each notebook gets only what it declares
    source = notebook if kernel is None else kernel.cleared_copy(notebook, executed.parent.parent / ".inputs")
    with _report_kernels():
        pm.execute_notebook(
            str(source),  # the source is read, never written: a saved output stays out of the run
            str(executed),
            parameters={k: v for k, v in parameters.items() if k in declared},
            cwd=str(root),  # the parameters' paths are relative to the project root
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            # written once at the end (or at the failing cell): saving after every cell
            # rewrote each executed notebook, plots and all, about 3 times a cell (5 s a report)
            request_save_on_cell_execute=False,
            stdout_file=_Lines(log),
            stderr_file=_Lines(log),
            config=_kernel_config(),
            **({"km": kernel.manager} if kernel is not None else {}),
        )


# The first and last cell of each notebook in the shared kernel: the previous notebook's
# names go, imported modules stay (that is the saving: torch, BERTopic and numba's compiled
# code load once per report, not once per notebook). Cleared at the end too, so the memory
# weighed before the next notebook is only what carries over. Tagged remove-cell: pages
# leave them out.
CLEAR_NAMESPACE = "from analysis.report._notebook import clear_namespace\nclear_namespace()"


# A shared kernel whose private memory (heap and arrays; not the shared libraries' pages,
# which any kernel maps) is above this once a notebook's names are cleared is started
# afresh before the next one (4-10 s of imports and model loading again). The modules a
# report loads (torch, the model, BERTopic, plotly) and what the allocator keeps take
# 0.8-0.95 GB on the reference corpus, most of which a fresh kernel would load again; a
# kernel above 1.25 GB carries more than that into the next notebook, whose own peak then
# starts from it (the report's budget: 2 GB for the kernel, its mapped libraries and the runner).
KERNEL_MEMORY_LIMIT = 1_250_000_000


KERNEL_IMPORTS = "import analysis.report"  # what the shared kernel imports as it boots


class _SharedKernel:
    """One kernel for the notebooks of a report: started in the project root, its namespace
    cleared before each notebook, so each notebook finds what a restarted kernel would
    show it, without paying the kernel's start and the libraries' imports again; started
    afresh when a notebook leaves it above :data:`KERNEL_MEMORY_LIMIT`. It starts when the
    first notebook runs: a report whose pages are all kept starts none.
    ``analysis report --fresh-kernels`` runs each notebook in a kernel of its own instead."""

    def __init__(self, root: Path):
        from jupyter_core.utils import run_sync

        self._run_sync, self._root = run_sync, root
        self._manager = None

    @property
    def manager(self):
        """The kernel's manager; the kernel starts on first use."""
        if self._manager is None:
            self._manager = self._start()
        return self._manager

    def _start(self):
        from jupyter_client.manager import AsyncKernelManager

        manager = AsyncKernelManager(kernel_name="python3", config=_kernel_config())
        with _report_kernels():  # the kernel's environment: plain progress lines
            # in-memory history, as nbclient gives the kernels it starts; the package (1.8 s
            # of imports, which every notebook makes) loads as the kernel boots, while the
            # runner reads the corpus; the names go with the first notebook's cleared namespace
            self._run_sync(manager.start_kernel)(
                cwd=str(self._root),
                extra_arguments=["--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_lines={KERNEL_IMPORTS}"],
            )
        return manager

    @staticmethod
    def cleared_copy(notebook: Path, folder: Path) -> Path:
        """A copy of ``notebook`` in ``folder`` whose first and last cells clear the namespace."""
        import nbformat

        nb = nbformat.read(str(notebook), as_version=4)
        first, last = (nbformat.v4.new_code_cell(CLEAR_NAMESPACE) for _ in range(2))
        for clear in (first, last):
            clear.metadata["tags"] = ["remove-cell"]
        nb.cells = [first, *nb.cells, last]
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / notebook.name
        nbformat.write(nb, str(copy))
        return copy

    def memory(self) -> int | None:
        """The kernel's private resident memory in bytes (``RssAnon`` of Linux's
        ``/proc/PID/status``: what it allocated, not the file pages it maps), else ``None``."""
        process = getattr(getattr(self._manager, "provisioner", None), "process", None)
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except (AttributeError, OSError):
            return None
        found = re.search(r"^RssAnon:\s+(\d+) kB", status, re.MULTILINE)
        return int(found.group(1)) * 1024 if found else None

    def restart_if_large(self, limit: int | None = None) -> bool:
        """Start the kernel afresh when it holds more than ``limit`` bytes: what one
        notebook's step leaves allocated (the model's buffers, the topic model's arrays)
        would otherwise add to the next notebook's peak (``limit``: default
        :data:`KERNEL_MEMORY_LIMIT`). Returns whether it restarted."""
        limit = KERNEL_MEMORY_LIMIT if limit is None else limit
        held = self.memory()
        if held is None or held <= limit:
            return False
        # a new kernel on new ports, not restart_kernel: the clients of earlier notebooks
        # are still connected to the old ports
        self.shutdown()
        self._manager = self._start()
        return True

    def shutdown(self) -> None:
        if self._manager is not None:
            self._run_sync(self._manager.shutdown_kernel)(now=True)
            self._manager = None


def _run_one(
    notebook: Path, staging: Path, reports: Path, parameters: dict, root: Path, log, kernel=None
) -> RenderedNotebook:
    """Execute and render one notebook into ``staging``.

    Raises:
        _NotebookFailed: it stopped; its page, with the error, is in ``staging``.
    """
    executed = staging / "executed" / notebook.name
    out_html = staging / f"{notebook.stem}.html"
    started = time.perf_counter()
    try:
        _execute(notebook, executed, parameters, root, log, kernel)
    except Exception as exc:  # noqa: BLE001 - any failure keeps the previous complete pages
        numbers = render_html(executed, out_html) if executed.is_file() else {}
        where, error = _failure(exc, numbers)
        if not executed.is_file():  # the kernel did not start: a page that says so
            out_html.write_text(
                f"<!DOCTYPE html><meta charset='utf-8'><title>{html.escape(notebook.name)}</title>"
                f"<p>{html.escape(notebook.name)} did not run: <code>{html.escape(error)}</code></p>",
                encoding="utf-8",
            )
        raise _NotebookFailed(notebook, where, error) from exc
    render_html(executed, out_html)
    title, summary = describe_notebook(notebook)
    return RenderedNotebook(notebook, reports / out_html.name, title, summary, time.perf_counter() - started)


# The background reader of the Delve prints (see _start_print_prefetch): SIGTERM asks it
# to stop after the print at hand, so no cache entry is left half-written.
PRINT_PREFETCH = (
    "import os, signal, sys\n"
    "stopping = []\n"
    "signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))\n"
    "try:\n"
    "    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
    "except (AttributeError, OSError):\n"
    "    os.nice(19)\n"
    "from analysis.human_codes._readers import warm_print_cache\n"
    "warm_print_cache(sys.argv[2:], sys.argv[1], stop=lambda: bool(stopping))\n"
)


def _start_print_prefetch(cfg: Config, codes: str | None) -> subprocess.Popen | None:
    """Start reading the run's Delve prints into their cache in a background process, when
    the first notebook runs, or ``None`` (no codes). Notebooks 01-02 load transcripts and
    embed; the prints are read only by notebook 06, which then finds them cached: their
    parsing (about 11 s of one core for the 54 reference prints) moves onto the core
    notebook 01 leaves idle. It runs only on idle cores (Linux's ``SCHED_IDLE``; else
    nice 19): at nice 10 it still took 3.7 s from the embedding, which uses both cores.
    Nothing depends on it: notebook 06 reads whatever is not cached yet itself, and says
    what is wrong with a print."""
    paths = cfg.with_codes(codes).paths
    folders = [cfg.resolve(Path(f)) for f in (paths.reference_codes, paths.independent_codings) if f is not None]
    found = [str(f) for f in folders if f.is_dir()]
    if not found:
        return None
    cache = str(processed(cfg, "cache") / "delve")
    return subprocess.Popen(
        [sys.executable, "-c", PRINT_PREFETCH, cache, *found],
        cwd=cfg.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _stop_print_prefetch(prefetch: subprocess.Popen | None) -> None:
    """End the background reader, if it still runs (a run that stopped early, or prints
    that notebook 06 has already read): asked to stop, it finishes the print at hand;
    killed only if it has not ended 10 s later."""
    if prefetch is None or prefetch.poll() is not None:
        return
    prefetch.terminate()
    try:
        prefetch.wait(timeout=10)
    except subprocess.TimeoutExpired:
        prefetch.kill()
        prefetch.wait()


def _settings_file(cfg: Config, config_path: str | Path | None) -> Path | None:
    """The settings file the notebooks load: ``config_path``, or the file ``cfg`` most likely came from."""
    if config_path is None:
        default = cfg.root / DEFAULT_CONFIG
        config_path = os.environ.get(CONFIG_ENV) or (default if default.is_file() else None)
    return Path(config_path).resolve() if config_path else None


def _check_corpus(cfg: Config, log) -> None:
    """The transcripts read before any notebook runs (settings, model and folders are
    checked before, by :func:`preflight`); a bad transcript stops the run here, named, not
    as a notebook traceback."""
    corpus = read_corpus(cfg)
    for notice in corpus.notices(limit=20):  # entries not read, lines to check (all in notebook 01)
        log(notice)


def _record(cfg: Config, codes: str | None) -> None:
    """Later verbs (export, evaluate) default to this run's corpus and codes."""
    reference = cfg.paths.reference_codes if codes is None else (None if codes == "none" else Path(codes))
    record_run(cfg.paths.processed, cfg.paths.transcripts, reference, cfg.paths.independent_codings)


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def run_report(
    cfg: Config,
    *,
    log=print,
    codes: str | None = None,
    config_path: str | Path | None = None,
    fresh_kernels: bool = False,
    force: bool = False,
) -> list[RenderedNotebook]:
    """Execute every ordered notebook on ``cfg.paths.transcripts`` and render it to HTML.

    The corpus is loaded once first, so a bad transcript stops the run with a message
    naming the file and line instead of a notebook traceback. ``codes`` overrides
    ``paths.reference_codes`` for notebooks 06 and 08 (``"none"``: no human codes).
    ``config_path`` is the settings file every notebook loads (``cfg``'s own file: pass
    it, or the notebooks read config/settings.yaml of the project).

    The notebooks share one kernel, its namespace cleared before each (see
    :class:`_SharedKernel`); ``fresh_kernels`` starts a kernel per notebook, as a check
    that each runs top to bottom after a restart.

    A notebook whose inputs and outputs are as at its last published run is not run
    again: its page and executed notebook are kept (see :mod:`._run_cache`; the records
    are ``reports/.runs.json``). As each kept notebook leaves the processed folder as it
    was, a chain of unchanged notebooks is all kept; one that runs and writes other
    results makes the next ones run. ``force`` runs every notebook.

    ``log`` gets each notebook's start (or that its page is kept), what its cells print
    as they run (a progress line every few seconds during long steps, e.g. the
    embedding) and its time.

    A run's pages are written to ``reports/.incoming/`` and replace the previous ones only
    when every notebook ran. When one fails, its page (with the error) and those made
    before it go to ``reports/failed/``, the index names the failure, and the previous
    complete pages stay.

    Raises:
        AnalysisError: a notebook failed (the message names it, the cell and the error).
    """

    def say(message: str) -> None:
        log(message)
        _flush_stdout()

    preflight(cfg.with_codes(codes) if codes else cfg)
    notebooks = ordered_notebooks(Path(cfg.paths.notebooks))
    reports = Path(cfg.paths.reports)
    settings_file = _settings_file(cfg, config_path)
    parameters = _parameters(cfg, codes, settings_file)
    corpus_label = _shown_path(cfg.paths.transcripts, cfg.root)
    processed = Path(cfg.paths.processed)
    recorded, known_hashes = _run_cache.read_records(reports)
    hashes = _run_cache.FileHashes(known_hashes)
    inputs = _run_cache.inputs_digest(cfg, codes, settings_file, hashes)
    kernel = None if fresh_kernels else _SharedKernel(cfg.root)  # None: each notebook starts its own

    def key_and_why(notebook: Path) -> tuple[str, str | None]:
        """The notebook's run key, and why it runs (``None``: its page is kept)."""
        key = _run_cache.notebook_key(inputs, notebook, parameters, hashes)
        if force:
            return key, "--force"
        return key, _run_cache.why_run(recorded.get(notebook.name), key, notebook, processed, reports, hashes)

    records: dict[str, _run_cache.NotebookRecord] = {}  # this run's, once published
    state: dict[str, str] | None = None  # the processed folder's results after the last notebook run
    rendered: list[RenderedNotebook] = []
    prefetch: subprocess.Popen | None = None
    started_prefetch = False
    try:
        if kernel is not None and notebooks and key_and_why(notebooks[0])[1] is not None:
            kernel.manager  # noqa: B018 - the first notebook runs: the kernel boots while the corpus is read
        _check_corpus(cfg, say)
        staging = reports / STAGING
        shutil.rmtree(staging, ignore_errors=True)  # left by a run that was killed
        (staging / "executed").mkdir(parents=True, exist_ok=True)
        try:
            for k, notebook in enumerate(notebooks, start=1):
                step = f"[{k}/{len(notebooks)}]"
                record = recorded.get(notebook.name)
                key, why = key_and_why(notebook)
                if why is None:
                    title, summary = describe_notebook(notebook)
                    rendered.append(RenderedNotebook(notebook, reports / f"{notebook.stem}.html", title, summary,
                                                     record.seconds, reused=True, ran_at=record.ran_at))
                    records[notebook.name] = record
                    say(f"{step} {notebook.name} unchanged (inputs and outputs as at its run on "
                        f"{_run_cache.shown_time(record.ran_at)}): page kept")
                    continue
                if record is not None:
                    say(f"{step} {notebook.name} runs again: {why}")
                say(f"{step} running {notebook.name} ...")
                if not started_prefetch:
                    prefetch, started_prefetch = _start_print_prefetch(cfg, codes), True
                # the folder as the last notebook that ran left it (a kept one changes nothing)
                before = state if state is not None else _run_cache.processed_outputs(processed, hashes)
                rendered.append(_run_one(notebook, staging, reports, parameters, cfg.root, say, kernel))
                rendered[-1].ran_at = _run_cache.utc_now()
                # what it left in the processed folder, for the next run's check
                after = state = _run_cache.processed_outputs(processed, hashes)
                records[notebook.name] = _run_cache.NotebookRecord(
                    key, rendered[-1].ran_at, round(rendered[-1].seconds, 1), after,
                    _run_cache.written_files(before, after),
                )
                say(f"{step} {notebook.stem}.html rendered in {_fmt_seconds(rendered[-1].seconds)}")
            _publish(staging, reports, rendered, corpus_label)
            for page in rendered:  # what was published: the hashes a kept page is checked against
                record = records[page.notebook.name]
                if not page.reused:
                    record.page = hashes.sha256(page.html) or ""
                    record.executed = hashes.sha256(reports / "executed" / page.notebook.name) or ""
            _run_cache.drop_later_results([records[page.notebook.name] for page in rendered])
            _run_cache.write_records(reports, records, hashes)
            write_index(rendered, reports, corpus_label)
        except _NotebookFailed as failed:
            page = _keep_failed(staging, reports, corpus_label, failed.notebook, failed.where, failed.error)
            raise AnalysisError(
                f"{failed}\n(the notebook with its error: {page}; the previous complete "
                f"pages stay in {reports}, and its index.html names this failure)"
            ) from None
        finally:
            _stop_print_prefetch(prefetch)
            _record(cfg, codes)
    finally:
        if kernel is not None:
            kernel.shutdown()
    return rendered
