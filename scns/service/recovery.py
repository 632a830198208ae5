"""Repairs that keep the database true when daemons or nodes disappear.

Shared by the leading daemon (every few seconds) and by ``scns cleanup`` (from cron); each
repair is a guarded update, so running them twice, or from two places at once, is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scns.db import statements as sql
from scns.db.engine import Database
from scns.domain.state_names import ALLOCATED_NAMES


@dataclass
class NodeFailures:
    nodes: list[str] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    node_failed: list[int] = field(default_factory=list)


def fail_stale_nodes(db: Database, now: float, timeout_s: float, *, dry_run: bool = False,
                     alive: str | None = None):  # fmt: skip
    """Mark nodes with a stale heartbeat DOWN; requeue or NODE_FAIL what they held.

    A job allocated but never started goes back to PENDING (it cannot have run). A running
    job ends NODE_FAIL, or goes back to PENDING when it was submitted with --requeue; its
    CPUs are released either way. ``alive``: the caller's own node, alive whatever its
    heartbeat says (a daemon that cannot write its heartbeat, on a full disk say, must not
    fail its own jobs).
    """
    result = NodeFailures()
    with db.write() as tx:
        stale = [
            n["name"]
            for n in sql.list_nodes(tx)
            if n["state"] == "UP"
            and (n["heartbeat_time"] or 0) < now - timeout_s
            and n["name"] != alive
        ]
        if not stale:
            return result
        for name in stale:
            if dry_run or sql.set_node_down(tx, name, "heartbeat timeout",
                                            only_if_stale_before=now - timeout_s):  # fmt: skip
                result.nodes.append(name)
        if not result.nodes:
            return result
        for job_id, state, requeue in sql.jobs_on_nodes(tx, result.nodes, ALLOCATED_NAMES):
            if state == "CONFIGURING" or requeue:
                if dry_run or sql.requeue(tx, job_id, expected=[state], now=now,
                                          reason="node failure"):  # fmt: skip
                    result.requeued.append(job_id)
            elif dry_run or sql.finish(tx, job_id, expected=["RUNNING"], state="NODE_FAIL",
                                       now=now, reason="node stopped responding"):  # fmt: skip
                result.node_failed.append(job_id)
        if dry_run:
            raise _DryRun(result)
        sql.notify(tx)
    return result


def requeue_unstarted(db: Database, job_ids: list[int], now: float, reason: str) -> list[int]:
    """Send jobs allocated but never started back to the queue (guarded: one that started
    meanwhile stays); returns those requeued."""
    with db.write() as tx:
        done = [
            j
            for j in job_ids
            if sql.requeue(tx, j, expected=["CONFIGURING"], now=now, reason=reason)
        ]
        if done:
            sql.notify(tx)
    return done


class _DryRun(Exception):
    """Rolls back a dry run's transaction while carrying what it would have done."""

    def __init__(self, result) -> None:
        self.result = result


def dry_run(function, *args, **kwargs):
    """Run a repair with ``dry_run=True`` and return what it would have changed."""
    try:
        return function(*args, dry_run=True, **kwargs)
    except _DryRun as done:
        return done.result
