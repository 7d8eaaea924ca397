"""The rendered reports in a real browser (system Chromium) at 1400 and 900 px wide: in
every plotly chart no two tick labels overlap, no two legend texts overlap, annotations
do not overlap each other, and the title lies inside the chart. Full-page screenshots go
to ``$ANALYSIS_SCREENSHOTS`` when set (e.g. ``reports/screenshots``), else to a tmp folder."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
WIDTHS = (1400, 900)

# For each chart on the page: the pairs of tick labels, legend texts and annotations whose
# boxes overlap by more than 1 px, and whether the title's box lies inside the chart's SVG.
CHECK_CHARTS = """
() => {
  const shown = el => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.display !== 'none' && s.visibility !== 'hidden'
      && parseFloat(s.opacity || '1') > 0 && el.textContent.trim() !== '';
  };
  const boxes = (plot, sel) => Array.from(plot.querySelectorAll(sel)).filter(shown)
    .map(el => ({text: el.textContent.trim(), r: el.getBoundingClientRect()}));
  const meet = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
    && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  const overlaps = items => {
    const bad = [];
    for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) {
      if (meet(items[i].r, items[j].r)) bad.push([items[i].text, items[j].text]);
    }
    return bad;
  };
  return Array.from(document.querySelectorAll('.js-plotly-plot')).map((plot, index) => {
    const svg = plot.querySelector('svg.main-svg').getBoundingClientRect();
    const title = plot.querySelector('.g-gtitle text');
    let titleInside = true, titleText = '', titleOverlaps = [];
    if (title && shown(title)) {
      const t = title.getBoundingClientRect();
      titleText = title.textContent;
      titleInside = t.left >= svg.left - 1 && t.right <= svg.right + 1 && t.top >= svg.top - 1
        && t.bottom <= svg.bottom + 1;
      const near = '.legend text, .updatemenu-button text, .xaxislayer-above text, .yaxislayer-above text, '
        + '.annotation-text-g text, .g-xtitle text, .g-ytitle text';
      titleOverlaps = boxes(plot, near).filter(o => meet(t, o.r)).map(o => [titleText, o.text]);
    }
    const ticks = boxes(plot, '.xaxislayer-above text, .yaxislayer-above text');
    return {
      index, title: titleText, titleInside, titleOverlaps, ticks: ticks.length,
      tickOverlaps: overlaps(ticks),
      colorbarOverlaps: overlaps(boxes(plot, '.colorbar .cbaxis text, .colorbar text.ytick')),
      legendOverlaps: overlaps(boxes(plot, '.legend text.legendtext, .legend text.legendtitletext')),
      annotationOverlaps: overlaps(boxes(plot, '.annotation-text-g text')),
    };
  });
}
"""


@pytest.fixture(scope="module")
def rendered(sample_report):
    """The sample's reports, rendered once for the session: (pages, reports folder)."""
    cfg, pages = sample_report
    return [r.html for r in pages], cfg.paths.reports


def check_page(browser, url: str, width: int, screenshot: Path | None = None) -> list[dict]:
    """Open ``url`` at ``width`` px, wait for its charts, save a full-page screenshot and
    return the findings of :data:`CHECK_CHARTS`, one dict per chart."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(url, wait_until="load")
        page.wait_for_function(
            "Array.from(document.querySelectorAll('.js-plotly-plot')).every(p => p.querySelector('svg.main-svg'))",
            timeout=30000,
        )
        page.wait_for_timeout(300)  # plotly draws tick labels after the SVG appears
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        return page.evaluate(CHECK_CHARTS)
    finally:
        page.close()


def problems(findings: list[dict]) -> list[str]:
    out = []
    for f in findings:
        where = f"chart {f['index']} ({f['title'][:60]!r})"
        if not f["titleInside"]:
            out.append(f"{where}: title outside the chart")
        for key in ("titleOverlaps", "tickOverlaps", "colorbarOverlaps", "legendOverlaps", "annotationOverlaps"):
            if f[key]:
                out.append(f"{where}: {len(f[key])} {key}, e.g. {f[key][:3]}")
    return out


def plotly_outputs(executed: Path) -> int:
    """Plotly figures among the outputs of an executed notebook."""
    nb = nbformat.read(str(executed), as_version=4)
    outputs = [out for cell in nb.cells for out in cell.get("outputs", [])]
    return sum(1 for out in outputs if "application/vnd.plotly.v1+json" in out.get("data", {}))


def test_every_chart_of_every_report_is_legible_at_two_widths(rendered, browser, tmp_path):
    pages, reports = rendered
    folder = Path(os.environ.get("ANALYSIS_SCREENSHOTS") or tmp_path / "screenshots")
    found = []
    for html in pages:
        expected = plotly_outputs(reports / "executed" / f"{html.stem}.ipynb")
        for width in WIDTHS:
            shot = folder / f"{html.stem}-{width}.png"
            findings = check_page(browser, html.as_uri(), width, shot)
            assert len(findings) == expected, (html.name, width)  # every chart drawn, none skipped
            assert shot.stat().st_size > 10_000
            found += [f"{html.name} @ {width}px, {p}" for p in problems(findings)]
    assert sum(plotly_outputs(reports / "executed" / f"{h.stem}.ipynb") for h in pages) >= 10
    assert not found, "\n".join(found)


def overlapping_figure() -> go.Figure:
    """What the review found: 40 row labels forced into a 50 px plot area, a colour bar
    squeezed with them, and a title far longer than the chart is wide."""
    people = [f"I{k}" for k in range(40)]
    fig = go.Figure(go.Heatmap(z=[[k % 5] for k in range(40)], x=["theme"], y=people, colorbar={"dtick": 0.25}))
    fig.update_layout(height=300, width=500, margin={"t": 110, "b": 140}, yaxis={"dtick": 1, "type": "category"},
                      title="Issue frequency: answers per interviewee and theme (themes grouped by lifecycle "
                      "stage), a title far longer than this chart is wide")
    fig.add_scatter(x=["theme"] * 2, y=["I1", "I2"], name="a legend entry", showlegend=True)
    return fig


def test_the_check_finds_overlaps_where_there_are_some(browser, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(overlapping_figure().to_html(include_plotlyjs=True, full_html=True), encoding="utf-8")
    findings = check_page(browser, page.as_uri(), 900)
    found = problems(findings)
    assert any("tickOverlaps" in p for p in found), found
    assert any("title outside" in p for p in found), found
    assert findings[0]["ticks"] >= 40


def test_the_charts_of_a_300_interviewee_study_pass_the_same_check(browser, tmp_path):
    from test_chart_layout import all_figures, synthetic

    figures = all_figures(synthetic(300))
    body = "".join(
        fig.to_html(include_plotlyjs=(k == 0), full_html=False) for k, fig in enumerate(figures.values())
    )
    page = tmp_path / "large.html"
    page.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    folder = Path(os.environ.get("ANALYSIS_SCREENSHOTS") or tmp_path / "screenshots")
    found = []
    for width in WIDTHS:
        findings = check_page(browser, page.as_uri(), width, folder / f"synthetic-300-{width}.png")
        assert len(findings) == len(figures)
        found += [f"{width}px, {p}" for p in problems(findings)]
    assert not found, "\n".join(found)
