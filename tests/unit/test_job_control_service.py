"""Job control in the service layer on a real SQLite database: cancel by filters (as
scancel), one result per array, signals, a running job's time limit (issue 13)."""

from __future__ import annotations

import signal

import pytest

from scns.db import statements as sql
from scns.db.engine import Database, open_database
from scns.db.migrate import ensure_schema
from scns.domain.job import JobRequest
from scns.domain.rights import Caller
from scns.errors import Conflict, PermissionDenied
from scns.service import control
from scns.service.jobs import JobFilter, cancel, get_job
from scns.service.store import Submitter, store
from scns.service.submission import SubmitContext

# accounts every system has: the filters name users as the account database knows them
ALICE = Submitter("daemon", 1, 1)
BOB = Submitter("bin", 2, 2)
AS_ALICE = Caller(1, 1, (1,), "daemon", False)
OPERATOR = Caller(3, 3, (3,), "sys", True)
NOW = 1000.0


@pytest.fixture
def db(tmp_path) -> Database:
    database = open_database(f"sqlite:///{tmp_path}/scns.db")
    ensure_schema(database)
    yield database
    database.close()


def request(workdir: str, **fields) -> JobRequest:
    fields.setdefault("name", "t")
    return JobRequest(script="#!/bin/sh\ntrue\n", argv=(), workdir=workdir,
                      stdout_pattern="scns-%j.out", stderr_pattern=None, **fields)  # fmt: skip


def submit(db: Database, workdir: str, who: Submitter = ALICE, **fields) -> int:
    ctx = SubmitContext(cwd=workdir, env={}, now=NOW)
    return store(db, request(workdir, **fields), ctx, who).job_id


def add_node(db: Database, cpus: int = 2, name: str = "n1") -> None:
    with db.write() as tx:
        sql.upsert_node(tx, name=name, hostname="h", cpu_ids=list(range(cpus)), mem_mb=0,
                        pid=1, now=NOW, version="t")  # fmt: skip


def run(db: Database, job_id: int, cpu_ids=(0,), node: str = "n1") -> None:
    """Allocate and start a job as a node would."""
    with db.write() as tx:
        assert sql.allocate(tx, job_id, node, list(cpu_ids), 0, NOW)
        assert sql.mark_running(tx, job_id, 4242, None, NOW)


def state(db: Database, job_id: int | str) -> str:
    return get_job(db, str(job_id)).state.value


# ---- cancel -------------------------------------------------------------------------------


def test_an_array_is_one_result_counting_its_tasks(db, tmp_path) -> None:
    array = submit(db, str(tmp_path), array_task_ids=tuple(range(100)))
    [result] = cancel(db, [str(array)], NOW)
    assert (result.job, result.outcome, result.tasks) == (str(array), "cancelled", 100)
    assert result.message == f"job {array} cancelled (100 tasks)"
    [again] = cancel(db, [str(array)], NOW)
    assert again.message == f"job {array} has already finished"


def test_filters_alone_select_live_jobs_and_combine(db, tmp_path) -> None:
    keep = submit(db, str(tmp_path), name="keep")
    sweep = submit(db, str(tmp_path), name="sweep", array_task_ids=(0, 1, 2))
    theirs = submit(db, str(tmp_path), BOB, name="sweep")
    held = submit(db, str(tmp_path), name="sweep", held=True)
    done = submit(db, str(tmp_path), name="sweep")
    cancel(db, [str(done)], NOW)
    results = cancel(db, [], NOW, spec=JobFilter(names=("sweep",), users=("daemon",)))
    assert [(r.job, r.tasks) for r in results] == [(str(sweep), 3), (str(held), 1)]
    assert {state(db, j) for j in (keep, theirs)} == {"PENDING"}
    assert cancel(db, [], NOW, spec=JobFilter(names=("nothing",))) == []


def test_filters_narrow_the_ids_given(db, tmp_path) -> None:
    first = submit(db, str(tmp_path), name="a")
    second = submit(db, str(tmp_path), name="b")
    results = cancel(db, [str(first), str(second)], NOW, spec=JobFilter(names=("b",)))
    assert [r.job for r in results] == [str(second)]
    assert (state(db, first), state(db, second)) == ("PENDING", "CANCELLED")


def test_state_filter(db, tmp_path) -> None:
    add_node(db)
    running = submit(db, str(tmp_path))
    waiting = submit(db, str(tmp_path))
    run(db, running)
    [result] = cancel(db, [], NOW, spec=JobFilter(states=("PENDING",)))
    assert result.job == str(waiting)
    assert state(db, running) == "RUNNING"


def test_a_user_filters_among_their_own_jobs_unless_naming_users(db, tmp_path) -> None:
    mine = submit(db, str(tmp_path), name="x")
    theirs = submit(db, str(tmp_path), BOB, name="x")
    [result] = cancel(db, [], NOW, caller=AS_ALICE, spec=JobFilter(names=("x",)))
    assert result.job == str(mine) and state(db, theirs) == "PENDING"
    with pytest.raises(PermissionDenied, match=f"job {theirs} is not yours"):
        cancel(db, [], NOW, caller=AS_ALICE, spec=JobFilter(users=("bin",)))
    [result] = cancel(db, [], NOW, caller=OPERATOR, spec=JobFilter(users=("bin",)))
    assert result.job == str(theirs) and state(db, theirs) == "CANCELLED"


def test_a_signal_goes_to_running_jobs_only_and_cancels_nothing(db, tmp_path) -> None:
    add_node(db)
    running = submit(db, str(tmp_path))
    waiting = submit(db, str(tmp_path))
    run(db, running)
    sent, refused = cancel(db, [str(running), str(waiting)], NOW, signal=signal.SIGUSR1)
    assert (sent.outcome, sent.is_error) == ("sent", False)
    assert sent.message == f"job {running} sent SIGUSR1"
    assert (refused.outcome, refused.is_error) == ("not_running", True)
    assert get_job(db, str(running)).pending_signal == signal.SIGUSR1
    assert (state(db, running), state(db, waiting)) == ("RUNNING", "PENDING")
    # filters alone signal the running jobs; SIGKILL is a cancel, as in Slurm
    [result] = cancel(db, [], NOW, spec=JobFilter(users=("daemon",)), signal=signal.SIGUSR2)
    assert result.job == str(running)
    [killed] = cancel(db, [str(waiting)], NOW, signal=signal.SIGKILL)
    assert killed.outcome == "cancelled"


# ---- update --time on a running job ----------------------------------------------------------


def test_owners_shorten_a_running_jobs_limit_operators_extend_it(db, tmp_path) -> None:
    add_node(db)
    job = submit(db, str(tmp_path), time_limit_s=600)
    run(db, job)
    shorter = control.JobUpdate(time_limit_s=300, time_set=True)
    control.update(db, str(job), shorter, caller=AS_ALICE)
    assert get_job(db, str(job)).time_limit_s == 300
    for longer in (600, None):
        change = control.JobUpdate(time_limit_s=longer, time_set=True)
        with pytest.raises(PermissionDenied, match="only operators may extend"):
            control.update(db, str(job), change, caller=AS_ALICE)
    control.update(db, str(job), control.JobUpdate(time_limit_s=900, time_set=True),
                   caller=OPERATOR)  # fmt: skip
    control.update(db, str(job), control.JobUpdate(time_limit_s=None, time_set=True))
    assert get_job(db, str(job)).time_limit_s is None  # personal mode: its own operator


def test_only_the_time_of_a_running_job_changes(db, tmp_path) -> None:
    add_node(db)
    job = submit(db, str(tmp_path))
    run(db, job)
    with pytest.raises(Conflict, match="only --time can change once a job runs"):
        control.update(db, str(job), control.JobUpdate(nice=5))
    cancel(db, [str(job)], NOW)
    with db.write() as tx:
        sql.finish(tx, job, expected=["RUNNING"], state="CANCELLED", now=NOW)
    with pytest.raises(Conflict, match="is CANCELLED"):
        control.update(db, str(job), control.JobUpdate(time_limit_s=60, time_set=True))
