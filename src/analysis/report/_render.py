"""Execute the ordered notebooks headless and render each to HTML with an index page."""

from __future__ import annotations

import html
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import AnalysisError
from ..pipeline import read_corpus

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


def write_index(rendered: list[RenderedNotebook], reports: Path, corpus_label: str) -> Path:
    items = "\n".join(
        f'<li><a href="{html.escape(r.html.name)}">{html.escape(r.title)}</a> '
        f"<span>{html.escape(r.summary)}</span></li>"
        for r in rendered
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Thematic analysis reports</title>
<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;line-height:1.5}}
li{{margin:.6rem 0}} span{{display:block;color:#444}}</style></head>
<body><h1>Thematic analysis reports</h1>
<p>Corpus: <code>{html.escape(corpus_label)}</code>. Each page is an executed notebook, in order.</p>
<ol>
{items}
</ol></body></html>
"""
    path = reports / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def run_report(cfg: Config, *, log=print, codes: str | None = None) -> list[RenderedNotebook]:
    """Execute every ordered notebook on ``cfg.paths.transcripts`` and render it to HTML.

    The corpus is loaded once first, so a bad transcript stops the run with a message
    naming the file and line instead of a notebook traceback. ``codes`` overrides
    ``paths.reference_codes`` for notebooks 06 and 08 (``"none"``: no human codes).
    """
    import papermill as pm  # heavy (starts Jupyter machinery): only the report needs it

    read_corpus(cfg)  # a bad transcript stops here, named, not as a notebook traceback
    notebooks_dir = Path(cfg.paths.notebooks)
    reports = Path(cfg.paths.reports)
    executed_dir = reports / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    # Relative paths keep the machine's folders out of the rendered parameters cell.
    parameters = {"transcripts_dir": _relative(cfg.paths.transcripts, cfg.root)}
    if codes is not None:  # "none", or a folder of human codes for notebooks 06 and 08
        parameters["codes_dir"] = codes if codes == "none" else _relative(Path(codes), cfg.root)
    rendered: list[RenderedNotebook] = []
    for notebook in ordered_notebooks(notebooks_dir):
        executed = executed_dir / notebook.name
        out_html = reports / f"{notebook.stem}.html"
        log(f"running {notebook.name} ...")
        started = time.perf_counter()
        try:
            # Each notebook gets only the parameters it declares (papermill warns about others).
            declared = pm.inspect_notebook(str(notebook))
            pm.execute_notebook(
                str(notebook),
                str(executed),
                parameters={k: v for k, v in parameters.items() if k in declared},
                cwd=str(notebooks_dir),
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
            )
        except pm.PapermillExecutionError as exc:
            raise AnalysisError(
                f"{notebook.name}, cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                f"(the executed notebook with the full traceback is {executed})"
            ) from None
        render_html(executed, out_html)
        seconds = time.perf_counter() - started
        title, summary = describe_notebook(notebook)
        rendered.append(RenderedNotebook(notebook, out_html, title, summary, seconds))
        log(f"  wrote {_relative(out_html, cfg.root)} in {seconds:.1f} s")
    write_index(rendered, reports, parameters["transcripts_dir"])
    return rendered
