"""Prometheus metrics of one daemon, on ``scns daemon --metrics-port PORT`` (off by default).

What this daemon does is counted as it happens (jobs it started and ended, their
submit-to-start latency, its scheduling passes, its failing steps); what the cluster looks
like (jobs by state and reason, CPUs per node) is read from the database when scraped, at
most once every REFRESH_S whatever the number of scrapers, on a short-lived connection of
the scrape's own thread. prometheus_client is imported only when metrics are on: the hooks
below cost a global lookup when they are off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from scns.domain.state_names import ALLOCATED_NAMES

REFRESH_S = 2.0
ERROR_LOG_EVERY_S = 60.0
LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400)
PASS_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

_current: Metrics | None = None


# ---- hooks: called from the daemon's loop and executor; nothing happens when off --------


def job_started(submit_time: float, start_time: float) -> None:
    if _current is not None:
        _current.started.inc()
        _current.latency.observe(max(0.0, start_time - submit_time))


def job_ended(state: str, recorded: bool = True) -> None:
    """A job this daemon saw end (a requeue back to PENDING is no end)."""
    if _current is not None and recorded and state != "PENDING":
        _current.ended.labels(state=state).inc()


def scheduling_pass(duration_s: float) -> None:
    if _current is not None:
        _current.passes.observe(duration_s)


def step_failed(step: str) -> None:
    if _current is not None:
        _current.step_errors.labels(step=step).inc()


# ---- the exporter ------------------------------------------------------------------------


class Metrics:
    """The registry of one daemon and its HTTP endpoint."""

    def __init__(self, database_url: str, heartbeat_timeout_s: float,
                 is_leader: Callable[[], bool]) -> None:  # fmt: skip
        from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)  # process_*: the daemon's CPU, memory, fds
        self.started = Counter("scns_jobs_started", "Jobs this daemon started.",
                               registry=self.registry)  # fmt: skip
        self.ended = Counter("scns_jobs_ended", "Jobs this daemon saw end, by final state.",
                             ["state"], registry=self.registry)  # fmt: skip
        self.latency = Histogram("scns_submit_to_start_seconds",
                                 "From submit to start, of the jobs this daemon started.",
                                 buckets=LATENCY_BUCKETS_S, registry=self.registry)  # fmt: skip
        self.passes = Histogram("scns_schedule_pass_seconds",
                                "Duration of this daemon's scheduling passes (as leader).",
                                buckets=PASS_BUCKETS_S, registry=self.registry)  # fmt: skip
        self.step_errors = Counter("scns_step_errors", "Failures of the daemon's steps, by step.",
                                   ["step"], registry=self.registry)  # fmt: skip
        self.registry.register(_ClusterCollector(database_url, heartbeat_timeout_s, is_leader))
        self.server: Any = None  # prometheus_client's WSGI server, once serving

    def serve(self, port: int, address: str) -> None:
        """Start the endpoint in a daemon thread; a port that cannot be had is one line."""
        from prometheus_client import start_http_server

        from scns.errors import InvalidInput

        try:
            self.server, _thread = start_http_server(port, address, registry=self.registry)
        except OSError as exc:
            raise InvalidInput(f"cannot serve metrics on {address}:{port}:"
                               f" {exc.strerror or exc}") from None  # fmt: skip

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def start(settings, is_leader: Callable[[], bool]) -> Metrics | None:
    """The daemon's metrics when ``settings.metrics_port`` is set (and the hooks' target)."""
    global _current
    if settings.metrics_port is None:
        return None
    from scns.log import log

    metrics = Metrics(settings.database_url, settings.heartbeat_timeout_s, is_leader)
    metrics.serve(settings.metrics_port, settings.metrics_address)
    _current = metrics
    log("metrics_serving", address=settings.metrics_address, port=settings.metrics_port)
    return metrics


def stop() -> None:
    global _current
    if _current is not None:
        _current.close()
        _current = None


class _ClusterCollector:
    """Gauges read from the database: jobs by state and reason, CPUs per node, leadership."""

    def __init__(self, database_url: str, heartbeat_timeout_s: float,
                 is_leader: Callable[[], bool]) -> None:  # fmt: skip
        self.database_url = database_url
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.is_leader = is_leader
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._jobs: dict[tuple[str, str], int] = {}
        self._nodes: list = []
        self._error_logged_at = float("-inf")

    def describe(self):
        return []  # families vary with the data: nothing to check at registration

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        self._refresh()
        queued = GaugeMetricFamily("scns_jobs_queued",
                                   "Jobs pending, configuring or running, by state and reason.",
                                   labels=["state", "reason"])  # fmt: skip
        for (state, reason), count in sorted(self._jobs.items()):
            queued.add_metric([state, reason], count)
        yield queued
        cpus = GaugeMetricFamily("scns_node_cpus", "CPUs of each node.", labels=["node"])
        allocated = GaugeMetricFamily("scns_node_cpus_allocated", "CPUs allocated on each node.",
                                      labels=["node"])  # fmt: skip
        up = GaugeMetricFamily("scns_node_up", "1 while a daemon serves the node.",
                               labels=["node"])  # fmt: skip
        for node in self._nodes:
            cpus.add_metric([node.name], node.cpus)
            allocated.add_metric([node.name], node.allocated)
            up.add_metric([node.name], 1 if node.is_live else 0)
        yield from (cpus, allocated, up)
        yield GaugeMetricFamily("scns_leader", "1 while this daemon holds the scheduler lease.",
                                value=1 if self.is_leader() else 0)  # fmt: skip

    def _refresh(self) -> None:
        """At most once per REFRESH_S; the last good values stay when the database fails."""
        with self._lock:
            if time.monotonic() - self._read_at < REFRESH_S:
                return
            from scns.db import statements as sql
            from scns.db.engine import open_database
            from scns.service.nodes import node_summaries

            try:
                db = open_database(self.database_url, short_lived=True)
                try:
                    with db.read() as tx:
                        jobs = sql.live_jobs_by_reason(tx)
                    nodes = node_summaries(db, time.time(), self.heartbeat_timeout_s)
                finally:
                    db.close()
            except Exception as exc:
                self._log_error(exc)
                return
            self._jobs = {(state, reason or ("None" if state == "PENDING" else "")): count
                          for state, reason, count in jobs}  # fmt: skip
            for state in ALLOCATED_NAMES:  # running and configuring show even at zero
                self._jobs.setdefault((state, ""), 0)
            self._nodes = nodes
            self._read_at = time.monotonic()

    def _log_error(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._error_logged_at >= ERROR_LOG_EVERY_S:
            from scns.log import describe, log

            self._error_logged_at = now
            log("metrics_refresh_failed", error=describe(exc))
