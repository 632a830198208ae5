"""The daemon's main loop: a short list of named steps, woken by events, never by a busy poll.

Wake-ups come from the wake socket (same machine), PostgreSQL NOTIFY and the RQ worker
thread (other machines), pidfds (a job ended) and timers (limits, heartbeat, the fallback
poll). Any step may fail (the database restarting, say): the loop logs it, backs off and
carries on; running jobs are never touched by a failure here.
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
from scns.daemon.leader import Leader
from scns.daemon.log import log
from scns.daemon.scheduling import PassConfig
from scns.db import statements as sql
from scns.db.engine import Database
from scns.settings import Settings

RETRY_AFTER_ERROR_S = 1.0
LOOK_AROUND_EVERY_S = 1.0


class Daemon:
    def __init__(self, settings: Settings, db: Database, node: str, cpu_ids: list[int],
                 mem_mb: int) -> None:  # fmt: skip
        self.settings = settings
        self.db = db
        self.node = node
        self.cpu_ids = cpu_ids
        self.mem_mb = mem_mb
        self.stopping = False
        self.dirty = True  # something may have changed: look for work before sleeping
        self.heartbeat_due = 0.0
        self.retry_at = 0.0
        self.external = True  # woken from outside: look for cancels and others' allocations
        self.offered = False  # a NOTIFY said work was allocated here: launch it
        self.look_around_due = 0.0
        config = PassConfig(
            policy=settings.scheduler_policy,
            default_time_limit_s=settings.default_time_limit_s,
            max_jobs_examined=settings.max_jobs_examined,
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
        )
        holder = f"{node}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leader = Leader(db, node, holder, settings.run_dir, config,
                             settings.leader_lease_s, self._sender())  # fmt: skip
        self.selector = selectors.DefaultSelector()
        self.executor = Executor(db, node, settings.run_dir, settings.kill_wait_s, self.selector,
                                 system=settings.system)  # fmt: skip
        self.server = None
        self._signal_r, self._signal_w = socket.socketpair()
        self.listener = None
        self.worker = None
        self._messaged: list[int] = []  # job ids named by RQ start messages since last turn

    def _sender(self):
        if not self.settings.redis_url:
            return None
        from scns.dispatch.rq_bridge import StartSender

        return StartSender(self.settings.redis_url)

    # ---- lifecycle -----------------------------------------------------------------------

    def run(self) -> None:
        self._start()
        try:
            while not self.stopping:
                try:
                    self._wait()
                except Exception as exc:
                    log("wait_failed", error=repr(exc))
                    self.retry_at = time.time() + RETRY_AFTER_ERROR_S
                if not self.stopping:
                    self._step()
        finally:
            self._stop()

    def _start(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self._signal_w.setblocking(False)
        self._signal_r.setblocking(False)
        self.selector.register(self._signal_r, selectors.EVENT_READ, "poke")
        self._register_node(time.time())
        self.waker = wake.WakeSocket(self.settings.run_dir, self.node)
        self.selector.register(self.waker, selectors.EVENT_READ, "wake")
        self._listen()
        self._start_worker()
        self._serve()
        log("daemon_started", node=self.node, cpus=len(self.cpu_ids), mem_mb=self.mem_mb,
            pid=os.getpid(), database=self.db.dialect, policy=self.leader.config.policy,
            redis=bool(self.settings.redis_url))  # fmt: skip
        self.executor.adopt()

    def _stop(self) -> None:
        """Leave running jobs running: a restarted daemon adopts them."""
        try:
            self.leader.release()
        except Exception as exc:
            log("lease_release_failed", error=repr(exc))
        if self.server is not None:
            self.server.close()
        if self.worker is not None:
            self.worker.stop()
        if self.listener is not None:
            self.listener.close()
        self.waker.close()
        self.db.close()
        log("daemon_stopped", node=self.node, running_jobs=len(self.executor.tracked))

    def _on_signal(self, _signum, _frame) -> None:
        self.stopping = True
        self.poke()

    def poke(self) -> None:
        """Wake the loop from a signal handler or another thread."""
        with contextlib.suppress(OSError):
            self._signal_w.send(b"x")

    def on_start_message(self, job_ids: list[int]) -> None:
        """The RQ worker thread got a start message: wake the loop (list.extend is atomic)."""
        self._messaged.extend(job_ids)
        self.poke()

    def _register_node(self, now: float) -> None:
        with self.db.write() as tx:
            sql.upsert_node(tx, name=self.node, hostname=socket.gethostname(),
                            cpu_ids=self.cpu_ids, mem_mb=self.mem_mb, pid=os.getpid(),
                            now=now, version=__version__)  # fmt: skip
            sql.notify(tx)
        self.heartbeat_due = now + self.settings.heartbeat_interval_s

    def _listen(self) -> None:
        if self.db.dialect != "postgresql":
            return
        from scns.dispatch.wakeup import Listener

        if self.listener is None:
            self.listener = Listener(self.settings.database_url)
        if self.listener.conn is None and self.listener.connect():
            self.selector.register(self.listener.fd, selectors.EVENT_READ, "notify")

    def _serve(self) -> None:
        """System mode: users' requests arrive on the socket, served by their own threads."""
        if not self.settings.system:
            return
        from scns.daemon.server import RequestServer
        from scns.db.engine import open_database
        from scns.service.requests import Site

        settings = self.settings

        def open_db():
            db = open_database(settings.database_url, pool={**settings.pool, "pool_size": 2})
            if db.dialect == "sqlite":
                db._synchronous = "FULL"  # type: ignore[attr-defined] # a submit is durable
            return db

        site = Site(settings.access, settings.limits, settings.heartbeat_timeout_s)
        run_dir = settings.run_dir
        self.server = RequestServer(settings.socket, open_db, site,
                                    lambda: wake.notify(run_dir))  # fmt: skip
        self.server.start()

    def _start_worker(self) -> None:
        if not self.settings.redis_url:
            return
        from scns.dispatch.messages import set_wake_hook
        from scns.dispatch.rq_bridge import NodeWorker

        set_wake_hook(self.node, self.on_start_message)
        self.worker = NodeWorker(self.settings.redis_url, self.node)
        self.worker.start()

    # ---- one turn of the loop ------------------------------------------------------------

    def _wait(self) -> None:
        now = time.time()
        timers = [self.heartbeat_due, now + self.settings.poll_interval_s, self.leader.lease_due]
        for nxt in (self.executor.next_timer(), self.leader.next_timer()):
            if nxt is not None:
                timers.append(nxt)
        if self.retry_at:
            timers.append(self.retry_at)
        timeout = 0 if self.dirty and not self.retry_at else max(0.0, min(timers) - now)
        for key, _mask in self.selector.select(timeout):
            self._on_event(key)

    def _on_event(self, key) -> None:
        if key.data == "wake":
            self.waker.drain()
        elif key.data == "poke":
            with contextlib.suppress(BlockingIOError):
                self._signal_r.recv(4096)
            messaged, self._messaged = self._messaged, []
            # A start message for jobs a NOTIFY already made us launch needs no new look.
            if messaged and not self.stopping and self.executor.launched_lately(messaged):
                return
        elif key.data == "notify":
            try:
                payloads = self.listener.drain()
            except Exception as exc:
                log("listen_lost", error=repr(exc))
                self.selector.unregister(self.listener.fd)
                self.listener.close()
            else:
                wanted = self._relevant(payloads)
                if wanted == "look":
                    self.external = True
                elif wanted == "launch":
                    self.offered = True
                elif wanted is None:
                    return
        self.dirty = True
        if key.data not in ("pidfd", "notify"):
            self.external = True

    def _relevant(self, payloads: list[str]) -> str | None:
        """What a batch of NOTIFY payloads asks of this daemon: "look" around (a cancel, or
        anything unknown), "launch" (work was allocated here), "schedule" (the leader,
        after a submit or a job end elsewhere), or None. A daemon ignores what it sent
        itself ("node:X" for others, "sched@<its node>" after its own jobs ended: it
        schedules in the same turn)."""
        wanted = None
        for p in payloads:
            if p.startswith("node:"):
                if p == f"node:{self.node}":
                    wanted = "launch"
            elif p == "sched" or p.startswith("sched@"):
                if wanted is None and self.leader.is_leader and p != f"sched@{self.node}":
                    wanted = "schedule"
            else:  # "cancel", and anything a newer version may send
                return "look"
        return wanted

    def _step(self) -> None:
        now = time.time()
        self.dirty = False
        try:
            with self.db.session():
                busy = self._turn(now)
            self.retry_at = 0.0
        except Exception as exc:
            log("step_failed", error=repr(exc))
            self.retry_at = time.time() + RETRY_AFTER_ERROR_S
            busy = False
        if busy:
            self.dirty = True  # resources were freed or used: look again before sleeping

    def _turn(self, now: float) -> bool:
        """The named steps of one turn; True when something happened."""
        ended = self.executor.collect_exited()
        # Cancels and other daemons' allocations arrive with a wake-up; between those, a
        # turn caused by our own jobs ending only needs to look at what we ourselves did.
        look_around = self.external or now >= self.look_around_due
        if look_around:
            self.external = False
            self.look_around_due = now + LOOK_AROUND_EVERY_S
            self.executor.apply_cancels(now)
            self.executor.expire_scripts(now)
        self.executor.enforce(now)
        self.executor.watch_memory(now)
        mine: list[int] = []
        if self.leader.keep_lease(now):
            self.leader.repair(now)
            mine = self.leader.schedule(now)
        if look_around or self.offered:
            self.offered = False
            launched = len(self.executor.launch_allocated())
        else:
            launched = len(self.executor.launch_allocated(mine)) if mine else 0
        started = len(mine)
        self._heartbeat(now)
        self._listen()
        return bool(ended or started or launched)

    def _heartbeat(self, now: float) -> None:
        if now < self.heartbeat_due:
            return
        with self.db.write() as tx:
            alive = sql.heartbeat(tx, self.node, now)
        if not alive:  # marked down while we were away: come back, adopt what we still see
            log("node_reregistered", node=self.node)
            self._register_node(now)
            self.executor.adopt()
        self.heartbeat_due = now + self.settings.heartbeat_interval_s
