"""EASY backfill: the reservation, the backfill rules, starvation, and properties of every pass."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scns.sched.policy import POLICIES, order_key, plan
from scns.sched.reservation import earliest_start
from scns.sched.snapshot import (
    NodeView,
    PendingJob,
    RunningJob,
    Snapshot,
    Start,
    apply_starts,
)

NOW = 1000.0
LIMIT_S = 3600
ARRAY_ID = 7


def node(name: str, cpus: int, busy: tuple[int, ...] = (), **kw: object) -> NodeView:
    return NodeView(name, tuple(range(cpus)), frozenset(busy), **kw)


def running(job_id: int, on: str, cpus: int, ends_in_s: float, mem_mb: int = 0) -> RunningJob:
    return RunningJob(job_id, on, cpus, mem_mb, NOW + ends_in_s)


def job(job_id: int, cpus: int, limit_s: int | None = None, mem_mb: int = 0) -> PendingJob:
    return PendingJob(job_id, cpus, mem_mb=mem_mb, submit_time=job_id, time_limit_s=limit_s)


CASES = {
    "short job backfills, long one waits": (
        [node("a", 4, (0, 1))],
        [running(1, "a", 2, 100)],
        [job(10, 4), job(11, 1, limit_s=50), job(12, 1, limit_s=500)],
        [Start(11, "a", (2,))],
        {10: "Resources", 12: "Priority"},
        {10: NOW + 100},
    ),
    "extra cpus at the reservation may be used": (
        [node("a", 8, (0, 1, 2, 3, 4))],
        [running(1, "a", 5, 100)],
        [job(10, 6), job(11, 2, limit_s=500), job(12, 1, limit_s=500)],
        [Start(11, "a", (5, 6))],
        {10: "Resources", 12: "Priority"},
        {10: NOW + 100},
    ),
    "long job goes to another node than the reserved one": (
        [node("a", 4, (0, 1, 2)), node("b", 4, (0, 1, 2))],
        [running(1, "a", 3, 100), running(2, "b", 3, 300)],
        [job(10, 4), job(11, 1, limit_s=1000)],
        [Start(11, "b", (3,))],
        {10: "Resources"},
        {10: NOW + 100},
    ),
    "memory left at the reservation is respected": (
        [node("a", 4, (0,), mem_mb=1000, busy_mem_mb=500)],
        [running(1, "a", 1, 100, mem_mb=500)],
        [job(10, 1, mem_mb=900), job(11, 1, limit_s=500, mem_mb=200), job(12, 1, 50, 200)],
        [Start(12, "a", (1,))],
        {10: "Resources", 11: "Priority"},
        {10: NOW + 100},
    ),
    "a job past its expected end is taken to end now": (
        [node("a", 4, (0,))],
        [running(1, "a", 1, -10)],
        [job(10, 4)],
        [],
        {10: "Resources"},
        {10: NOW},
    ),
    "only the first blocked job gets a reservation": (
        [node("a", 4, (0,))],
        [running(1, "a", 1, 100)],
        [job(10, 4), job(11, 4)],
        [],
        {10: "Resources", 11: "Priority"},
        {10: NOW + 100},
    ),
    "jobs started in the pass count towards the reservation": (
        [node("a", 4)],
        [],
        [job(10, 3, limit_s=100), job(11, 4), job(12, 1, limit_s=200)],
        [Start(10, "a", (0, 1, 2))],
        {11: "Resources", 12: "Priority"},
        {11: NOW + 100},
    ),
    "cpus no running job will free give no reservation and block nothing": (
        [node("a", 4, (0, 1, 2))],
        [],
        [job(10, 4), job(11, 1, limit_s=10**6)],
        [Start(11, "a", (3,))],
        {10: "Resources"},
        {},
    ),
}


@pytest.mark.parametrize(
    ("nodes", "run", "pending", "starts", "reasons", "expected_start"),
    list(CASES.values()),
    ids=list(CASES),
)
def test_backfill(nodes, run, pending, starts, reasons, expected_start):
    snapshot = Snapshot(NOW, tuple(nodes), tuple(run), tuple(pending))
    result = plan(snapshot, "backfill")
    assert list(result.starts) == starts
    assert result.reasons == reasons
    assert result.expected_start == expected_start


def wide_job_start_step(policy: str, steps: int = 60) -> int | None:
    """The classic starvation scenario: a 4-cpu job behind a steady stream of 1-cpu jobs."""
    holding = {100 + i: ((i,), 1.0 + i) for i in range(3)}  # job id -> (cpu ids, end)
    pending = [PendingJob(1, 4, submit_time=0.0, time_limit_s=100)]
    for step in range(steps):
        now = float(step)
        holding = {j: held for j, held in holding.items() if held[1] > now}
        pending.append(PendingJob(1000 + step, 1, submit_time=now, time_limit_s=4))
        busy = tuple(cpu for ids, _ in holding.values() for cpu in ids)
        run = tuple(RunningJob(j, "a", len(ids), 0, end) for j, (ids, end) in holding.items())
        result = plan(Snapshot(now, (node("a", 4, busy),), run, tuple(pending)), policy)
        for start in result.starts:
            if start.job_id == 1:
                return step
            holding[start.job_id] = (start.cpu_ids, now + 4)
        pending = [p for p in pending if p.job_id in result.reasons]
    return None


def test_firstfit_starves_the_wide_job_and_backfill_does_not():
    assert wide_job_start_step("firstfit") is None
    assert wide_job_start_step("backfill") == 3  # as soon as the three running jobs end


@st.composite
def snapshots(draw) -> Snapshot:
    """Consistent random snapshots: running jobs hold exactly the busy cpus and memory."""
    nodes, run = [], []
    for index in range(draw(st.integers(1, 3))):
        name, cpus = f"n{index}", draw(st.integers(1, 8))
        mem_mb = draw(st.sampled_from([0, 1000, 4000]))
        free, busy_mem = list(range(cpus)), 0
        for _ in range(draw(st.integers(0, cpus))):
            width = draw(st.integers(1, max(1, len(free))))
            if width > len(free):
                break
            ids, free = free[:width], free[width:]
            job_mem = draw(st.integers(0, mem_mb - busy_mem)) if mem_mb else 0
            busy_mem += job_mem
            ends_in_s = draw(st.sampled_from([-5, 0, 10, 50, 100, 400]))
            array_id = draw(st.sampled_from([None, ARRAY_ID]))
            end = NOW + ends_in_s
            run.append((name, ids, RunningJob(len(run) + 1, name, width, job_mem, end, array_id)))
        busy = frozenset(cpu for owner, ids, _ in run if owner == name for cpu in ids)
        is_up = draw(st.booleans()) or index == 0
        nodes.append(NodeView(name, tuple(range(cpus)), busy, mem_mb, busy_mem, is_up))
    throttle = draw(st.sampled_from([None, 1, 2, 3]))
    pending = [draw(pending_jobs(100 + i, throttle)) for i in range(draw(st.integers(0, 10)))]
    return Snapshot(NOW, tuple(nodes), tuple(r for _, _, r in run), tuple(pending))


@st.composite
def pending_jobs(draw, job_id: int, throttle: int | None) -> PendingJob:
    return PendingJob(
        job_id,
        cpus=draw(st.one_of(st.integers(1, 2), st.integers(1, 9))),
        mem_mb=draw(st.sampled_from([0, 0, 300, 2000])),
        priority=draw(st.integers(0, 2)),
        submit_time=draw(st.integers(0, 5)),
        time_limit_s=draw(st.sampled_from([None, 5, 50, 100, 500])),
        blocked_reason=draw(st.sampled_from([None, None, None, "Dependency"])),
        array_job_id=draw(st.sampled_from([None, ARRAY_ID])),
        array_max_running=throttle,
    )


@settings(max_examples=300, deadline=None)
@given(snapshot=snapshots(), policy=st.sampled_from(POLICIES))
def test_a_pass_never_overcommits(snapshot, policy):
    result = plan(snapshot, policy, default_time_limit_s=LIMIT_S)
    pending = {job.job_id: job for job in snapshot.pending}
    started = {start.job_id for start in result.starts}
    assert started.isdisjoint(result.reasons)
    assert started | set(result.reasons) == set(pending)
    nodes = {view.name: view for view in snapshot.nodes}
    for start in result.starts:
        assert nodes[start.node].is_up
        assert pending[start.job_id].blocked_reason is None
        assert len(start.cpu_ids) == pending[start.job_id].cpus
    after = apply_starts(snapshot, result.starts, LIMIT_S)
    for before, view in zip(snapshot.nodes, after.nodes, strict=True):
        new_ids = [cpu for s in result.starts if s.node == view.name for cpu in s.cpu_ids]
        assert len(new_ids) == len(set(new_ids))  # no cpu id given twice in the pass
        assert before.busy_cpu_ids.isdisjoint(new_ids)  # no busy cpu id reused
        assert view.busy_cpu_ids <= set(view.cpu_ids)
        assert view.mem_mb == 0 or view.busy_mem_mb <= view.mem_mb
    throttles = {job.array_max_running for job in snapshot.pending if job.array_job_id}
    if throttles and None not in throttles:
        was_running = sum(job.array_job_id == ARRAY_ID for job in snapshot.running)
        new_tasks = sum(pending[job_id].array_job_id == ARRAY_ID for job_id in started)
        assert new_tasks <= max(0, throttles.pop() - was_running)


@settings(max_examples=300, deadline=None)
@given(snapshot=snapshots())
def test_backfilled_jobs_never_delay_the_reservation(snapshot):
    result = plan(snapshot, "backfill", default_time_limit_s=LIMIT_S)
    assert len(result.expected_start) <= 1
    for top_id, reserved_at in result.expected_start.items():
        top = next(job for job in snapshot.pending if job.job_id == top_id)
        ahead = [
            s for s in result.starts if order_key(_pending(snapshot, s.job_id)) < order_key(top)
        ]
        without_backfill = apply_starts(snapshot, ahead, LIMIT_S)
        with_backfill = apply_starts(snapshot, result.starts, LIMIT_S)
        assert earliest_start(without_backfill, top) == reserved_at
        assert earliest_start(with_backfill, top) == reserved_at


@settings(max_examples=200, deadline=None)
@given(snapshot=snapshots())
def test_fifo_starts_a_prefix_of_the_order(snapshot):
    result = plan(snapshot, "fifo", default_time_limit_s=LIMIT_S)
    blocked = [job for job in snapshot.pending if result.reasons.get(job.job_id) == "Resources"]
    for start in result.starts:
        job = _pending(snapshot, start.job_id)
        assert all(
            order_key(job) < order_key(other)
            for other in blocked
            if _fits_somewhere(snapshot, other)
        )


def _pending(snapshot: Snapshot, job_id: int) -> PendingJob:
    return next(job for job in snapshot.pending if job.job_id == job_id)


def _fits_somewhere(snapshot: Snapshot, job: PendingJob) -> bool:
    return any(
        view.is_up
        and len(view.cpu_ids) >= job.cpus
        and (view.mem_mb == 0 or job.mem_mb == 0 or view.mem_mb >= job.mem_mb)
        for view in snapshot.nodes
    )
