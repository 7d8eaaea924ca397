"""The docstring examples of the package run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["_agreement", "_charts", "_codes", "_errors", "_exports", "_ingest", "_stage_views", "_substance",
           "_text", "_topic_views", "_topics"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"analysis.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in analysis.{name}"
