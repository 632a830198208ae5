"""Every SQL statement scns runs, each a named function over an open transaction.

State changes are guarded updates (``WHERE state = :expected``): the caller learns from the
returned row count whether it won, so racing daemons and CLIs can never both succeed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from scns.db.engine import Tx, in_clause
from scns.domain.job import JOB_COLUMNS, Job
from scns.domain.states import JobState

_COLS = ", ".join(JOB_COLUMNS)
_JCOLS = ", ".join(f"j.{c}" for c in JOB_COLUMNS)
_LIVE = "('PENDING', 'CONFIGURING', 'RUNNING')"


def _job(row: Sequence[Any]) -> Job:
    job = Job(*row)
    job.state = JobState(job.state)
    return job


# ---- ids and submission -------------------------------------------------------------------


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


def insert_jobs(tx: Tx, rows: Sequence[dict[str, Any]]) -> None:
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


# ---- reading jobs ------------------------------------------------------------------------


def get_job(tx: Tx, job_id: int) -> Job | None:
    row = tx.one(f"SELECT {_COLS} FROM jobs WHERE id = :id", {"id": job_id})
    return _job(row) if row else None


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


def launch_payload(tx: Tx, job_id: int) -> tuple[str, str, str] | None:
    """(script, argv json, environment json) — array tasks share their array's copy."""
    return tx.one(
        "SELECT CASE WHEN j.script = '' THEN m.script ELSE j.script END,"
        " CASE WHEN j.script = '' THEN m.argv ELSE j.argv END,"
        " CASE WHEN j.script = '' THEN m.environment ELSE j.environment END"
        " FROM jobs j LEFT JOIN jobs m ON m.id = j.array_job_id WHERE j.id = :id",
        {"id": job_id},
    )


def list_jobs(
    tx: Tx,
    *,
    states: Sequence[str] | None = None,
    include_finished: bool = False,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[Job]:
    """Jobs for ``queue``: live ones by default, filtered by state when asked."""
    params: dict[str, Any] = {}
    if states:
        marks, params = in_clause("s", states)
        where = f"state IN ({marks})"
    elif include_finished:
        where = "1 = 1"
    else:
        where = f"state IN {_LIVE}"
    order = "id DESC" if newest_first else "id"
    sql = f"SELECT {_COLS} FROM jobs WHERE {where} ORDER BY {order}"
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [_job(r) for r in tx.rows(sql, params)]


def count_jobs_by_state(tx: Tx) -> dict[str, int]:
    return dict(tx.rows(f"SELECT state, COUNT(*) FROM jobs WHERE state IN {_LIVE} GROUP BY state"))


def job_states(tx: Tx, ids: Iterable[int]) -> dict[int, tuple[str, int | None]]:
    """State and exit code of each job, for evaluating dependencies."""
    marks, params = in_clause("i", ids)
    rows = tx.rows(f"SELECT id, state, exit_code FROM jobs WHERE id IN ({marks})", params)
    return {r[0]: (r[1], r[2]) for r in rows}


# ---- cancelling --------------------------------------------------------------------------


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


# ---- nodes -------------------------------------------------------------------------------


def upsert_node(tx: Tx, *, name, hostname, cpu_ids, mem_mb, pid, now, version) -> None:
    tx.run(
        "INSERT INTO nodes (name, hostname, cpu_ids, mem_mb, state, reason, pid, started_time,"
        " heartbeat_time, version) VALUES (:name, :hostname, :cpu_ids, :mem_mb, 'UP', NULL,"
        " :pid, :now, :now, :version) ON CONFLICT (name) DO UPDATE SET hostname = :hostname,"
        " cpu_ids = :cpu_ids, mem_mb = :mem_mb, state = 'UP', reason = NULL, pid = :pid,"
        " started_time = :now, heartbeat_time = :now, version = :version",
        {
            "name": name,
            "hostname": hostname,
            "cpu_ids": ",".join(map(str, cpu_ids)),
            "mem_mb": mem_mb,
            "pid": pid,
            "now": now,
            "version": version,
        },
    )


def heartbeat(tx: Tx, name: str, now: float) -> bool:
    """Refresh a node's heartbeat; False if the node row is gone or was marked down."""
    return (
        tx.run(
            "UPDATE nodes SET heartbeat_time = :now WHERE name = :name AND state = 'UP'",
            {"name": name, "now": now},
        )
        == 1
    )


def set_node_down(tx: Tx, name: str, reason: str, *, only_if_stale_before=None) -> bool:
    sql = "UPDATE nodes SET state = 'DOWN', reason = :reason WHERE name = :name AND state = 'UP'"
    params: dict[str, Any] = {"name": name, "reason": reason}
    if only_if_stale_before is not None:
        sql += " AND heartbeat_time < :before"
        params["before"] = only_if_stale_before
    return tx.run(sql, params) == 1


def list_nodes(tx: Tx) -> list[dict[str, Any]]:
    cols = ("name", "hostname", "cpu_ids", "mem_mb", "state", "reason", "pid", "started_time",
            "heartbeat_time", "version")  # fmt: skip
    rows = tx.rows(f"SELECT {', '.join(cols)} FROM nodes ORDER BY name")
    return [dict(zip(cols, r, strict=True)) for r in rows]


def node_allocated(tx: Tx) -> dict[str, tuple[int, int]]:
    """Allocated (cpus, mem_mb) per node, from unreleased allocations."""
    rows = tx.rows(
        "SELECT a.node, c.n, a.mem FROM (SELECT node, SUM(mem_mb) AS mem FROM allocations"
        " WHERE released_time IS NULL GROUP BY node) a LEFT JOIN (SELECT node, COUNT(*) AS n"
        " FROM core_claims GROUP BY node) c ON c.node = a.node"
    )
    return {r[0]: (r[1] or 0, r[2] or 0) for r in rows}


def max_node_cpus(tx: Tx) -> int | None:
    rows = tx.rows("SELECT cpu_ids FROM nodes")
    return max((len(r[0].split(",")) for r in rows if r[0]), default=None)


# ---- scheduling and allocation -----------------------------------------------------------


def busy_cores(tx: Tx) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for node, cpu in tx.rows("SELECT node, cpu_id FROM core_claims"):
        found.setdefault(node, set()).add(cpu)
    return found


def pending_jobs(tx: Tx, limit: int) -> list[tuple]:
    """The head of the runnable queue in priority order (served by ix_jobs_queue_order)."""
    return tx.rows(
        "SELECT id, cpus, mem_mb, priority - nice, submit_time, time_limit_s, begin_time,"
        " dependency, array_job_id, array_max_running, name, user_name, kill_on_invalid_dep,"
        " reason, expected_start_time FROM jobs WHERE state = 'PENDING' AND held = 0"
        " ORDER BY (priority - nice) DESC, submit_time, id LIMIT :limit",
        {"limit": limit},
    )


def running_jobs(tx: Tx) -> list[tuple]:
    """Allocated jobs: (id, node, cpus, mem_mb, start or submit time, time limit, array id)."""
    return tx.rows(
        "SELECT id, node, cpus, mem_mb, COALESCE(start_time, submit_time), time_limit_s,"
        " array_job_id FROM jobs WHERE state IN ('CONFIGURING', 'RUNNING')"
    )


def allocate(tx: Tx, job_id: int, node: str, cpu_ids: Sequence[int], mem_mb: int, now: float):
    """PENDING -> CONFIGURING with its cores claimed; False when the job was no longer pending."""
    cpus = ",".join(map(str, cpu_ids))
    won = tx.run(
        "UPDATE jobs SET state = 'CONFIGURING', node = :node, cpu_ids = :cpus, reason = NULL"
        " WHERE id = :id AND state = 'PENDING'",
        {"id": job_id, "node": node, "cpus": cpus},
    )
    if won != 1:
        return False
    tx.run(
        "INSERT INTO allocations (job_id, node, cpu_ids, mem_mb, created_time)"
        " VALUES (:id, :node, :cpus, :mem, :now)",
        {"id": job_id, "node": node, "cpus": cpus, "mem": mem_mb, "now": now},
    )
    tx.many(
        "INSERT INTO core_claims (node, cpu_id, job_id) VALUES (:node, :cpu, :id)",
        [{"node": node, "cpu": c, "id": job_id} for c in cpu_ids],
    )
    return True


def set_reasons(tx: Tx, changes: Sequence[tuple[int, str | None, float | None]]) -> None:
    """Record why pending jobs wait and when backfill expects them to start."""
    tx.many(
        "UPDATE jobs SET reason = :reason, expected_start_time = :expected"
        " WHERE id = :id AND state = 'PENDING'",
        [{"id": i, "reason": r, "expected": e} for i, r, e in changes],
    )


def configuring_on_node(tx: Tx, node: str) -> list[int]:
    rows = tx.rows(
        "SELECT id FROM jobs WHERE node = :node AND state = 'CONFIGURING' ORDER BY id",
        {"node": node},
    )
    return [r[0] for r in rows]


def mark_running(tx: Tx, job_id: int, pid: int, ticks: int | None, now: float) -> bool:
    """CONFIGURING -> RUNNING, unless a cancel got there first."""
    won = tx.run(
        "UPDATE jobs SET state = 'RUNNING', pid = :pid, pid_start_ticks = :ticks,"
        " start_time = :now WHERE id = :id AND state = 'CONFIGURING' AND cancel_requested = 0",
        {"id": job_id, "pid": pid, "ticks": ticks, "now": now},
    )
    if won == 1:
        add_event(tx, job_id, now, "started", None)
    return won == 1


def finish(
    tx: Tx,
    job_id: int,
    *,
    expected: Sequence[str],
    state: str,
    now: float,
    exit_code: int | None = None,
    signal: int | None = None,
    reason: str | None = None,
) -> bool:
    """Move a job to a terminal state and free what it held, if it is still in ``expected``."""
    marks, params = in_clause("e", expected)
    params.update(id=job_id, state=state, now=now, code=exit_code, sig=signal, reason=reason)
    won = tx.run(
        "UPDATE jobs SET state = :state, end_time = :now, exit_code = :code, signal = :sig,"
        f" reason = :reason WHERE id = :id AND state IN ({marks})",
        params,
    )
    if won == 1:
        release(tx, job_id, now)
        add_event(tx, job_id, now, state.lower(), reason)
    return won == 1


def requeue(tx: Tx, job_id: int, *, expected: Sequence[str], now: float, reason: str) -> bool:
    """Send an allocated job back to PENDING (it never ran, or --requeue after a node failure)."""
    marks, params = in_clause("e", expected)
    params.update(id=job_id, reason=reason)
    won = tx.run(
        "UPDATE jobs SET state = 'PENDING', node = NULL, cpu_ids = NULL, pid = NULL,"
        " pid_start_ticks = NULL, start_time = NULL, cancel_requested = 0,"
        f" restarts = restarts + 1, reason = :reason WHERE id = :id AND state IN ({marks})",
        params,
    )
    if won == 1:
        release(tx, job_id, now)
        add_event(tx, job_id, now, "requeued", reason)
    return won == 1


def release(tx: Tx, job_id: int, now: float) -> None:
    tx.run(
        "UPDATE allocations SET released_time = :now WHERE job_id = :id AND released_time IS NULL",
        {"id": job_id, "now": now},
    )
    tx.run("DELETE FROM core_claims WHERE job_id = :id", {"id": job_id})


def live_jobs_on_node(tx: Tx, node: str) -> list[Job]:
    rows = tx.rows(
        f"SELECT {_COLS} FROM jobs WHERE node = :node AND state IN ('CONFIGURING', 'RUNNING')"
        " ORDER BY id",
        {"node": node},
    )
    return [_job(r) for r in rows]


def cancel_requested_on_node(tx: Tx, node: str) -> list[int]:
    rows = tx.rows(
        "SELECT id FROM jobs WHERE node = :node AND cancel_requested = 1"
        " AND state IN ('CONFIGURING', 'RUNNING')",
        {"node": node},
    )
    return [r[0] for r in rows]


def add_event(tx: Tx, job_id: int, now: float, kind: str, detail: str | None) -> None:
    tx.run(
        "INSERT INTO events (job_id, time, kind, detail) VALUES (:id, :now, :kind, :detail)",
        {"id": job_id, "now": now, "kind": kind, "detail": detail},
    )


def job_events(tx: Tx, job_id: int) -> list[tuple[float, str, str | None]]:
    return tx.rows(
        "SELECT time, kind, detail FROM events WHERE job_id = :id ORDER BY id", {"id": job_id}
    )


# ---- leases ------------------------------------------------------------------------------


def take_lease(tx: Tx, name: str, holder: str, now: float, ttl_s: float) -> bool:
    """Acquire or renew a lease; True while ``holder`` owns it."""
    tx.run(
        "INSERT INTO leases (name, holder, expires_time) VALUES (:name, :holder, :exp)"
        " ON CONFLICT (name) DO UPDATE SET holder = :holder, expires_time = :exp"
        " WHERE leases.holder = :holder OR leases.expires_time < :now",
        {"name": name, "holder": holder, "exp": now + ttl_s, "now": now},
    )
    row = tx.one("SELECT holder FROM leases WHERE name = :name", {"name": name})
    return bool(row) and row[0] == holder


def drop_lease(tx: Tx, name: str, holder: str) -> None:
    tx.run("DELETE FROM leases WHERE name = :name AND holder = :holder",
           {"name": name, "holder": holder})  # fmt: skip


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def array_stats(tx: Tx, array_job_id: int) -> dict[str, int]:
    row = tx.one(
        "SELECT COUNT(*), MIN(array_task_id), MAX(array_task_id) FROM jobs WHERE array_job_id = :a",
        {"a": array_job_id},
    )
    return {"count": row[0], "min": row[1], "max": row[2]}


def get_jobs(tx: Tx, ids: Sequence[int]) -> list[Job]:
    marks, params = in_clause("i", ids)
    return [_job(r) for r in tx.rows(f"SELECT {_COLS} FROM jobs WHERE id IN ({marks})", params)]


# ---- holds and updates of pending jobs ---------------------------------------------------

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


def update_pending(tx: Tx, job_ids: Sequence[int], fields: dict[str, Any]) -> int:
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


def notify(tx: Tx, payload: str = "sched") -> None:
    """Wake listening daemons when this transaction commits (PostgreSQL LISTEN/NOTIFY).

    On SQLite all daemons share the machine and are woken through their sockets instead.
    """
    if tx.dialect == "postgresql":
        tx.rows("SELECT pg_notify('scns_wake', :payload)", {"payload": payload})


def stale_configuring(tx: Tx, before: float) -> list[tuple[int, str]]:
    """Allocated jobs not started since ``before``: their start message may have been lost."""
    return tx.rows(
        "SELECT j.id, j.node FROM jobs j JOIN allocations a ON a.job_id = j.id"
        " AND a.released_time IS NULL WHERE j.state = 'CONFIGURING' AND a.created_time < :before",
        {"before": before},
    )


def jobs_on_nodes(tx: Tx, nodes: Sequence[str], states: Sequence[str]) -> list[tuple]:
    """(id, state, requeue) of jobs in ``states`` on any of ``nodes``."""
    node_marks, params = in_clause("n", nodes)
    state_marks, more = in_clause("s", states)
    params.update(more)
    return tx.rows(
        f"SELECT id, state, requeue FROM jobs WHERE node IN ({node_marks})"
        f" AND state IN ({state_marks})",
        params,
    )


def pending_jobs_page(tx: Tx, limit: int, offset: int) -> list[tuple]:
    """Like ``pending_jobs``, from ``offset`` on in the same order (one total order: id last)."""
    return tx.rows(
        "SELECT id, cpus, mem_mb, priority - nice, submit_time, time_limit_s, begin_time,"
        " dependency, array_job_id, array_max_running, name, user_name, kill_on_invalid_dep,"
        " reason, expected_start_time FROM jobs WHERE state = 'PENDING' AND held = 0"
        " ORDER BY (priority - nice) DESC, submit_time, id LIMIT :limit OFFSET :offset",
        {"limit": limit, "offset": offset},
    )
