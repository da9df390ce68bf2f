"""The docstring examples of the theory package and its widgets are true."""

import doctest
import importlib

import pytest

MODULES = ["workbench.theory.heavy_ball", "workbench.theory.kuramoto",
           "workbench.theory.spring_block", "workbench.widgets.theory"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
