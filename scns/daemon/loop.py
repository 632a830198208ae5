"""The daemon's main loop: a short list of named steps, woken by events, never by a busy poll.

Wake-ups come from the wake socket (a submit, a cancel, another daemon), from pidfds (a job
ended) and from timers (time limits, kill escalation, heartbeat, the fallback poll).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import time
import uuid

from scns import __version__, wake
from scns.daemon.executor import Executor
from scns.daemon.log import log
from scns.daemon.scheduling import PassConfig, run_pass
from scns.db import statements as sql
from scns.db.engine import Database
from scns.settings import Settings

LEADER_LEASE = "scheduler"


class Daemon:
    def __init__(self, settings: Settings, db: Database, node: str, cpu_ids: list[int],
                 mem_mb: int) -> None:  # fmt: skip
        self.settings = settings
        self.db = db
        self.node = node
        self.cpu_ids = cpu_ids
        self.mem_mb = mem_mb
        self.holder = f"{node}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self.lease_due = 0.0
        self.heartbeat_due = 0.0
        self.stopping = False
        self.dirty = True  # something may have changed: run a pass and look for work
        self.config = PassConfig(
            policy=settings.scheduler_policy,
            default_time_limit_s=settings.default_time_limit_s,
            max_jobs_examined=settings.max_jobs_examined,
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
        )
        self.executor = Executor(db, node, settings.run_dir, settings.kill_wait_s)
        self.selector = selectors.DefaultSelector()
        self._stop_r, self._stop_w = socket.socketpair()

    # ---- lifecycle -----------------------------------------------------------------------

    def run(self) -> None:
        self._start()
        try:
            while not self.stopping:
                self._wait()
                if self.stopping:
                    break
                self._step()
        finally:
            self._stop()

    def _start(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self._stop_w.setblocking(False)
        self.selector.register(self._stop_r, selectors.EVENT_READ, "stop")
        now = time.time()
        with self.db.write() as tx:
            sql.upsert_node(tx, name=self.node, hostname=socket.gethostname(),
                            cpu_ids=self.cpu_ids, mem_mb=self.mem_mb, pid=os.getpid(),
                            now=now, version=__version__)  # fmt: skip
        self.heartbeat_due = now + self.settings.heartbeat_interval_s
        self.waker = wake.WakeSocket(self.settings.run_dir, self.node)
        self.selector.register(self.waker, selectors.EVENT_READ, "wake")
        log("daemon_started", node=self.node, cpus=len(self.cpu_ids), mem_mb=self.mem_mb,
            pid=os.getpid(), database=self.db.dialect, policy=self.config.policy)  # fmt: skip
        self.executor.adopt()
        self._register_pidfds()

    def _stop(self) -> None:
        """Leave running jobs running: a restarted daemon adopts them."""
        if self.is_leader:
            try:
                with self.db.write() as tx:
                    sql.drop_lease(tx, LEADER_LEASE, self.holder)
            except Exception as exc:
                log("lease_release_failed", error=exc)
        self.waker.close()
        self.db.close()
        log("daemon_stopped", node=self.node, running_jobs=len(self.executor.tracked))

    def _on_signal(self, signum, _frame) -> None:
        self.stopping = True
        with contextlib.suppress(OSError):
            self._stop_w.send(b"x")

    # ---- one turn of the loop ------------------------------------------------------------

    def _wait(self) -> None:
        now = time.time()
        timers = [self.heartbeat_due, now + self.settings.poll_interval_s]
        if self.is_leader:
            timers.append(self.lease_due)
        nxt = self.executor.next_timer()
        if nxt is not None:
            timers.append(nxt)
        timeout = 0 if self.dirty else max(0.0, min(timers) - now)
        for key, _mask in self.selector.select(timeout):
            if key.data == "wake":
                self.waker.drain()
                self.dirty = True
            elif key.data == "stop":
                self.stopping = True
            elif key.data == "pidfd":
                self.dirty = True
        if timeout and not self.dirty and time.time() >= now + self.settings.poll_interval_s:
            self.dirty = True  # the fallback poll: catches anything a lost wake-up missed

    def _step(self) -> None:
        now = time.time()
        self.dirty = False
        ended = self._collect_exited()
        self.executor.apply_cancels(now)
        self.executor.enforce(now)
        self._keep_lease(now)
        started = self._schedule(now) if self.is_leader else 0
        launched = self._launch()
        self._heartbeat(now)
        if ended or started or launched:
            self.dirty = True  # freed or used resources: look again before sleeping

    def _collect_exited(self) -> int:
        ended = self.executor.collect_exited()
        self._register_pidfds()
        return ended

    def _schedule(self, now: float) -> int:
        try:
            result = run_pass(self.db, self.config, now)
        except Exception as exc:
            log("schedule_failed", error=repr(exc))
            return 0
        others = {s.node for s in result.started if s.node != self.node}
        for node in others:
            wake.notify(self.settings.run_dir, only=node)
        if result.started:
            log("scheduled", started=len(result.started), examined=result.examined,
                pass_ms=round(result.duration_s * 1000, 2))  # fmt: skip
        return len(result.started)

    def _launch(self) -> int:
        try:
            started = self.executor.launch_allocated()
        except Exception as exc:
            log("launch_failed", error=repr(exc))
            return 0
        self._register_pidfds()
        return len(started)

    def _register_pidfds(self) -> None:
        registered = {k.fd for k in self.selector.get_map().values() if k.data == "pidfd"}
        for fd in list(registered):
            if fd not in self.executor.by_pidfd:
                self.selector.unregister(fd)
        for fd in self.executor.by_pidfd:
            if fd not in registered:
                self.selector.register(fd, selectors.EVENT_READ, "pidfd")

    def _keep_lease(self, now: float) -> None:
        if now < self.lease_due:
            return
        ttl = self.settings.leader_lease_s
        try:
            with self.db.write() as tx:
                leader = sql.take_lease(tx, LEADER_LEASE, self.holder, now, ttl)
        except Exception as exc:
            log("lease_failed", error=repr(exc))
            leader = False
        if leader != self.is_leader:
            log("leadership", node=self.node, leader=leader)
        self.is_leader = leader
        self.lease_due = now + ttl / 3

    def _heartbeat(self, now: float) -> None:
        if now < self.heartbeat_due:
            return
        try:
            with self.db.write() as tx:
                if not sql.heartbeat(tx, self.node, now):
                    sql.upsert_node(tx, name=self.node, hostname=socket.gethostname(),
                                    cpu_ids=self.cpu_ids, mem_mb=self.mem_mb, pid=os.getpid(),
                                    now=now, version=__version__)  # fmt: skip
                    log("node_reregistered", node=self.node)
        except Exception as exc:
            log("heartbeat_failed", error=repr(exc))
        self.heartbeat_due = now + self.settings.heartbeat_interval_s
