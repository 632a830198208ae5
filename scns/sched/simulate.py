"""Replay a workload through plan() on a virtual clock, so policies are compared by the real code.

The replay is event-driven: at each distinct time where jobs arrive or end, ends are applied
first, then arrivals, then one scheduling pass over a Snapshot of the virtual cluster. A job
runs for its real run time, cut at its requested time (killed at the limit, like TIMEOUT);
running jobs advertise start + requested time as their expected end, as the daemon does.
"""

import heapq
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from itertools import islice

from scns.sched.policy import POLICIES, plan
from scns.sched.snapshot import NodeView, PendingJob, RunningJob, Snapshot, Start
from scns.sched.swf import SwfJob

# Jobs handed to each pass, in queue order (like Slurm's default_queue_depth). All replayed jobs
# have equal priority, so this window is exactly the jobs plan() would examine.
DEFAULT_QUEUE_DEPTH = 100
WIDE_SHARE = 0.1
BOUNDED_SLOWDOWN_FLOOR_S = 10


@dataclass(frozen=True, slots=True)
class Figures:
    """Outcome figures of a set of replayed jobs."""

    jobs: int
    dropped: int
    makespan_s: float
    utilization: float
    mean_wait_s: float
    p95_wait_s: float
    max_wait_s: float
    mean_bounded_slowdown: float

    def to_dict(self) -> dict[str, object]:
        """Rounded figures for JSON output."""
        return {f.name: _rounded(f.name, getattr(self, f.name)) for f in fields(Figures)}


@dataclass(frozen=True, slots=True)
class SimResult(Figures):
    """Figures of a whole replay, with the same figures for its widest jobs."""

    policy: str
    wide: Figures

    def to_dict(self) -> dict[str, object]:
        """The overall figures plus 'policy' and a nested 'wide' dict."""
        return {"policy": self.policy, **Figures.to_dict(self), "wide": self.wide.to_dict()}


@dataclass(frozen=True, slots=True)
class _Record:
    job_id: int
    cpus: int
    submit_s: float
    start_s: float
    run_s: float


def simulate(
    jobs: Iterable[SwfJob],
    *,
    nodes: int,
    cpus_per_node: int,
    policy: str,
    default_time_limit_s: int = 3600,
    max_jobs_examined: int = DEFAULT_QUEUE_DEPTH,
) -> SimResult:
    """Replay jobs on nodes x cpus_per_node under policy; jobs wider than a node are dropped.

    'wide' covers the widest 10% of replayed jobs (by cpus, ties by job number; at least one);
    its 'dropped' repeats the overall count, since dropped jobs are wider than any replayed one.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    if nodes < 1 or cpus_per_node < 1:
        raise ValueError("need at least one node and one cpu per node")
    every = list(jobs)
    kept = sorted((j for j in every if j.cpus <= cpus_per_node), key=_arrival_order)
    replay = _Replay(nodes, cpus_per_node, policy, default_time_limit_s, max_jobs_examined)
    records = replay.run(kept)
    dropped = len(every) - len(kept)
    total_cpus = nodes * cpus_per_node
    widest = sorted(records, key=_widest_first)[: max(1, int(len(records) * WIDE_SHARE))]
    overall = _figures(records, total_cpus, dropped)
    return SimResult(**asdict(overall), policy=policy, wide=_figures(widest, total_cpus, dropped))


class _Replay:
    """The virtual cluster: free CPU ids per node, running jobs, the queue and pending ends."""

    def __init__(
        self, nodes: int, cpus_per_node: int, policy: str, default_limit_s: int, depth: int
    ) -> None:
        width = len(str(nodes))
        self.cpu_ids = tuple(range(cpus_per_node))
        self.busy: dict[str, set[int]] = {f"node{i:0{width}d}": set() for i in range(1, nodes + 1)}
        self.policy, self.default_limit_s, self.depth = policy, default_limit_s, depth
        self.free_cpus = nodes * cpus_per_node
        self.pending: dict[int, PendingJob] = {}  # insertion order is queue order
        self.running: dict[int, RunningJob] = {}
        self.cpus_of: dict[int, tuple[str, tuple[int, ...]]] = {}
        self.ends: list[tuple[float, int]] = []
        self.records: list[_Record] = []

    def run(self, jobs: list[SwfJob]) -> list[_Record]:
        """Process arrivals and ends in time order until every job has finished."""
        by_id = {job.job_id: job for job in jobs}
        index = 0
        while index < len(jobs) or self.ends:
            now = min(
                jobs[index].submit_s if index < len(jobs) else math.inf,
                self.ends[0][0] if self.ends else math.inf,
            )
            while self.ends and self.ends[0][0] <= now:
                self._finish(heapq.heappop(self.ends)[1])
            while index < len(jobs) and jobs[index].submit_s <= now:
                self.pending[jobs[index].job_id] = _pending(jobs[index])
                index += 1
            if self.pending and self.free_cpus:
                self._pass(now, by_id)
        if self.pending:
            raise RuntimeError(f"replay stalled with {len(self.pending)} jobs pending")
        return self.records

    def _pass(self, now: float, by_id: dict[int, SwfJob]) -> None:
        window = tuple(islice(self.pending.values(), self.depth))
        views = tuple(
            NodeView(name, self.cpu_ids, frozenset(ids)) for name, ids in self.busy.items()
        )
        snapshot = Snapshot(now, views, tuple(self.running.values()), window)
        decided = plan(
            snapshot,
            self.policy,
            default_time_limit_s=self.default_limit_s,
            max_jobs_examined=self.depth,
        )
        for start in decided.starts:
            self._start(start, by_id[start.job_id], now)

    def _start(self, start: Start, job: SwfJob, now: float) -> None:
        del self.pending[job.job_id]
        limit_s = job.time_limit_s if job.time_limit_s > 0 else self.default_limit_s
        run_s = min(job.run_s, limit_s)
        self.busy[start.node].update(start.cpu_ids)
        self.free_cpus -= job.cpus
        self.cpus_of[job.job_id] = (start.node, start.cpu_ids)
        self.running[job.job_id] = RunningJob(job.job_id, start.node, job.cpus, 0, now + limit_s)
        heapq.heappush(self.ends, (now + run_s, job.job_id))
        self.records.append(_Record(job.job_id, job.cpus, job.submit_s, now, run_s))

    def _finish(self, job_id: int) -> None:
        node, cpu_ids = self.cpus_of.pop(job_id)
        self.busy[node].difference_update(cpu_ids)
        self.free_cpus += len(cpu_ids)
        del self.running[job_id]


def _pending(job: SwfJob) -> PendingJob:
    limit_s = job.time_limit_s if job.time_limit_s > 0 else None
    return PendingJob(job.job_id, job.cpus, submit_time=job.submit_s, time_limit_s=limit_s)


def _figures(records: list[_Record], total_cpus: int, dropped: int) -> Figures:
    if not records:
        return Figures(0, dropped, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    waits = sorted(r.start_s - r.submit_s for r in records)
    makespan_s = max(r.start_s + r.run_s for r in records) - min(r.submit_s for r in records)
    busy_cpu_s = sum(r.cpus * r.run_s for r in records)
    slowdowns = (
        max(1.0, (r.start_s - r.submit_s + r.run_s) / max(r.run_s, BOUNDED_SLOWDOWN_FLOOR_S))
        for r in records
    )
    return Figures(
        jobs=len(records),
        dropped=dropped,
        makespan_s=makespan_s,
        utilization=busy_cpu_s / (total_cpus * makespan_s) if makespan_s > 0 else 0.0,
        mean_wait_s=sum(waits) / len(waits),
        p95_wait_s=waits[math.ceil(0.95 * len(waits)) - 1],  # nearest rank
        max_wait_s=waits[-1],
        mean_bounded_slowdown=sum(slowdowns) / len(records),
    )


def _rounded(name: str, value: float | int) -> float | int:
    if isinstance(value, int):
        return value
    return round(value, 4 if name == "utilization" else 2)


def _arrival_order(job: SwfJob) -> tuple[int, int]:
    return (job.submit_s, job.job_id)


def _widest_first(record: _Record) -> tuple[int, int]:
    return (-record.cpus, record.job_id)
