"""The scheduler's view of the cluster, read in one place: the daemon's passes and
``scns submit --test-only`` build the same snapshot for the pure policy (scns.sched)."""

from __future__ import annotations

from dataclasses import dataclass

from scns.db import statements as sql
from scns.db.engine import Database, Tx
from scns.db.rows import AllocationRow, PendingRow
from scns.domain.job import JobRequest
from scns.domain.state_names import ALLOCATED_NAMES
from scns.sched.snapshot import NodeView, PendingJob, RunningJob
from scns.service.dependencies import blocked_reasons

# Pages of blocked jobs read past per pass, so a huge dependent queue keeps a pass bounded.
_MAX_PAGES = 10
# The id a job that does not exist yet takes in a forecast: above every real one, so it
# queues behind them when priorities tie, and no singleton is younger than it.
HYPOTHETICAL_ID = 2**62


@dataclass(frozen=True)
class PassConfig:
    policy: str = "backfill"
    default_time_limit_s: int = 3600
    max_jobs_examined: int = 1000
    heartbeat_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings) -> PassConfig:
        return cls(settings.scheduler_policy, settings.default_time_limit_s,
                   settings.max_jobs_examined, settings.heartbeat_timeout_s)  # fmt: skip


def read_pending(tx: Tx, limit: int,
                 now: float) -> tuple[list[PendingRow], dict[int, str], list[int]]:  # fmt: skip
    """Pending rows in queue order until ``limit`` of them may start, at most _MAX_PAGES pages.

    Jobs waiting on a dependency or a begin time must not use up the examined window: a big
    dependent array queued first would otherwise keep every job behind it from being looked at.
    """
    rows: list[PendingRow] = []
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


def node_views(node_rows, allocations: list[AllocationRow], now,
               timeout_s) -> tuple[NodeView, ...]:  # fmt: skip
    """Nodes with the CPUs and memory every unreleased allocation holds; up when served."""
    busy: dict[str, set[int]] = {}
    busy_mem: dict[str, int] = {}
    for a in allocations:
        busy.setdefault(a.node, set()).update(int(c) for c in a.cpu_ids.split(",") if c)
        busy_mem[a.node] = busy_mem.get(a.node, 0) + (a.mem_mb or 0)
    views = []
    for row in node_rows:
        fresh = row["heartbeat_time"] is not None and now - row["heartbeat_time"] < timeout_s
        views.append(
            NodeView(
                name=row["name"],
                cpu_ids=tuple(int(c) for c in row["cpu_ids"].split(",") if c),
                busy_cpu_ids=frozenset(busy.get(row["name"], ())),
                mem_mb=row["mem_mb"] or 0,
                busy_mem_mb=busy_mem.get(row["name"], 0),
                is_up=row["state"] == "UP" and fresh,
            )
        )
    return tuple(views)


def running_jobs(allocations: list[AllocationRow], default_limit_s: int,
                 now: float) -> tuple[RunningJob, ...]:  # fmt: skip
    """The allocated jobs, with when each must end at the latest (for backfill)."""
    out = []
    for a in allocations:
        if a.state not in ALLOCATED_NAMES:
            continue  # a leaked allocation holds its cores (cleanup frees it), not a job slot
        cpus = len([c for c in a.cpu_ids.split(",") if c])
        end = (a.started or now) + (a.time_limit_s or default_limit_s)
        out.append(RunningJob(a.job_id, a.node, cpus, a.mem_mb or 0, max(end, now),
                              a.array_job_id))  # fmt: skip
    return tuple(out)


def pending_views(rows: list[PendingRow], blocked: dict[int, str]) -> tuple[PendingJob, ...]:
    return tuple(
        PendingJob(
            job_id=r.id,
            cpus=r.cpus,
            mem_mb=r.mem_mb,
            priority=r.priority,
            submit_time=r.submit_time,
            time_limit_s=r.time_limit_s,
            blocked_reason=blocked.get(r.id),
            array_job_id=r.array_job_id,
            array_max_running=r.array_max_running,
        )
        for r in rows
    )


@dataclass(frozen=True)
class Forecast:
    """When and on which node a job would start, or why it would not (``waits_for``:
    JobHeldUser, Dependency, DependencyNeverSatisfied, NoNodeUp, or Resources when it
    never fits)."""

    cpus: int
    start_time: float | None = None
    node: str | None = None
    waits_for: str | None = None


def forecast(db: Database, request: JobRequest, now: float, config: PassConfig, *,
             user_name: str, limits=None) -> Forecast:  # fmt: skip
    """What the scheduler would do with ``request`` if it were submitted now; nothing is
    stored. The daemon's own snapshot with the job added, replayed forward by the pure
    policy (scns.sched.forecast), assuming jobs run to their time limits as backfill does.
    """
    from scns.sched.forecast import first_start
    from scns.sched.snapshot import Snapshot

    limit_s = request.time_limit_s
    if limits is not None:  # the limits a submit would apply
        from scns.service.limits import apply_max_time, check_array

        check_array(request.array_task_ids, limits)
        limit_s = apply_max_time(limit_s, limits)
    with db.reads() as tx:
        allocations = sql.live_allocations(tx)
        nodes = node_views(sql.list_nodes(tx), allocations, now, config.heartbeat_timeout_s)
        rows, blocked, _kill = read_pending(tx, config.max_jobs_examined, now)
        cpus = request.cpus
        if request.exclusive:  # the whole (largest) node, as a submit would store it
            cpus = max([cpus, *(len(n.cpu_ids) for n in nodes)])
        mine = _hypothetical_row(request, cpus, limit_s, now, user_name)
        reason = blocked_reasons(tx, [mine], now)[0].get(HYPOTHETICAL_ID)
    if request.held:
        return Forecast(cpus, waits_for="JobHeldUser")
    if reason in ("Dependency", "DependencyNeverSatisfied"):
        return Forecast(cpus, waits_for=reason)
    if not any(n.is_up for n in nodes):
        return Forecast(cpus, waits_for="NoNodeUp")
    if reason is not None:  # BeginTime: it becomes eligible on the replay's clock
        blocked = {**blocked, HYPOTHETICAL_ID: reason}
    pending = pending_views([*rows, mine], blocked)
    begins = {r.id: r.begin_time for r in (*rows, mine)
              if r.begin_time is not None and r.begin_time > now}  # fmt: skip
    found = first_start(
        Snapshot(now, nodes, running_jobs(allocations, config.default_time_limit_s, now), pending),
        HYPOTHETICAL_ID,
        config.policy,
        cpu_ids_of={
            a.job_id: tuple(int(c) for c in a.cpu_ids.split(",") if c) for a in allocations
        },
        begin_times=begins,
        default_time_limit_s=config.default_time_limit_s,
        max_jobs_examined=config.max_jobs_examined,
    )
    if found is None:
        return Forecast(cpus, waits_for="Resources")
    return Forecast(cpus, start_time=found[0], node=found[1].node)


def _hypothetical_row(request: JobRequest, cpus: int, limit_s: int | None, now: float,
                      user_name: str) -> PendingRow:  # fmt: skip
    """The request as a pending_jobs_page row."""
    return PendingRow(HYPOTHETICAL_ID, cpus, request.mem_mb, request.priority - request.nice, now,
            limit_s, request.begin_time, request.dependency, None, None, request.name,
            user_name, int(request.kill_on_invalid_dep), None, None)  # fmt: skip
