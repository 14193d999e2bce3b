"""The examples in the package's docstrings are tests too: run every one of them."""

import doctest
import importlib
import pkgutil

import pytest

import rag

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(rag.__path__, "rag.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
