"""How the daemon talks to the database: sessions, autocommit statements, snapshot-free reads.

On every backend a statement run through autocommit() or reads() is committed (visible to
another connection) when the block ends, and a failing statement leaves nothing behind; on
PostgreSQL through SQLAlchemy, a session() keeps one server connection for its turns and
autocommit() sends no BEGIN.
"""

from __future__ import annotations

import pytest

from scns.db import statements as sql
from scns.db.engine import Database, open_database
from tests.db.test_statements import add_jobs, add_node


def _state(url_db: Database, job_id: int) -> str:
    with url_db.read() as tx:
        return sql.get_job(tx, job_id).state.value


def test_autocommit_statements_are_durable_and_guarded(db: Database) -> None:
    add_node(db)
    (job_id,) = add_jobs(db)
    other = open_database(db.url)
    try:
        with db.session():
            with db.autocommit() as tx:
                assert sql.allocate(tx, job_id, "n1", [0], 0, 1001.0, wake="node:n1")
            assert _state(other, job_id) == "CONFIGURING"  # committed on its own
            with db.autocommit() as tx:
                assert not sql.allocate(tx, job_id, "n1", [1], 0, 1002.0)  # the guard holds
            with db.reads() as tx:
                assert [r[0] for r in sql.live_allocations(tx)] == [job_id]
            (second,) = add_jobs(other)
            with pytest.raises(Exception, match=r"(?i)unique|duplicate"), db.autocommit() as tx:
                sql.allocate(tx, second, "n1", [0], 0, 1003.0)  # core 0 is taken
            assert _state(other, second) == "PENDING"  # the failed statement left nothing
    finally:
        other.close()


def test_a_session_keeps_one_postgresql_connection(pg_url: str) -> None:
    db = open_database(pg_url)
    try:
        pids = set()
        with db.session():
            for _ in range(3):
                with db.write() as tx:
                    pids.add(tx.one("SELECT pg_backend_pid()")[0])
            with db.write() as tx:  # one transaction: one id for both statements
                assert tx.one("SELECT txid_current()") == tx.one("SELECT txid_current()")
            with db.autocommit() as tx:  # its autocommit twin: each statement on its own
                auto = tx.one("SELECT pg_backend_pid()")[0]
                assert tx.one("SELECT txid_current()") != tx.one("SELECT txid_current()")
        assert len(pids) == 1 and auto not in pids
    finally:
        db.close()
