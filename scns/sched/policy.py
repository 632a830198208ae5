"""The scheduling pass: which pending jobs start now, where, and why the others wait."""

import heapq
from collections import Counter
from collections.abc import Iterator

from scns.sched.cluster import Cluster, NodeState
from scns.sched.reservation import Reservation, release_profile, reserve
from scns.sched.snapshot import (
    ARRAY_TASK_LIMIT,
    PRIORITY,
    RESOURCES,
    PendingJob,
    Plan,
    RunningJob,
    Snapshot,
    Start,
)

POLICIES = ("fifo", "firstfit", "backfill")


def plan(
    snapshot: Snapshot,
    policy: str = "backfill",
    *,
    default_time_limit_s: int = 3600,
    max_jobs_examined: int = 1000,
) -> Plan:
    """Decide one pass for `policy` ('fifo', 'firstfit' or 'backfill').

    Ordering: jobs with a blocked_reason are never started and keep that reason. The other
    (eligible) jobs are ordered by priority descending, then submit_time ascending, then job_id
    ascending; only the first `max_jobs_examined` of them are examined, the rest get 'Priority'.
    An examined job whose array already runs `array_max_running` tasks (counting starts of this
    pass) gets 'JobArrayTaskLimit'; one too wide for every up node gets 'Resources'. Neither
    blocks the jobs behind it, under any policy.
    Placement: all of a job's CPUs come from one up node: the fitting node with the fewest free
    CPUs (ties by name), its lowest-numbered free CPU ids, and its memory when both node and job
    track memory.
    - fifo: start in order; the first job that does not fit gets 'Resources' and the pass stops
      (the rest get 'Priority').
    - firstfit: start every job that fits now; the others get 'Resources'.
    - backfill (EASY): start in order; the first job that does not fit gets 'Resources' and a
      reservation (its time is in expected_start). A later job starts only if it fits now and
      ends by the reservation time, or runs on another node, or leaves enough of the reserved
      node free at that time; otherwise it gets 'Priority'.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    walk = _Walk(snapshot, default_time_limit_s)
    examined = _examined_jobs(snapshot.pending, max_jobs_examined)
    if policy == "fifo":
        walk.run_fifo(examined)
    elif policy == "firstfit":
        walk.run_firstfit(examined)
    else:
        walk.run_backfill(examined)
    return walk.result()


def order_key(job: PendingJob) -> tuple[int, float, int]:
    """The plan() ordering: priority descending, then submit time, then job id."""
    return (-job.priority, job.submit_time, job.job_id)


def _examined_jobs(pending: tuple[PendingJob, ...], limit: int) -> list[PendingJob]:
    eligible = [job for job in pending if job.blocked_reason is None]
    if len(eligible) <= limit:
        return sorted(eligible, key=order_key)
    return heapq.nsmallest(limit, eligible, key=order_key)


class _Walk:
    """The mutable state of one pass: free resources, starts so far, reasons, array counts."""

    def __init__(self, snapshot: Snapshot, default_time_limit_s: int) -> None:
        self.now = snapshot.now
        self.running = snapshot.running
        self.default_time_limit_s = default_time_limit_s
        self.cluster = Cluster(snapshot.nodes)
        # Every job defaults to its blocked reason or 'Priority'; examined jobs overwrite it.
        self.reasons = {job.job_id: job.blocked_reason or PRIORITY for job in snapshot.pending}
        self.expected_start: dict[int, float] = {}
        self.started: list[RunningJob] = []
        self.starts: list[Start] = []
        self.array_running = Counter(
            job.array_job_id for job in snapshot.running if job.array_job_id is not None
        )

    def run_fifo(self, jobs: list[PendingJob]) -> None:
        """Start in order and stop at the first job that does not fit."""
        for job in self._startable(jobs):
            nodes = self.cluster.candidates(job)
            if not nodes:
                self.reasons[job.job_id] = RESOURCES
                return
            self._start(job, nodes[0])

    def run_firstfit(self, jobs: list[PendingJob]) -> None:
        """Start whatever fits now, in order, skipping the rest."""
        for job in self._startable(jobs):
            nodes = self.cluster.candidates(job)
            if nodes:
                self._start(job, nodes[0])
            else:
                self.reasons[job.job_id] = RESOURCES

    def run_backfill(self, jobs: list[PendingJob]) -> None:
        """EASY backfill: reserve for the first blocked job, start later ones that keep it."""
        reservation: Reservation | None = None
        for job in self._startable(jobs):
            nodes = self.cluster.candidates(job)
            if reservation is None:
                if nodes:
                    self._start(job, nodes[0])
                    continue
                self.reasons[job.job_id] = RESOURCES
                reservation = self._reserve(job)
                continue
            end = self.now + self._limit_s(job)
            node = next((n for n in nodes if reservation.admits(n.name, job, end)), None)
            if node is not None:
                reservation.take(node.name, job, end)
                self._start(job, node)

    def result(self) -> Plan:
        """Freeze the pass into a Plan; started jobs carry no reason."""
        for start in self.starts:
            del self.reasons[start.job_id]
        return Plan(tuple(self.starts), self.reasons, self.expected_start)

    def _startable(self, jobs: list[PendingJob]) -> Iterator[PendingJob]:
        """Yield the jobs worth placing; throttled and never-fitting ones get their reason."""
        for job in jobs:
            if self._is_throttled(job):
                self.reasons[job.job_id] = ARRAY_TASK_LIMIT
            elif not self.cluster.can_ever_fit(job):
                self.reasons[job.job_id] = RESOURCES
            else:
                yield job

    def _is_throttled(self, job: PendingJob) -> bool:
        if job.array_job_id is None or job.array_max_running is None:
            return False
        return self.array_running[job.array_job_id] >= job.array_max_running

    def _reserve(self, job: PendingJob) -> Reservation | None:
        profile = release_profile((*self.running, *self.started), self.now)
        found = reserve(self.cluster, profile, job, self.now)
        if found is not None:
            self.expected_start[job.job_id] = found.time
        return found

    def _limit_s(self, job: PendingJob) -> int:
        return self.default_time_limit_s if job.time_limit_s is None else job.time_limit_s

    def _start(self, job: PendingJob, node: NodeState) -> None:
        cpu_ids = self.cluster.allocate(node, job)
        self.starts.append(Start(job.job_id, node.name, cpu_ids))
        end = self.now + self._limit_s(job)
        self.started.append(RunningJob(job.job_id, node.name, job.cpus, job.mem_mb, end))
        if job.array_job_id is not None:
            self.array_running[job.array_job_id] += 1
