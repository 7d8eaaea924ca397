"""The docstring examples of the package run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

# Every module of the package, found by walking it (the examples live beside the code,
# in the steps' modules, whatever they are named); the command line is left out.
PACKAGE = importlib.util.find_spec("analysis").submodule_search_locations
MODULES = sorted(m.name for m in pkgutil.walk_packages(PACKAGE, prefix="analysis.") if not m.name.endswith(".__main__"))


def test_the_walk_finds_each_step():
    steps = ["transcripts", "embeddings", "topics", "stages", "human_codes", "qda", "report"]
    assert {f"analysis.{s}" for s in steps} <= set(MODULES)
    assert all(any(m.startswith(f"analysis.{s}.") for m in MODULES) for s in steps)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
