"""Statements that move a job through its life: allocate, start, finish, requeue.

Each is a guarded update (``WHERE state = :expected``); the row count says who won.
"""

from __future__ import annotations

from scns.db.engine import Tx, in_clause
from scns.db.statements.common import ALLOCATED as _ALLOCATED
from scns.db.statements.common import COLS as _COLS
from scns.db.statements.common import job_from_row as _job
from scns.domain.job import Job

TYPE_CHECKING = False
if TYPE_CHECKING:  # imported where used: a submit, which loads this module, needs no typing
    from collections.abc import Sequence

    from scns.db.rows import AllocationRow, NodeJobRow, PendingRow

# the columns of a PendingRow, in its order
_PENDING_COLUMNS = (
    "id, cpus, mem_mb, priority - nice, submit_time, time_limit_s, begin_time, dependency,"
    " array_job_id, array_max_running, name, user_name, kill_on_invalid_dep, reason,"
    " expected_start_time"
)


def pending_jobs(tx: Tx, limit: int) -> list[PendingRow]:
    """The head of the runnable queue in priority order."""
    return pending_jobs_page(tx, limit, 0)


def pending_jobs_page(tx: Tx, limit: int, offset: int) -> list[PendingRow]:
    """The queue from ``offset`` on, in one total order (priority, submit time, id).

    SQLite, without statistics, would rather scan ix_jobs_state_id and sort every pending
    row; the partial index built for exactly this query makes it a short index walk.
    """
    hint = " INDEXED BY ix_jobs_queue_order" if tx.dialect == "sqlite" else ""
    rows = tx.rows(
        f"SELECT {_PENDING_COLUMNS} FROM jobs{hint} WHERE state = 'PENDING' AND held = 0"
        " ORDER BY (priority - nice) DESC, submit_time, id LIMIT :limit OFFSET :offset",
        {"limit": limit, "offset": offset},
    )
    from scns.db.rows import PendingRow

    return [PendingRow._make(r) for r in rows]


def live_allocations(tx: Tx) -> list[AllocationRow]:
    """Every unreleased allocation with its job, in one query for the scheduling pass.
    Busy cores, allocated memory and the running jobs all come from these rows."""
    rows = tx.rows(
        "SELECT a.job_id, a.node, a.cpu_ids, a.mem_mb, j.state,"
        " COALESCE(j.start_time, j.submit_time), j.time_limit_s, j.array_job_id"
        " FROM allocations a JOIN jobs j ON j.id = a.job_id WHERE a.released_time IS NULL"
    )
    from scns.db.rows import AllocationRow

    return [AllocationRow._make(r) for r in rows]


def allocate(
    tx: Tx, job_id: int, node: str, cpu_ids: Sequence[int], mem_mb: int, now: float,
    *, wake: str | None = None,
) -> bool:  # fmt: skip
    """PENDING -> CONFIGURING with its cores claimed; False when the job was no longer pending.

    ``wake``: a NOTIFY payload sent with the commit (PostgreSQL; on SQLite every daemon
    shares the machine and is woken through its socket).
    """
    cpus = ",".join(map(str, cpu_ids))
    params = {"id": job_id, "node": node, "cpus": cpus, "mem": mem_mb, "now": now}
    if tx.dialect == "postgresql":  # one round trip: the three writes (and the NOTIFY)
        return _won_pg(tx, _ALLOCATE_PG, params, wake)
    won = tx.run(
        "UPDATE jobs SET state = 'CONFIGURING', node = :node, cpu_ids = :cpus, reason = NULL,"
        " expected_start_time = NULL"
        " WHERE id = :id AND state = 'PENDING'",
        params,
    )
    if won != 1:
        return False
    tx.run(
        "INSERT INTO allocations (job_id, node, cpu_ids, mem_mb, created_time)"
        " VALUES (:id, :node, :cpus, :mem, :now)",
        params,
    )
    tx.many(
        "INSERT INTO core_claims (node, cpu_id, job_id) VALUES (:node, :cpu, :id)",
        [{"node": node, "cpu": c, "id": job_id} for c in cpu_ids],
    )
    return True


# PostgreSQL runs a lifecycle step as one statement (data-modifying CTEs; SQLite has none):
# every statement is a round trip, and a job's life is several steps. Parameters that only
# appear in a SELECT list are cast, since the CLI's libpq path sends them untyped.
_ALLOCATE_PG = (
    "WITH j AS (UPDATE jobs SET state = 'CONFIGURING', node = :node, cpu_ids = :cpus,"
    " reason = NULL, expected_start_time = NULL WHERE id = :id AND state = 'PENDING'"
    " RETURNING id, node, cpu_ids),"
    " a AS (INSERT INTO allocations (job_id, node, cpu_ids, mem_mb, created_time)"
    " SELECT id, node, cpu_ids, CAST(:mem AS INTEGER), CAST(:now AS DOUBLE PRECISION) FROM j),"
    " c AS (INSERT INTO core_claims (node, cpu_id, job_id)"
    " SELECT j.node, CAST(cpu AS INTEGER), j.id FROM j, unnest(string_to_array(j.cpu_ids, ','))"
    " AS cpu)"
)


def set_reasons(tx: Tx, changes: Sequence[tuple[int, str | None, float | None]]) -> None:
    """Record why pending jobs wait and when backfill expects them to start."""
    tx.many(
        "UPDATE jobs SET reason = :reason, expected_start_time = :expected"
        " WHERE id = :id AND state = 'PENDING'",
        [{"id": i, "reason": r, "expected": e} for i, r, e in changes],
    )


def mark_running(tx: Tx, job_id: int, pid: int, ticks: int | None, now: float, *,
                 held_by: tuple[str, int] | None = None) -> bool:  # fmt: skip
    """CONFIGURING -> RUNNING, unless a cancel got there first.

    ``held_by`` (node, epoch) fences a node: only the allocation it read may start the job.
    A requeue bumps the epoch (``restarts``), so a node that stalled mid-launch and was
    declared down meanwhile finds nothing to start, even if the job came back to it.
    """
    params = {"id": job_id, "pid": pid, "ticks": ticks, "now": now}
    guard = _fence(params, held_by)
    if tx.dialect == "postgresql":
        return _won_pg(tx, _MARK_RUNNING_PG.format(guard=guard), params)
    won = tx.run(
        "UPDATE jobs SET state = 'RUNNING', pid = :pid, pid_start_ticks = :ticks,"
        " start_time = :now WHERE id = :id AND state = 'CONFIGURING' AND cancel_requested = 0"
        + guard,
        params,
    )
    if won == 1:
        add_event(tx, job_id, now, "started", None)
    return won == 1


def _fence(params: dict, held_by: tuple[str, int] | None) -> str:
    """The extra WHERE that ties a node's action to the allocation it holds."""
    if held_by is None:
        return ""
    params["fence_node"], params["fence_epoch"] = held_by
    return " AND node = :fence_node AND restarts = :fence_epoch"


_MARK_RUNNING_PG = (
    "WITH j AS (UPDATE jobs SET state = 'RUNNING', pid = :pid, pid_start_ticks = :ticks,"
    " start_time = :now WHERE id = :id AND state = 'CONFIGURING' AND cancel_requested = 0"
    "{guard} RETURNING id, start_time),"
    " e AS (INSERT INTO events (job_id, time, kind, detail)"
    " SELECT id, start_time, 'started', NULL FROM j)"
)


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
    wake: str | None = None,
    held_by: tuple[str, int] | None = None,
    usage: tuple[int | None, float | None, float | None] | None = None,
) -> bool:
    """Move a job to a terminal state and free what it held, if it is still in ``expected``.

    ``wake``: a NOTIFY payload sent with the commit, as for allocate(). ``held_by``: the
    (node, epoch) fence of mark_running, for a node recording the end of its own run.
    ``usage``: (peak memory bytes, user CPU s, system CPU s) measured for the run.
    """
    marks, params = in_clause("e", expected)
    params.update(id=job_id, state=state, now=now, code=exit_code, sig=signal, reason=reason,
                  kind=state.lower())  # fmt: skip
    params["rss"], params["cpu_user"], params["cpu_sys"] = usage or (None, None, None)
    guard = _fence(params, held_by)
    if tx.dialect == "postgresql":
        return _won_pg(tx, _FINISH_PG.format(marks=marks, guard=guard), params, wake)
    won = tx.run(
        "UPDATE jobs SET state = :state, end_time = :now, exit_code = :code, signal = :sig,"
        f" reason = :reason, {_USAGE_SET} WHERE id = :id AND state IN ({marks}){guard}",
        params,
    )
    if won == 1:
        release(tx, job_id, now)
        add_event(tx, job_id, now, state.lower(), reason)
    return won == 1


# a run that was not measured keeps what an earlier one recorded (never the case today)
_USAGE_SET = (
    "max_rss_bytes = COALESCE(:rss, max_rss_bytes), cpu_user_s = COALESCE(:cpu_user,"
    " cpu_user_s), cpu_system_s = COALESCE(:cpu_sys, cpu_system_s)"
)
_FINISH_PG = (
    "WITH j AS (UPDATE jobs SET state = :state, end_time = :now, exit_code = :code,"
    " signal = :sig, reason = :reason, "
    + _USAGE_SET.replace("{", "{{").replace("}", "}}")
    + " WHERE id = :id AND state IN ({marks}){guard}"
    " RETURNING id, end_time, reason),"
    " a AS (UPDATE allocations SET released_time = j.end_time FROM j"
    " WHERE allocations.job_id = j.id AND allocations.released_time IS NULL),"
    " c AS (DELETE FROM core_claims USING j WHERE core_claims.job_id = j.id),"
    " e AS (INSERT INTO events (job_id, time, kind, detail)"
    " SELECT id, end_time, CAST(:kind AS TEXT), reason FROM j)"
)


def _won_pg(tx: Tx, steps: str, params: dict, wake: str | None = None) -> bool:
    """Run one of the CTE statements above; True when its guarded update matched the job.
    ``wake``: a NOTIFY payload sent in the same statement (so with its commit)."""
    if wake is None:
        return tx.rows(steps + " SELECT count(*) FROM j", params)[0][0] == 1
    statement = steps + " SELECT count(*), pg_notify('scns_wake', CAST(:wake AS TEXT)) FROM j"
    return tx.rows(statement, {**params, "wake": wake})[0][0] == 1


def requeue(tx: Tx, job_id: int, *, expected: Sequence[str], now: float, reason: str,
            held_by: tuple[str, int] | None = None) -> bool:  # fmt: skip
    """Send a job back to PENDING (it never ran, --requeue after a node failure, scontrol
    requeue); a finished job forgets how it ended. The epoch (restarts) moves on, which
    fences every node still acting on the old allocation."""
    marks, params = in_clause("e", expected)
    params.update(id=job_id, reason=reason)
    guard = _fence(params, held_by)
    won = tx.run(
        "UPDATE jobs SET state = 'PENDING', node = NULL, cpu_ids = NULL, pid = NULL,"
        " pid_start_ticks = NULL, start_time = NULL, end_time = NULL, exit_code = NULL,"
        " signal = NULL, cancel_requested = 0, requeue_requested = 0, pending_signal = NULL,"
        " max_rss_bytes = NULL, cpu_user_s = NULL, cpu_system_s = NULL,"
        f" restarts = restarts + 1, reason = :reason WHERE id = :id AND state IN ({marks})" + guard,
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
        f"SELECT {_COLS} FROM jobs WHERE node = :node AND state IN {_ALLOCATED} ORDER BY id",
        {"node": node},
    )
    return [_job(r) for r in rows]


def cancel_requested_on_node(tx: Tx, node: str) -> list[tuple[int, bool]]:
    """(id, whether it is a requeue) of this node's jobs someone asked to end."""
    rows = tx.rows(
        "SELECT id, requeue_requested FROM jobs WHERE node = :node AND cancel_requested = 1"
        f" AND state IN {_ALLOCATED}",
        {"node": node},
    )
    return [(r[0], bool(r[1])) for r in rows]


def signals_requested_on_node(tx: Tx, node: str) -> list[tuple[int, int]]:
    """(id, signal) of this node's running jobs with a signal to deliver (scancel -s)."""
    rows = tx.rows(
        "SELECT id, pending_signal FROM jobs WHERE node = :node AND state = 'RUNNING'"
        " AND pending_signal IS NOT NULL",
        {"node": node},
    )
    return [(r[0], r[1]) for r in rows]


def time_limits_on_node(tx: Tx, node: str) -> list[tuple[int, float | None, int | None]]:
    """(id, start time, time limit) of this node's running jobs, so a limit changed by
    ``scns update`` moves the deadline the node enforces."""
    return tx.rows(
        "SELECT id, start_time, time_limit_s FROM jobs WHERE node = :node AND state = 'RUNNING'",
        {"node": node},
    )


def signal_delivered(tx: Tx, job_id: int, sig: int) -> None:
    """Clear a delivered signal, unless another one was asked for meanwhile."""
    tx.run(
        "UPDATE jobs SET pending_signal = NULL WHERE id = :id AND pending_signal = :sig",
        {"id": job_id, "sig": sig},
    )


def add_event(tx: Tx, job_id: int, now: float, kind: str, detail: str | None) -> None:
    tx.run(
        "INSERT INTO events (job_id, time, kind, detail) VALUES (:id, :now, :kind, :detail)",
        {"id": job_id, "now": now, "kind": kind, "detail": detail},
    )


def stale_configuring(tx: Tx, before: float) -> list[tuple[int, str]]:
    """Allocated jobs not started since ``before``: their start message may have been lost."""
    return tx.rows(
        "SELECT j.id, j.node FROM jobs j JOIN allocations a ON a.job_id = j.id"
        " AND a.released_time IS NULL WHERE j.state = 'CONFIGURING' AND a.created_time < :before",
        {"before": before},
    )


def jobs_on_nodes(tx: Tx, nodes: Sequence[str], states: Sequence[str]) -> list[NodeJobRow]:
    """The jobs in ``states`` on any of ``nodes``."""
    node_marks, params = in_clause("n", nodes)
    state_marks, more = in_clause("s", states)
    params.update(more)
    rows = tx.rows(
        f"SELECT id, state, requeue FROM jobs WHERE node IN ({node_marks})"
        f" AND state IN ({state_marks})",
        params,
    )
    from scns.db.rows import NodeJobRow

    return [NodeJobRow._make(r) for r in rows]
