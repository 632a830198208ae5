"""RQ on both ends: the leader enqueues start messages, each node hosts a worker thread.

The node's side is a thread taking messages off the node's queue with RQ's public API
(no RQ worker, no fork per message).

Whoever can write to Redis can put anything on a node's queue, and the worker runs as the
daemon's user (root in system mode). So both ends use RQ's JSON serializer (a pickle is
code, JSON is data), and the worker calls ``start_allocated`` itself after
``parse_start`` accepted the message, instead of importing whatever function it names.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DequeueTimeout, NoSuchJobError
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.serializers import JSONSerializer

from scns.dispatch.messages import RefusedMessage, parse_start, queue_name, start_allocated
from scns.log import log

MESSAGE_TTL_S = 120  # an undelivered start message is worthless after that: reconciliation resends


def connect(url: str) -> Redis:
    """One client per thread; ``redis://user:password@host/db`` authenticates as an ACL user."""
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
                Queue(queue_name(node), connection=self.redis, serializer=JSONSerializer).enqueue(
                    start_allocated, node, job_ids,
                    ttl=MESSAGE_TTL_S, result_ttl=0, failure_ttl=60,
                )  # fmt: skip
            except Exception as exc:
                log("dispatch_failed", node=node, jobs=len(job_ids), error=repr(exc))


class NodeWorker:
    """A daemon thread taking this node's start messages off its RQ queue.

    Only RQ's public API: ``Queue.dequeue_any`` (which moves the message to RQ's
    intermediate list while it is handled), ``Job.fetch``/``Job.delete`` and
    ``IntermediateQueue``. No RQ worker runs here: a start message only says "look at the
    database now" (its effect is idempotent, and the database, not Redis, records what ran),
    so RQ's per-job bookkeeping (execution records, registries, results, worker heartbeats:
    ~20 round trips a message) would buy nothing, and RQ's worker would import and call
    whatever function a message names. Here a message is checked (``parse_start``), its
    job ids handed to the daemon, and deleted; anything else is logged and dropped.
    """

    POLL_S = 5  # a blocking dequeue's longest wait: how soon stop() is noticed
    SWEEP_EVERY_S = 60.0

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
                messages = Queue(queue_name(self.node), connection=redis,
                                 serializer=JSONSerializer)  # fmt: skip
                taken = IntermediateQueue(messages.key, redis)
                swept = 0.0
                while not self._stop.is_set():
                    if time.monotonic() - swept >= self.SWEEP_EVERY_S:
                        self._sweep(taken, redis)  # left by a worker that died mid-message
                        swept = time.monotonic()
                    self._take(messages, taken, redis)
            except Exception as exc:  # Redis gone, or worse: reconnect after a pause
                log("rq_worker_error", node=self.node, error=repr(exc))
            self._stop.wait(1.0)

    def _take(self, messages: Queue, taken: IntermediateQueue, redis: Redis) -> None:
        try:
            found = Queue.dequeue_any([messages], self.POLL_S, connection=redis,
                                      serializer=JSONSerializer)  # fmt: skip
        except DequeueTimeout:
            return
        except RedisError:
            raise
        except Exception as exc:  # a message whose job hash cannot even be restored
            job_id = str(getattr(exc, "job_id", "?"))
            log("message_refused", node=self.node, job=job_id, func="?",
                why=f"unreadable job: {exc!r}")  # fmt: skip
            if job_id != "?":
                self._drop(job_id, taken, redis)
            return
        if found is None:
            return
        job, _queue = found
        try:
            self._perform(job)
        finally:
            self._drop(job.id, taken, redis)

    def _perform(self, job: Job) -> None:
        func = "?"
        try:
            func = str(job.func_name)  # deserializes (JSON only): may raise
            job_ids = parse_start(job.func_name, job.instance, job.args, job.kwargs, self.node)
        except Exception as exc:
            why = str(exc) if isinstance(exc, RefusedMessage) else f"unreadable: {exc!r}"
            log("message_refused", node=self.node, job=job.id, func=func[:200], why=why)
            return
        try:  # called directly: nothing named in the message is ever imported
            start_allocated(self.node, job_ids)
        except Exception as exc:  # the hook only pokes the loop; never let it stop the worker
            log("start_message_failed", job=job.id, error=repr(exc))

    def _drop(self, job_id: str, taken: IntermediateQueue, redis: Redis) -> None:
        """The message is handled: its hash and its place in the intermediate list go."""
        redis.delete(Job.key_for(job_id))
        taken.remove(job_id)

    def _sweep(self, taken: IntermediateQueue, redis: Redis) -> None:
        """Messages taken but never finished (a worker stopped mid-message, or a hash
        deleted under RQ): handled now, or dropped when they cannot be read."""
        for job_id in taken.get_job_ids():
            try:
                job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
            except RedisError:
                raise
            except Exception as exc:
                if not isinstance(exc, NoSuchJobError):
                    log("message_refused", node=self.node, job=job_id, func="?",
                        why=f"unreadable job: {exc!r}")  # fmt: skip
                self._drop(job_id, taken, redis)
                continue
            try:
                self._perform(job)
            finally:
                self._drop(job_id, taken, redis)
