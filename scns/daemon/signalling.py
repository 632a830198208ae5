"""Limits and signals for the jobs a node runs: time limits, kill escalation, cancels and
requeues asked for, scancel --signal, sbatch --signal, and the memory watch of the
process-group fallback. A mixin of the Executor, which owns ``tracked``."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from scns.daemon.tracked import Tracked
from scns.db import statements as sql
from scns.db.engine import Database
from scns.db.statements.lifecycle import time_limits_on_node
from scns.exec import process
from scns.log import log

MEM_CHECK_S = 0.5


class Signalling:
    """What the node does to running jobs on its own clock or when asked."""

    tracked: dict[int, Tracked]
    mem_check_due: float
    kill_wait_s: float
    node: str
    db: Database

    def enforce(self, now: float) -> None:
        """Time limits (SIGTERM, then SIGKILL after the grace period) and kill escalation."""
        for entry in self.tracked.values():
            if entry.kill_at is not None and now >= entry.kill_at:
                process.signal_group(entry.pid, signal.SIGKILL)
                if entry.cgroup is not None:
                    entry.cgroup.kill()
                entry.kill_at = None
            elif entry.ending is None and entry.deadline is not None and now >= entry.deadline:
                self._terminate(entry, "TIMEOUT", now)
            elif entry.warn_at is not None and now >= entry.warn_at and entry.ending is None:
                entry.warn_at = None
                self._warn(entry)

    def _warn(self, entry: Tracked) -> None:
        """sbatch --signal: the batch shell alone (B:), or the rest of the job (Slurm sends
        it to the steps, not the batch shell)."""
        spec = entry.warning
        assert spec is not None
        shell = process.children_of(entry.pid)
        if spec.batch_only:
            targets = shell
        elif entry.cgroup is not None:
            targets = [p for p in entry.cgroup.pids() if p not in shell and p != entry.pid]
        else:
            targets = [p for p in process.group_members(entry.pid) if p not in shell
                       and p != entry.pid]  # fmt: skip
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, spec.signum)
        log("job_warned", job=entry.job_id, signal=spec.signum, processes=len(targets))

    def apply_cancels(self, now: float) -> None:
        """Cancels and requeues asked for (the job is ended, then recorded accordingly), and
        signals to deliver (scancel --signal: to every process of the job)."""
        with self.db.read() as tx:
            wanted = sql.cancel_requested_on_node(tx, self.node)
            signals = sql.signals_requested_on_node(tx, self.node)
            limits = time_limits_on_node(tx, self.node) if self.tracked else []
        self._move_deadlines(limits)
        for job_id, is_requeue in wanted:
            entry = self.tracked.get(job_id)
            if entry is not None and entry.ending is None:
                self._terminate(entry, "REQUEUED" if is_requeue else "CANCELLED", now)
        for job_id, sig in signals:
            entry = self.tracked.get(job_id)
            if entry is None:
                continue
            pids = entry.cgroup.pids() if entry.cgroup is not None else []
            for pid in pids or process.group_members(entry.pid):
                if pid != entry.pid:  # the supervisor itself is scns's, not the job's
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, sig)
            with self.db.write() as tx:
                sql.signal_delivered(tx, job_id, sig)
            log("job_signalled", job=job_id, signal=sig, why="scancel --signal")

    def _move_deadlines(self, limits: list[tuple[int, float | None, int | None]]) -> None:
        """scns update --time on a running job: its deadline (and sbatch --signal's warning,
        unless already sent) follow the limit in the database."""
        for job_id, started, limit_s in limits:
            entry = self.tracked.get(job_id)
            if entry is None or entry.ending is not None or started is None:
                continue
            deadline = started + limit_s if limit_s else None
            if _same_time(deadline, entry.deadline):
                continue
            entry.deadline = deadline
            if entry.warning is not None and entry.warn_at is not None:
                entry.warn_at = None if deadline is None else deadline - entry.warning.seconds
            log("job_time_limit_changed", job=job_id, time_limit_s=limit_s)

    def _terminate(self, entry: Tracked, ending: str, now: float) -> None:
        entry.ending = ending
        entry.kill_at = now + self.kill_wait_s
        process.signal_group(entry.pid, signal.SIGTERM)
        if entry.cgroup is not None:  # also what left the process group (setsid)
            entry.cgroup.signal(signal.SIGTERM)
        log("job_signalled", job=entry.job_id, signal="TERM", why=ending)

    def next_timer(self) -> float | None:
        """The earliest wall-clock time at which enforce() has something to do."""
        times = [e.kill_at for e in self.tracked.values() if e.kill_at is not None]
        times += [e.warn_at for e in self.tracked.values() if e.warn_at is not None]
        if any("draining" in e.extra for e in self.tracked.values()):
            times.append(time.time() + 0.1)
        times += [e.deadline for e in self.tracked.values() if e.deadline and e.ending is None]
        if any(e.mem_limit_kb and e.ending is None and e.cgroup is None
               for e in self.tracked.values()):  # fmt: skip
            times.append(self.mem_check_due)
        return min(times, default=None)

    def watch_memory(self, now: float) -> None:
        """Kill jobs whose processes together hold more memory than they asked for.

        Like Slurm's OverMemoryKill: the resident memory of the job's process group is
        sampled every MEM_CHECK_S; a job over its --mem is killed and ends OUT_OF_MEMORY.
        (An rlimit could not tell us the job died for memory; polling can.)
        """
        limited = [e for e in self.tracked.values()
                   if e.mem_limit_kb and e.ending is None and e.cgroup is None]  # fmt: skip
        if not limited or now < self.mem_check_due:
            return
        self.mem_check_due = now + MEM_CHECK_S
        usage = process.rss_kb_by_group()
        for entry in limited:
            used = usage.get(entry.pid, 0)
            if used > entry.mem_limit_kb:
                entry.ending = "OUT_OF_MEMORY"
                process.signal_group(entry.pid, signal.SIGKILL)
                log("job_over_memory", job=entry.job_id, rss_kb=used, limit_kb=entry.mem_limit_kb)


def _same_time(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and abs(a - b) < 0.001)
