"""Execute the ordered notebooks headless and render each to HTML with an index page."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .._last_run import record_run
from ..config import CONFIG_ENV, DEFAULT_CONFIG, Config
from ..errors import AnalysisError
from ..pipeline import preflight, read_corpus

NOTEBOOK_RE = re.compile(r"^\d{2}_[\w-]+\.ipynb$")


@dataclass
class RenderedNotebook:
    notebook: Path
    html: Path
    title: str
    summary: str
    seconds: float


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
        return title, re.sub(r"[*_`]+", "", summary)  # Markdown emphasis is not HTML
    return path.stem, ""


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(Path(path).resolve(), start.resolve())


def render_html(executed: Path, out_html: Path) -> None:
    """Render an executed notebook to standalone HTML: cells tagged ``hide-input`` show
    only their output, ``remove-cell`` cells are left out."""
    # nbconvert and its exporters are heavy: loaded only when a page is rendered
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config as TraitletsConfig

    c = TraitletsConfig()
    c.TagRemovePreprocessor.remove_input_tags = {"hide-input"}
    c.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    c.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=c, template_name="lab")
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    nb = nbformat.read(str(executed), as_version=4)
    # The widget manager that would draw stored widget state loads from a CDN; reports
    # show a static snapshot of the explorer instead (see notebook 07).
    nb.metadata.pop("widgets", None)
    body, _ = exporter.from_notebook_node(nb)
    out_html.write_text(strip_remote_scripts(body), encoding="utf-8")


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
        f"<span>{html.escape(r.summary)}</span></li>"
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
li{{margin:.6rem 0}} span{{display:block;color:#444}}
.failed{{border:2px solid #D55E00;background:#fff4ec;padding:.8rem 1rem;margin:1rem 0}}</style></head>
<body><h1>Thematic analysis reports</h1>
{banner}
{intro}
<ol>
{items}
</ol></body></html>
"""
    path = reports / "index.html"
    _write_atomic(path, page)
    return path


MANIFEST = ".report.json"  # the pages of the last complete run, for the index after a failed one
STAGING = ".incoming"  # a run's pages, until every notebook has run
FAILED = "failed"  # the pages of the last failed run, the failed notebook with its error


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read_manifest(reports: Path) -> tuple[list[RenderedNotebook], str]:
    try:
        data = json.loads((reports / MANIFEST).read_text(encoding="utf-8"))
        pages = [
            RenderedNotebook(Path(p["notebook"]), reports / p["html"], p["title"], p["summary"], p["seconds"])
            for p in data["pages"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return [], ""
    return [p for p in pages if p.html.is_file()], str(data.get("corpus", ""))


def _publish(staging: Path, reports: Path, rendered: list[RenderedNotebook], corpus_label: str) -> None:
    """Move a complete run's pages from ``staging`` into ``reports`` and drop the pages
    of earlier runs that this one did not make."""
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
             "seconds": round(r.seconds, 1)}
            for r in rendered
        ],
    }
    _write_atomic(reports / MANIFEST, json.dumps(manifest, indent=2))


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
    """The notebooks' parameters: paths relative to the project root (the notebooks run
    there), so the rendered parameters cell does not show the machine's folders."""
    parameters = {"transcripts_dir": _relative(cfg.paths.transcripts, cfg.root)}
    if config_path is not None:
        parameters["config_path"] = _relative(Path(config_path), cfg.root)
    if codes is not None:  # "none", or a folder of human codes for notebooks 06 and 08
        parameters["codes_dir"] = codes if codes == "none" else _relative(Path(codes), cfg.root)
    return parameters


def run_report(
    cfg: Config, *, log=print, codes: str | None = None, config_path: str | Path | None = None
) -> list[RenderedNotebook]:
    """Execute every ordered notebook on ``cfg.paths.transcripts`` and render it to HTML.

    The corpus is loaded once first, so a bad transcript stops the run with a message
    naming the file and line instead of a notebook traceback. ``codes`` overrides
    ``paths.reference_codes`` for notebooks 06 and 08 (``"none"``: no human codes).
    ``config_path`` is the settings file every notebook loads (``cfg``'s own file: pass
    it, or the notebooks read config/settings.yaml of the project).

    A run's pages are written to ``reports/.incoming/`` and replace the previous ones only
    when every notebook ran. When one fails, its page (with the error) and those made
    before it go to ``reports/failed/``, the index names the failure, and the previous
    complete pages stay.

    Raises:
        AnalysisError: a notebook failed (the message names it, the cell and the error).
    """
    import papermill as pm  # heavy (starts Jupyter machinery): only the report needs it

    preflight(cfg.with_codes(codes) if codes else cfg)  # settings, model, files: before any notebook runs
    corpus = read_corpus(cfg)  # a bad transcript stops here, named, not as a notebook traceback
    for notice in corpus.notices(limit=20):  # entries not read, lines to check (all in notebook 01)
        log(notice)
    notebooks_dir = Path(cfg.paths.notebooks)
    reports = Path(cfg.paths.reports)
    staging = reports / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # left by a run that was killed
    (staging / "executed").mkdir(parents=True, exist_ok=True)
    if config_path is None:  # the file cfg most likely came from
        default = cfg.root / DEFAULT_CONFIG
        config_path = os.environ.get(CONFIG_ENV) or (default if default.is_file() else None)
    parameters = _parameters(cfg, codes, Path(config_path).resolve() if config_path else None)
    corpus_label = parameters["transcripts_dir"]
    rendered: list[RenderedNotebook] = []
    try:
        for notebook in ordered_notebooks(notebooks_dir):
            executed = staging / "executed" / notebook.name
            out_html = staging / f"{notebook.stem}.html"
            log(f"running {notebook.name} ...")
            started = time.perf_counter()
            try:
                # Each notebook gets only the parameters it declares (papermill warns about others).
                declared = pm.inspect_notebook(str(notebook))
                pm.execute_notebook(
                    str(notebook),
                    str(executed),
                    parameters={k: v for k, v in parameters.items() if k in declared},
                    cwd=str(cfg.root),  # the parameters' paths are relative to the project root
                    kernel_name="python3",
                    progress_bar=False,
                    log_output=False,
                )
            except Exception as exc:  # noqa: BLE001 - any failure keeps the previous complete pages
                where = f", cell {exc.exec_count}" if isinstance(exc, pm.PapermillExecutionError) else ""
                error = (
                    f"{exc.ename}: {exc.evalue}"
                    if isinstance(exc, pm.PapermillExecutionError)
                    else f"{type(exc).__name__}: {exc}"
                )
                if executed.is_file():
                    render_html(executed, out_html)
                else:  # the kernel did not start: a page that says so
                    out_html.write_text(
                        f"<!DOCTYPE html><meta charset='utf-8'><title>{html.escape(notebook.name)}</title>"
                        f"<p>{html.escape(notebook.name)} did not run: <code>{html.escape(error)}</code></p>",
                        encoding="utf-8",
                    )
                page = _keep_failed(staging, reports, corpus_label, notebook, where, error)
                raise AnalysisError(
                    f"{notebook.name}{where}: {error}\n(the notebook with its error: {page}; the previous complete "
                    f"pages stay in {reports}, and its index.html names this failure)"
                ) from None
            render_html(executed, out_html)
            seconds = time.perf_counter() - started
            title, summary = describe_notebook(notebook)
            rendered.append(RenderedNotebook(notebook, reports / out_html.name, title, summary, seconds))
            log(f"  rendered {notebook.stem}.html in {seconds:.1f} s")
        _publish(staging, reports, rendered, corpus_label)
        write_index(rendered, reports, corpus_label)
    finally:
        # Later verbs (export, evaluate) default to this run's corpus and codes.
        reference = cfg.paths.reference_codes if codes is None else (None if codes == "none" else Path(codes))
        record_run(cfg.paths.processed, cfg.paths.transcripts, reference, cfg.paths.independent_codings)
    return rendered
