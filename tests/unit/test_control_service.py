"""The hold / release / update service on a real SQLite database in a temporary directory."""

from __future__ import annotations

import pytest

from scns.db import statements as sql
from scns.db.engine import Database, open_database
from scns.db.migrate import ensure_schema
from scns.domain.job import JobRequest
from scns.errors import Conflict, InvalidInput, NotFound
from scns.service import control
from scns.service.store import Submitter, store
from scns.service.submission import SubmitContext


@pytest.fixture
def db(tmp_path) -> Database:
    database = open_database(f"sqlite:///{tmp_path}/scns.db")
    ensure_schema(database)
    yield database
    database.close()


def submit(db: Database, workdir: str, **fields) -> int:
    request = JobRequest(
        name="t", script="#!/bin/sh\ntrue\n", argv=(), workdir=workdir,
        stdout_pattern="scns-%j.out", stderr_pattern=None, **fields,
    )  # fmt: skip
    ctx = SubmitContext(cwd=workdir, env={}, now=1000.0)
    return store(db, request, ctx, Submitter("alice", 1000, 1000)).job_id


def row(db: Database, ref: str):
    from scns.service.jobs import get_job

    return get_job(db, ref)


def test_hold_then_release_a_pending_job(db: Database, tmp_path) -> None:
    job_id = submit(db, str(tmp_path))
    [result] = control.hold(db, [str(job_id)])
    assert (result.outcome, result.changed, result.is_error) == ("held", 1, False)
    job = row(db, str(job_id))
    assert (job.held, job.reason) == (1, "JobHeldUser")
    [result] = control.release(db, [str(job_id)])
    assert result.message == f"job {job_id} released"
    job = row(db, str(job_id))
    assert (job.held, job.reason) == (0, None)
    [result] = control.release(db, [str(job_id)])
    assert (result.outcome, result.is_error) == ("not_held", False)


def test_unknown_id_changes_nothing(db: Database, tmp_path) -> None:
    job_id = submit(db, str(tmp_path))
    with pytest.raises(NotFound):
        control.hold(db, [str(job_id), "777"])
    with pytest.raises(InvalidInput):
        control.hold(db, [str(job_id), "12x"])
    assert row(db, str(job_id)).held == 0


def test_array_id_addresses_every_task_and_task_id_one(db: Database, tmp_path) -> None:
    array_id = submit(db, str(tmp_path), array_task_ids=tuple(range(6)), held=True)
    [result] = control.release(db, [f"{array_id}_3"])
    assert result.changed == 1
    [result] = control.release(db, [str(array_id)])
    assert (result.changed, result.message) == (5, f"job {array_id} released (5 tasks)")


def test_hold_of_a_finished_job_is_refused(db: Database, tmp_path) -> None:
    job_id = submit(db, str(tmp_path))
    with db.write() as tx:
        sql.cancel_pending(tx, [job_id], 1001.0, "test")
    [result] = control.hold(db, [str(job_id)])
    assert result.is_error and result.message == f"job {job_id} is not pending (CANCELLED)"
    assert row(db, str(job_id)).held == 0


def test_update_changes_only_the_given_fields(db: Database, tmp_path) -> None:
    job_id = submit(db, str(tmp_path), time_limit_s=600, nice=5)
    control.update(db, str(job_id), control.JobUpdate(priority=40))
    job = row(db, str(job_id))
    assert (job.priority, job.nice, job.time_limit_s) == (40, 5, 600)
    control.update(db, str(job_id), control.JobUpdate(time_limit_s=None, time_set=True))
    assert row(db, str(job_id)).time_limit_s is None
    with pytest.raises(InvalidInput):
        control.update(db, str(job_id), control.JobUpdate())


def test_update_refuses_an_array_with_a_finished_task(db: Database, tmp_path) -> None:
    array_id = submit(db, str(tmp_path), array_task_ids=(0, 1, 2))
    with db.write() as tx:
        sql.cancel_pending(tx, [array_id + 1], 1001.0, "test")
    with pytest.raises(Conflict, match=f"job {array_id}_1 is CANCELLED"):
        control.update(db, str(array_id), control.JobUpdate(priority=9))
    assert {row(db, f"{array_id}_{t}").priority for t in (0, 2)} == {0}
    control.update(db, f"{array_id}_2", control.JobUpdate(priority=9))
    assert row(db, f"{array_id}_2").priority == 9
