"""``scns queue`` on SQLite formats its lines inside the database; they must be exactly the
lines render.print_queue makes from the same rows (which PostgreSQL still uses)."""

from __future__ import annotations

import io
import shutil
import tempfile
from contextlib import redirect_stdout

import pytest

from scns.cli import render
from scns.db import statements as sql
from scns.db.engine import open_database
from scns.db.migrate import ensure_schema
from tests.db.test_statements import add_jobs

NOW = 1_000_000.0


@pytest.fixture
def sqlite_db():
    home = tempfile.mkdtemp(prefix="scns-ql-", dir="/tmp")
    database = open_database(f"sqlite:///{home}/scns.db")
    ensure_schema(database)
    yield database
    database.close()
    shutil.rmtree(home, ignore_errors=True)


CASES = [  # column overrides of one job each
    {"name": "short", "time_limit_s": None},
    {
        "name": "a-name-longer-than-twelve",
        "user_name": "someone-with-a-long-name",
        "reason": "Priority",
        "time_limit_s": 59,
    },
    {"name": "ünïcødé-名前-long-name", "reason": "JobHeldUser", "time_limit_s": 3600},
    {"state": "RUNNING", "node": "n1", "start_time": NOW - 3725.9, "time_limit_s": 90061},
    {"state": "RUNNING", "node": None, "start_time": None, "time_limit_s": 86400 * 12},
    {"state": "COMPLETED", "node": "n2", "start_time": NOW - 100, "end_time": NOW - 40.5},
    {"state": "FAILED", "node": "n2", "start_time": NOW - 10, "end_time": NOW - 20},
    {"state": "CONFIGURING", "node": "n3", "start_time": None, "cpus": 64},
    {"state": "OUT_OF_MEMORY", "node": "n1", "start_time": NOW - 200000, "end_time": NOW},
    {"state": "TIMEOUT", "node": "n1", "start_time": NOW - 61, "end_time": NOW - 1},
    {"array_job_id": 1, "array_task_id": 17, "reason": None},
]


def test_sqlite_lines_equal_the_python_renderer(sqlite_db) -> None:
    ids = [add_jobs(sqlite_db, 1)[0] for _ in CASES]
    with sqlite_db.write() as tx:
        for job_id, case in zip(ids, CASES, strict=True):
            sets = ", ".join(f"{k} = :{k}" for k in case)
            tx.run(f"UPDATE jobs SET {sets} WHERE id = :id", {**case, "id": job_id})
    with sqlite_db.read() as tx:
        rows = sql.queue_table(tx, include_finished=True)
        lines = [r[0] for r in sql.queue_lines(tx, NOW, include_finished=True)]
    assert len(rows) == len(CASES) == len(lines)
    expected, got = io.StringIO(), io.StringIO()
    with redirect_stdout(expected):
        render.print_queue(rows, NOW)
    with redirect_stdout(got):
        render.print_queue_lines(lines)
    assert got.getvalue() == expected.getvalue()
    assert "ünïcødé-名前-" in got.getvalue() and "1_17" in got.getvalue()
