"""The reads behind dependency and singleton checks: the states of the jobs a dependency
names, and whether an older namesake is still live."""

from __future__ import annotations

from scns.db.engine import Tx, any_of
from scns.db.statements.common import LIVE


def referenced_job_states(tx: Tx, ids: set[int]) -> list[tuple]:
    """(id, array_job_id, array_task_id, state, exit_code) of each job in ``ids`` and of
    every task of an array in ``ids``; the ids are one bound parameter."""
    marks, params = any_of("i", ids, tx.dialect)
    return tx.rows(
        f"SELECT id, array_job_id, array_task_id, state, exit_code FROM jobs"
        f" WHERE id {marks} OR array_job_id {marks}",
        params,
    )


def has_live_namesake_before(tx: Tx, name: str, user: str, job_id: int) -> bool:
    """True when an older job (lower id) of ``user`` named ``name`` is still live."""
    row = tx.one(
        "SELECT 1 FROM jobs WHERE name = :name AND user_name = :user AND id < :id"
        f" AND state IN {LIVE} LIMIT 1",
        {"name": name, "user": user, "id": job_id},
    )
    return row is not None
