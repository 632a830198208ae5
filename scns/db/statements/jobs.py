"""Statements about jobs as users see them: submitting, reading, cancelling, holding."""

from __future__ import annotations

from scns.db.engine import Tx, any_of, id_rows
from scns.db.statements.common import ALLOCATED as _ALLOCATED
from scns.db.statements.common import COLS as _COLS
from scns.db.statements.common import LIVE as _LIVE
from scns.db.statements.common import job_from_row as _job
from scns.domain.job import JOB_COLUMNS, Job

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc loads collections (~2 ms a command)
    from collections.abc import Iterable, Sequence
    from typing import TypeAlias

    # What a bulk statement acts on: these ids, or every task of one array.
    Target: TypeAlias = "Sequence[int] | WholeArray"


def reserve_job_ids(tx: Tx, count: int) -> list[int]:
    """Ids for ``count`` new jobs; on SQLite the caller holds the write lock (BEGIN IMMEDIATE)."""
    if tx.dialect == "postgresql":
        rows = tx.rows(
            "SELECT nextval(pg_get_serial_sequence('jobs', 'id')) FROM generate_series(1, :n)",
            {"n": count},
        )
        return [r[0] for r in rows]
    row = tx.one(
        "SELECT MAX(n) FROM (SELECT seq AS n FROM sqlite_sequence WHERE name = 'jobs'"
        " UNION ALL SELECT MAX(id) FROM jobs)"
    )
    assert row is not None  # an aggregate without GROUP BY returns one row
    first = (row[0] or 0) + 1
    return list(range(first, first + count))


def insert_jobs(tx: Tx, rows: Sequence[dict[str, object]]) -> None:
    """Insert fully formed job rows (ids included) in one batch."""
    if not rows:
        return
    cols = list(rows[0])
    sql = f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
    if len(rows) == 1:
        tx.run(sql, rows[0])
    else:
        tx.many(sql, rows)


def insert_array_tasks(tx: Tx, shared: dict[str, object], array_id: int,
                       tasks: Sequence[tuple[int, str, str, int]]) -> None:  # fmt: skip
    """Insert an array's further tasks, (id, stdout, stderr, task id) each, with the
    columns they share: one statement over a JSON list (the loop runs in the database:
    100,000 tasks in well under a second on SQLite, one round trip on PostgreSQL instead of
    one per task)."""
    from scns.domain.compact_json import dumps

    own = ("id", "stdout_path", "stderr_path", "array_job_id", "array_task_id")
    shared = {c: v for c, v in shared.items() if c not in own}
    cols = list(shared)
    data = "[" + ",".join(f"[{i},{dumps(o)},{dumps(e)},{t}]" for i, o, e, t in tasks) + "]"
    if tx.dialect == "postgresql":
        _insert_array_tasks_pg(tx, shared, array_id, data)
        return
    tx.run(
        f"INSERT INTO jobs ({', '.join(cols)}, id, stdout_path, stderr_path, array_job_id,"
        f" array_task_id) SELECT {', '.join(':' + c for c in cols)},"
        " json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
        " json_extract(value, '$[2]'), :array_job_id, json_extract(value, '$[3]')"
        " FROM json_each(:tasks)",
        {**shared, "array_job_id": array_id, "tasks": data},
    )


def _insert_array_tasks_pg(tx: Tx, shared: dict[str, object], array_id: int, data: str) -> None:
    """The shared columns travel as one JSON object that PostgreSQL reads into a row of
    ``jobs`` (jsonb_populate_record: each value takes its column's type, so nothing is sent
    untyped), joined with the tasks' JSON list."""
    import json

    values = {c: int(v) if isinstance(v, bool) else v for c, v in shared.items()}
    cols = list(values)
    tx.run(
        f"INSERT INTO jobs ({', '.join(cols)}, id, stdout_path, stderr_path, array_job_id,"
        f" array_task_id) SELECT {', '.join('s.' + c for c in cols)}, CAST(t->>0 AS INT),"
        " t->>1, t->>2, CAST(:array_job_id AS INT), CAST(t->>3 AS INT)"
        " FROM jsonb_populate_record(NULL::jobs, CAST(:shared AS jsonb)) s,"
        " jsonb_array_elements(CAST(:tasks AS jsonb)) t",
        {"shared": json.dumps(values), "array_job_id": array_id, "tasks": data},
    )


def known_job_ids(tx: Tx, ids: Iterable[int]) -> set[int]:
    marks, params = any_of("i", ids, tx.dialect)
    return {r[0] for r in tx.rows(f"SELECT id FROM jobs WHERE id {marks}", params)}


def get_job(tx: Tx, job_id: int) -> Job | None:
    row = tx.one(f"SELECT {_COLS} FROM jobs WHERE id = :id", {"id": job_id})
    return _job(row) if row else None


def get_jobs(tx: Tx, ids: Sequence[int]) -> list[Job]:
    marks, params = any_of("i", ids, tx.dialect)
    return [_job(r) for r in tx.rows(f"SELECT {_COLS} FROM jobs WHERE id {marks}", params)]


def get_array_task(tx: Tx, array_job_id: int, task_id: int) -> Job | None:
    row = tx.one(
        f"SELECT {_COLS} FROM jobs WHERE array_job_id = :a AND array_task_id = :t",
        {"a": array_job_id, "t": task_id},
    )
    return _job(row) if row else None


def get_array_briefs(tx: Tx, array_job_id: int) -> list:
    """JobBrief of every task of an array, in task order (what bulk commands need)."""
    from scns.domain.brief import BRIEF_COLUMNS, brief_from_row

    rows = tx.rows(
        f"SELECT {BRIEF_COLUMNS} FROM jobs WHERE array_job_id = :a ORDER BY array_task_id",
        {"a": array_job_id},
    )
    return [brief_from_row(r) for r in rows]


def get_array_jobs(tx: Tx, array_job_id: int) -> list[Job]:
    rows = tx.rows(
        f"SELECT {_COLS} FROM jobs WHERE array_job_id = :a ORDER BY array_task_id",
        {"a": array_job_id},
    )
    return [_job(r) for r in rows]


def jobs_to_launch(
    tx: Tx, job_ids: Sequence[int] = (), *, node: str | None = None
) -> list[tuple[Job, tuple[str, str, str]]]:
    """Jobs with their (script, argv json, environment json), in one query: these ids, or
    (``node``) every job allocated to that node and not started yet."""
    params: dict[str, object]
    if node is not None:
        where, params = "j.node = :node AND j.state = 'CONFIGURING'", {"node": node}
    else:
        marks, params = any_of("i", job_ids, tx.dialect)
        where = f"j.id {marks}"
    cols = ", ".join(f"j.{c}" for c in JOB_COLUMNS)
    rows = tx.rows(
        f"SELECT {cols}, CASE WHEN j.script = '' THEN m.script ELSE j.script END,"
        " CASE WHEN j.script = '' THEN m.argv ELSE j.argv END,"
        " CASE WHEN j.script = '' THEN m.environment ELSE j.environment END"
        f" FROM jobs j LEFT JOIN jobs m ON m.id = j.array_job_id WHERE {where} ORDER BY j.id",
        params,
    )
    n = len(JOB_COLUMNS)
    return [(_job(r[:n]), (r[n], r[n + 1], r[n + 2])) for r in rows]


def count_live_jobs(tx: Tx, uid: int, *, lock: bool = False) -> int:
    """Pending and running jobs of one user (array tasks one by one), for max_jobs_per_user.

    ``lock``: hold the user's submit lock until the transaction ends, so two submits racing
    on PostgreSQL cannot both count below the limit (SQLite's write lock already does).
    """
    if lock and tx.dialect == "postgresql":
        tx.rows("SELECT pg_advisory_xact_lock(7310, :uid)", {"uid": uid})
    row = tx.one(f"SELECT COUNT(*) FROM jobs WHERE state IN {_LIVE} AND uid = :uid", {"uid": uid})
    return int(row[0]) if row else 0


def job_states(tx: Tx, ids: Iterable[int]) -> dict[int, tuple[str, int | None]]:
    """State and exit code of each job, for evaluating dependencies."""
    marks, params = any_of("i", ids, tx.dialect)
    rows = tx.rows(f"SELECT id, state, exit_code FROM jobs WHERE id {marks}", params)
    return {r[0]: (r[1], r[2]) for r in rows}


class WholeArray:
    """Every task of an array, named by the array's id: bulk statements then select
    ``WHERE array_job_id = :a`` (the array index) instead of binding 100,000 ids."""

    __slots__ = ("array_job_id",)

    def __init__(self, array_job_id: int) -> None:
        self.array_job_id = array_job_id

    def __repr__(self) -> str:
        return f"WholeArray({self.array_job_id})"


def _where(tx: Tx, target: Target) -> tuple[str, dict[str, object]]:
    """The WHERE condition naming ``target``, and its parameters."""
    if isinstance(target, WholeArray):
        return "array_job_id = :a", {"a": target.array_job_id}
    marks, params = any_of("i", target, tx.dialect)
    return f"id {marks}", params


def array_owners(tx: Tx, array_job_id: int) -> dict[int, int]:
    """{uid: how many tasks} of an array: what a rights check needs, without its rows."""
    rows = tx.rows("SELECT uid, COUNT(*) FROM jobs WHERE array_job_id = :a GROUP BY uid",
                   {"a": array_job_id})  # fmt: skip
    return {r[0]: r[1] for r in rows}


def add_events(tx: Tx, job_ids: Sequence[int], now: float, kind: str,
               detail: str | None) -> None:  # fmt: skip
    """The same event for many jobs, in one statement (an array's 100,000 tasks). The ids
    are ones this transaction just changed (they exist): they are not looked up again."""
    if not job_ids:
        return
    source, params = id_rows("ids", job_ids, tx.dialect)
    params.update(now=now, kind=kind, detail=detail)
    tx.run(
        f"INSERT INTO events (job_id, time, kind, detail) SELECT x.*, :now, :kind, :detail"
        f" FROM ({source}) x",
        params,
    )


def distinct_states(tx: Tx, target: Target) -> set[str]:
    """The states these jobs are in (one row per state, not per job)."""
    where, params = _where(tx, target)
    return {r[0] for r in tx.rows(f"SELECT DISTINCT state FROM jobs WHERE {where}", params)}


def array_stats(tx: Tx, array_job_id: int) -> dict[str, int]:
    row = tx.one(
        "SELECT COUNT(*), MIN(array_task_id), MAX(array_task_id) FROM jobs WHERE array_job_id = :a",
        {"a": array_job_id},
    )
    assert row is not None  # an aggregate without GROUP BY returns one row
    return {"count": row[0], "min": row[1], "max": row[2]}


def cancel_pending(tx: Tx, target: Target, now: float, reason: str) -> list[int]:
    """PENDING -> CANCELLED at once; returns the ids that were still pending."""
    where, params = _where(tx, target)
    params.update(now=now, reason=reason)
    rows = tx.rows(
        f"UPDATE jobs SET state = 'CANCELLED', end_time = :now, reason = :reason"
        f" WHERE {where} AND state = 'PENDING' RETURNING id",
        params,
    )
    return [r[0] for r in rows]


def request_cancel(tx: Tx, target: Target) -> list[tuple[int, str | None]]:
    """Flag live allocated jobs for their node's daemon to signal; returns (id, node)."""
    where, params = _where(tx, target)
    return [
        (r[0], r[1])
        for r in tx.rows(
            f"UPDATE jobs SET cancel_requested = 1 WHERE {where}"
            f" AND state IN {_ALLOCATED} RETURNING id, node",
            params,
        )
    ]


def request_signal(tx: Tx, target: Target, sig: int) -> list[int]:
    """Ask running jobs' nodes to deliver ``sig`` (scancel --signal); returns those asked."""
    where, params = _where(tx, target)
    params["sig"] = sig
    rows = tx.rows(
        f"UPDATE jobs SET pending_signal = :sig WHERE {where} AND state = 'RUNNING' RETURNING id",
        params,
    )
    return [r[0] for r in rows]


def request_requeue(tx: Tx, job_ids: Sequence[int]) -> list[int]:
    """Ask running jobs' nodes to end them and put them back in the queue (scontrol
    requeue); returns those asked."""
    marks, params = any_of("i", job_ids, tx.dialect)
    rows = tx.rows(
        "UPDATE jobs SET requeue_requested = 1, cancel_requested = 1"
        f" WHERE id {marks} AND state = 'RUNNING' RETURNING id",
        params,
    )
    return [r[0] for r in rows]


_UPDATABLE = ("priority", "nice", "time_limit_s")


def hold_pending(tx: Tx, target: Target) -> int:
    """Hold pending jobs (PENDING stays PENDING, held = 1); returns how many were pending."""
    where, params = _where(tx, target)
    return tx.run(
        "UPDATE jobs SET held = 1, reason = 'JobHeldUser', expected_start_time = NULL"
        f" WHERE {where} AND state = 'PENDING'",
        params,
    )


def release_held(tx: Tx, target: Target) -> int:
    """Release held pending jobs for the next pass to judge; returns how many were held."""
    where, params = _where(tx, target)
    return tx.run(
        f"UPDATE jobs SET held = 0, reason = NULL WHERE {where} AND held = 1 AND state = 'PENDING'",
        params,
    )


def update_pending(tx: Tx, job_ids: Sequence[int], fields: dict[str, object]) -> int:
    """Change priority, nice or time limit of jobs still PENDING; returns how many matched."""
    unknown = set(fields) - set(_UPDATABLE)
    if unknown or not fields:
        raise ValueError(f"cannot update columns {sorted(unknown) or 'none'}")
    marks, params = any_of("i", job_ids, tx.dialect)
    params.update({f"v_{name}": value for name, value in fields.items()})
    assignments = ", ".join(f"{name} = :v_{name}" for name in fields)
    return tx.run(f"UPDATE jobs SET {assignments} WHERE id {marks} AND state = 'PENDING'", params)


def update_running_time(tx: Tx, job_ids: Sequence[int], time_limit_s: int | None) -> int:
    """Change the time limit of jobs already allocated or running (their node picks it up
    on its next look around); returns how many matched."""
    marks, params = any_of("i", job_ids, tx.dialect)
    params["limit"] = time_limit_s
    return tx.run(
        f"UPDATE jobs SET time_limit_s = :limit WHERE id {marks} AND state IN {_ALLOCATED}",
        params,
    )


def job_events(tx: Tx, job_id: int) -> list[tuple[float, str, str | None]]:
    return tx.rows(
        "SELECT time, kind, detail FROM events WHERE job_id = :id ORDER BY id", {"id": job_id}
    )


def purgeable_jobs(tx: Tx, cutoff: float) -> list[tuple[int, str, str, int, int]]:
    """(id, stdout, stderr, uid, gid) of finished jobs older than ``cutoff``; an array only
    as a whole, since its first task holds the script every task runs.

    Linear in the number of jobs: an array's eligibility is decided once per array (one
    grouped pass), never by a subquery per task.
    """
    cols = "j.id, j.stdout_path, j.stderr_path, j.uid, j.gid"
    return tx.rows(
        f"SELECT {cols} FROM jobs j WHERE j.array_job_id IS NULL"
        f" AND j.state NOT IN {_LIVE} AND j.end_time < :cutoff"
        f" UNION ALL SELECT {cols} FROM jobs j JOIN (SELECT array_job_id FROM jobs"
        " WHERE array_job_id IS NOT NULL GROUP BY array_job_id"
        f" HAVING SUM(CASE WHEN state IN {_LIVE} OR end_time IS NULL OR end_time >= :cutoff"
        " THEN 1 ELSE 0 END) = 0) a ON j.array_job_id = a.array_job_id ORDER BY 1",
        {"cutoff": cutoff},
    )


def delete_jobs(tx: Tx, job_ids: Sequence[int]) -> None:
    """Delete finished jobs with their history (allocations and claims cascade)."""
    for start in range(0, len(job_ids), 50_000):
        chunk = job_ids[start : start + 50_000]
        marks, params = any_of("i", chunk, tx.dialect)
        tx.run(f"DELETE FROM events WHERE job_id {marks}", params)
        tx.run(f"DELETE FROM core_claims WHERE job_id {marks}", params)
        tx.run(f"DELETE FROM allocations WHERE job_id {marks}", params)
        tx.run(f"DELETE FROM jobs WHERE id {marks}", params)
