"""When and where one pending job would start: plan() replayed forward on the snapshot's own
clock (``scns submit --test-only``, like Slurm's will-run test)."""

from collections.abc import Mapping
from dataclasses import replace

from scns.sched.policy import plan
from scns.sched.snapshot import NodeView, PendingJob, RunningJob, Snapshot, Start

BEGIN_TIME = "BeginTime"


def first_start(
    snapshot: Snapshot,
    job_id: int,
    policy: str = "backfill",
    *,
    cpu_ids_of: Mapping[int, tuple[int, ...]],
    begin_times: Mapping[int, float] | None = None,
    default_time_limit_s: int = 3600,
    max_jobs_examined: int = 1000,
    max_steps: int = 5000,
) -> tuple[float, Start] | None:
    """(time, placement) of ``job_id``'s start, or None when it never starts.

    Assumes what backfill assumes: every running job holds its CPUs until its expected end,
    nothing new arrives, and a started job runs for its whole time limit. Each step runs one
    pass at the current time and applies its starts, then moves the clock to the next end
    of a running job or the next begin time (``begin_times``: when a job blocked with
    BeginTime becomes eligible), freeing what ended. Jobs blocked for any other reason stay
    blocked. ``cpu_ids_of`` gives the CPUs each running job holds.
    """
    replay = _Replay(snapshot, cpu_ids_of, dict(begin_times or {}))
    for _step in range(max_steps):
        decision = plan(replay.snapshot(), policy, default_time_limit_s=default_time_limit_s,
                        max_jobs_examined=max_jobs_examined)  # fmt: skip
        for start in decision.starts:
            if start.job_id == job_id:
                return replay.now, start
        replay.start(decision.starts, default_time_limit_s)
        if not replay.advance():
            return None
    return None


class _Replay:
    """The snapshot's cluster as its jobs start and end on a virtual clock."""

    def __init__(self, snapshot: Snapshot, cpu_ids_of: Mapping[int, tuple[int, ...]],
                 begin_times: dict[int, float]) -> None:  # fmt: skip
        self.now = snapshot.now
        self.views = {node.name: node for node in snapshot.nodes}
        self.busy = {node.name: set(node.busy_cpu_ids) for node in snapshot.nodes}
        self.busy_mem = {node.name: node.busy_mem_mb for node in snapshot.nodes}
        self.running = {job.job_id: job for job in snapshot.running}
        self.cpu_ids_of = dict(cpu_ids_of)
        self.pending = {job.job_id: job for job in snapshot.pending}
        self.begin_times = begin_times

    def snapshot(self) -> Snapshot:
        for job_id, begin in list(self.begin_times.items()):
            job = self.pending.get(job_id)
            if begin <= self.now and job is not None and job.blocked_reason == BEGIN_TIME:
                self.pending[job_id] = replace(job, blocked_reason=None)
                del self.begin_times[job_id]
        nodes = tuple(self._view(name) for name in self.views)
        return Snapshot(self.now, nodes, tuple(self.running.values()),
                        tuple(self.pending.values()))  # fmt: skip

    def _view(self, name: str) -> NodeView:
        view = self.views[name]
        return replace(view, busy_cpu_ids=frozenset(self.busy[name]),
                       busy_mem_mb=self.busy_mem[name])  # fmt: skip

    def start(self, starts: tuple[Start, ...], default_time_limit_s: int) -> None:
        for start in starts:
            job: PendingJob = self.pending.pop(start.job_id)
            limit_s = default_time_limit_s if job.time_limit_s is None else job.time_limit_s
            self.running[job.job_id] = RunningJob(job.job_id, start.node, job.cpus, job.mem_mb,
                                                  self.now + limit_s, job.array_job_id)  # fmt: skip
            self.cpu_ids_of[job.job_id] = start.cpu_ids
            self.busy[start.node].update(start.cpu_ids)
            if self.views[start.node].mem_mb > 0:
                self.busy_mem[start.node] += job.mem_mb

    def advance(self) -> bool:
        """Move to the next end or begin time and free what ended; False when nothing is
        left to happen."""
        times = [job.expected_end for job in self.running.values()]
        times += [t for t in self.begin_times.values() if t > self.now]
        if not times:
            return False
        self.now = max(self.now, min(times))
        for job in [j for j in self.running.values() if j.expected_end <= self.now]:
            del self.running[job.job_id]
            held = self.cpu_ids_of.pop(job.job_id, ())
            if job.node not in self.views:  # a node deleted under a running job
                continue
            self.busy[job.node].difference_update(held)
            if self.views[job.node].mem_mb > 0:
                self.busy_mem[job.node] = max(0, self.busy_mem[job.node] - job.mem_mb)
        return True
