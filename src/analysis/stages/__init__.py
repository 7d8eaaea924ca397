"""Step 4, stages: the lifecycle taxonomy (data a researcher edits) and the stage coder
(zero-shot, or calibrated on human codes: ``StageCoder.fit`` / ``predict``)."""

from ._coder import (
    FEW_SHOT_GRID,
    FewShotFit,
    StageCoder,
    StageCoding,
    StageSettings,
    codability,
    few_shot_leave_one_out,
    read_stage_csv,
    stage_list,
    stage_scores,
    topic_stage_mix,
    write_stage_csv,
)
from ._signals import StageSignals, cue_hits, stage_signals
from ._taxonomy import Stage, Taxonomy, load_taxonomy

__all__ = [
    "FEW_SHOT_GRID",
    "FewShotFit",
    "Stage",
    "StageCoder",
    "StageCoding",
    "StageSettings",
    "StageSignals",
    "Taxonomy",
    "codability",
    "cue_hits",
    "few_shot_leave_one_out",
    "load_taxonomy",
    "read_stage_csv",
    "stage_list",
    "stage_scores",
    "stage_signals",
    "topic_stage_mix",
    "write_stage_csv",
]
