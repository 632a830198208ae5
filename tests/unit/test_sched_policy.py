"""Hand-made snapshots pinning the ordering, placement and reasons of every policy."""

import pytest

from scns.sched.policy import POLICIES, plan
from scns.sched.snapshot import NodeView, PendingJob, RunningJob, Snapshot, Start

NOW = 1000.0


def node(name: str, cpus: int = 4, busy: tuple[int, ...] = (), **kw: object) -> NodeView:
    return NodeView(name, tuple(range(cpus)), frozenset(busy), **kw)


def snap(nodes: list[NodeView], pending: list[PendingJob], running=()) -> Snapshot:
    return Snapshot(NOW, tuple(nodes), tuple(running), tuple(pending))


def started(result) -> list[int]:
    return [start.job_id for start in result.starts]


@pytest.mark.parametrize("policy", POLICIES)
def test_orders_by_priority_then_submit_time_then_id(policy):
    pending = [
        PendingJob(1, 1, priority=0, submit_time=1.0),
        PendingJob(2, 1, priority=5, submit_time=9.0),
        PendingJob(3, 1, priority=0, submit_time=0.5),
        PendingJob(4, 1, priority=0, submit_time=0.5),
    ]
    result = plan(snap([node("a", cpus=8)], pending), policy)
    assert started(result) == [2, 3, 4, 1]
    assert [start.cpu_ids for start in result.starts] == [(0,), (1,), (2,), (3,)]


@pytest.mark.parametrize(
    ("nodes", "job", "expected"),
    [
        # Best fit: the node with the fewest free CPUs that still fits.
        ([node("a", busy=(0,)), node("b", busy=(0, 1))], PendingJob(1, 2), Start(1, "b", (2, 3))),
        # Ties by node name, whatever the snapshot order.
        ([node("b"), node("a")], PendingJob(1, 1), Start(1, "a", (0,))),
        # Lowest-numbered free cpu ids, even when the busy ones are scattered.
        ([node("a", busy=(0, 2))], PendingJob(1, 2), Start(1, "a", (1, 3))),
        # Memory must fit on a node that tracks it.
        (
            [node("a", mem_mb=1000, busy_mem_mb=800), node("b", busy=(0,), mem_mb=4000)],
            PendingJob(1, 1, mem_mb=500),
            Start(1, "b", (1,)),
        ),
        # A node that does not track memory takes any request.
        ([node("a", mem_mb=0)], PendingJob(1, 1, mem_mb=10**6), Start(1, "a", (0,))),
        # Down nodes are never used.
        (
            [node("a", is_up=False), node("b", busy=(0, 1, 2))],
            PendingJob(1, 1),
            Start(1, "b", (3,)),
        ),
    ],
)
@pytest.mark.parametrize("policy", POLICIES)
def test_placement(policy, nodes, job, expected):
    assert plan(snap(nodes, [job]), policy).starts == (expected,)


@pytest.mark.parametrize("policy", POLICIES)
def test_down_node_only_means_resources(policy):
    result = plan(snap([node("a", is_up=False)], [PendingJob(1, 1)]), policy)
    assert result.starts == ()
    assert result.reasons == {1: "Resources"}


def test_fifo_never_overtakes_a_blocked_job():
    pending = [PendingJob(1, 1), PendingJob(2, 4), PendingJob(3, 1), PendingJob(4, 1)]
    result = plan(snap([node("a", busy=(0,))], pending), "fifo")
    assert started(result) == [1]
    assert result.reasons == {2: "Resources", 3: "Priority", 4: "Priority"}
    assert result.expected_start == {}


def test_firstfit_starts_everything_that_fits():
    pending = [PendingJob(1, 1), PendingJob(2, 4), PendingJob(3, 1), PendingJob(4, 2)]
    result = plan(snap([node("a", busy=(0,))], pending), "firstfit")
    assert started(result) == [1, 3]
    assert result.reasons == {2: "Resources", 4: "Resources"}


@pytest.mark.parametrize("policy", POLICIES)
def test_job_too_wide_for_every_node_does_not_block(policy):
    pending = [PendingJob(1, 9), PendingJob(2, 1, mem_mb=5000), PendingJob(3, 1)]
    nodes = [node("a", mem_mb=4000), node("b", cpus=8, is_up=False)]
    result = plan(snap(nodes, pending), policy)
    assert started(result) == [3]
    assert result.reasons == {1: "Resources", 2: "Resources"}
    assert result.expected_start == {}


@pytest.mark.parametrize("policy", POLICIES)
def test_blocked_reasons_are_kept_and_never_started(policy):
    reasons = ["Dependency", "DependencyNeverSatisfied", "JobHeldUser", "BeginTime"]
    pending = [PendingJob(i, 1, blocked_reason=r) for i, r in enumerate(reasons)]
    result = plan(snap([node("a")], pending), policy)
    assert result.starts == ()
    assert result.reasons == dict(enumerate(reasons))


@pytest.mark.parametrize("policy", POLICIES)
def test_array_throttle_counts_running_and_new_starts(policy):
    running = [RunningJob(1, "a", 1, 0, NOW + 60, array_job_id=7)]
    tasks = [PendingJob(10 + i, 1, array_job_id=7, array_max_running=3) for i in range(4)]
    other = PendingJob(20, 1)
    result = plan(snap([node("a", cpus=8, busy=(0,))], [*tasks, other], running), policy)
    assert started(result) == [10, 11, 20]
    assert result.reasons == {12: "JobArrayTaskLimit", 13: "JobArrayTaskLimit"}


@pytest.mark.parametrize("policy", POLICIES)
def test_only_max_jobs_examined_are_examined(policy):
    pending = [PendingJob(i, 1, priority=-i) for i in range(10)]
    pending.append(PendingJob(99, 1, blocked_reason="JobHeldUser"))
    result = plan(snap([node("a", cpus=16)], pending), policy, max_jobs_examined=3)
    assert started(result) == [0, 1, 2]
    assert result.reasons == {**{i: "Priority" for i in range(3, 10)}, 99: "JobHeldUser"}


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError, match="unknown policy"):
        plan(snap([node("a")], []), "lottery")
