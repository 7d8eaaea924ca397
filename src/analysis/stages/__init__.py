"""Step 4, stages: the lifecycle taxonomy (data a researcher edits), the stage coder
(``StageCoder.fit`` / ``predict``: calibrated probabilities from the rule's signals) and
the review queue of the researcher loop."""

from ._coder import (
    FewShotFit,
    StageCoder,
    StageCoding,
    StageSettings,
    codability,
    few_shot_leave_one_out,
    leave_one_interview_out,
    read_stage_csv,
    stage_list,
    stage_scores,
    topic_stage_mix,
    write_stage_csv,
)
from ._learned import StageModel, f1_threshold, fit_model, model_to_dict, prior_model
from ._review import (
    ACQUISITIONS,
    DEFAULT_ACQUISITION,
    Oracle,
    choose_acquisition,
    review_priority,
    review_queue,
    simulate_review,
)
from ._signals import StageSignals, cue_hits, stage_signals
from ._taxonomy import Stage, Taxonomy, load_taxonomy

__all__ = [
    "ACQUISITIONS",
    "DEFAULT_ACQUISITION",
    "FewShotFit",
    "Oracle",
    "Stage",
    "StageCoder",
    "StageCoding",
    "StageModel",
    "StageSettings",
    "StageSignals",
    "Taxonomy",
    "choose_acquisition",
    "codability",
    "cue_hits",
    "f1_threshold",
    "few_shot_leave_one_out",
    "fit_model",
    "leave_one_interview_out",
    "load_taxonomy",
    "model_to_dict",
    "prior_model",
    "read_stage_csv",
    "review_priority",
    "review_queue",
    "simulate_review",
    "stage_list",
    "stage_scores",
    "stage_signals",
    "topic_stage_mix",
    "write_stage_csv",
]
