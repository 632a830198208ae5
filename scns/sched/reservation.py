"""When a blocked job could start, and whether a backfill candidate would delay it."""

from collections.abc import Iterable
from dataclasses import dataclass

from scns.sched.cluster import Cluster, NodeState
from scns.sched.snapshot import PendingJob, RunningJob, Snapshot

# (release time, cpus, mem_mb) sorted by time: what a node gets back as its jobs end.
Releases = list[tuple[float, int, int]]


@dataclass(slots=True)
class Reservation:
    """The blocked top job's start time and node, with the capacity left over at that time."""

    node: str
    time: float
    extra_cpus: int
    extra_mem_mb: int | None  # None: memory does not constrain the reserved job

    def admits(self, node: str, job: PendingJob, end: float) -> bool:
        """Whether running job on node until end leaves the reservation on time."""
        if end <= self.time or node != self.node:
            return True
        if job.cpus > self.extra_cpus:
            return False
        return self.extra_mem_mb is None or job.mem_mb <= self.extra_mem_mb

    def take(self, node: str, job: PendingJob, end: float) -> None:
        """Account for an admitted job that still runs on the reserved node at the reserved time."""
        if end <= self.time or node != self.node:
            return
        self.extra_cpus -= job.cpus
        if self.extra_mem_mb is not None:
            self.extra_mem_mb -= job.mem_mb


def release_profile(running: Iterable[RunningJob], now: float) -> dict[str, Releases]:
    """Per node, sorted releases; a job already past its expected end is taken to end now."""
    profile: dict[str, Releases] = {}
    for job in running:
        profile.setdefault(job.node, []).append((max(job.expected_end, now), job.cpus, job.mem_mb))
    for releases in profile.values():
        releases.sort()
    return profile


def reserve(
    cluster: Cluster, profile: dict[str, Releases], job: PendingJob, now: float
) -> Reservation | None:
    """The earliest single-node slot for job (ties by node name); None if no release makes room."""
    best: Reservation | None = None
    for node in cluster.nodes:
        if not node.can_ever_fit(job):
            continue
        found = _earliest_on_node(node, profile.get(node.name, []), job, now)
        if found is not None and (best is None or found.time < best.time):
            best = found
    return best


def earliest_start(snapshot: Snapshot, job: PendingJob) -> float | None:
    """The reservation time backfill would give job in this snapshot (used to check backfill)."""
    profile = release_profile(snapshot.running, snapshot.now)
    found = reserve(Cluster(snapshot.nodes), profile, job, snapshot.now)
    return None if found is None else found.time


def _earliest_on_node(
    node: NodeState, releases: Releases, job: PendingJob, now: float
) -> Reservation | None:
    tracks_mem = node.is_tracking_mem(job)
    free_cpus, free_mem = len(node.free_ids), node.free_mem_mb
    time, index = now, 0
    while True:
        if free_cpus >= job.cpus and (not tracks_mem or free_mem >= job.mem_mb):
            extra_mem = free_mem - job.mem_mb if tracks_mem else None
            return Reservation(node.name, time, free_cpus - job.cpus, extra_mem)
        if index == len(releases):
            return None
        # Apply every release at the same instant before testing, so the extra capacity is exact.
        time = releases[index][0]
        while index < len(releases) and releases[index][0] == time:
            free_cpus += releases[index][1]
            free_mem += releases[index][2]
            index += 1
