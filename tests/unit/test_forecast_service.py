"""``scns submit --test-only``'s forecast on a real SQLite database: the daemon's own
snapshot with the job added; nothing is stored (issue 13)."""

from __future__ import annotations

import pytest

from scns.db import statements as sql
from scns.db.engine import Database, open_database
from scns.db.migrate import ensure_schema
from scns.domain.job import JobRequest
from scns.service.jobs import get_job
from scns.service.planning import PassConfig, forecast
from scns.service.store import Submitter, store
from scns.service.submission import SubmitContext

NOW = 1000.0


@pytest.fixture
def db(tmp_path) -> Database:
    database = open_database(f"sqlite:///{tmp_path}/scns.db")
    ensure_schema(database)
    yield database
    database.close()


def request(workdir: str, **fields) -> JobRequest:
    return JobRequest(name="t", script="#!/bin/sh\ntrue\n", argv=(), workdir=workdir,
                      stdout_pattern="scns-%j.out", stderr_pattern=None, **fields)  # fmt: skip


def submit(db: Database, workdir: str, **fields) -> int:
    ctx = SubmitContext(cwd=workdir, env={}, now=NOW)
    return store(db, request(workdir, **fields), ctx, Submitter("daemon", 1, 1)).job_id


def add_node(db: Database, cpus: int) -> None:
    with db.write() as tx:
        sql.upsert_node(tx, name="n1", hostname="h", cpu_ids=list(range(cpus)), mem_mb=0,
                        pid=1, now=NOW, version="t")  # fmt: skip


def run(db: Database, job_id: int) -> None:
    """Allocate and start a job as its node would."""
    with db.write() as tx:
        assert sql.allocate(tx, job_id, "n1", [0], 0, NOW)
        assert sql.mark_running(tx, job_id, 4242, None, NOW)


def test_forecast_starts_now_when_free_else_when_the_running_job_ends(db, tmp_path) -> None:
    add_node(db, cpus=2)
    config = PassConfig(heartbeat_timeout_s=1e12)  # the test's clock is far in the past
    found = forecast(db, request(str(tmp_path), cpus_per_task=2), NOW, config,
                     user_name="alice")  # fmt: skip
    assert (found.start_time, found.node, found.cpus) == (NOW, "n1", 2)
    running = submit(db, str(tmp_path), time_limit_s=600)
    run(db, running)
    found = forecast(db, request(str(tmp_path), cpus_per_task=2), NOW, config,
                     user_name="alice")  # fmt: skip
    assert (found.start_time, found.node) == (NOW + 600, "n1")
    assert get_job(db, str(running)).state.value == "RUNNING"  # nothing stored or changed
    with db.read() as tx:
        assert len(sql.list_jobs(tx, include_finished=True)) == 1


def test_forecast_says_why_a_job_would_not_start(db, tmp_path) -> None:
    config = PassConfig(heartbeat_timeout_s=1e12)
    work = str(tmp_path)
    assert forecast(db, request(work), NOW, config, user_name="a").waits_for == "NoNodeUp"
    add_node(db, cpus=2)
    cases = {
        "JobHeldUser": request(work, held=True),
        "Resources": request(work, cpus_per_task=3),
        "DependencyNeverSatisfied": request(work, dependency="afterok:999"),
    }
    for reason, asked in cases.items():
        assert forecast(db, asked, NOW, config, user_name="a").waits_for == reason
    first = submit(db, work)
    found = forecast(db, request(work, dependency=f"afterok:{first}"), NOW, config,
                     user_name="a")  # fmt: skip
    assert found.waits_for == "Dependency"
    later = forecast(db, request(work, begin_time=NOW + 3600), NOW, config, user_name="a")
    assert (later.start_time, later.node) == (NOW + 3600, "n1")
