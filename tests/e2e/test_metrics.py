"""Operators: the daemon's Prometheus endpoint scraped with a real HTTP client during a run,
and its log lines as JSON (issue 13)."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SCNS, Scns, wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port: int, host: str = "127.0.0.1") -> dict[tuple, float]:
    """Every sample: (name, sorted labels) -> value."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        text = answer.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_during_a_run(any_backend: Scns) -> None:
    scns = any_backend
    port = free_port()
    scns.start_daemon("--cpus", "2", "--node", "n1", "--metrics-port", str(port))
    assert f"event=metrics_serving address=127.0.0.1 port={port}" in scns.daemon_log()
    done = [scns.submit("--wrap", "true") for _ in range(3)]
    failed = scns.submit("--wrap", "exit 3")
    running = scns.submit("--wrap", "sleep 300")
    held = scns.submit("-H", "--wrap", "true")
    for job_id in done:
        scns.wait_state(job_id, "COMPLETED")
    scns.wait_state(failed, "FAILED")
    scns.wait_state(running, "RUNNING")

    def counted():
        samples = scrape(port)
        return samples if value(samples, "scns_jobs_ended_total", state="FAILED") == 1 else None

    samples = wait_until(counted, 30, 0.2, "the failed job in the metrics")
    assert value(samples, "scns_jobs_started_total") == 5
    assert value(samples, "scns_jobs_ended_total", state="COMPLETED") == 3
    assert value(samples, "scns_submit_to_start_seconds_count") == 5
    assert value(samples, "scns_submit_to_start_seconds_sum") > 0
    assert value(samples, "scns_schedule_pass_seconds_count") >= 1
    assert value(samples, "scns_jobs_queued", state="RUNNING", reason="") == 1
    assert value(samples, "scns_jobs_queued", state="PENDING", reason="JobHeldUser") == 1
    assert value(samples, "scns_node_cpus", node="n1") == 2
    assert value(samples, "scns_node_cpus_allocated", node="n1") == 1
    assert value(samples, "scns_node_up", node="n1") == 1
    assert value(samples, "scns_leader") == 1
    assert not [k for k in samples if k[0] == "scns_step_errors_total"]

    scns.run("cancel", str(running), str(held))
    scns.wait_state(running, "CANCELLED")

    def cancelled():
        samples = scrape(port)
        ended = value(samples, "scns_jobs_ended_total", state="CANCELLED")
        queued = value(samples, "scns_jobs_queued", state="PENDING", reason="JobHeldUser")
        return samples if ended == 1 and queued is None else None

    samples = wait_until(cancelled, 30, 0.5, "the cancel in the metrics")  # refreshed: 2 s
    assert value(samples, "scns_jobs_queued", state="RUNNING", reason="") == 0
    assert value(samples, "scns_node_cpus_allocated", node="n1") == 0


def test_metrics_are_off_by_default_and_bind_where_told(scns: Scns) -> None:
    scns.start_daemon("--cpus", "1", "--node", "n1")
    assert "metrics_serving" not in scns.daemon_log()
    scns.stop_daemons()
    port = free_port()
    where = {"SCNS_METRICS_PORT": str(port), "SCNS_METRICS_ADDRESS": "127.0.0.2"}
    scns.start_daemon("--cpus", "1", "--node", "n1", env=where)
    assert value(scrape(port, "127.0.0.2"), "scns_leader") is not None
    with pytest.raises(OSError):
        scrape(port, "127.0.0.1")


def test_a_taken_metrics_port_is_one_line(scns: Scns) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([*SCNS, "daemon", "--cpus", "1", "--metrics-port", str(port)],
                              capture_output=True, text=True, env=scns.env, timeout=60)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"scns daemon: error: cannot serve metrics on 127.0.0.1:{port}: Address already in use"
    ]
    assert scns.run("info", "--json").stdout.strip() == "[]"  # never registered its node


def test_daemon_logs_json_lines(scns: Scns) -> None:
    scns.start_daemon("--cpus", "1", "--node", "n1", env={"SCNS_LOG_FORMAT": "json"})
    job_id = scns.submit("--wrap", "true")
    scns.wait_state(job_id, "COMPLETED")
    scns.stop_daemons()
    lines = [json.loads(line) for line in scns.daemon_log().splitlines()]
    events = [line["event"] for line in lines]
    assert events[0] == "daemon_started" and events[-1] == "daemon_stopped"
    assert {"job_started", "job_ended"} <= set(events)
    ended = next(line for line in lines if line["event"] == "job_ended")
    assert (ended["job"], ended["state"], ended["exit_code"]) == (job_id, "COMPLETED", 0)
    assert all(line["time"].endswith("Z") for line in lines)


def test_hooks_count_what_the_daemon_reports(scns: Scns, monkeypatch, capsys) -> None:
    """In process: step failures, what is and is not an end, and a database that fails the
    refresh (the counters are still served)."""
    from prometheus_client import generate_latest

    from scns.daemon import metrics

    exporter = metrics.Metrics(f"sqlite:///{scns.home}/no-schema.db", 30.0, lambda: False)
    monkeypatch.setattr(metrics, "_current", exporter)
    metrics.step_failed("reap")
    metrics.step_failed("reap")
    metrics.job_ended("PENDING")  # a requeue: no end
    metrics.job_ended("FAILED", recorded=False)  # another daemon recorded it
    metrics.job_started(10.0, 12.5)
    samples = {}
    for family in text_string_to_metric_families(generate_latest(exporter.registry).decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    assert value(samples, "scns_step_errors_total", step="reap") == 2
    assert not [k for k in samples if k[0] == "scns_jobs_ended_total"]
    assert value(samples, "scns_submit_to_start_seconds_sum") == 2.5
    assert value(samples, "scns_leader") == 0
    assert not [k for k in samples if k[0] == "scns_jobs_queued"]
    assert "event=metrics_refresh_failed" in capsys.readouterr().err
