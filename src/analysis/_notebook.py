"""Notebook set-up shared by every notebook."""

from __future__ import annotations


def setup_notebook() -> None:
    """Make plotly figures work both live in JupyterLab and in offline HTML reports.

    ``plotly_mimetype`` draws in JupyterLab; ``notebook`` (not ``notebook_connected``)
    embeds plotly.js in the output once, so the rendered HTML needs no CDN.
    """
    import pandas as pd
    import plotly.io as pio

    pio.renderers.default = "plotly_mimetype+notebook"
    pd.set_option("display.max_colwidth", 120)
    pd.set_option("display.max_rows", 60)
