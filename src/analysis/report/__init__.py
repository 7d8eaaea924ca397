"""What a person sees: charts (pure: tables in, ``Figure`` out), theme tables and
saturation, display tables, the theme explorer, notebook set-up and HTML rendering.

Nothing outside this package imports it, but the command line's ``report`` verb.
"""

from ._charts import (
    interviewees_per_theme_figure,
    reliability_figure,
    saturation_figure,
    stage_by_interviewee_figure,
    stage_distribution_figure,
    theme_cooccurrence_figure,
    theme_heatmap_figure,
    topic_stage_figure,
    words_by_role_figure,
)
from ._codebook import Codebook, codebook, codebook_for, stage_exemplars
from ._explorer import ThemeExplorer
from ._figures import FigureSet, figure_size, paper_figures, prepare_figure_folder, write_figures
from ._methods import (
    NO_REFERENCE_CODES,
    REFERENCE_HUMAN_AGREEMENT,
    AgreementPage,
    agreement_page,
    agreement_without_codes,
    human_agreement_sentence,
    methods_summary,
)
from ._notebook import setup_notebook, strip_notebook, strip_notebook_on_save
from ._registry import REPORT_CHARTS, NoChart, RunCharts
from ._render import run_report
from ._review import ReviewWidget
from ._static_explorer import explorer_rows, static_explorer
from ._tables import (
    agreement_by_interview,
    files_table,
    headline_table,
    key_value_table,
    list_table,
    note,
    show_table,
    stage_summary,
    taxonomy_table,
    topic_stage_table,
    topic_table,
)
from ._themes import (
    SET_ASIDE,
    ThemeTables,
    best_excerpt,
    quote_clarity,
    saturation_milestones,
    saturation_table,
    stage_quotes,
    theme_quotes,
    theme_tables,
    theme_tables_for,
)
from ._topic_charts import document_map, topic_barchart, topic_hierarchy, topics_per_interviewee

__all__ = [
    "explorer_rows",
    "files_table",
    "key_value_table",
    "list_table",
    "note",
    "show_table",
    "static_explorer",
    "ReviewWidget",
    "ThemeExplorer",
    "ThemeTables",
    "agreement_by_interview",
    "document_map",
    "headline_table",
    "interviewees_per_theme_figure",
    "reliability_figure",
    "run_report",
    "saturation_figure",
    "saturation_milestones",
    "saturation_table",
    "setup_notebook",
    "strip_notebook",
    "strip_notebook_on_save",
    "stage_by_interviewee_figure",
    "stage_distribution_figure",
    "stage_quotes",
    "stage_summary",
    "taxonomy_table",
    "theme_cooccurrence_figure",
    "theme_heatmap_figure",
    "theme_tables",
    "theme_tables_for",
    "topic_barchart",
    "topic_hierarchy",
    "topic_stage_figure",
    "topic_stage_table",
    "topic_table",
    "topics_per_interviewee",
    "words_by_role_figure",
    "FigureSet",
    "NoChart",
    "REPORT_CHARTS",
    "RunCharts",
    "figure_size",
    "paper_figures",
    "prepare_figure_folder",
    "write_figures",
    "Codebook",
    "REFERENCE_HUMAN_AGREEMENT",
    "SET_ASIDE",
    "AgreementPage",
    "NO_REFERENCE_CODES",
    "agreement_page",
    "agreement_without_codes",
    "best_excerpt",
    "codebook",
    "codebook_for",
    "human_agreement_sentence",
    "methods_summary",
    "quote_clarity",
    "stage_exemplars",
    "theme_quotes",
]
