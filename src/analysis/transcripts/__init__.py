"""Step 1, load: transcripts (plain ``Speaker: text``, Delve Markdown, WebVTT/SRT,
``.docx``) into a turns table with every input line accounted for, and which answers
carry content."""

from ._corpus import TURN_COLUMNS, IngestSettings, LoadedCorpus, interview_summary, load_corpus
from ._meta_talk import MetaTalkSettings, meta_talk_answers, meta_talk_topics
from ._privacy import Deidentifier, introduced_names, read_pseudonyms
from ._substance import SubstanceSettings, mark_substantive, substance_table

__all__ = [
    "TURN_COLUMNS",
    "Deidentifier",
    "IngestSettings",
    "LoadedCorpus",
    "MetaTalkSettings",
    "SubstanceSettings",
    "interview_summary",
    "introduced_names",
    "load_corpus",
    "mark_substantive",
    "meta_talk_answers",
    "meta_talk_topics",
    "read_pseudonyms",
    "substance_table",
]
