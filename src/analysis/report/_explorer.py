"""Theme explorer: ipywidgets to filter answers by stage, theme, interviewee and kind,
search their text, read the quotes with the question they answer and their source
line, and rename a theme (saved to a labels file that later runs and charts use).

All logic is here so it is tested without a browser: set the widgets' values and read
:meth:`ThemeExplorer.matches` or the HTML the output shows.

Example:
    >>> explorer = ThemeExplorer(turns, tables, labels_path="data/theme_labels.json")   # doctest: +SKIP
    >>> explorer.widget                                                              # doctest: +SKIP
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from .._ids import natural_sorted
from ..topics import save_theme_label

ALL = "(all)"


class ThemeExplorer:
    """Filters and quotes over the modelled answers.

    Args:
        turns: the turns table (questions, source file and line come from it).
        tables: :class:`analysis.report.ThemeTables` of the run.
        original_labels: topic -> label as the topic model named it.
        labels_path: where renames are saved.
        page_size: quotes shown at once.
    """

    def __init__(
        self, turns: pd.DataFrame, tables, original_labels: dict[int, str], labels_path: str | Path, page_size: int = 20
    ):
        import ipywidgets as w  # needs a kernel: loaded only for the live explorer

        self.labels_path = Path(labels_path)
        self.original = dict(original_labels)
        self.stage_names = tables.stage_names
        info = turns.set_index("turn_id")
        data = tables.answers.copy()
        data["question"] = data["turn_id"].map(info["question_text"]).fillna("")
        data["source_file"] = data["turn_id"].map(info["source_file"])
        data["line_start"] = data["turn_id"].map(info["line_start"]).astype(int)
        self.data = data
        self.page_size = page_size
        self.labels = dict(zip(tables.themes["topic"], tables.themes["theme"]))

        self.stage = w.Dropdown(
            description="Stage", options=[(ALL, ALL)] + [(n, s) for s, n in self.stage_names.items()], value=ALL
        )
        self.theme = w.Dropdown(description="Theme", options=self._theme_options(), value=ALL)
        people = natural_sorted(data["speaker_id"].unique())
        self.interviewee = w.Dropdown(description="Interviewee", options=[ALL] + people, value=ALL)
        self.kind = w.Dropdown(description="Kind", options=[ALL, "issue", "fix"], value=ALL)
        self.search = w.Text(description="Search", placeholder="words in the answer or question")
        self.output = w.HTML()
        self.new_label = w.Text(description="New label", placeholder="rename the selected theme")
        self.rename_button = w.Button(description="Rename theme")
        self.status = w.HTML()
        for control in (self.stage, self.theme, self.interviewee, self.kind, self.search):
            control.observe(self._refresh, names="value")
        self.rename_button.on_click(lambda _: self.rename(self.theme.value, self.new_label.value))
        self.widget = w.VBox(
            [
                w.HBox([self.stage, self.theme]),
                w.HBox([self.interviewee, self.kind]),
                self.search,
                w.HBox([self.new_label, self.rename_button]),
                self.status,
                self.output,
            ]
        )
        self._refresh()

    def _theme_options(self):
        order = self.data.groupby("topic").size().sort_values(ascending=False).index
        return [(ALL, ALL)] + [(f"T{t}: {self.labels[t]}", int(t)) for t in order]

    def matches(self) -> pd.DataFrame:
        """The answers that pass every filter, largest themes first."""
        d = self.data
        if self.stage.value != ALL:
            d = d[d["stage"] == self.stage.value]
        if self.theme.value != ALL:
            d = d[d["topic"] == self.theme.value]
        if self.interviewee.value != ALL:
            d = d[d["speaker_id"] == self.interviewee.value]
        if self.kind.value != ALL:
            d = d[d["kind"] == self.kind.value]
        query = self.search.value.strip().lower()
        if query:
            d = d[
                d["text"].str.lower().str.contains(query, regex=False)
                | d["question"].str.lower().str.contains(query, regex=False)
            ]
        return d

    def render(self, matches: pd.DataFrame | None = None) -> str:
        """The HTML the output shows: a count and the first quotes, every text escaped."""
        matches = self.matches() if matches is None else matches
        parts = [f"<p><b>{len(matches)}</b> answers from <b>{matches['speaker_id'].nunique()}</b> interviewees</p>"]
        for row in matches.head(self.page_size).itertuples():
            theme = html.escape(f"T{row.topic}: {self.labels.get(row.topic, '')}")
            stage = html.escape(self.stage_names.get(row.stage, str(row.stage)))
            kind = f" · {html.escape(row.kind)}" if row.kind else ""
            parts.append(
                "<div style='margin:.6em 0;padding:.4em .6em;border-left:3px solid #0072B2'>"
                f"<div style='color:#555;font-size:90%'>{theme} · {stage}{kind} · {html.escape(row.speaker_id)} · "
                f"{html.escape(str(row.source_file))}:{row.line_start}</div>"
                f"<div style='color:#555;font-size:90%'>Q: {html.escape(' '.join(str(row.question).split()))}</div>"
                f"<div>{html.escape(' '.join(str(row.text).split()))}</div></div>"
            )
        if len(matches) > self.page_size:
            parts.append(f"<p>… and {len(matches) - self.page_size} more (narrow the filters)</p>")
        return "".join(parts)

    def snapshot(self):
        """The filters and the quotes they show, as static HTML (for HTML reports, where
        live widgets cannot run)."""
        from IPython.display import HTML  # needs IPython: only in a notebook

        filters = {
            "stage": self.stage.label,
            "theme": self.theme.label,
            "interviewee": self.interviewee.value,
            "kind": self.kind.value,
            "search": self.search.value or "—",
        }
        head = " · ".join(f"{html.escape(k)}: <b>{html.escape(str(v))}</b>" for k, v in filters.items())
        return HTML(f"<div><p>{head}</p>{self.render()}</div>")

    def _refresh(self, *_):
        self.output.value = self.render()

    def rename(self, topic, label: str) -> None:
        """Rename a theme; saved to ``labels_path`` and shown at once."""
        label = " ".join(str(label).split())
        if topic == ALL or not label:
            self.status.value = "<span style='color:#D55E00'>Pick one theme and type its new label.</span>"
            return
        topic = int(topic)
        save_theme_label(self.labels_path, topic, self.original.get(topic, self.labels.get(topic, "")), label)
        self.labels[topic] = label
        self.theme.options = self._theme_options()
        self.theme.value = topic
        self.status.value = (
            f"Renamed T{topic} to “{html.escape(label)}”, saved in {html.escape(self.labels_path.name)}."
        )
        self._refresh()
