"""RQ on both ends: the leader enqueues start messages, each node hosts a worker thread.

The worker is an RQ SimpleWorker running in a daemon thread (no fork per message), with a
timer-based death penalty because signal handlers only work in the main thread.

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
from rq import Queue, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, parse_job_id
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.utils import now

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


class _StartMessage(Job):
    """A job hash that cannot even be restored is dropped at fetch, not raised at the worker.

    RQ fetches a job on dequeue and during registry maintenance; an exception there ends
    ``work()``. ``node`` and ``intermediate_key`` are set per worker by ``_message_class``.
    """

    node = "?"
    intermediate_key = ""

    @classmethod
    def fetch(cls, id: str, connection: Redis | None = None, serializer=None) -> Job:
        try:
            return super().fetch(id, connection=connection, serializer=serializer)
        except RedisError:
            raise
        except Exception as exc:
            if connection is None:  # the worker always passes its own
                raise
            key = cls.key_for(parse_job_id(str(id)))
            if isinstance(exc, NoSuchJobError) and not connection.exists(key):
                raise  # already gone: RQ skips it
            with connection.pipeline() as pipe:
                pipe.delete(key)
                pipe.lrem(cls.intermediate_key, 1, id)  # where dequeuing moved it
                pipe.execute()
            log("message_refused", node=cls.node, job=id, func="?",
                why=f"unreadable job: {exc!r}")  # fmt: skip
            raise NoSuchJobError(f"refused unreadable job {id}") from exc


def _message_class(node: str) -> type[Job]:
    key = IntermediateQueue.get_intermediate_queue_key(
        Queue.redis_queue_namespace_prefix + queue_name(node)
    )
    return type("StartMessage", (_StartMessage,), {"node": node, "intermediate_key": key})


class _ThreadWorker(SimpleWorker):
    """RQ's SimpleWorker without its per-job bookkeeping, running only scns's start handler.

    A start message only says "look at the database now" (its effect is idempotent, and
    the database, not Redis, records what ran). RQ's full path for a job (execution record,
    started registry, status changes, result handling, three worker heartbeats) costs ~20
    Redis round trips and a few ms of Python in a thread that shares the daemon's GIL; here
    a message is checked, performed and deleted, and the worker's heartbeat is sent every
    HEARTBEAT_EVERY_S instead of several times per message.
    """

    death_penalty_class = TimerDeathPenalty
    HEARTBEAT_EVERY_S = 10.0
    _last_beat = 0.0

    def __init__(self, node: str, connection: Redis, name: str) -> None:
        self.node = node
        super().__init__([queue_name(node)], connection=connection, name=name,
                         serializer=JSONSerializer, job_class=_message_class(node))  # fmt: skip

    def _install_signal_handlers(self) -> None:
        """The daemon's main thread owns the signals."""

    def execute_job(self, job, queue) -> None:
        func = "?"
        try:
            func = str(job.func_name)  # deserializes (JSON only): may raise
            job_ids = parse_start(job.func_name, job.instance, job.args, job.kwargs, self.node)
        except Exception as exc:
            why = str(exc) if isinstance(exc, RefusedMessage) else f"unreadable: {exc!r}"
            log("message_refused", node=self.node, job=job.id, func=func[:200], why=why)
            self._forget(job, queue)
            return
        try:  # called directly: nothing named in the message is ever imported
            start_allocated(self.node, job_ids)
        except Exception as exc:  # the hook only pokes the loop; never let it stop the worker
            log("start_message_failed", job=job.id, error=repr(exc))
        finally:
            self._forget(job, queue)

    def _forget(self, job, queue) -> None:
        """Dequeuing moved the id to RQ's intermediate list; no registry ever listed it."""
        with self.connection.pipeline() as pipe:
            pipe.delete(job.key)
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            pipe.execute()

    def run_maintenance_tasks(self) -> None:
        """RQ's registry cleaning, which must not end the worker over a malformed entry."""
        try:
            super().run_maintenance_tasks()
        except RedisError:
            raise
        except Exception as exc:
            # try again next interval, not on every dequeue (RQ's own annotation says None)
            self.last_cleaned_at = now()  # type: ignore[assignment]
            log("rq_maintenance_failed", node=self.node, error=repr(exc))

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
                worker = _ThreadWorker(self.node, redis, f"scns-{self.node}-{time.time_ns()}")
                worker.work(logging_level="WARNING", with_scheduler=False)
                if not self._stop.is_set():  # RQ's loop ends on errors it only logs itself
                    log("rq_worker_exited", node=self.node)
            except Exception as exc:
                log("rq_worker_error", node=self.node, error=repr(exc))
            self._stop.wait(1.0)
