"""The CLI parses, calls the service layer and renders: it never builds SQL. (Which layer
may import which is import-linter's contract in pyproject.toml, run by `make lint`.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import scns

ROOT = Path(scns.__file__).parent


@pytest.mark.parametrize("path", sorted((ROOT / "cli").rglob("*.py")), ids=lambda p: p.name)
def test_cli_builds_no_sql(path: Path) -> None:
    text = path.read_text()
    for keyword in ("SELECT ", "UPDATE ", "INSERT ", "DELETE "):
        assert keyword not in text, f"{path.name} contains SQL ({keyword.strip()})"


def test_no_sql_outside_the_database_layer() -> None:
    """Every statement is a named function in scns/db/statements (or the schema's own)."""
    outside = [
        f"{path.relative_to(ROOT)}: {keyword.strip()}"
        for path in sorted(ROOT.rglob("*.py"))
        if path.relative_to(ROOT).parts[0] != "db"
        for keyword in ("SELECT ", "UPDATE ", "INSERT ", "DELETE ")
        if keyword in path.read_text()
    ]
    assert outside == []
