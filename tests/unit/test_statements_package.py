"""scns.db.statements imports its submodules on first use: every name of ``__all__`` must
still be the very function the package's import list (for the type checker) names."""

from __future__ import annotations

import ast
import importlib
import inspect

from scns.db import statements


def _listed() -> dict[str, str]:
    """name -> submodule, from the package's ``from scns.db.statements.X import ...``."""
    tree = ast.parse(inspect.getsource(statements))
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "scns.db.statements."
        ):
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def test_every_exported_name_is_the_one_its_module_defines() -> None:
    listed = _listed()
    assert set(statements.__all__) <= set(listed)  # the list names every export
    for name in statements.__all__:
        module = importlib.import_module(listed[name])
        assert getattr(statements, name) is getattr(module, name), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        statements.no_such_statement  # noqa: B018 - the lookup is the test
    except AttributeError as exc:
        assert "no_such_statement" in str(exc)
    else:
        raise AssertionError("an unknown statement name resolved")
