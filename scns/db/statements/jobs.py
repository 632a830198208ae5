"""Statements about jobs as users see them: submitting, reading, cancelling, holding."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from scns.db.engine import Tx, in_clause
from scns.db.statements.common import COLS as _COLS
from scns.db.statements.common import LIVE as _LIVE
from scns.db.statements.common import job_from_row as _job
from scns.domain.job import JOB_COLUMNS, Job


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


def known_job_ids(tx: Tx, ids: Iterable[int]) -> set[int]:
    marks, params = in_clause("i", ids)
    return {r[0] for r in tx.rows(f"SELECT id FROM jobs WHERE id IN ({marks})", params)}


def get_job(tx: Tx, job_id: int) -> Job | None:
    row = tx.one(f"SELECT {_COLS} FROM jobs WHERE id = :id", {"id": job_id})
    return _job(row) if row else None


def get_jobs(tx: Tx, ids: Sequence[int]) -> list[Job]:
    marks, params = in_clause("i", ids)
    return [_job(r) for r in tx.rows(f"SELECT {_COLS} FROM jobs WHERE id IN ({marks})", params)]


def get_array_task(tx: Tx, array_job_id: int, task_id: int) -> Job | None:
    row = tx.one(
        f"SELECT {_COLS} FROM jobs WHERE array_job_id = :a AND array_task_id = :t",
        {"a": array_job_id, "t": task_id},
    )
    return _job(row) if row else None


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
    if node is not None:
        where, params = "j.node = :node AND j.state = 'CONFIGURING'", {"node": node}
    else:
        marks, params = in_clause("i", job_ids)
        where = f"j.id IN ({marks})"
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


def list_jobs(
    tx: Tx,
    *,
    states: Sequence[str] | None = None,
    include_finished: bool = False,
    limit: int | None = None,
    newest_first: bool = False,
    uid: int | None = None,
) -> list[Job]:
    """Jobs for ``queue``: live ones by default, filtered by state when asked."""
    where, params = _listing_filter(states, include_finished, uid)
    order = "id DESC" if newest_first else "id"
    sql = f"SELECT {_COLS} FROM jobs WHERE {where} ORDER BY {order}"
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [_job(r) for r in tx.rows(sql, params)]


def _listing_filter(states, include_finished: bool,
                    uid: int | None = None) -> tuple[str, dict[str, object]]:  # fmt: skip
    """The WHERE of a listing: given states, everything, or (by default) live jobs; only
    ``uid``'s jobs when given (other users' jobs hidden by the site)."""
    if states:
        marks, params = in_clause("s", states)
        where = f"state IN ({marks})"
    else:
        where, params = ("1 = 1" if include_finished else f"state IN {_LIVE}"), {}
    if uid is not None:
        where += " AND uid = :uid"
        params["uid"] = uid
    return where, params


def find_jobs(
    tx: Tx, *, ids: Sequence[int] = (), tasks: Sequence[tuple[int, int]] = (),
    names: Sequence[str] = (), uids: Sequence[int] = (), states: Sequence[str] = (),
    ended_since: float | None = None, submitted_before: float | None = None,
    include_finished: bool = True,
) -> list[Job]:  # fmt: skip
    """Jobs matching every given filter (the Slurm tools' -j, --name, -u, -t, -S, -E).

    ``ids`` match a job or every task of an array; ``tasks`` one array task each.
    ``ended_since`` keeps live jobs and those that ended at or after it.
    """
    where, params = ["1 = 1"], {}
    refs = []
    if ids:
        marks, p = in_clause("i", ids)
        params.update(p)
        refs.append(f"id IN ({marks}) OR array_job_id IN ({marks})")
    for n, (array_id, task) in enumerate(tasks):
        params[f"ta{n}"], params[f"tt{n}"] = array_id, task
        refs.append(f"(array_job_id = :ta{n} AND array_task_id = :tt{n})")
    if refs:
        where.append("(" + " OR ".join(refs) + ")")
    for column, values, key in (("name", names, "n"), ("uid", uids, "u"), ("state", states, "s")):
        if values:
            marks, p = in_clause(key, values)
            params.update(p)
            where.append(f"{column} IN ({marks})")
    if not include_finished:
        where.append(f"state IN {_LIVE}")
    if ended_since is not None:
        where.append(f"(state IN {_LIVE} OR end_time >= :ended_since)")
        params["ended_since"] = ended_since
    if submitted_before is not None:
        where.append("submit_time <= :submitted_before")
        params["submitted_before"] = submitted_before
    sql = f"SELECT {_COLS} FROM jobs WHERE {' AND '.join(where)} ORDER BY id"
    return [_job(r) for r in tx.rows(sql, params)]


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
    marks, params = in_clause("i", ids)
    rows = tx.rows(f"SELECT id, state, exit_code FROM jobs WHERE id IN ({marks})", params)
    return {r[0]: (r[1], r[2]) for r in rows}


def array_stats(tx: Tx, array_job_id: int) -> dict[str, int]:
    row = tx.one(
        "SELECT COUNT(*), MIN(array_task_id), MAX(array_task_id) FROM jobs WHERE array_job_id = :a",
        {"a": array_job_id},
    )
    return {"count": row[0], "min": row[1], "max": row[2]}


def cancel_pending(tx: Tx, job_ids: Sequence[int], now: float, reason: str) -> list[int]:
    """PENDING -> CANCELLED at once; returns the ids that were still pending."""
    marks, params = in_clause("i", job_ids)
    params.update(now=now, reason=reason)
    rows = tx.rows(
        f"UPDATE jobs SET state = 'CANCELLED', end_time = :now, reason = :reason"
        f" WHERE id IN ({marks}) AND state = 'PENDING' RETURNING id",
        params,
    )
    return [r[0] for r in rows]


def request_cancel(tx: Tx, job_ids: Sequence[int]) -> list[tuple[int, str | None]]:
    """Flag live allocated jobs for their node's daemon to signal; returns (id, node)."""
    marks, params = in_clause("i", job_ids)
    return [
        (r[0], r[1])
        for r in tx.rows(
            f"UPDATE jobs SET cancel_requested = 1 WHERE id IN ({marks})"
            " AND state IN ('CONFIGURING', 'RUNNING') RETURNING id, node",
            params,
        )
    ]


def request_signal(tx: Tx, job_ids: Sequence[int], sig: int) -> list[int]:
    """Ask running jobs' nodes to deliver ``sig`` (scancel --signal); returns those asked."""
    marks, params = in_clause("i", job_ids)
    params["sig"] = sig
    rows = tx.rows(
        f"UPDATE jobs SET pending_signal = :sig WHERE id IN ({marks}) AND state = 'RUNNING'"
        " RETURNING id",
        params,
    )
    return [r[0] for r in rows]


def request_requeue(tx: Tx, job_ids: Sequence[int]) -> list[int]:
    """Ask running jobs' nodes to end them and put them back in the queue (scontrol
    requeue); returns those asked."""
    marks, params = in_clause("i", job_ids)
    rows = tx.rows(
        "UPDATE jobs SET requeue_requested = 1, cancel_requested = 1"
        f" WHERE id IN ({marks}) AND state = 'RUNNING' RETURNING id",
        params,
    )
    return [r[0] for r in rows]


_UPDATABLE = ("priority", "nice", "time_limit_s")


def hold_pending(tx: Tx, job_ids: Sequence[int]) -> list[int]:
    """Hold pending jobs (PENDING stays PENDING, held = 1); returns the ids that were pending."""
    marks, params = in_clause("i", job_ids)
    rows = tx.rows(
        "UPDATE jobs SET held = 1, reason = 'JobHeldUser', expected_start_time = NULL"
        f" WHERE id IN ({marks}) AND state = 'PENDING' RETURNING id",
        params,
    )
    return [r[0] for r in rows]


def release_held(tx: Tx, job_ids: Sequence[int]) -> list[int]:
    """Release held pending jobs for the next pass to judge; returns the ids that were held."""
    marks, params = in_clause("i", job_ids)
    rows = tx.rows(
        "UPDATE jobs SET held = 0, reason = NULL"
        f" WHERE id IN ({marks}) AND held = 1 AND state = 'PENDING' RETURNING id",
        params,
    )
    return [r[0] for r in rows]


def update_pending(tx: Tx, job_ids: Sequence[int], fields: dict[str, object]) -> int:
    """Change priority, nice or time limit of jobs still PENDING; returns how many matched."""
    unknown = set(fields) - set(_UPDATABLE)
    if unknown or not fields:
        raise ValueError(f"cannot update columns {sorted(unknown) or 'none'}")
    marks, params = in_clause("i", job_ids)
    params.update({f"v_{name}": value for name, value in fields.items()})
    assignments = ", ".join(f"{name} = :v_{name}" for name in fields)
    return tx.run(
        f"UPDATE jobs SET {assignments} WHERE id IN ({marks}) AND state = 'PENDING'", params
    )


def update_running_time(tx: Tx, job_ids: Sequence[int], time_limit_s: int | None) -> int:
    """Change the time limit of jobs already allocated or running (their node picks it up
    on its next look around); returns how many matched."""
    marks, params = in_clause("i", job_ids)
    params["limit"] = time_limit_s
    return tx.run(
        f"UPDATE jobs SET time_limit_s = :limit WHERE id IN ({marks})"
        " AND state IN ('CONFIGURING', 'RUNNING')",
        params,
    )


def job_events(tx: Tx, job_id: int) -> list[tuple[float, str, str | None]]:
    return tx.rows(
        "SELECT time, kind, detail FROM events WHERE job_id = :id ORDER BY id", {"id": job_id}
    )


def purgeable_jobs(tx: Tx, cutoff: float) -> list[tuple[int, str, str, int, int]]:
    """(id, stdout, stderr, uid, gid) of finished jobs older than ``cutoff``; an array only
    as a whole, since its first task holds the script every task runs."""
    return tx.rows(
        "SELECT j.id, j.stdout_path, j.stderr_path, j.uid, j.gid FROM jobs j"
        " WHERE j.state NOT IN ('PENDING', 'CONFIGURING', 'RUNNING') AND j.end_time < :cutoff"
        " AND (j.array_job_id IS NULL OR NOT EXISTS (SELECT 1 FROM jobs t"
        " WHERE t.array_job_id = j.array_job_id AND (t.state IN ('PENDING', 'CONFIGURING',"
        " 'RUNNING') OR t.end_time >= :cutoff))) ORDER BY j.id",
        {"cutoff": cutoff},
    )


def delete_jobs(tx: Tx, job_ids: Sequence[int]) -> None:
    """Delete finished jobs with their history (allocations and claims cascade)."""
    for start in range(0, len(job_ids), 5000):
        chunk = job_ids[start : start + 5000]
        marks, params = in_clause("i", chunk)
        tx.run(f"DELETE FROM events WHERE job_id IN ({marks})", params)
        tx.run(f"DELETE FROM core_claims WHERE job_id IN ({marks})", params)
        tx.run(f"DELETE FROM allocations WHERE job_id IN ({marks})", params)
        tx.run(f"DELETE FROM jobs WHERE id IN ({marks})", params)


QUEUE_COLUMNS = (
    "id, array_job_id, array_task_id, name, user_name, state, reason, node, start_time,"
    " end_time, time_limit_s, cpus"
)


def _duration_sql(seconds: str) -> str:
    """SQLite text for timespec.format_duration of an integer expression (NULL: UNLIMITED)."""
    d = seconds
    return (
        f"CASE WHEN {d} IS NULL THEN 'UNLIMITED'"
        f" WHEN {d} >= 86400 THEN printf('%d-%02d:%02d:%02d', {d} / 86400, {d} % 86400 / 3600,"
        f" {d} % 3600 / 60, {d} % 60)"
        f" WHEN {d} >= 3600 THEN printf('%d:%02d:%02d', {d} / 3600, {d} % 3600 / 60, {d} % 60)"
        f" ELSE printf('%d:%02d', {d} / 60, {d} % 60) END"
    )


# render.print_queue's line, built by SQLite itself: with 100,000 pending jobs, fetching one
# ready string per row instead of twelve values, and formatting in C, halves `scns queue`.
# ("!" makes widths and precisions count characters, as Python's format does.) Built on
# first use: the short state codes come from the state enum, which submit never imports.
_QUEUE_LINE_SQL: list[str] = []


def _queue_line_sql() -> str:
    if not _QUEUE_LINE_SQL:
        from scns.domain.states import SHORT

        short = " ".join(f"WHEN '{state.value}' THEN '{code}'" for state, code in SHORT.items())
        _QUEUE_LINE_SQL.append(
            "printf('%14s %!-12.12s %!-10.10s %-3s %11s %11s %5d %s',"
            " CASE WHEN array_job_id IS NULL THEN id"
            " ELSE array_job_id || '_' || array_task_id END,"
            f" name, user_name, CASE state {short} ELSE state END, "
            + _duration_sql(
                "(CASE WHEN state = 'PENDING' OR start_time IS NULL THEN 0"
                " ELSE MAX(0, CAST(COALESCE(end_time, :now) - start_time AS INTEGER)) END)"
            )
            + ", "
            + _duration_sql("time_limit_s")
            + ", cpus,"
            " CASE WHEN state = 'PENDING' THEN '(' || COALESCE(reason, 'None') || ')'"
            " ELSE COALESCE(node, '') END)"
        )
    return _QUEUE_LINE_SQL[0]


def queue_lines(
    tx: Tx, now: float, *, states: Sequence[str] | None = None, include_finished: bool = False,
    limit: int | None = None, uid: int | None = None,
) -> list[tuple[str]]:  # fmt: skip
    """The ``queue`` table's lines, formatted by SQLite (see _queue_line_sql)."""
    where, params = _listing_filter(states, include_finished, uid)
    params["now"] = now
    sql = f"SELECT {_queue_line_sql()} FROM jobs WHERE {where} ORDER BY id"
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return tx.rows(sql, params)


def queue_table(
    tx: Tx, *, states: Sequence[str] | None = None, include_finished: bool = False,
    limit: int | None = None, uid: int | None = None,
) -> list[tuple]:  # fmt: skip
    """Only the columns the ``queue`` table shows: a 100,000-job queue prints in well under
    a second when rows stay narrow tuples instead of full job records."""
    where, params = _listing_filter(states, include_finished, uid)
    sql = f"SELECT {QUEUE_COLUMNS} FROM jobs WHERE {where} ORDER BY id"
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return tx.rows(sql, params)
