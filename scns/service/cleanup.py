"""``scns cleanup``: repairs for what no daemon is left to repair, safe to run from cron.

Every change is a guarded update, so a run racing a daemon (or another cleanup) changes
each thing at most once, and a second run finds nothing left to do. A running job is ended
only when its process is gone or it ran long past its own time limit: a job within its
limit, or without one, is never ended here (the site's max_time is applied at submit).
"""

from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass, field

from scns.db import statements as sql
from scns.db.engine import Database
from scns.domain.outcome import Ending, outcome
from scns.exec import process
from scns.service.recovery import NodeFailures, dry_run, fail_stale_nodes

PAST_LIMIT_MARGIN_S = 300  # a job this far beyond limit + grace has escaped its daemon


@dataclass(frozen=True)
class CleanupPolicy:
    kill_wait_s: float
    heartbeat_timeout_s: float
    run_dir: str
    purge_after_s: float | None = None
    purge_logs: bool = False


@dataclass
class CleanupReport:
    nodes: NodeFailures = field(default_factory=NodeFailures)
    failed: dict[int, str] = field(default_factory=dict)
    released: list[int] = field(default_factory=list)
    purged: list[int] = field(default_factory=list)
    logs_deleted: list[str] = field(default_factory=list)

    def summary(self, dry: bool) -> str:
        verb = "would fix" if dry else "fixed"
        return (
            f"cleanup{' (dry run)' if dry else ''}: {verb} {len(self.failed)} stuck job(s),"
            f" released {len(self.released)} leaked allocation(s),"
            f" marked {len(self.nodes.nodes)} node(s) down"
            f" ({len(self.nodes.node_failed)} NODE_FAIL, {len(self.nodes.requeued)} requeued),"
            f" purged {len(self.purged)} old job(s) and {len(self.logs_deleted)} log file(s)"
        )

    def details(self) -> list[str]:
        out = [f"node {n}: down (heartbeat timeout)" for n in self.nodes.nodes]
        out += [f"job {j}: NODE_FAIL" for j in self.nodes.node_failed]
        out += [f"job {j}: requeued" for j in self.nodes.requeued]
        out += [f"job {j}: FAILED ({why})" for j, why in sorted(self.failed.items())]
        out += [f"job {j}: allocation released" for j in self.released]
        out += [f"job {j}: purged" for j in self.purged]
        out += [f"log {p}: deleted" for p in self.logs_deleted]
        return out


def cleanup(db: Database, now: float, policy: CleanupPolicy, *, dry: bool = False):
    """Run every repair once and report what was (or, dry, would be) changed."""
    report = CleanupReport()
    if dry:
        report.nodes = dry_run(fail_stale_nodes, db, now, policy.heartbeat_timeout_s)
    else:
        report.nodes = fail_stale_nodes(db, now, policy.heartbeat_timeout_s)
    _fail_stuck(db, now, policy, report, dry)
    _release_leaks(db, now, report, dry)
    if policy.purge_after_s is not None:
        _purge(db, now - policy.purge_after_s, policy.purge_logs, report, dry)
    return report


def _fail_stuck(db: Database, now: float, policy: CleanupPolicy, report, dry: bool) -> None:
    host = socket.gethostname()
    with db.read() as tx:
        running = sql.list_jobs(tx, states=["RUNNING"])
        hosts = {n["name"]: n["hostname"] for n in sql.list_nodes(tx)}
    for job in running:
        local = hosts.get(job.node) == host
        verdict = _stuck_verdict(job, now, policy, local)
        if verdict is None:
            continue
        state, code, sig, reason = verdict
        if dry:
            report.failed[job.id] = reason
            continue
        status_path = os.path.join(policy.run_dir, "status", job.node or "", str(job.id))
        if local and job.pid and process.is_job_supervisor(job.pid, job.pid_start_ticks,
                                                           status_path):  # fmt: skip
            process.signal_group(job.pid, signal.SIGKILL)
        with db.write() as tx:
            if sql.finish(tx, job.id, expected=["RUNNING"], state=state, now=now,
                          exit_code=code, signal=sig, reason=reason):  # fmt: skip
                report.failed[job.id] = reason
                sql.notify(tx)


def _stuck_verdict(job, now: float, policy: CleanupPolicy, local: bool):
    """(state, exit code, signal, reason) for a RUNNING job no daemon is finishing, or None."""
    started = job.start_time or job.submit_time
    if local and job.pid and not process.is_alive(job.pid, job.pid_start_ticks):
        status_path = os.path.join(policy.run_dir, "status", job.node, str(job.id))
        recorded = process.read_status(status_path)
        if isinstance(recorded, (process.ExitStatus, process.StartFailure)):  # its true end
            return outcome(recorded, Ending("CANCELLED" if job.cancel_requested else None))
        return "FAILED", None, None, "process gone without an exit status (found by cleanup)"
    limit = job.time_limit_s
    if limit and now > started + limit + policy.kill_wait_s + PAST_LIMIT_MARGIN_S:
        return "FAILED", None, None, "still running long past its time limit (found by cleanup)"
    return None  # alive (or elsewhere) and within its own limit, or without one


def _release_leaks(db: Database, now: float, report: CleanupReport, dry: bool) -> None:
    with db.write() as tx:
        leaked = sql.leaked_allocations(tx)
        if not dry:
            for job_id in leaked:
                sql.release(tx, job_id, now)
    report.released = leaked


def _purge(db: Database, cutoff: float, logs: bool, report: CleanupReport, dry: bool) -> None:
    with db.write() as tx:
        victims = sql.purgeable_jobs(tx, cutoff)
        if not dry:
            sql.delete_jobs(tx, [v[0] for v in victims])
    report.purged = [v[0] for v in victims]
    if not logs:
        return
    owners: dict[str, tuple[int, int]] = {}
    for _id, out, err, uid, gid in victims:
        for path in (out, err):
            if path:
                owners.setdefault(path, (uid, gid))
    for path, (uid, gid) in sorted(owners.items()):
        if dry:
            if process.is_users_file(path, uid):
                report.logs_deleted.append(path)
        elif process.remove_users_file(path, uid, gid):
            report.logs_deleted.append(path)
