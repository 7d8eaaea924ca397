"""Notebook set-up shared by every notebook."""

from __future__ import annotations

import logging
import os
import warnings

import pandas as pd
import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer


class OfflineHtmlRenderer(MimetypeRenderer):
    """``text/html`` for plotly figures that works offline: the first figure of a kernel
    carries plotly.js inline, later ones use it; no require.js, no MathJax from a CDN.
    (JupyterLab draws figures from the ``plotly_mimetype`` part instead.)"""

    def __init__(self):
        # plotly shallow-copies a renderer for every figure: the flag lives in a shared dict
        self.state = {"plotlyjs_included": False}

    def to_mimebundle(self, fig_dict):
        html = pio.to_html(
            fig_dict,
            include_plotlyjs=not self.state["plotlyjs_included"],
            include_mathjax=False,
            full_html=False,
            validate=False,
            config={"displaylogo": False},
        )
        self.state["plotlyjs_included"] = True
        return {"text/html": html}


REPORT_ENV = "ANALYSIS_REPORT"  # set by ``run_report`` for the kernels it starts
# A progress line in an executed report: plain text, one per PROGRESS_SECONDS, streamed to
# ``make report``'s output and left out of the HTML (``PROGRESS_LINE_RE`` in _render.py).
PROGRESS_FORMAT = "{desc} {n_fmt}/{total_fmt} ({percentage:.0f}%), {elapsed} elapsed, {remaining} left"
PROGRESS_SECONDS = 10.0


def setup_notebook() -> None:
    """Figures drawn live in JupyterLab and inline in offline HTML reports; library
    warnings (which print the machine's paths) kept out of reports.

    Progress bars: tqdm's live bars in JupyterLab; in a notebook run by ``make report``
    (``ANALYSIS_REPORT`` set), a plain line every few seconds instead, which the report
    command prints as it goes and the HTML page leaves out.
    """
    # a new renderer per notebook: its first figure carries plotly.js again, also when the
    # report runs the notebooks one after another in one kernel
    pio.renderers["offline_html"] = OfflineHtmlRenderer()
    pio.renderers.default = "plotly_mimetype+offline_html"
    pd.set_option("display.max_colwidth", 120)
    pd.set_option("display.max_rows", 60)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # offline: nothing is downloaded
    if os.environ.get(REPORT_ENV):
        _plain_progress_lines()
    try:
        from transformers.utils import logging as hf_logging  # heavy: loaded only to quiet it

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
    for module in ("umap", "sklearn", "bertopic", "hdbscan", "numba", "sentence_transformers", "transformers", "torch"):
        warnings.filterwarnings("ignore", module=module)
    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger("BERTopic").setLevel(logging.ERROR)


def clear_namespace() -> None:
    """Between two notebooks of a report run in one kernel: the previous notebook's names
    are deleted, and the memory they held goes back to the system (glibc keeps freed
    memory for the process otherwise, and the kernel would grow notebook after
    notebook). Imported modules stay loaded.

    What survives (modules, the loaded embedding model, caches: about 750k objects once
    torch, BERTopic and plotly are loaded) then moves to the garbage collector's permanent
    generation (``gc.freeze``): each full collection would otherwise walk it again, 0.4 s
    each, at every notebook's start and whenever a notebook's allocations trigger one."""
    import ctypes
    import gc

    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.reset(new_session=False)
    gc.collect()
    gc.freeze()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): the memory stays with the process
        pass


def _plain_progress_lines() -> None:
    """Make ``tqdm.auto`` / ``tqdm.autonotebook`` (what the steps import) plain text bars
    that refresh every ``PROGRESS_SECONDS``: a widget bar would reach neither the report
    command's output nor a static page."""
    import tqdm.auto
    import tqdm.autonotebook
    from tqdm.std import tqdm as text_tqdm

    class LineProgress(text_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("mininterval", PROGRESS_SECONDS)
            kwargs.setdefault("maxinterval", PROGRESS_SECONDS * 3)
            kwargs.setdefault("bar_format", PROGRESS_FORMAT)
            kwargs.setdefault("ascii", True)
            super().__init__(*args, **kwargs)

    tqdm.auto.tqdm = tqdm.autonotebook.tqdm = LineProgress


# Cell metadata that records a session, not the notebook (nbstripout's list and JupyterLab's).
SESSION_KEYS = [
    "metadata.widgets",
    "metadata.signature",
    "cell.metadata.collapsed",
    "cell.metadata.scrolled",
    "cell.metadata.execution",
    "cell.metadata.ExecuteTime",
    "cell.metadata.jupyter.outputs_hidden",
]


def strip_notebook(nb: dict) -> dict:
    """A notebook (nbformat dict) without outputs, execution counts or session metadata,
    as the repository keeps it; cell ids, tags and the kernelspec stay.

    Example:
        >>> nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code",
        ...       "id": "a", "source": "1 + 1", "metadata": {}, "execution_count": 3,
        ...       "outputs": [{"output_type": "execute_result", "execution_count": 3,
        ...                    "data": {"text/plain": "2"}, "metadata": {}}]}]}
        >>> cell = strip_notebook(nb)["cells"][0]
        >>> cell["outputs"], cell["execution_count"]
        ([], None)
    """
    import nbformat
    from nbstripout import strip_output  # the lab extra: Lab saves through this

    node = nbformat.from_dict(nb)
    return strip_output(node, keep_output=False, keep_count=False, keep_id=True, extra_keys=SESSION_KEYS)


def strip_notebook_on_save(model: dict, **_) -> None:
    """Jupyter's ``pre_save_hook`` (config/jupyter/jupyter_server_config.json, used by
    ``make lab``): a notebook saved in JupyterLab is written without outputs, so the
    repository and the next ``make report`` never see a session's results.

    Example:
        >>> model = {"type": "notebook", "content": {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
        ...          "cells": [{"cell_type": "code", "id": "a", "source": "print(1)", "metadata": {},
        ...                     "execution_count": 1, "outputs": [{"output_type": "stream",
        ...                     "name": "stdout", "text": "1\\n"}]}]}}
        >>> strip_notebook_on_save(model)
        >>> model["content"]["cells"][0]["outputs"]
        []
    """
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        model["content"] = strip_notebook(model["content"])
