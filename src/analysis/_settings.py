"""The base of every step's settings: strict (an unknown key is an error) and frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    """Settings of one step, validated where they are declared and composed by ``config.py``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
