"""The scheduler: a pure function from a snapshot to a plan, plus a workload simulator."""

from scns.sched.policy import POLICIES, plan
from scns.sched.snapshot import NodeView, PendingJob, Plan, RunningJob, Snapshot, Start

__all__ = ["POLICIES", "NodeView", "PendingJob", "Plan", "RunningJob", "Snapshot", "Start", "plan"]
