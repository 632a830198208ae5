"""Bulk operations on a 100,000-task array (issue 14), for correctness, not time.

Through the real CLI on both backends (SQLite embedded, PostgreSQL through libpq as the CLI
uses it): ``submit -a 0-99999`` makes exactly the 100,000 task rows; ``release``, ``hold``
and ``cancel`` of the whole array change every pending task, cancelling a list of tasks
changes exactly those, every cancelled task has one event; ``cleanup --purge-after 0``
deletes a finished array's rows and events and nothing else. Through the service layer on
the other PostgreSQL adapters (SQLAlchemy for the daemon, plain psycopg for the CLI where
libpq is missing): release, cancel and purge of a 70,000-task array, more ids than the
65,535 bound parameters PostgreSQL accepts (the old one-placeholder-per-id lists).

No daemon runs: every job stays pending (or held) until it is cancelled. Each PostgreSQL
database gets a statement timeout, so a statement that never ends (a quadratic plan) fails
the test with the server's one-line refusal instead of hanging it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Scns

N = 100_000
MANY = 70_000  # more ids than PostgreSQL's 65,535 bound parameters
STATEMENT_TIMEOUT = "30s"  # ~10x the slowest bulk statement seen on a busy 2-CPU machine


def _limit_statements(url: str) -> None:
    """Every later connection to this test database gets a statement timeout."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} SET statement_timeout = '{STATEMENT_TIMEOUT}'")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bulk(request, scns: Scns) -> Scns:
    """The CLI without a daemon, allowed arrays of N tasks, on each backend in turn."""
    scns.env["SCNS_MAX_ARRAY_SIZE"] = str(N)  # task ids stay below it, as Slurm's MaxArraySize
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        _limit_statements(url)
        scns.env["SCNS_DATABASE_URL"] = url
    return scns


def _pending(scns: Scns, array: int) -> dict[tuple, int]:
    """(held, reason) -> how many of the array's tasks are pending so."""
    rows = scns.sql("SELECT held, reason, COUNT(*) FROM jobs WHERE array_job_id = ?"
                    " AND state = 'PENDING' GROUP BY held, reason", (array,))  # fmt: skip
    return {(held, reason): count for held, reason, count in rows}


def _states(scns: Scns, array: int) -> dict[str, int]:
    rows = scns.sql("SELECT state, COUNT(*) FROM jobs WHERE array_job_id = ? GROUP BY state",
                    (array,))  # fmt: skip
    return dict(rows)


def _events(scns: Scns) -> list[tuple[int, str]]:
    return scns.sql("SELECT job_id, kind FROM events ORDER BY job_id, id")


def _one(scns: Scns, query: str, params: tuple = ()) -> object:
    (row,) = scns.sql(query, params)
    return row[0] if len(row) == 1 else row


def test_bulk_commands_on_a_100000_task_array(bulk: Scns) -> None:
    scns, work = bulk, bulk.workdir

    # ---- submit: exactly N task rows, task ids 0..N-1, %A and %a expanded in every path
    array = scns.submit("-H", "-J", "sweep", "-a", f"0-{N - 1}", "-o", f"{work}/o-%A_%a.out",
                        "-e", f"{work}/e-%a.err", "--wrap", "true")  # fmt: skip
    assert _one(scns, "SELECT COUNT(*) FROM jobs") == N
    assert _one(
        scns,
        "SELECT COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT array_task_id),"
        " MIN(array_task_id), MAX(array_task_id), MIN(id) FROM jobs WHERE array_job_id = ?",
        (array,),
    ) == (N, N, N, 0, N - 1, array)  # the array's id is its first task's
    assert _pending(scns, array) == {(1, "JobHeldUser"): N}
    sample = scns.sql("SELECT array_task_id, stdout_path, stderr_path FROM jobs"
                      " WHERE array_job_id = ? AND array_task_id IN (0, 1, 4321, 99999)"
                      " ORDER BY array_task_id", (array,))  # fmt: skip
    assert sample == [(t, f"{work}/o-{array}_{t}.out", f"{work}/e-{t}.err")
                      for t in (0, 1, 4321, 99999)]  # fmt: skip
    expanded = _one(scns, "SELECT COUNT(*) FROM jobs WHERE array_job_id = ?"
                    " AND stdout_path = ? || CAST(array_task_id AS TEXT) || '.out'"
                    " AND stderr_path = ? || CAST(array_task_id AS TEXT) || '.err'",
                    (array, f"{work}/o-{array}_", f"{work}/e-"))  # fmt: skip
    assert expanded == N
    survivor = scns.submit("-H", "-J", "keep", "-a", "0-9", "--wrap", "true")
    lone = scns.submit("-H", "-J", "lone", "--wrap", "true")

    # ---- release and hold of the whole array: every task, in one line
    proc = scns.run("release", str(array))
    assert proc.stdout == f"scns release: job {array} released ({N} tasks)\n"
    assert _pending(scns, array) == {(0, None): N}
    proc = scns.run("hold", str(array))
    assert proc.stdout == f"scns hold: job {array} held ({N} tasks)\n"
    assert _pending(scns, array) == {(1, "JobHeldUser"): N}
    assert _pending(scns, survivor) == {(1, "JobHeldUser"): 10}

    # ---- cancel a list of tasks (task references: 123_4; the CLI has no range form)
    subset = sorted({*range(0, N, 100), N - 1})
    before = _events(scns)
    proc = scns.run("cancel", *(f"{array}_{t}" for t in subset))
    assert proc.stdout.splitlines() == [f"scns cancel: job {array}_{t} cancelled" for t in subset]
    cancelled = scns.sql("SELECT array_task_id FROM jobs WHERE array_job_id = ?"
                         " AND state = 'CANCELLED' ORDER BY array_task_id", (array,))  # fmt: skip
    assert [t for (t,) in cancelled] == subset
    assert _states(scns, array) == {"PENDING": N - len(subset), "CANCELLED": len(subset)}
    assert _pending(scns, array) == {(1, "JobHeldUser"): N - len(subset)}
    subset_ids = scns.sql("SELECT id FROM jobs WHERE array_job_id = ? AND state = 'CANCELLED'"
                          " ORDER BY id", (array,))  # fmt: skip
    events = _events(scns)  # one new event for each cancelled task, none for anything else
    assert sorted(set(events) - set(before)) == [(j, "cancelled") for (j,) in subset_ids]
    assert len(events) == len(before) + len(subset)

    # ---- a purge leaves a partly finished array whole (it goes only as a whole)
    scns.run("cancel", f"{survivor}_3", str(lone))
    proc = scns.run("cleanup", "--purge-after", "0")
    assert "purged 1 old job(s)" in proc.stdout, proc.stdout
    assert scns.sql("SELECT id FROM jobs WHERE id = ?", (lone,)) == []
    assert lone not in {j for j, _ in _events(scns)}
    assert _states(scns, array) == {"PENDING": N - len(subset), "CANCELLED": len(subset)}
    assert _states(scns, survivor) == {"PENDING": 9, "CANCELLED": 1}
    task3 = _one(scns, "SELECT id FROM jobs WHERE array_job_id = ? AND array_task_id = 3",
                 (survivor,))  # fmt: skip
    assert [e for e in _events(scns) if e not in events] == [(task3, "cancelled")]

    # ---- cancel the whole array: the tasks still pending, one event each, none twice
    before = _events(scns)
    proc = scns.run("cancel", str(array))
    assert proc.stdout == f"scns cancel: job {array} cancelled ({N - len(subset)} tasks)\n"
    assert _states(scns, array) == {"CANCELLED": N}
    assert _one(scns, "SELECT COUNT(*), COUNT(DISTINCT e.job_id) FROM events e JOIN jobs j"
                " ON j.id = e.job_id WHERE j.array_job_id = ? AND e.kind = 'cancelled'",
                (array,)) == (N, N)  # fmt: skip
    assert len(_events(scns)) == len(before) + N - len(subset)
    proc = scns.run("cancel", str(array))  # nothing left to cancel: changes nothing
    assert proc.stdout == f"scns cancel: job {array} has already finished\n"
    assert len(_events(scns)) == len(before) + N - len(subset)

    # ---- purge: every finished task row and its events go; the live array stays whole
    purged = {j for (j,) in scns.sql("SELECT id FROM jobs WHERE array_job_id = ?", (array,))}
    kept_jobs = scns.sql("SELECT * FROM jobs WHERE array_job_id <> ? ORDER BY id", (array,))
    kept_events = [e for e in _events(scns) if e[0] not in purged]
    assert kept_jobs and kept_events  # the survivor's rows and its task's event
    proc = scns.run("cleanup", "--purge-after", "0")
    assert f"purged {N} old job(s)" in proc.stdout, proc.stdout
    assert scns.sql("SELECT * FROM jobs ORDER BY id") == kept_jobs
    assert _events(scns) == kept_events
    proc = scns.run("cleanup", "--purge-after", "0")
    assert "purged 0 old job(s)" in proc.stdout, proc.stdout


# ---- the service layer on PostgreSQL's other adapters: more than 65,535 ids -----------------

_ROW = {
    "name": "seeded", "user_name": "u", "uid": os.getuid(), "gid": os.getgid(),
    "state": "PENDING", "reason": "JobHeldUser", "script": "#!/bin/sh\ntrue\n", "argv": "[]",
    "environment": "{}", "workdir": "/tmp", "stdout_path": "/tmp/none",
    "stderr_path": "/tmp/none", "ntasks": 1, "cpus_per_task": 1, "cpus": 1, "mem_mb": 0,
    "time_limit_s": None, "priority": 0, "nice": 0, "held": 1, "begin_time": None,
    "dependency": None, "kill_on_invalid_dep": 0, "requeue": 0, "array_max_running": None,
}  # fmt: skip


@pytest.fixture(params=[pytest.param(kind, marks=pytest.mark.postgres)
                        for kind in ("sqlalchemy", "psycopg")])  # fmt: skip
def pg_db(request, pg_url: str) -> Iterator:
    """PostgreSQL through the daemon's adapter (SQLAlchemy, which serves system mode's
    bulk commands) and the CLI's fallback where libpq is missing (plain psycopg); the CLI's
    libpq path is the one the test above drives."""
    from scns.db.postgres import PsycopgDatabase, SqlAlchemyDatabase

    _limit_statements(pg_url)
    kind = SqlAlchemyDatabase if request.param == "sqlalchemy" else PsycopgDatabase
    database = kind(pg_url)
    try:
        yield database
    finally:
        database.close()


def _seed_array(db, n: int, now: float) -> int:
    """A held array of ``n`` tasks, written in two statements (not what is tested here)."""
    from scns.db import statements as sql

    with db.write() as tx:
        (head,) = sql.reserve_job_ids(tx, 1)
        sql.insert_jobs(tx, [{**_ROW, "id": head, "array_job_id": head, "array_task_id": 0,
                              "submit_time": now}])  # fmt: skip
        cols = [*_ROW, "submit_time", "array_job_id"]
        tx.run(
            f"INSERT INTO jobs (id, array_task_id, {', '.join(cols)})"
            f" SELECT nextval(pg_get_serial_sequence('jobs', 'id')), g, {', '.join(cols)}"
            " FROM jobs, generate_series(1, :last) AS g WHERE jobs.id = :head ORDER BY g",
            {"last": n - 1, "head": head},
        )
    return head


def test_bulk_changes_bind_more_than_65535_ids_on_postgresql(pg_db) -> None:
    from scns.db import statements as sql
    from scns.service import control
    from scns.service.cleanup import CleanupPolicy, cleanup
    from scns.service.jobs import cancel

    def count(query: str, params: dict | None = None) -> int:
        with pg_db.read() as tx:
            return tx.rows(query, params)[0][0]

    now = time.time()
    array = _seed_array(pg_db, MANY, now)
    other = _seed_array(pg_db, 3, now)  # another sweep, never touched
    in_array = "SELECT COUNT(*) FROM jobs WHERE array_job_id = :a"
    with pg_db.read() as tx:
        task_ids = {r[0] for r in tx.rows("SELECT id FROM jobs WHERE array_job_id = :a",
                                          {"a": array})}  # fmt: skip
    assert len(task_ids) == MANY
    ids = sorted(task_ids)
    with pg_db.write() as tx:  # the id-list form of the bulk statements, > 65,535 ids bound
        assert sql.release_held(tx, ids) == MANY
        assert sql.hold_pending(tx, ids) == MANY
        assert sql.distinct_states(tx, ids) == {"PENDING"}
        assert sql.known_job_ids(tx, ids) == task_ids

    [result] = control.release(pg_db, [str(array)])  # the whole array, as one set
    assert (result.outcome, result.changed) == ("released", MANY)
    assert count(in_array + " AND held = 0 AND state = 'PENDING'", {"a": array}) == MANY

    [result] = cancel(pg_db, [str(array)], now + 1)
    assert (result.outcome, result.tasks) == ("cancelled", MANY)
    assert count(in_array + " AND state = 'CANCELLED' AND end_time = :t",
                 {"a": array, "t": now + 1}) == MANY  # fmt: skip
    assert count("SELECT COUNT(DISTINCT job_id) FROM events WHERE kind = 'cancelled'") == MANY
    assert count("SELECT COUNT(*) FROM events") == MANY

    with tempfile.TemporaryDirectory(prefix="scns-run-", dir="/tmp") as run_dir:
        policy = CleanupPolicy(kill_wait_s=1, heartbeat_timeout_s=60, run_dir=run_dir,
                               purge_after_s=0)  # fmt: skip
        report = cleanup(pg_db, now + 2, policy)
    assert len(report.purged) == MANY and set(report.purged) == task_ids
    assert count("SELECT COUNT(*) FROM events") == 0
    assert count("SELECT COUNT(*) FROM jobs") == 3
    assert count(in_array + " AND state = 'PENDING' AND held = 1", {"a": other}) == 3
