"""The transition table in scns.domain.states is what the SQL guards enforce.

The guards live in the statements (``UPDATE ... WHERE state = ...``), so the table could
drift from them unnoticed; these checks tie the two together: every guarded statement,
tried from every state, moves a job only along an edge of the table, and every call site
that supplies its own guard (finish, requeue) names only allowed edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import scns
from scns.db import statements as sql
from scns.db.engine import Database
from scns.domain.states import TERMINAL, JobState, can_move
from tests.db.test_statements import add_jobs, add_node

STATEMENTS = {
    "allocate": lambda tx, i: sql.allocate(tx, i, "n1", [0], 0, 2000.0),
    "mark_running": lambda tx, i: sql.mark_running(tx, i, 4321, 1, 2000.0),
    "cancel_pending": lambda tx, i: sql.cancel_pending(tx, [i], 2000.0, "test"),
}


@pytest.mark.parametrize("statement", sorted(STATEMENTS))
def test_guarded_statements_only_follow_the_table(db: Database, statement: str) -> None:
    add_node(db)
    for state in JobState:
        (job_id,) = add_jobs(db)
        with db.write() as tx:
            tx.run("UPDATE jobs SET state = :s, node = 'n1', cpu_ids = '1' WHERE id = :i",
                   {"s": state.value, "i": job_id})  # fmt: skip
        with db.write() as tx:
            STATEMENTS[statement](tx, job_id)
        with db.read() as tx:
            after = sql.get_job(tx, job_id).state
        assert after == state or can_move(state, after), f"{statement}: {state} -> {after}"
        with db.write() as tx:  # free the core for the next round
            tx.run("DELETE FROM core_claims")
            tx.run("UPDATE allocations SET released_time = 1")


def _guard_calls() -> list[tuple[str, int, list[str], list[str]]]:
    """(file, line, expected states, target states) of every literal finish/requeue guard."""
    found = []
    for path in sorted(Path(scns.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in ("finish", "requeue"):
                continue
            kw = {k.arg: k.value for k in node.keywords}
            expected = kw.get("expected")
            if not isinstance(expected, ast.List) or not all(
                isinstance(e, ast.Constant) for e in expected.elts
            ):
                continue  # a guard computed at run time (recovery's requeue of the live state)
            if node.func.attr == "requeue":
                targets = ["PENDING"]
            elif isinstance(kw.get("state"), ast.Constant):
                targets = [kw["state"].value]
            else:  # an outcome() state: terminal, whichever it is
                targets = sorted(s.value for s in TERMINAL)
            found.append((path.name, node.lineno, [e.value for e in expected.elts], targets))
    return found


def test_every_literal_guard_names_allowed_transitions() -> None:
    calls = _guard_calls()
    assert len(calls) >= 6  # the daemon's, the scheduler's, cleanup's and recovery's
    for name, line, expected, targets in calls:
        for source in expected:
            for target in targets:
                assert can_move(JobState(source), JobState(target)), f"{name}:{line}"
