"""The daemon's main loop: a short list of named steps, woken by events, never by a busy poll.

Wake-ups come from the wake socket (same machine), PostgreSQL NOTIFY and the RQ worker
thread (other machines), pidfds (a job ended) and timers (limits, heartbeat, the fallback
poll). Each step fails on its own: an error in one (the database restarting, a full disk)
never skips the others; the failing step backs off, is logged a few times a second at most
and shows in the node's reason, which ``scns health`` reads. Running jobs are never touched
by a failure here.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import time

from scns import __version__, wake
from scns.daemon import metrics
from scns.daemon.executor import Executor
from scns.daemon.leader import Leader, lease_holder
from scns.daemon.scheduling import PassConfig
from scns.daemon.step_health import StepHealth
from scns.db import statements as sql
from scns.db.engine import Database, DatabaseError
from scns.domain.liveness import is_served
from scns.log import describe, log
from scns.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:  # started only when their settings ask for them
    from scns.daemon.server import RequestServer
    from scns.dispatch.rq_bridge import NodeWorker
    from scns.dispatch.wakeup import Listener

LOOK_AROUND_EVERY_S = 1.0
PIDFD_QUIET_S = 0.1  # a job end not recorded after its pidfd fired: pidfds rest this long
REPORT_BEAT_S = 1.0  # a change in the failing steps reaches the node row this soon at most


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
        self.host = socket.gethostname()
        self.steps = StepHealth()
        self.adopt_due = True  # rebuild the process cache first (again after re-registering)
        self.heartbeat_due = 0.0
        self.beat_at = 0.0
        self.reported: str | None = None  # the failing steps the node row shows
        self.pid_woke = False
        self.pid_quiet_until = 0.0
        self.watching_pids = False
        self.external = True  # woken from outside: look for cancels and others' allocations
        self.offered = False  # a NOTIFY said work was allocated here: launch it
        self.look_around_due = 0.0
        config = PassConfig(
            policy=settings.scheduler_policy,
            default_time_limit_s=settings.default_time_limit_s,
            max_jobs_examined=settings.max_jobs_examined,
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
        )
        self.leader = Leader(db, node, lease_holder(node, self.host), settings.run_dir, config,
                             settings.leader_lease_s, self._sender(), host=self.host)  # fmt: skip
        self.selector = selectors.DefaultSelector()
        # Job pidfds wait in an epoll of their own, watched from the main one only while a
        # job's end can be recorded: a dead job's pidfd stays readable until then.
        self.pid_selector = selectors.DefaultSelector()
        self.executor = Executor(db, node, settings.run_dir, settings.kill_wait_s,
                                 self.pid_selector, system=settings.system,
                                 containment=settings.containment,
                                 pids_max=settings.max_pids_per_job)  # fmt: skip
        self.server: RequestServer | None = None
        self._signal_r, self._signal_w = socket.socketpair()
        self.listener: Listener | None = None
        self.worker: NodeWorker | None = None
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
                self._wait()
                if not self.stopping:
                    self._step()
        finally:
            self._stop()

    def _start(self) -> None:
        metrics.start(self.settings, lambda: self.leader.is_leader)  # first: a taken port stops us
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self._signal_w.setblocking(False)
        self._signal_r.setblocking(False)
        self.selector.register(self._signal_r, selectors.EVENT_READ, "poke")
        self._register_node(time.time())
        self.waker = wake.WakeSocket(self.settings.run_dir, self.node)
        self.selector.register(self.waker, selectors.EVENT_READ, "wake")
        self._run("listen", time.time(), self._listen, db=False)
        self._start_worker()
        self._serve()
        log("daemon_started", node=self.node, cpus=len(self.cpu_ids), mem_mb=self.mem_mb,
            pid=os.getpid(), database=self.db.dialect, policy=self.leader.config.policy,
            redis=bool(self.settings.redis_url))  # fmt: skip

    def _stop(self) -> None:
        """Leave running jobs running (a restarted daemon adopts them), but take the node
        offline at once: nothing new is sent to it and ``scns health`` stops counting it."""
        for what, action in (("offline", self._go_offline), ("lease_release", self.leader.release)):
            try:
                with self.db.session():
                    action()
            except Exception as exc:
                log(f"{what}_failed", error=describe(exc))
        if self.server is not None:
            self.server.close()
        if self.worker is not None:
            self.worker.stop()
        if self.listener is not None:
            self.listener.close()
        self.waker.close()
        wake.notify(self.settings.run_dir)  # the leader places what this node gave back
        self.executor.close()
        self.db.close()
        metrics.stop()
        log("daemon_stopped", node=self.node, running_jobs=len(self.executor.tracked))

    def _go_offline(self) -> None:
        """DOWN ('stopped'), or still DRAIN; jobs allocated here but not started go back to
        the queue (they never ran: no wrapper of ours is past "go" without RUNNING)."""
        now = time.time()
        with self.db.write() as tx:
            if not sql.set_node_stopped(tx, self.node, os.getpid(), self.host):
                return  # another daemon holds the node now
            for job_id, _state, _requeue in sql.jobs_on_nodes(tx, [self.node], ["CONFIGURING"]):
                if job_id not in self.executor.tracked:
                    sql.requeue(tx, job_id, expected=["CONFIGURING"], now=now,
                                reason="node stopped")  # fmt: skip
            sql.notify(tx, "nodes")  # the leader re-reads the nodes: none is sent here now
        log("node_offline", node=self.node)

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
            sql.upsert_node(tx, name=self.node, hostname=self.host,
                            cpu_ids=self.cpu_ids, mem_mb=self.mem_mb, pid=os.getpid(),
                            now=now, version=__version__,
                            containment=self.executor.containment_kind)  # fmt: skip
            sql.notify(tx)
        self.heartbeat_due = now + self.settings.heartbeat_interval_s

    def _listen(self) -> None:
        if self.db.dialect != "postgresql":
            return
        from scns.dispatch.wakeup import Listener

        listener = self.listener or Listener(self.settings.database_url)
        self.listener = listener
        if listener.conn is None:
            if not listener.connect():  # it logged why
                raise DatabaseError("cannot LISTEN for wake-ups")
            self.selector.register(listener.fd, selectors.EVENT_READ, "notify")

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
                db._synchronous = "FULL"  # a submit is durable
            return db

        site = Site(settings.access, settings.limits, settings.heartbeat_timeout_s)
        run_dir = settings.run_dir
        server = RequestServer(settings.socket, open_db, site, lambda: wake.notify(run_dir))
        self.server = server
        server.start()

    def _start_worker(self) -> None:
        if not self.settings.redis_url:
            return
        from scns.dispatch.messages import set_wake_hook
        from scns.dispatch.rq_bridge import NodeWorker

        set_wake_hook(self.node, self.on_start_message)
        worker = NodeWorker(self.settings.redis_url, self.node)
        self.worker = worker
        worker.start()

    # ---- one turn of the loop ------------------------------------------------------------

    def _wait(self) -> None:
        now = time.time()
        if not self.steps.may_run("wait", now):  # a selector failing at once must not spin
            time.sleep(max(0.0, min(1.0, self.steps.retry_at("wait") - now)))
            return
        try:
            self._watch_pids(now)
            timeout = 0.0 if self.dirty else max(0.0, self._next_wake(now) - now)
            for key, _mask in self.selector.select(timeout):
                self._on_event(key)
        except Exception as exc:
            self.steps.failed("wait", exc, time.time())
            metrics.step_failed("wait")
        else:
            self.steps.succeeded("wait", now)

    def _next_wake(self, now: float) -> float:
        """The earliest timer, none before its step may run again: a failing step's timer
        in the past must not turn the wait into a busy loop."""
        steps = self.steps
        timers = [now + self.settings.poll_interval_s,
                  max(self.heartbeat_due, steps.retry_at("heartbeat")),
                  max(self.leader.lease_due, steps.retry_at("lease"))]  # fmt: skip
        for step, due in (("limits", self.executor.next_timer()),
                          ("schedule", self.leader.next_timer())):  # fmt: skip
            if due is not None:
                timers.append(max(due, steps.retry_at(step)))
        retry = steps.next_retry(now)
        if retry is not None:
            timers.append(retry)
        if self.pid_quiet_until > now:
            timers.append(self.pid_quiet_until)
        return min(timers)

    def _watch_pids(self, now: float) -> None:
        """Watch job pidfds only while an end can be recorded (reaping is not backing off,
        and the last pidfd wake-up was not in vain)."""
        wanted = self.steps.may_run("reap", now) and now >= self.pid_quiet_until
        if wanted != self.watching_pids:
            if wanted:
                self.selector.register(self.pid_selector, selectors.EVENT_READ, "pidfd")
            else:
                self.selector.unregister(self.pid_selector)
            self.watching_pids = wanted

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
        elif key.data == "pidfd":
            self.pid_woke = True
        elif key.data == "notify" and self.listener is not None:
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
        pid_woke, self.pid_woke = self.pid_woke, False
        if self._turn(now, pid_woke):
            self.dirty = True  # resources were freed or used: look again before sleeping

    def _run(self, step: str, now: float, action, *args, db: bool = True):
        """One named step; None while it backs off or when it fails (recorded, never raised).
        A database step runs in a session, which hands its connection back after an error."""
        if not self.steps.may_run(step, now):
            return None
        try:
            if db:
                with self.db.session():
                    result = action(*args)
            else:
                result = action(*args)
        except Exception as exc:
            self.steps.failed(step, exc, time.time())
            metrics.step_failed(step)
            return None
        self.steps.succeeded(step, now)
        return result

    def _turn(self, now: float, pid_woke: bool) -> bool:
        """The named steps of one turn, each failing on its own; True when another turn may
        find more to do at once."""
        run = self._run
        if self.adopt_due:
            run("adopt", now, self._adopt)
        ended = run("reap", now, self.executor.collect_exited)
        if pid_woke and not ended:
            self.pid_quiet_until = now + PIDFD_QUIET_S
        # Cancels and other daemons' allocations arrive with a wake-up; between those, a
        # turn caused by our own jobs ending only needs to look at what we ourselves did.
        look_around = self.external or now >= self.look_around_due
        if self.external:
            self.leader.forget_nodes()  # an operator may have drained a node
        if look_around:
            self.external = False
            self.look_around_due = now + LOOK_AROUND_EVERY_S
            run("cancels", now, self.executor.apply_cancels, now)
            run("scripts", now, self.executor.expire_scripts, now, db=False)
            run("cgroups", now, self.executor.remove_emptied_cgroups, db=False)
        run("limits", now, self.executor.enforce, now, db=False)
        run("memory", now, self.executor.watch_memory, now, db=False)
        mine: list[int] = []
        passed = False
        leading = run("lease", now, self.leader.keep_lease, now)
        if leading:
            run("repair", now, self.leader.repair, now)
            scheduled = run("schedule", now, self._schedule, now)
            passed, mine = scheduled is not None, scheduled or []
        elif leading is None:
            self.leader.step_down()
        launched = run("launch", now, self._launch, look_around, mine)
        if launched is None and (mine or look_around):
            self.offered = True  # not launched (failing, or backing off): look at all next time
        if self.steps.report("heartbeat") != self.reported:  # scns health reads it soon
            self.heartbeat_due = min(self.heartbeat_due, max(now, self.beat_at + REPORT_BEAT_S))
        run("heartbeat", now, self._heartbeat, now)
        run("listen", now, self._listen, db=False)
        # this turn's own pass saw the ends it recorded: only ends no pass saw, a pass that
        # left room, or starts that failed (their cores are free again) need a turn at once
        return bool(
            (ended and not passed)
            or (mine and self.leader.room_left)
            or (launched is not None and launched < len(mine))
        )

    def _schedule(self, now: float) -> list[int]:
        """The leader's pass, timed for the metrics."""
        began = time.perf_counter()
        mine = self.leader.schedule(now)
        metrics.scheduling_pass(time.perf_counter() - began)
        return mine

    def _adopt(self) -> None:
        self.executor.adopt()
        self.adopt_due = False

    def _launch(self, look_around: bool, mine: list[int]) -> int:
        """Everything allocated here after a wake-up from outside (or a launch that did not
        happen), else only what this turn's own pass placed here."""
        if look_around or self.offered:
            started = self.executor.launch_allocated()
            self.offered = False
        else:
            started = self.executor.launch_allocated(mine) if mine else []
        return len(started)

    def _heartbeat(self, now: float) -> None:
        if now < self.heartbeat_due:
            return
        report = self.steps.report("heartbeat")
        with self.db.write() as tx:
            alive = sql.heartbeat(tx, self.node, now, pid=os.getpid(), hostname=self.host,
                                  reason=report)  # fmt: skip
        self.heartbeat_due = now + self.settings.heartbeat_interval_s
        self.beat_at = now
        self.reported = report
        if not alive:
            self._come_back(now)

    def _come_back(self, now: float) -> None:
        """Our row was marked down, removed, or taken while we were away: register again
        and adopt what we still see, unless another live daemon holds the node now."""
        with self.db.read() as tx:
            row = sql.get_node(tx, self.node)
        if (row is not None and (row["pid"], row["hostname"]) != (os.getpid(), self.host)
                and is_served(row, now, self.settings.heartbeat_timeout_s)):  # fmt: skip
            log("node_taken_over", node=self.node, pid=row["pid"], host=row["hostname"])
            self.stopping = True
            return
        log("node_reregistered", node=self.node)
        self._register_node(now)
        self.adopt_due = True
