"""One scheduling pass: read a snapshot, ask the pure policy, apply its decisions.

Only the daemon holding the scheduler lease runs passes, but every write here is guarded
anyway (PENDING -> CONFIGURING, and core claims keyed by node and cpu id), so even two
schedulers at once could not start a job twice or give one core to two jobs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from scns.daemon.dependencies import blocked_reasons
from scns.db import statements as sql
from scns.db.engine import Database
from scns.sched.policy import plan
from scns.sched.snapshot import NodeView, PendingJob, RunningJob, Snapshot, Start

# Pages of blocked jobs read past per pass, so a huge dependent queue keeps a pass bounded.
_MAX_PAGES = 10


@dataclass(frozen=True)
class PassConfig:
    policy: str = "backfill"
    default_time_limit_s: int = 3600
    max_jobs_examined: int = 1000
    heartbeat_timeout_s: float = 30.0


@dataclass(frozen=True)
class PassResult:
    started: tuple[Start, ...]
    examined: int
    cancelled: tuple[int, ...]
    duration_s: float


def run_pass(db: Database, config: PassConfig, now: float | None = None) -> PassResult:
    """Allocate what can start now; record reasons for what cannot."""
    began = time.perf_counter()
    now = time.time() if now is None else now
    with db.read() as tx:
        rows, blocked, kill = _read_pending(tx, config.max_jobs_examined, now)
        if not rows:
            return PassResult((), 0, (), time.perf_counter() - began)
        running_rows = sql.running_jobs(tx)
        node_rows = sql.list_nodes(tx)
        busy = sql.busy_cores(tx)
        allocated = sql.node_allocated(tx)
    snapshot = Snapshot(
        now=now,
        nodes=_nodes(node_rows, busy, allocated, now, config.heartbeat_timeout_s),
        running=_running(running_rows, config.default_time_limit_s, now),
        pending=_pending(rows, blocked),
    )
    decision = plan(
        snapshot,
        config.policy,
        default_time_limit_s=config.default_time_limit_s,
        max_jobs_examined=config.max_jobs_examined,
    )
    known = {r[0]: (r[13], r[14]) for r in rows}
    changes = []
    for job_id, reason in decision.reasons.items():
        expected = decision.expected_start.get(job_id)
        if known.get(job_id) != (reason, expected):
            changes.append((job_id, reason, expected))
    won: list[Start] = []
    with db.write() as tx:
        for start in decision.starts:
            job = next(r for r in rows if r[0] == start.job_id)
            if sql.allocate(tx, start.job_id, start.node, start.cpu_ids, job[2], now):
                won.append(start)
        for job_id in kill:
            sql.finish(tx, job_id, expected=["PENDING"], state="CANCELLED", now=now,
                       reason="DependencyNeverSatisfied")  # fmt: skip
        if changes:
            sql.set_reasons(tx, changes)
    return PassResult(tuple(won), len(rows), tuple(kill), time.perf_counter() - began)


def _read_pending(tx, limit: int, now: float) -> tuple[list[tuple], dict[int, str], list[int]]:
    """Pending rows in queue order until ``limit`` of them may start, at most _MAX_PAGES pages.

    Jobs waiting on a dependency or a begin time must not use up the examined window: a big
    dependent array queued first would otherwise keep every job behind it from being looked at.
    """
    rows: list[tuple] = []
    blocked: dict[int, str] = {}
    kill: list[int] = []
    for _page in range(_MAX_PAGES):
        page = sql.pending_jobs_page(tx, limit, len(rows))
        page_blocked, page_kill = blocked_reasons(tx, page, now)
        rows += page
        blocked.update(page_blocked)
        kill += page_kill
        if len(page) < limit or len(rows) - len(blocked) >= limit:
            break
    return rows, blocked, kill


def _nodes(node_rows, busy, allocated, now, timeout_s) -> tuple[NodeView, ...]:
    views = []
    for row in node_rows:
        fresh = row["heartbeat_time"] is not None and now - row["heartbeat_time"] < timeout_s
        views.append(
            NodeView(
                name=row["name"],
                cpu_ids=tuple(int(c) for c in row["cpu_ids"].split(",") if c),
                busy_cpu_ids=frozenset(busy.get(row["name"], ())),
                mem_mb=row["mem_mb"] or 0,
                busy_mem_mb=allocated.get(row["name"], (0, 0))[1],
                is_up=row["state"] == "UP" and fresh,
            )
        )
    return tuple(views)


def _running(rows, default_limit_s: int, now: float) -> tuple[RunningJob, ...]:
    out = []
    for job_id, node, cpus, mem_mb, started, limit_s, array_id in rows:
        end = (started or now) + (limit_s or default_limit_s)
        out.append(RunningJob(job_id, node, cpus, mem_mb, max(end, now), array_id))
    return tuple(out)


def _pending(rows, blocked: dict[int, str]) -> tuple[PendingJob, ...]:
    return tuple(
        PendingJob(
            job_id=r[0],
            cpus=r[1],
            mem_mb=r[2],
            priority=r[3],
            submit_time=r[4],
            time_limit_s=r[5],
            blocked_reason=blocked.get(r[0]),
            array_job_id=r[8],
            array_max_running=r[9],
        )
        for r in rows
    )
