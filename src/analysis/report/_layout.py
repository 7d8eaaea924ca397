"""Sizing rules every chart shares: figures grow with their rows and columns, labels are
shortened (full text on hover) so that none overlap, titles wrap, counts get integer ticks,
and colours come from one colour-blind-safe palette."""

from __future__ import annotations

import html
import math
import textwrap

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
# 8 colours x 6 marker shapes: 48 categories told apart by colour and shape before any repeats
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star"]
OUTLIER_COLOUR = "#BBBBBB"
FONT = 12  # tick label size (px)
TITLE_FONT = 16
CHAR_PX = 0.6  # average glyph width of the default sans-serif font, in font sizes
NARROWEST = 640  # the narrowest a responsive figure gets in a report page (px)
FITS = 820  # a fixed-width figure this wide fits a report page in a 900 px window


def category_style(k: int) -> tuple[str, str]:
    """Colour and marker symbol of the ``k``-th category: distinct pairs for 48 categories.

    Example:
        >>> category_style(0), category_style(9)
        (('#E69F00', 'circle'), ('#56B4E9', 'square'))
    """
    return PALETTE[k % len(PALETTE)], SYMBOLS[(k // len(PALETTE)) % len(SYMBOLS)]


def text_px(text: str, size: int = FONT) -> float:
    """Approximate width of one line of ``text`` in pixels."""
    return len(text) * size * CHAR_PX


def shorten(text: object, limit: int) -> str:
    """``text`` with whitespace folded, cut to ``limit`` characters with an ellipsis.

    Example:
        >>> shorten("label noise in   scraped data", 12)
        'label noise…'
    """
    value = " ".join(str(text).split())
    return value if len(value) <= limit else value[: max(limit - 1, 1)].rstrip() + "…"


def esc(text: object, limit: int | None = None) -> str:
    """Text made safe for plotly labels (which render a subset of HTML): escaped,
    whitespace folded, optionally shortened."""
    value = shorten(text, limit) if limit else " ".join(str(text).split())
    return html.escape(value)


def unique_labels(labels: list[str], limit: int) -> list[str]:
    """Labels shortened to ``limit`` characters, kept distinct: a label whose short form
    collides with another keeps more of its text, or gets a number.

    Example:
        >>> unique_labels(["data drift in sensors", "data drift in images", "latency"], 10)
        ['data drif… (1)', 'data drif… (2)', 'latency']
    """
    short = [shorten(label, limit) for label in labels]
    seen: dict[str, int] = {}
    for s in short:
        seen[s] = seen.get(s, 0) + 1
    counter: dict[str, int] = {}
    out = []
    for s in short:
        if seen[s] > 1:
            counter[s] = counter.get(s, 0) + 1
            out.append(f"{s} ({counter[s]})")
        else:
            out.append(s)
    return out


def wrap(text: str, width: int, lines: int | None = None) -> str:
    """``text`` wrapped at ``width`` characters with ``<br>``, at most ``lines`` lines."""
    parts = textwrap.wrap(text, width) or [""]
    if lines and len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = shorten(parts[-1] + " …", width)
    return "<br>".join(parts)


def title(text: str, width: int | None, below: int = 0) -> tuple[dict, int]:
    """A title that fits the figure's width (wrapped), placed ``below`` px above the plot
    area (room for a legend or buttons in between), and the top margin it needs.

    Example:
        >>> t, top = title("Coded answers per interviewee and lifecycle stage of the machine learning lifecycle", 500)
        >>> t["text"].count("<br>"), top
        (1, 74)
    """
    chars = max(20, int(((width or NARROWEST) - 40) / (TITLE_FONT * CHAR_PX)))
    wrapped = textwrap.wrap(text, chars) or [""]
    lines = len(wrapped)
    return (
        {"text": "<br>".join(wrapped), "x": 0.01, "xref": "container", "xanchor": "left", "yref": "container",
         "y": 1.0, "yanchor": "top", "font": {"size": TITLE_FONT}},
        30 + 22 * lines + below,
    )


def fit_title(fig):
    """Move the title about 10 px below the figure's top edge: plotly draws a title anchored
    at the top a few px above the figure (a multi-line one 15 px above) and ignores its
    padding there. Returns ``fig``."""
    if fig.layout.height and fig.layout.title.text:
        shift = 10 + (12 if "<br>" in fig.layout.title.text else 0)
        fig.layout.title.y = 1 - shift / fig.layout.height
    return fig


def row_px(n: int) -> int:
    """Height of one category row: roomy for a handful, 16 px (a 12 px label and a gap)
    from 40 rows on, so 300 interviewees stay one label per row.

    Example:
        >>> row_px(3), row_px(300)
        (30, 16)
    """
    return max(16, min(30, int(600 / max(n, 1))))


def plot_height(n_rows: int, minimum: int = 220) -> int:
    """Height of a plot area holding ``n_rows`` category rows."""
    return max(minimum, n_rows * row_px(n_rows))


def nice_step(top: float, ticks: int = 6) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks up to ``top``.

    Example:
        >>> nice_step(26.77), nice_step(3), nice_step(0.9)
        (5, 0.5, 0.2)
    """
    if top <= 0:
        return 1
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * power:
            step = m * power
            return int(step) if step >= 1 else round(step, 10)
    return 10 * power  # pragma: no cover


def count_axis(top: float, title_text: str, **extra) -> dict:
    """An axis of counts: integer ticks (never 0.5 answers), starting at zero.

    Example:
        >>> count_axis(3, "Answers")["dtick"], count_axis(0.4, "Mean")["dtick"]
        (1, 1)
    """
    step = max(1, nice_step(top, 8))
    return {"title": {"text": title_text}, "tickmode": "linear", "tick0": 0, "dtick": step, "tickformat": "d",
            "rangemode": "tozero", "automargin": True, **extra}


def colorbar(title_text: str, top: float, plot_h: int = 300) -> dict:
    """A colour bar of counts with integer ticks, at most 300 px tall at the top of the plot."""
    return {"title": {"text": title_text, "side": "right"}, "tickmode": "linear", "tick0": 0,
            "dtick": max(1, nice_step(top, 5)), "tickformat": "d", "thickness": 14, "len": min(plot_h, 300),
            "lenmode": "pixels", "y": 1.0, "yanchor": "top"}


def label_px(labels: list[str], size: int = FONT) -> int:
    """Room (px) the longest of ``labels`` needs on a horizontal line (``<br>`` breaks lines)."""
    longest = max((max(len(part) for part in str(s).split("<br>")) for s in labels), default=0)
    return int(longest * size * CHAR_PX) + 12


def column_ticks(labels: list[str], col_px: float) -> tuple[list[str], int, int]:
    """Tick texts for categorical columns ``col_px`` wide: wrapped horizontally (up to 3
    lines) when a column is wide enough, else written downwards; the angle and the height
    (px) they take below the axis.

    Example:
        >>> column_ticks(["Model deployment", "Data"], 100)
        (['Model<br>deployment', 'Data'], 0, 42)
        >>> column_ticks(["a long label about data drift"], 18)[1:]
        (-90, 220)
    """
    chars = int(col_px / (FONT * CHAR_PX)) - 1
    if chars >= 8:
        texts = [wrap(label, chars, lines=3) for label in labels]
        lines = max((t.count("<br>") + 1 for t in texts), default=1)
        return texts, 0, 16 * lines + 10
    texts = unique_labels(labels, 32)
    return texts, -90, label_px(texts)


def grid_layout(
    rows: list[str], columns: list[str], *, title_text: str, x_title: str, y_title: str, extra_top: int = 0,
    right: int = 110,
) -> tuple[dict, dict]:
    """Layout of a grid chart (a heatmap): ``rows`` x ``columns`` categories, a row and a
    column of tick labels each, sized so that no label overlaps another.

    Returns:
        The layout (``fig.update_layout(**layout)``) and the geometry: ``plot_h``,
        ``plot_w``, ``col_px``, ``top`` (px above the plot area).
    """
    n_rows, n_cols = max(len(rows), 1), max(len(columns), 1)
    row_text = unique_labels(rows, 28)
    left = label_px(row_text) + 40
    col_px = max(18.0, min(110.0, (FITS - left - right) / n_cols))  # wider than FITS only for many columns
    plot_w = int(col_px * n_cols)
    ticktext, angle, below = column_ticks(columns, col_px)
    width = max(left + plot_w + right, 600)
    col_px = (width - left - right) / n_cols  # a narrow grid is widened: its columns too
    head, top = title(title_text, width, extra_top)
    plot_h = plot_height(n_rows, 160)
    bottom = below + 50
    layout = {
        "title": head,
        "width": width,
        "height": top + plot_h + bottom,
        "margin": {"l": left, "r": right, "t": top, "b": bottom, "autoexpand": False},
        "template": "plotly_white",
        "xaxis": {"title": {"text": x_title}, "type": "category", "tickmode": "array", "tickvals": columns,
                  "ticktext": ticktext, "tickangle": angle, "tickfont": {"size": FONT}, "side": "bottom",
                  "showgrid": False},
        "yaxis": {"title": {"text": y_title}, "type": "category", "tickmode": "array", "tickvals": rows,
                  "ticktext": row_text, "autorange": "reversed", "tickfont": {"size": FONT}, "showgrid": False},
    }
    geometry = {"plot_h": plot_h, "plot_w": width - left - right, "col_px": col_px, "top": top, "width": width}
    return layout, geometry
