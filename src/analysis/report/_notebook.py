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


def setup_notebook() -> None:
    """Figures drawn live in JupyterLab and inline in offline HTML reports; progress bars
    and library warnings (which print the machine's paths) kept out of reports."""
    if "offline_html" not in pio.renderers:
        pio.renderers["offline_html"] = OfflineHtmlRenderer()
    pio.renderers.default = "plotly_mimetype+offline_html"
    pd.set_option("display.max_colwidth", 120)
    pd.set_option("display.max_rows", 60)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
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
