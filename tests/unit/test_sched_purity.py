"""The scheduler is the daemon's pure function: its modules import only the standard library."""

import ast
import sys
from pathlib import Path

import pytest

import scns.sched

MODULES = sorted(Path(scns.sched.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[path.name for path in MODULES])
def test_sched_imports_only_the_standard_library(path):
    tree = ast.parse(path.read_text())
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    imported += [
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    ]
    outside = [
        name
        for name in imported
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("scns.sched")
    ]
    assert outside == []
