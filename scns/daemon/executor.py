"""The node side of the daemon: launch what is allocated here, reap, enforce limits, adopt.

In-memory state here is only a cache of live processes; the database row (pid and start
ticks) and the wrapper's status file are what a restarted daemon rebuilds it from.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import time

from scns.daemon import metrics
from scns.daemon.environment import job_environment
from scns.daemon.home import private_dir, remove_planted
from scns.daemon.scripts import ScriptCopies, write_script
from scns.daemon.signalling import Signalling
from scns.daemon.tracked import Tracked, arm_warning, cgroup_name, short_hash, wait_empty
from scns.db import statements as sql
from scns.db.engine import Database
from scns.domain.job import Job
from scns.domain.outcome import Ending, outcome
from scns.exec import cgroups, process
from scns.exec.accounts import account_variables
from scns.exec.process import ExitStatus, LaunchError, LaunchSpec, Spawned, StartFailure
from scns.log import log


class Executor(Signalling, ScriptCopies):
    """Launches, reaps and adopts this node's jobs (limits and signals: Signalling; script
    copies: ScriptCopies)."""

    def __init__(self, db: Database, node: str, run_dir: str, kill_wait_s: float,
                 selector: selectors.BaseSelector, *, system: bool = False,
                 containment: str = "auto", pids_max: int | None = None) -> None:  # fmt: skip
        self.db = db
        self.node = node
        self.kill_wait_s = kill_wait_s
        self.selector = selector
        self.system = system  # runs jobs as their owners; personal mode only its own uid's
        # per node: two nodes sharing one machine (or a requeued job) never share a file.
        # Only the daemon writes here (the job side gets its script as an open fd): nothing
        # a user plants can be followed or stop a launch.
        self.scripts = os.path.join(run_dir, "scripts", node)
        self.statuses = os.path.join(run_dir, "status", node)
        for directory in (self.scripts, self.statuses):
            private_dir(directory)
        # one cgroup per job where the host lets us (named apart per state directory: two
        # test homes may both have a node n1), else process groups, the weaker fallback
        self.containment = (cgroups.detect(f"{node}-{short_hash(run_dir)}")
                            if containment == "auto" else None)  # fmt: skip
        self.pids_max = pids_max
        # emptied job cgroups the kernel would not let go yet (a killed process is still
        # charged until its parent reaps it): removed on a later turn
        self.unremoved: list[cgroups.JobCgroup] = []
        self.made: dict[int, cgroups.JobCgroup] = {}  # cgroups made by this launch, by job
        self.tracked: dict[int, Tracked] = {}
        self.mem_check_due = 0.0
        self.arrays: dict[int, dict[str, int]] = {}
        self.by_pidfd: dict[int, int] = {}
        # script file -> how many tracked jobs use it. An array's tasks share one copy
        # (the text is fixed at submit), written when the first of them starts here and
        # kept SCRIPT_KEEP_S after the last user ends, for the array's next task.
        self.script_users: dict[str, int] = {}
        self.script_idle: dict[str, float] = {}  # unused copies: since when
        # job id -> when this daemon launched it (or failed to), oldest first: a late start
        # message for one of them needs no database look
        self.launched: dict[int, float] = {}
        # starts each job's supervisor (its launcher process started on the first job of
        # another user, again if it died)
        self.launcher = process.Launcher(self.statuses)

    # ---- launching -------------------------------------------------------------------

    def launch_allocated(self, only: list[int] | None = None) -> list[Tracked]:
        """Start the jobs allocated to this node that are not running yet (or just ``only``)."""
        with self.db.reads() as tx:
            if only is None:
                launchable = sql.jobs_to_launch(tx, node=self.node)
            else:
                ids = [i for i in only if i not in self.tracked]
                launchable = sql.jobs_to_launch(tx, ids) if ids else []
            launchable = [(job, p) for job, p in launchable if job.id not in self.tracked]
            if not launchable:
                return []
            jobs = [job for job, _payload in launchable]
            payloads = {job.id: payload for job, payload in launchable}
            for array_id in {j.array_job_id for j in jobs if j.array_job_id is not None} - (
                self.arrays.keys()
            ):
                self.arrays[array_id] = sql.array_stats(tx, array_id)  # fixed at submit
            arrays = self.arrays
        spawned: list[tuple[Job, Spawned]] = []
        failed: list[tuple[int, str, int]] = []  # (job, reason, epoch)
        written: set[str] = set()
        for job in jobs:
            try:
                spawned.append((job, self._spawn(job, payloads[job.id], arrays, written)))
            except LaunchError as exc:
                failed.append((job.id, str(exc), job.restarts))
        if spawned and _STOP_BEFORE_RUNNING:
            # test-only pause point: freeze this daemon inside the launch window (wrappers
            # spawned, RUNNING not recorded), as a SIGSTOP, a GC or a VM pause would
            os.kill(os.getpid(), signal.SIGSTOP)
        try:
            return self._commit_starts(spawned, failed)
        finally:
            self.made.clear()
            now = time.time()
            for path in written:  # also for jobs that did not start after all
                if not self.script_users.setdefault(path, 0):
                    self.script_idle[path] = now

    def launched_lately(self, job_ids: list[int]) -> bool:
        """Whether this daemon launched every one of these jobs in the last few seconds.

        Only a requeue could make such a job startable here again: this daemon's own
        (which forgets the id) or a node failure's (which takes a heartbeat timeout, far
        longer than the window).
        """
        since = time.time() - _LAUNCHED_WINDOW_S
        return all(self.launched.get(i, 0.0) > since for i in job_ids)

    def _note_launched(self, job_ids, now: float) -> None:
        for job_id in job_ids:
            self.launched[job_id] = now
        while len(self.launched) > _LAUNCHED_KEPT:
            del self.launched[next(iter(self.launched))]

    def _spawn(self, job: Job, payload: tuple[str, str, str], arrays: dict,
               written: set[str]) -> Spawned:  # fmt: skip
        import json

        script, argv_json, env_json = payload
        me = os.geteuid()
        if job.uid != me and not self.system:
            raise LaunchError(f"job belongs to uid {job.uid}: this personal-mode daemon runs"
                              f" only the jobs of uid {me} (use scns daemon --system)")  # fmt: skip
        script_path = self._script_path(job)
        status_path = os.path.join(self.statuses, str(job.id))
        if script_path not in written and script_path not in self.script_users:
            write_script(script_path, script, job)
            written.add(script_path)
        for suffix in _STATUS_FILES:
            remove_planted(status_path + suffix)
        env = job_environment(job, env_json, self.node, arrays.get(job.array_job_id))
        procs = self._make_cgroup(job)
        groups: tuple[int, ...] = ()
        if job.uid != me:
            env.update(account_variables(job.uid))
            groups = _groups(job)
        spec = LaunchSpec(
            job_id=job.id,
            script_path=script_path,
            argv=json.loads(argv_json or "[]"),
            workdir=job.workdir,
            env=env,
            stdout_path=job.stdout_path,
            stderr_path=job.stderr_path,
            # a cpuset cgroup pins the job as it joins; sched_setaffinity on the wrapper cost
            # ~0.2 ms of every launch on top
            cpu_ids=()
            if procs and self.containment and self.containment.pins_cpus
            else job.cpu_id_list,
            status_path=status_path,
            uid=job.uid,
            gid=job.gid,
            groups=groups,
            umask=job.umask,
            cgroup_procs=procs,
            append=job.open_mode == "append",
        )
        return self.launcher.spawn(spec)

    def _make_cgroup(self, job: Job) -> list[str]:
        """The job's cgroup, limits set, before anything of it runs (no cgroup: [])."""
        if self.containment is None:
            return []
        mem = job.mem_mb * 1024 * 1024 if job.mem_mb else None
        try:
            group = self.containment.create(cgroup_name(job.id), job.cpu_id_list, mem,
                                            self.pids_max)  # fmt: skip
        except OSError as exc:
            raise LaunchError(f"cannot create the job's cgroup: {exc.strerror or exc}") from None
        self.made[job.id] = group
        return group.procs_files

    def _commit_starts(self, spawned, failed) -> list[Tracked]:
        """Record RUNNING (guarded) for every spawned wrapper, then let the winners go."""
        now = time.time()
        winners: list[tuple[Job, Spawned]] = []
        try:
            self._record_starts(spawned, failed, winners, now)
        except BaseException:
            for job, proc in spawned:  # nothing recorded: none of them may run
                proc.abort()
                self._reap_aborted(proc)
                self._drop_cgroup(job.id)
            raise
        started = []
        for job, proc in winners:
            proc.go()
            deadline = now + job.time_limit_s if job.time_limit_s else None
            entry = self._track(job.id, proc.pid, proc.start_ticks, deadline, proc)
            entry.mem_limit_kb = job.mem_mb * 1024
            entry.epoch = job.restarts
            entry.started_at = now
            entry.cgroup = self.made.pop(job.id, None) or self._cgroup_of(job.id)
            arm_warning(entry, job)
            self._use_script(entry, self._script_path(job))
            started.append(entry)
            log("job_started", job=job.id, pid=proc.pid, cpus=job.cpu_ids)
            metrics.job_started(job.submit_time, now)
        for job_id, reason, _epoch in failed:
            log("job_failed_to_start", job=job_id, reason=reason)
        self._note_launched([job.id for job, _proc in spawned] + [f[0] for f in failed], now)
        won = {job.id for job, _proc in winners}
        for job, proc in spawned:
            if job.id not in won:
                log("job_start_lost", job=job.id, epoch=job.restarts,
                    why="cancelled, or no longer allocated to this node")  # fmt: skip
                self._reap_aborted(proc)
                self._drop_cgroup(job.id)
        return started

    def _record_starts(self, spawned, failed, winners, now: float) -> None:
        # one job (the usual case): its one guarded statement needs no transaction around it
        single = len(spawned) == 1 and not failed
        with self.db.autocommit() if single else self.db.write() as tx:
            for job, proc in spawned:
                if sql.mark_running(tx, job.id, proc.pid, proc.start_ticks, now,
                                    held_by=(self.node, job.restarts)):  # fmt: skip
                    winners.append((job, proc))
                else:  # cancelled or requeued while we spawned: it must never run
                    # (a cancel; or this node stalled, was declared down and the job moved:
                    # the fence keeps this from touching the allocation another node holds)
                    proc.abort()
                    sql.finish(tx, job.id, expected=["CONFIGURING"], state="CANCELLED", now=now,
                               reason="cancelled before start",
                               held_by=(self.node, job.restarts))  # fmt: skip
            for job_id, reason, epoch in failed:
                sql.finish(tx, job_id, expected=["CONFIGURING"], state="FAILED", now=now,
                           reason=reason, held_by=(self.node, epoch))  # fmt: skip
            if failed:
                sql.notify(tx)

    def _reap_aborted(self, proc: Spawned) -> None:
        proc.reap()

    def _track(self, job_id, pid, ticks, deadline, spawned=None) -> Tracked:
        pidfd = process.open_pidfd(pid)
        entry = Tracked(job_id, pid, ticks, pidfd, deadline, spawned)
        self.tracked[job_id] = entry
        if pidfd is not None:
            self.by_pidfd[pidfd] = job_id
            self.selector.register(pidfd, selectors.EVENT_READ, "pidfd")
        return entry

    # ---- ending ----------------------------------------------------------------------

    def collect_exited(self, job_ids: list[int] | None = None) -> int:
        """Finalise every tracked job whose process has ended; returns how many."""
        done: list[tuple[Tracked, ExitStatus | None]] = []
        for entry in list(self.tracked.values()):
            if job_ids is not None and entry.job_id not in job_ids:
                continue
            status = self._exit_status(entry)
            if status is not _STILL_RUNNING:
                done.append((entry, status))
        if done:
            self._finalise(done)
        return len(done)

    def _exit_status(self, entry: Tracked):
        """The job's end once its supervisor has ended and its cgroup is empty."""
        status = self._supervisor_status(entry)
        if status is _STILL_RUNNING or entry.cgroup is None:
            return status
        if not entry.cgroup.is_empty():  # what it left behind (setsid, double forks) goes
            entry.cgroup.kill()
            if not wait_empty(entry.cgroup, 0.5):
                entry.extra["draining"] = True  # still dying: look again soon
                return _STILL_RUNNING
        entry.extra.pop("draining", None)
        return status

    def _supervisor_status(self, entry: Tracked):
        status_path = os.path.join(self.statuses, str(entry.job_id))
        if "status" in entry.extra:  # reaped earlier (the cgroup was draining, or the
            return entry.extra["status"]  # database write failed)
        if entry.spawned is not None and entry.spawned.popen is not None:  # our child
            try:
                pid, wait_status = os.waitpid(entry.pid, os.WNOHANG)
            except ChildProcessError:
                pid, wait_status = entry.pid, None
            if pid == 0:
                return _STILL_RUNNING
            entry.spawned.popen.returncode = -1 if wait_status is None else wait_status
            recorded = process.read_status(status_path)
            if not isinstance(recorded, (ExitStatus, StartFailure)):
                # the supervisor always records the end unless it was itself killed: what
                # the job would have exited with is unknown, and the record says so
                recorded = None
            entry.extra["status"] = recorded
            entry.extra["ended_at"] = process.status_time(status_path)
            return recorded
        # forked by the launcher, or adopted: not our child. It has ended once /proc says so,
        # and it wrote the record before it ended
        if process.is_alive(entry.pid, entry.start_ticks):
            return _STILL_RUNNING
        recorded = process.read_status(status_path)
        recorded = recorded if isinstance(recorded, (ExitStatus, StartFailure)) else None
        entry.extra["status"] = recorded
        # the record says when (for an adopted job, maybe while no daemon watched)
        entry.extra["ended_at"] = process.status_time(status_path)
        return recorded

    def _finalise(self, done: list[tuple[Tracked, ExitStatus | None]]) -> None:
        now = time.time()
        with self.db.autocommit() if len(done) == 1 else self.db.write() as tx:
            for entry, status in done:
                ending, usage = self._measure(entry)
                if ending == "REQUEUED":  # scontrol requeue: back in the queue, not ended
                    won = sql.requeue(tx, entry.job_id, expected=["RUNNING"], now=now,
                                      reason="requeued by user",
                                      held_by=(self.node, entry.epoch))  # fmt: skip
                    if won:
                        sql.notify(tx)
                    entry.extra["final"] = ("PENDING", None, None, won)
                    continue
                state, code, sig, reason = outcome(status, Ending(ending))
                # the record's mtime comes from the kernel's coarse clock (a few ms behind
                # time.time()): never before the start we recorded, never in the future
                ended = min(now, max(entry.started_at, entry.extra.get("ended_at") or now))
                won = sql.finish(tx, entry.job_id, expected=["RUNNING"], state=state, now=ended,
                                 exit_code=code, signal=sig, reason=reason,
                                 wake=f"sched@{self.node}", held_by=(self.node, entry.epoch),
                                 usage=usage)  # fmt: skip
                entry.extra["final"] = (state, code, sig, won)
        for entry, _status in done:
            self._forget(entry)
            state, code, sig, won = entry.extra["final"]
            log("job_ended", job=entry.job_id, state=state, exit_code=code, signal=sig,
                recorded=won)  # fmt: skip
            metrics.job_ended(state, won)

    def _measure(self, entry: Tracked):
        """(how the job ended, what it used): an OOM kill inside its cgroup is
        OUT_OF_MEMORY, read from the cgroup's events, not guessed from a signal."""
        if entry.cgroup is None:
            return entry.ending, None
        ending = entry.ending
        if ending is None and entry.cgroup.oom_kills():
            ending = "OUT_OF_MEMORY"
        return ending, entry.cgroup.usage().as_tuple()

    def _cgroup_of(self, job_id: int) -> cgroups.JobCgroup | None:
        if self.containment is None:
            return None
        return self.containment.job(cgroup_name(job_id))

    def _drop_cgroup(self, job_id: int) -> None:
        group = self._cgroup_of(job_id)
        if group is not None and group.exists():
            group.kill()
            wait_empty(group, 1.0)
            group.remove()

    def _forget(self, entry: Tracked) -> None:
        self.tracked.pop(entry.job_id, None)
        if entry.cgroup is not None and not entry.cgroup.remove():
            self.unremoved.append(entry.cgroup)
        if entry.pidfd is not None:
            # unregister before close: a reused fd number must not inherit a dead watch
            self.selector.unregister(entry.pidfd)
            self.by_pidfd.pop(entry.pidfd, None)
            os.close(entry.pidfd)
        if entry.script is not None:  # the copy stays for a while (expire_scripts)
            left = self.script_users.get(entry.script, 1) - 1
            self.script_users[entry.script] = left
            if left <= 0:
                self.script_idle[entry.script] = time.time()
            entry.script = None
        status_path = os.path.join(self.statuses, str(entry.job_id))
        for suffix in _STATUS_FILES:
            with contextlib.suppress(OSError):
                os.unlink(status_path + suffix)

    # ---- limits and cancellation --------------------------------------------------------

    # ---- adoption after a restart -------------------------------------------------------

    def adopt(self) -> None:
        """Rebuild the process cache from the database: reattach, finalise, or requeue."""
        with self.db.read() as tx:
            jobs = sql.live_jobs_on_node(tx, self.node)
        running = {j.id: j for j in jobs if j.state == "RUNNING" and j.pid is not None}
        for entry in list(self.tracked.values()):
            if entry.job_id not in running or running[entry.job_id].pid != entry.pid:
                self._give_up(entry)  # the cluster ended or requeued it while we were away
        for job in running.values():
            if job.id in self.tracked:
                continue
            started = job.start_time or job.submit_time  # RUNNING always has a start time
            deadline = started + job.time_limit_s if job.time_limit_s else None
            entry = self._track(job.id, job.pid, job.pid_start_ticks, deadline)
            entry.mem_limit_kb = job.mem_mb * 1024
            entry.epoch = job.restarts
            entry.started_at = job.start_time or 0.0
            arm_warning(entry, job)
            group = self._cgroup_of(job.id)
            entry.cgroup = group if group is not None and group.exists() else None
            self._use_script(entry, self._script_path(job))
            recorded = process.read_status(os.path.join(self.statuses, str(job.id)))
            if recorded == "aborted":
                self._requeue_never_ran(entry)
            elif job.cancel_requested:
                entry.ending = "CANCELLED"
            log("job_adopted", job=job.id, pid=job.pid)
        self._kill_orphans()
        self._remove_unused_scripts()
        self.collect_exited()

    def _give_up(self, entry: Tracked) -> None:
        status_path = os.path.join(self.statuses, str(entry.job_id))
        if process.is_job_supervisor(entry.pid, entry.start_ticks, status_path):
            process.signal_group(entry.pid, signal.SIGKILL)
        if entry.cgroup is not None:
            entry.cgroup.kill()
        self._forget(entry)
        log("orphan_killed", job=entry.job_id, pid=entry.pid)

    def _kill_orphans(self) -> None:
        """Job processes of this node that the database no longer says are running here
        (ended NODE_FAIL or requeued while this node was unreachable) must not go on."""
        known = {e.pid for e in self.tracked.values()}
        for job_id, pid in process.find_wrappers(self.statuses).items():
            if pid not in known:
                process.signal_group(pid, signal.SIGKILL)
                log("orphan_killed", job=job_id, pid=pid)
        if self.containment is None:
            return
        tracked = {cgroup_name(i) for i in self.tracked}
        for name in self.containment.names():
            if name not in tracked:  # a job cgroup nobody runs here: whatever is in it goes
                group = self.containment.job(name)
                if not group.is_empty():
                    log("orphan_killed", cgroup=name, pids=len(group.pids()))
                group.kill()
                wait_empty(group, 1.0)
                group.remove()

    @property
    def containment_kind(self) -> str:
        """How this node holds its jobs: cgroup2, cgroup1, or process-group (the fallback)."""
        return self.containment.kind if self.containment is not None else "process-group"

    def remove_emptied_cgroups(self) -> None:
        """Retry the removal of job cgroups that were still being let go."""
        self.unremoved = [g for g in self.unremoved if g.exists() and not g.remove()]

    def close(self) -> None:
        """The daemon stops (its jobs run on): tidy this node's cgroup directories if empty."""
        self.launcher.close()
        if self.containment is not None and not self.tracked:
            self.containment.close()

    def _requeue_never_ran(self, entry: Tracked) -> None:
        """The daemon died between recording RUNNING and "go": the job never ran."""
        with self.db.write() as tx:
            sql.requeue(tx, entry.job_id, expected=["RUNNING"], now=time.time(),
                        reason="launch interrupted")  # fmt: skip
        self.launched.pop(entry.job_id, None)
        self._forget(entry)
        log("job_requeued", job=entry.job_id, why="launch interrupted")


_STILL_RUNNING = object()
_LAUNCHED_KEPT = 4096
_LAUNCHED_WINDOW_S = 5.0
# the status record, the job side's start-failure note, the environment file, and what an
# older version wrote
_STATUS_FILES = ("", ".why", ".env", ".tmp")
_STOP_BEFORE_RUNNING = os.environ.get("SCNS_TEST_STOP_BEFORE_RUNNING") == "1"


def _groups(job: Job) -> tuple[int, ...]:
    """The job user's groups from the account database, as initgroups would set them."""
    try:
        return tuple(os.getgrouplist(job.user_name, job.gid))
    except (KeyError, OSError):
        return (job.gid,)
