"""The values a scheduling pass reads and returns, so the policy stays a pure function."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

RESOURCES = "Resources"
PRIORITY = "Priority"
ARRAY_TASK_LIMIT = "JobArrayTaskLimit"


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node as the daemon sees it at the start of a pass."""

    name: str
    cpu_ids: tuple[int, ...]
    busy_cpu_ids: frozenset[int]
    mem_mb: int = 0  # schedulable memory; 0 means memory is not tracked on this node
    busy_mem_mb: int = 0
    is_up: bool = True


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job holding resources; expected_end is start + time limit, the backfill horizon."""

    job_id: int
    node: str
    cpus: int
    mem_mb: int
    expected_end: float
    array_job_id: int | None = None


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A job waiting for resources; blocked_reason set by the caller keeps it from starting."""

    job_id: int
    cpus: int
    mem_mb: int = 0
    priority: int = 0
    submit_time: float = 0.0
    time_limit_s: int | None = None
    blocked_reason: str | None = None
    array_job_id: int | None = None
    array_max_running: int | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one pass may look at; time is passed in, never read."""

    now: float
    nodes: tuple[NodeView, ...]
    running: tuple[RunningJob, ...]
    pending: tuple[PendingJob, ...]


@dataclass(frozen=True, slots=True)
class Start:
    """A decision to run a job on these CPUs of one node."""

    job_id: int
    node: str
    cpu_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What the daemon applies: starts, a reason per job left waiting, backfill reservations."""

    starts: tuple[Start, ...]
    reasons: Mapping[int, str]
    expected_start: Mapping[int, float]


def apply_starts(
    snapshot: Snapshot, starts: Iterable[Start], default_time_limit_s: int
) -> Snapshot:
    """The snapshot once starts run: CPUs and memory taken, started jobs running, not pending."""
    pending_by_id = {job.job_id: job for job in snapshot.pending}
    started = {start.job_id: start for start in starts}
    taken: dict[str, list[PendingJob]] = {}
    running = list(snapshot.running)
    for start in started.values():
        job = pending_by_id[start.job_id]
        taken.setdefault(start.node, []).append(job)
        limit_s = default_time_limit_s if job.time_limit_s is None else job.time_limit_s
        end = snapshot.now + limit_s
        running.append(
            RunningJob(job.job_id, start.node, job.cpus, job.mem_mb, end, job.array_job_id)
        )
    nodes = tuple(_with_jobs(node, taken.get(node.name, []), started) for node in snapshot.nodes)
    still_pending = tuple(job for job in snapshot.pending if job.job_id not in started)
    return Snapshot(snapshot.now, nodes, tuple(running), still_pending)


def _with_jobs(node: NodeView, jobs: list[PendingJob], started: dict[int, Start]) -> NodeView:
    if not jobs:
        return node
    cpu_ids = {cpu for job in jobs for cpu in started[job.job_id].cpu_ids}
    mem_mb = sum(job.mem_mb for job in jobs) if node.mem_mb > 0 else 0
    return replace(
        node, busy_cpu_ids=node.busy_cpu_ids | cpu_ids, busy_mem_mb=node.busy_mem_mb + mem_mb
    )
