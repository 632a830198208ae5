"""first_start: the pure policy replayed forward for ``scns submit --test-only``."""

from __future__ import annotations

import pytest

from scns.sched.forecast import first_start
from scns.sched.policy import POLICIES
from scns.sched.snapshot import NodeView, PendingJob, RunningJob, Snapshot

NOW = 1000.0
NEW = 99


def node(name: str = "n1", cpus: int = 4, busy=()) -> NodeView:
    return NodeView(name, tuple(range(cpus)), frozenset(busy))


@pytest.mark.parametrize("policy", POLICIES)
def test_a_job_that_fits_starts_now_on_the_best_fitting_node(policy) -> None:
    snap = Snapshot(NOW, (node("n1", 4, busy=(0,)), node("n2", 4)), (),
                    (PendingJob(NEW, cpus=2),))  # fmt: skip
    when, start = first_start(snap, NEW, policy, cpu_ids_of={})
    assert (when, start.node, start.cpu_ids) == (NOW, "n1", (1, 2))


@pytest.mark.parametrize("policy", POLICIES)
def test_a_job_waits_for_running_jobs_to_reach_their_limits(policy) -> None:
    running = (RunningJob(1, "n1", 2, 0, NOW + 100), RunningJob(2, "n1", 2, 0, NOW + 300))
    snap = Snapshot(NOW, (node("n1", 4, busy=(0, 1, 2, 3)),), running,
                    (PendingJob(NEW, cpus=3, submit_time=NOW),))  # fmt: skip
    when, start = first_start(snap, NEW, policy, cpu_ids_of={1: (0, 1), 2: (2, 3)})
    assert (when, start.node) == (NOW + 300, "n1")


def test_higher_priority_jobs_go_first() -> None:
    """One free CPU; a queued job of higher priority takes it for 500 s."""
    queued = PendingJob(1, cpus=1, priority=10, submit_time=NOW, time_limit_s=500)
    snap = Snapshot(NOW, (node("n1", 1),), (), (queued, PendingJob(NEW, cpus=1, submit_time=NOW)))
    when, _start = first_start(snap, NEW, "fifo", cpu_ids_of={})
    assert when == NOW + 500


def test_backfill_lets_a_short_job_start_before_a_reserved_wide_one() -> None:
    running = (RunningJob(1, "n1", 2, 0, NOW + 600),)
    wide = PendingJob(2, cpus=4, submit_time=NOW - 10)
    short = PendingJob(NEW, cpus=2, submit_time=NOW, time_limit_s=60)
    snap = Snapshot(NOW, (node("n1", 4, busy=(0, 1)),), running, (wide, short))
    assert first_start(snap, NEW, "backfill", cpu_ids_of={1: (0, 1)})[0] == NOW
    assert first_start(snap, NEW, "fifo", cpu_ids_of={1: (0, 1)})[0] > NOW


def test_a_begin_time_holds_a_job_until_then() -> None:
    later = PendingJob(NEW, cpus=1, blocked_reason="BeginTime")
    snap = Snapshot(NOW, (node(),), (), (later,))
    when, _start = first_start(snap, NEW, cpu_ids_of={}, begin_times={NEW: NOW + 3600})
    assert when == NOW + 3600


def test_never_when_it_fits_no_up_node_or_stays_blocked() -> None:
    too_wide = Snapshot(NOW, (node(cpus=2),), (), (PendingJob(NEW, cpus=3),))
    assert first_start(too_wide, NEW, cpu_ids_of={}) is None
    down = Snapshot(NOW, (NodeView("n1", (0, 1), frozenset(), is_up=False),), (),
                    (PendingJob(NEW, cpus=1),))  # fmt: skip
    assert first_start(down, NEW, cpu_ids_of={}) is None
    blocked = Snapshot(NOW, (node(),), (), (PendingJob(NEW, cpus=1, blocked_reason="Dependency"),))
    assert first_start(blocked, NEW, cpu_ids_of={}) is None
