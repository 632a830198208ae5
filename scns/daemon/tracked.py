"""A job process a node watches, and the small facts about it (its cgroup's name, when to
warn it before its limit)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from scns.domain.job import Job
from scns.domain.signals import SignalSpec, parse_signal_spec
from scns.exec import cgroups
from scns.exec.process import Spawned


@dataclass
class Tracked:
    """A job process this daemon watches (spawned by it, or adopted after a restart)."""

    job_id: int
    pid: int
    start_ticks: int | None
    pidfd: int | None
    deadline: float | None
    spawned: Spawned | None = None
    ending: str | None = None  # TIMEOUT, CANCELLED or OUT_OF_MEMORY once we kill it
    kill_at: float | None = None
    mem_limit_kb: int = 0
    script: str | None = None  # the script file it shares with its array's other tasks
    epoch: int = 0  # the allocation this node holds (the job's restarts count): its fence
    started_at: float = 0.0  # the start time recorded for it
    warn_at: float | None = None  # sbatch --signal: when to send it, until it is sent
    warning: SignalSpec | None = None
    cgroup: cgroups.JobCgroup | None = None  # None: process-group tracking
    extra: dict = field(default_factory=dict)


def arm_warning(entry: Tracked, job: Job) -> None:
    """sbatch --signal: when to warn the job before its time limit."""
    if not job.signal_spec or entry.deadline is None:
        return
    try:
        spec = parse_signal_spec(job.signal_spec)
    except Exception:  # checked at submit; an old row must not stop the launch
        return
    entry.warning = spec
    entry.warn_at = entry.deadline - spec.seconds


def cgroup_name(job_id: int) -> str:
    return f"job{job_id}"


def short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def wait_empty(group: cgroups.JobCgroup, timeout_s: float) -> bool:
    """Killed processes take a moment to go (longer in uninterruptible sleep)."""
    deadline = time.monotonic() + timeout_s
    while not group.is_empty():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True
