"""Why a pending job may not start yet, before resources are even considered:
a future --begin time, or a --dependency (including singleton) that is not satisfied."""

from __future__ import annotations

from scns.db import statements as sql
from scns.db.engine import Tx
from scns.db.rows import PendingRow
from scns.domain.dependency import NEVER, SATISFIED, JobRef, evaluate, parse_dependency
from scns.domain.state_names import LIVE_NAMES


def blocked_reasons(tx: Tx, rows: list[PendingRow], now: float) -> tuple[dict[int, str], list[int]]:
    """({job id: Slurm reason}, ids to cancel because of --kill-on-invalid-dep=yes)."""
    blocked: dict[int, str] = {}
    kill: list[int] = []
    deps = {r.id: parse_dependency(r.dependency) for r in rows if r.dependency}
    states = _ref_states(tx, {ref for d in deps.values() for ref in d.job_refs()})
    singles = _singleton_busy(tx, rows, deps)
    for row in rows:
        job_id, begin = row.id, row.begin_time
        if job_id in deps:
            verdict = evaluate(deps[job_id], states, singleton_clear=job_id not in singles)
            if verdict == NEVER:
                if row.kill_on_invalid_dep:
                    kill.append(job_id)
                blocked[job_id] = "DependencyNeverSatisfied"
                continue
            if verdict != SATISFIED:
                blocked[job_id] = "Dependency"
                continue
        if begin is not None and begin > now:
            blocked[job_id] = "BeginTime"
    return blocked, kill


def _ref_states(tx: Tx, refs: set[JobRef]) -> dict[JobRef, tuple[str, int | None]]:
    """State per referenced job; a whole array counts as one job (all tasks must finish)."""
    if not refs:
        return {}
    ids = {ref.job_id for ref in refs}
    rows = sql.referenced_job_states(tx, ids)
    found: dict[JobRef, tuple[str, int | None]] = {}
    arrays: dict[int, list[tuple[str, int | None]]] = {}
    for job_id, array_id, task_id, state, code in rows:
        if array_id is not None:
            arrays.setdefault(array_id, []).append((state, code))
            found[JobRef(array_id, task_id)] = (state, code)
        if job_id in ids and array_id is None:
            found[JobRef(job_id)] = (state, code)
    for array_id, tasks in arrays.items():
        found[JobRef(array_id)] = _aggregate(tasks)
    for ref in refs:  # a ref to a purged job can never be satisfied by waiting
        found.setdefault(ref, ("CANCELLED", None))
    return found


def _aggregate(tasks: list[tuple[str, int | None]]) -> tuple[str, int | None]:
    states = {s for s, _ in tasks}
    if states <= {"PENDING"}:
        return "PENDING", None
    if states & set(LIVE_NAMES):
        return "RUNNING", None
    if states == {"COMPLETED"}:
        return "COMPLETED", 0
    return "FAILED", max((c or 0 for s, c in tasks if s != "COMPLETED"), default=1) or 1


def _singleton_busy(tx: Tx, rows: list[PendingRow], deps) -> set[int]:
    """Singleton jobs that must wait: an older job with the same name and user is live."""
    singles = [r for r in rows if r.id in deps and any(
        c.kind == "singleton" for c in deps[r.id].conditions)]  # fmt: skip
    return {r.id for r in singles if sql.has_live_namesake_before(tx, r.name, r.user_name, r.id)}
