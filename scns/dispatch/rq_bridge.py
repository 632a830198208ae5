"""RQ on both ends: the leader enqueues start messages, each node hosts a worker thread.

The worker is an RQ SimpleWorker running in a daemon thread (no fork per message), with a
timer-based death penalty because signal handlers only work in the main thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence

from redis import Redis
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from scns.daemon.log import log
from scns.dispatch.messages import queue_name, start_allocated

MESSAGE_TTL_S = 120  # an undelivered start message is worthless after that: reconciliation resends


def connect(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10,
                          health_check_interval=15)  # fmt: skip


class StartSender:
    """The scheduler's side: one start message per node per pass, sent from a thread.

    The allocation's own commit has already woken the node (NOTIFY); the message is the
    dispatch record RQ carries, and the scheduler's loop should not wait on Redis for it.
    A message that cannot be sent is logged; the leader's reconciliation resends what is
    still not started after a few seconds.
    """

    def __init__(self, url: str) -> None:
        self.redis = connect(url)
        self._outbox: queue.SimpleQueue[tuple[str, list[int]]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="rq-sender", daemon=True)
        self._thread.start()

    def send(self, node: str, job_ids: Sequence[int]) -> bool:
        self._outbox.put((node, list(job_ids)))
        return True

    def _run(self) -> None:
        while True:
            node, job_ids = self._outbox.get()
            try:
                Queue(queue_name(node), connection=self.redis).enqueue(
                    start_allocated, node, job_ids,
                    ttl=MESSAGE_TTL_S, result_ttl=0, failure_ttl=60,
                )  # fmt: skip
            except Exception as exc:
                log("dispatch_failed", node=node, jobs=len(job_ids), error=repr(exc))


class _ThreadWorker(SimpleWorker):
    """RQ's SimpleWorker without its per-job bookkeeping.

    A start message only says "look at the database now" (its effect is idempotent, and
    the database, not Redis, records what ran). RQ's full path for a job (execution record,
    started registry, status changes, result handling, three worker heartbeats) costs ~20
    Redis round trips and a few ms of Python in a thread that shares the daemon's GIL; here
    a message is performed and deleted, and the worker's heartbeat is sent every
    HEARTBEAT_EVERY_S instead of several times per message.
    """

    death_penalty_class = TimerDeathPenalty
    HEARTBEAT_EVERY_S = 10.0
    _last_beat = 0.0

    def _install_signal_handlers(self) -> None:
        """The daemon's main thread owns the signals."""

    def execute_job(self, job, queue) -> None:
        try:
            job.perform()
        except Exception as exc:  # the hook only pokes the loop; never let it stop the worker
            log("start_message_failed", job=job.id, error=repr(exc))
        finally:  # dequeuing took it off the queue; no registry ever listed it
            self.connection.delete(job.key)

    def heartbeat(self, timeout=None, pipeline=None) -> None:
        if pipeline is None and time.monotonic() - self._last_beat < self.HEARTBEAT_EVERY_S:
            return
        self._last_beat = time.monotonic()
        super().heartbeat(timeout, pipeline)


class NodeWorker:
    """A daemon thread running this node's RQ worker, restarted after any Redis trouble."""

    def __init__(self, url: str, node: str) -> None:
        self.url = url
        self.node = node
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"rq-{node}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                redis = connect(self.url)
                worker = _ThreadWorker([queue_name(self.node)], connection=redis,
                                       name=f"scns-{self.node}-{int(time.time())}")  # fmt: skip
                worker.work(logging_level="WARNING", with_scheduler=False)
            except Exception as exc:
                log("rq_worker_error", node=self.node, error=repr(exc))
            self._stop.wait(1.0)
