"""Charts: one pure function per chart, tables in, ``plotly.graph_objects.Figure`` out."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
ROLE_COLOURS = {"interviewee": OKABE_ITO[4], "interviewer": OKABE_ITO[0], "other": "#999999"}


def words_by_role_figure(summary: pd.DataFrame) -> go.Figure:
    """Words spoken by interviewee and interviewer(s) per interview, as grouped bars.

    Args:
        summary: The table of :func:`analysis.interview_summary` (index: interview id;
            columns ``words_interviewee``, ``words_interviewer``, ``words_other``).

    Returns:
        A figure with one bar trace per role that spoke.

    Example:
        >>> s = pd.DataFrame({"words_interviewee": [120], "words_interviewer": [40],
        ...                   "words_other": [0]}, index=pd.Index(["7"], name="interview_id"))
        >>> [t.name for t in words_by_role_figure(s).data]
        ['interviewee', 'interviewer']
    """
    fig = go.Figure()
    labels = [f"I{i}" for i in summary.index]
    for role in ("interviewee", "interviewer", "other"):
        column = f"words_{role}"
        if column not in summary or not summary[column].any():
            continue
        fig.add_bar(
            name=role, x=labels, y=summary[column].tolist(), marker_color=ROLE_COLOURS[role],
            hovertemplate="%{x}<br>" + role + ": %{y} words<extra></extra>",
        )
    fig.update_layout(
        title="Words spoken per interview, by role",
        xaxis_title="Interview", yaxis_title="Words", barmode="group",
        xaxis={"type": "category", "tickangle": -45 if len(labels) > 20 else 0},
        legend_title_text="Role", template="plotly_white",
    )
    return fig
