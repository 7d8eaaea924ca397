"""Human codes (Delve PDF prints, CSV, REFI-QDA ``.qdpx``) mapped to stages, and the
agreement of codings with each other (Cohen's kappa, F1, Krippendorff's alpha)."""

from ._agreement import (
    agreement,
    calibration,
    coded_range_labels,
    cohen_kappa,
    compare_coders,
    compare_to_consensus,
    evaluate_predictions,
    f1,
    headline,
    interview_intervals,
    krippendorff_alpha_nominal,
    per_stage_table,
    predicted_labels,
    reference_kinds,
    reference_labels,
    training_labels,
)
from ._code_map import CodeMap, load_code_map
from ._qdpx import qdpx_codes
from ._readers import CodedDocument, CodedTurn, HumanCodes, read_codes_folder, read_delve_pdf
from ._review_batch import import_review_batch, review_context, suggested_stages, write_review_batch
from ._review_log import REVIEW_LOG_NAME, ReviewLog

__all__ = [
    "calibration",
    "CodeMap",
    "CodedDocument",
    "CodedTurn",
    "HumanCodes",
    "REVIEW_LOG_NAME",
    "ReviewLog",
    "agreement",
    "coded_range_labels",
    "cohen_kappa",
    "compare_coders",
    "compare_to_consensus",
    "evaluate_predictions",
    "f1",
    "headline",
    "import_review_batch",
    "interview_intervals",
    "krippendorff_alpha_nominal",
    "load_code_map",
    "per_stage_table",
    "predicted_labels",
    "qdpx_codes",
    "read_codes_folder",
    "read_delve_pdf",
    "reference_kinds",
    "reference_labels",
    "review_context",
    "suggested_stages",
    "training_labels",
    "write_review_batch",
]
