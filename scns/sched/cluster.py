"""Free CPUs and memory of the up nodes during one pass, so placement is decided in one place."""

from scns.sched.snapshot import NodeView, PendingJob


class NodeState:
    """Mutable free resources of one up node; free_ids stays sorted ascending."""

    __slots__ = ("free_ids", "free_mem_mb", "name", "total_cpus", "total_mem_mb")

    def __init__(self, view: NodeView) -> None:
        self.name = view.name
        self.total_cpus = len(view.cpu_ids)
        self.total_mem_mb = view.mem_mb
        self.free_ids = sorted(set(view.cpu_ids) - view.busy_cpu_ids)
        self.free_mem_mb = view.mem_mb - view.busy_mem_mb

    def is_tracking_mem(self, job: PendingJob) -> bool:
        """Memory constrains a job only when the node tracks it and the job asks for some."""
        return self.total_mem_mb > 0 and job.mem_mb > 0

    def can_ever_fit(self, job: PendingJob) -> bool:
        """Whether the job fits this node when it is empty."""
        if job.cpus > self.total_cpus:
            return False
        return not self.is_tracking_mem(job) or job.mem_mb <= self.total_mem_mb

    def fits_now(self, job: PendingJob) -> bool:
        """Whether the job fits in what is free right now."""
        if job.cpus > len(self.free_ids):
            return False
        return not self.is_tracking_mem(job) or job.mem_mb <= self.free_mem_mb


class Cluster:
    """The up nodes of a snapshot with best-fit placement and lowest-id CPU choice."""

    __slots__ = ("max_free_cpus", "nodes")

    def __init__(self, views: tuple[NodeView, ...]) -> None:
        self.nodes = [NodeState(view) for view in sorted(views, key=_by_name) if view.is_up]
        self.max_free_cpus = max((len(node.free_ids) for node in self.nodes), default=0)

    def can_ever_fit(self, job: PendingJob) -> bool:
        """Whether some up node could hold the job once empty; if not, the job must not block."""
        return any(node.can_ever_fit(job) for node in self.nodes)

    def candidates(self, job: PendingJob) -> list[NodeState]:
        """Nodes the job fits now, best fit first: fewest free CPUs, then node name."""
        if job.cpus > self.max_free_cpus:
            return []
        fitting = [node for node in self.nodes if node.fits_now(job)]
        fitting.sort(key=_by_free_cpus)  # stable: nodes are already in name order
        return fitting

    def allocate(self, node: NodeState, job: PendingJob) -> tuple[int, ...]:
        """Take the job's lowest-numbered free CPUs (and its memory) on the node."""
        cpu_ids = tuple(node.free_ids[: job.cpus])
        del node.free_ids[: job.cpus]
        if node.total_mem_mb > 0:
            node.free_mem_mb -= job.mem_mb
        self.max_free_cpus = max(len(other.free_ids) for other in self.nodes)
        return cpu_ids


def _by_name(view: NodeView) -> str:
    return view.name


def _by_free_cpus(node: NodeState) -> int:
    return len(node.free_ids)
