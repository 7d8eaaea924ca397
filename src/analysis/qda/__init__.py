"""Hand the coding back to QDA tools: REFI-QDA project (``.qdpx``) and codebook
(``.qdc``), written and read, and tabular exports (CSV, ``.xlsx``)."""

from ._refi import Case, Code, Project, QdpxError, Selection, Source, build_project, read_qdpx, write_qdc, write_qdpx
from ._tables import coded_segments, interviewee_by_theme, write_xlsx

__all__ = [
    "Case",
    "Code",
    "Project",
    "QdpxError",
    "Selection",
    "Source",
    "build_project",
    "coded_segments",
    "interviewee_by_theme",
    "read_qdpx",
    "write_qdc",
    "write_qdpx",
    "write_xlsx",
]
