"""One scheduling pass: read a snapshot, ask the pure policy, apply its decisions.

Only the daemon holding the scheduler lease runs passes, but every write here is guarded
anyway (PENDING -> CONFIGURING, and core claims keyed by node and cpu id), so even two
schedulers at once could not start a job twice or give one core to two jobs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from scns.db import statements as sql
from scns.db.engine import Database
from scns.sched.policy import plan
from scns.sched.snapshot import Snapshot, Start
from scns.service.planning import (
    PassConfig,
    node_views,
    pending_views,
    read_pending,
    running_jobs,
)

__all__ = ["PassConfig", "PassResult", "run_pass"]

# The quick pass examines this many queue-head jobs per free CPU (and at least QUICK_MIN).
QUICK_PER_CPU = 8
QUICK_MIN = 32


@dataclass(frozen=True)
class PassResult:
    started: tuple[Start, ...]
    examined: int
    cancelled: tuple[int, ...]
    duration_s: float
    # another pass at once may start more: CPUs are still free and the window was full,
    # or an allocation lost its race (the queue changed under the pass)
    room_left: bool = False


def run_pass(
    db: Database,
    config: PassConfig,
    now: float | None = None,
    *,
    full: bool = True,
    local_node: str | None = None,
    node_rows: list[dict] | None = None,
) -> PassResult:
    """Allocate what can start now; a full pass also records why the others wait.

    A quick pass (``full=False``) is what keeps throughput high: it returns at once when no
    CPU is free, and otherwise looks only at a window of the queue head proportional to the
    free CPUs, like Slurm's quick scheduling loop. The periodic full pass examines up to
    ``max_jobs_examined`` jobs (EASY backfill over the whole window) and stores reasons and
    expected start times.

    Every node that got work, other than ``local_node`` (the caller's, which starts its
    share itself), is woken by a NOTIFY sent with the allocation's own commit.
    ``node_rows``: the nodes table as the caller last read it (the leader re-reads it once
    a second: it changes with registrations and heartbeats, not with every job).
    """
    began = time.perf_counter()
    now = time.time() if now is None else now
    # The reads need no common snapshot: every write below is guarded, and a decision made
    # on a moment-old view is corrected by the next pass.
    with db.reads() as tx:
        if node_rows is None:
            node_rows = sql.list_nodes(tx)
        allocations = sql.live_allocations(tx)
        nodes = node_views(node_rows, allocations, now, config.heartbeat_timeout_s)
        free = sum(len(n.cpu_ids) - len(n.busy_cpu_ids) for n in nodes if n.is_up)
        if not full and free <= 0:
            return PassResult((), 0, (), time.perf_counter() - began)
        window = config.max_jobs_examined
        if not full:
            window = min(window, max(QUICK_MIN, QUICK_PER_CPU * free))
        rows, blocked, kill = read_pending(tx, window, now)
        if not rows:
            return PassResult((), 0, (), time.perf_counter() - began)
        decision = plan(
            Snapshot(
                now=now,
                nodes=nodes,
                running=running_jobs(allocations, config.default_time_limit_s, now),
                pending=pending_views(rows, blocked),
            ),
            config.policy,
            default_time_limit_s=config.default_time_limit_s,
            max_jobs_examined=window,
        )
        changes = _reason_changes(rows, decision) if full else []
    won = []
    writes = len(decision.starts) + len(kill) + len(changes)
    if writes:  # one guarded statement stands alone; several share one commit
        with db.autocommit() if writes == 1 else db.write() as tx:
            won = _apply(tx, rows, decision.starts, kill, changes, now, local_node)
    used = sum(len(s.cpu_ids) for s in won)
    room_left = (free - used > 0 and len(rows) >= window) or len(won) < len(decision.starts)
    return PassResult(tuple(won), len(rows), tuple(kill), time.perf_counter() - began, room_left)


def _reason_changes(rows, decision) -> list[tuple[int, str | None, float | None]]:
    known = {r.id: (r.reason, r.expected_start_time) for r in rows}
    changes = []
    for job_id, reason in decision.reasons.items():
        expected = decision.expected_start.get(job_id)
        if known.get(job_id) != (reason, expected):
            changes.append((job_id, reason, expected))
    return changes


def _apply(tx, rows, starts, kill, changes, now: float, local_node) -> list[Start]:
    """Guarded allocations, dependency cancels, reasons, and wake-ups for the other nodes."""
    mem = {r.id: r.mem_mb for r in rows}
    won: list[Start] = []
    for start in starts:
        wake = None if start.node == local_node else f"node:{start.node}"
        if sql.allocate(tx, start.job_id, start.node, start.cpu_ids, mem[start.job_id], now,
                        wake=wake):  # fmt: skip
            won.append(start)
    for job_id in kill:
        sql.finish(tx, job_id, expected=["PENDING"], state="CANCELLED", now=now,
                   reason="DependencyNeverSatisfied")  # fmt: skip
    if changes:
        sql.set_reasons(tx, changes)
    return won
