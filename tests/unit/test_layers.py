"""The layers show in the imports: pure domain code imports only the standard library (and
itself); adapters (db, exec, dispatch) never import the CLI or the daemon; the CLI builds no SQL."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import scns

ROOT = Path(scns.__file__).parent


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("domain"), ids=lambda p: p.name)
def test_domain_imports_only_stdlib_and_itself(path: Path) -> None:
    allowed = ("scns.domain", "scns.errors")
    outside = [
        name for name in imports_of(path)
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith(allowed)
    ]  # fmt: skip
    assert outside == []


ADAPTERS = modules("db") + modules("exec") + modules("dispatch")


@pytest.mark.parametrize("path", ADAPTERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_adapters_do_not_import_the_cli_or_the_service_layer(path: Path) -> None:
    bad = [n for n in imports_of(path) if n.startswith(("scns.cli", "scns.service"))]
    assert bad == []


@pytest.mark.parametrize("path", modules("cli"), ids=lambda p: p.name)
def test_cli_builds_no_sql(path: Path) -> None:
    text = path.read_text()
    for keyword in ("SELECT ", "UPDATE ", "INSERT ", "DELETE "):
        assert keyword not in text, f"{path.name} contains SQL ({keyword.strip()})"
