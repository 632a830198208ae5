"""Rows that cross from ``db/statements`` to the daemon and the services, by name.

Named tuples: built from a driver's row in one call (``_make``), as cheap to pass around as
the tuple they replace, and read by field (``row.mem_mb``, not ``row[2]``), so a column
added to a SELECT cannot silently shift what a caller reads.
"""

from __future__ import annotations

from typing import NamedTuple


class PendingRow(NamedTuple):
    """A pending job as the scheduling pass reads it (statements.pending_jobs_page)."""

    id: int
    cpus: int
    mem_mb: int
    priority: int  # priority - nice: what orders the queue
    submit_time: float
    time_limit_s: int | None
    begin_time: float | None
    dependency: str | None
    array_job_id: int | None
    array_max_running: int | None
    name: str
    user_name: str
    kill_on_invalid_dep: int
    reason: str | None
    expected_start_time: float | None


class AllocationRow(NamedTuple):
    """An unreleased allocation with its job (statements.live_allocations)."""

    job_id: int
    node: str
    cpu_ids: str  # "0,1"
    mem_mb: int | None
    state: str
    started: float  # start time, or submit time before the job runs
    time_limit_s: int | None
    array_job_id: int | None


class NodeJobRow(NamedTuple):
    """A job on a node, for node-wide actions (statements.jobs_on_nodes)."""

    id: int
    state: str
    requeue: int
