"""Several nodes on PostgreSQL + Redis: exactly once, never oversubscribed, fail-over,
Redis loss, PostgreSQL connection loss, and cancel racing start. Real servers, real daemons."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import Scns, assert_never_oversubscribed, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CLUSTER_ENV = {"SCNS_HEARTBEAT_TIMEOUT_S": "4", "SCNS_POLL_INTERVAL_S": "1"}


def start_nodes(scns: Scns, names: list[str], cpus: int = 2) -> dict[str, subprocess.Popen]:
    return {n: scns.start_daemon("--node", n, "--cpus", str(cpus), env=CLUSTER_ENV)
            for n in names}  # fmt: skip


def counts(scns: Scns) -> dict[str, int]:
    return dict(scns.sql("SELECT state, COUNT(*) FROM jobs GROUP BY state"))


def all_finished(scns: Scns, total: int) -> bool:
    c = counts(scns)
    return sum(v for k, v in c.items() if k not in ("PENDING", "CONFIGURING", "RUNNING")) == total


def starts_per_job(scns: Scns) -> dict[int, int]:
    return dict(scns.sql("SELECT job_id, COUNT(*) FROM events WHERE kind = 'started' "
                         "GROUP BY job_id"))  # fmt: skip


def lines(path: str) -> list[str]:
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return handle.read().split()


def test_exactly_once_with_eight_submitters_and_three_nodes(pg_scns: Scns) -> None:
    start_nodes(pg_scns, ["a", "b", "c"])
    ran = os.path.join(pg_scns.workdir, "ran.txt")
    submitters = [
        subprocess.Popen(
            [
                sys.executable,
                os.path.join(os.path.dirname(__file__), "submitter.py"),
                "200",
                f"echo $SCNS_JOB_ID >> {ran}",
            ],
            cwd=pg_scns.workdir,
            env=pg_scns.env,
        )
        for _ in range(8)
    ]
    for proc in submitters:
        assert proc.wait(timeout=600) == 0
    wait_until(lambda: all_finished(pg_scns, 1600), 600, 0.5, "1600 jobs to finish")
    assert counts(pg_scns) == {"COMPLETED": 1600}
    ids = lines(ran)
    assert len(ids) == 1600 and len(set(ids)) == 1600
    assert set(starts_per_job(pg_scns).values()) == {1}
    rows = pg_scns.sql("SELECT node, start_time, end_time, cpus, cpu_ids FROM jobs")
    assert {r[0] for r in rows} <= {"a", "b", "c"}
    assert_never_oversubscribed(rows, {"a": 2, "b": 2, "c": 2})
    assert pg_scns.sql("SELECT COUNT(*) FROM allocations WHERE released_time IS NULL") == [(0,)]
    assert pg_scns.sql("SELECT COUNT(*) FROM core_claims") == [(0,)]


def leader_node(scns: Scns) -> str | None:
    rows = scns.sql("SELECT holder, expires_time FROM leases WHERE name = 'scheduler'")
    if not rows or rows[0][1] < time.time():
        return None
    return rows[0][0].split(":")[0]


def test_leader_failover_schedules_pending_jobs_within_ten_seconds(pg_scns: Scns) -> None:
    daemons = start_nodes(pg_scns, ["a", "b"])
    leader = wait_until(lambda: leader_node(pg_scns), 20, 0.1, "a leader to be elected")
    daemons[leader].send_signal(signal.SIGKILL)
    daemons[leader].wait()
    killed_at = time.monotonic()
    ids = [pg_scns.submit("--wrap", "sleep 0.2") for _ in range(6)]
    survivor = "b" if leader == "a" else "a"

    def all_started() -> bool:
        rows = pg_scns.sql("SELECT COUNT(*) FROM jobs WHERE start_time IS NOT NULL")
        return rows[0][0] == len(ids)

    wait_until(all_started, 10 - (time.monotonic() - killed_at) + 0.5, 0.1,
               "the new leader to start every pending job within 10 s")  # fmt: skip
    assert wait_until(lambda: leader_node(pg_scns), 5) == survivor
    wait_until(lambda: all_finished(pg_scns, len(ids)), 60, 0.2, "jobs to finish")
    assert counts(pg_scns) == {"COMPLETED": len(ids)}
    assert set(starts_per_job(pg_scns).values()) == {1}
    assert {r[0] for r in pg_scns.sql("SELECT node FROM jobs")} == {survivor}


def test_redis_loss_loses_nothing_and_starts_nothing_twice(pg_scns: Scns) -> None:
    import redis

    start_nodes(pg_scns, ["a", "b"])
    client = redis.Redis.from_url(pg_scns.env["SCNS_REDIS_URL"])
    ran = os.path.join(pg_scns.workdir, "ran.txt")
    total = 0
    for _round in range(4):
        for _ in range(10):
            pg_scns.submit("--wrap", f"echo $SCNS_JOB_ID >> {ran}; sleep 0.1")
            total += 1
        client.flushdb()  # every queued start message and worker registration is gone
    wait_until(lambda: all_finished(pg_scns, total), 120, 0.2, "jobs to finish")
    assert counts(pg_scns) == {"COMPLETED": total}
    assert sorted(lines(ran)) == sorted({*lines(ran)}) and len(lines(ran)) == total
    assert set(starts_per_job(pg_scns).values()) == {1}


def test_database_connection_loss_daemons_reconnect(pg_scns: Scns) -> None:
    import psycopg

    daemons = start_nodes(pg_scns, ["a", "b"])
    before = [pg_scns.submit("--wrap", "sleep 1") for _ in range(4)]
    wait_until(lambda: counts(pg_scns).get("RUNNING", 0) >= 2, 30, 0.1, "jobs to run")
    dsn = pg_scns.env["SCNS_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    dbname = dsn.rsplit("/", 1)[1]
    # What a restart looks like to clients: every connection to the database is cut.
    with psycopg.connect(dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        cut = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)
        ).fetchall()  # fmt: skip
    assert len(cut) >= 2
    after = [pg_scns.submit("--wrap", "true") for _ in range(4)]
    total = len(before) + len(after)
    wait_until(lambda: all_finished(pg_scns, total), 90, 0.2, "jobs to finish after reconnect")
    assert counts(pg_scns) == {"COMPLETED": total}
    assert all(d.poll() is None for d in daemons.values())
    assert set(starts_per_job(pg_scns).values()) == {1}


def test_cancel_racing_start_has_one_winner_matching_the_process(pg_scns: Scns) -> None:
    start_nodes(pg_scns, ["a", "b"])
    marks = os.path.join(pg_scns.workdir, "marks")
    os.makedirs(marks)
    ids = []
    for i in range(12):
        job_id = pg_scns.submit("--wrap", f"touch {marks}/$SCNS_JOB_ID; sleep 0.3")
        ids.append(job_id)
        if i % 3:  # cancel at once, racing the scheduler and the start
            pg_scns.run("cancel", str(job_id))
    wait_until(lambda: all_finished(pg_scns, len(ids)), 60, 0.2, "jobs to finish")
    rows = pg_scns.sql("SELECT id, state, start_time FROM jobs ORDER BY id")
    for job_id, state, start in rows:
        ran = os.path.exists(os.path.join(marks, str(job_id)))
        assert state in ("COMPLETED", "CANCELLED")
        if start is None:
            assert state == "CANCELLED" and not ran, f"job {job_id} ran without a start record"
        if state == "COMPLETED":
            assert ran and start is not None
    assert set(starts_per_job(pg_scns).values()) <= {1}
    assert pg_scns.sql("SELECT COUNT(*) FROM core_claims") == [(0,)]


def test_info_lists_every_node(pg_scns: Scns) -> None:
    import json

    start_nodes(pg_scns, ["a", "b"], cpus=1)
    job = pg_scns.submit("--wrap", "sleep 20")
    pg_scns.wait_state(job, "RUNNING")
    nodes = {n["name"]: n for n in json.loads(pg_scns.run("info", "--json").stdout)}
    assert set(nodes) == {"a", "b"}
    assert sorted(n["state"] for n in nodes.values()) == ["allocated", "idle"]
    assert all(n["heartbeat_age_s"] < 10 for n in nodes.values())
    pg_scns.run("cancel", str(job))


def _restart_postgresql() -> None:
    import shutil

    if (
        os.geteuid() != 0
        or not shutil.which("pg_ctlcluster")
        or not os.path.isdir("/etc/postgresql")
    ):
        pytest.skip("restarting PostgreSQL needs root and pg_ctlcluster on this machine")
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip


def test_postgresql_restart_daemons_reconnect_and_lose_nothing(pg_scns: Scns) -> None:
    daemons = start_nodes(pg_scns, ["a", "b"])
    before = [pg_scns.submit("--wrap", "sleep 2") for _ in range(4)]
    wait_until(lambda: counts(pg_scns).get("RUNNING", 0) >= 2, 30, 0.1, "jobs to run")
    _restart_postgresql()
    after = [pg_scns.submit("--wrap", "true") for _ in range(4)]
    total = len(before) + len(after)
    wait_until(lambda: all_finished(pg_scns, total), 120, 0.3, "jobs to finish after restart")
    assert counts(pg_scns) == {"COMPLETED": total}
    assert all(d.poll() is None for d in daemons.values())
    assert set(starts_per_job(pg_scns).values()) == {1}
