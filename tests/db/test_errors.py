"""The database adapters' one error type (issue 14): whatever each backend's driver raises
(sqlite3, SQLAlchemy + psycopg, libpq, plain psycopg) leaves scns.db as a DatabaseError with
a one-line message, a ScnsError that every command prints as one line."""

from __future__ import annotations

import pytest

from scns.db.engine import Database, DatabaseError, SqliteDatabase, StatementError
from scns.errors import ScnsError


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


def test_a_refused_statement_is_one_statement_error(db: Database) -> None:
    with pytest.raises(StatementError) as caught, db.read() as tx:
        tx.rows("SELECT no_such_column FROM jobs")
    assert isinstance(caught.value, ScnsError)
    assert "no_such_column" in one_line(caught.value)


def test_a_constraint_is_one_statement_error_and_the_transaction_is_undone(db: Database) -> None:
    with pytest.raises(StatementError, match=r"(?i)unique|duplicate"), db.write() as tx:
        tx.run("INSERT INTO leases (name, holder, expires_time) VALUES ('x', 'a', 1)")
        tx.run("INSERT INTO leases (name, holder, expires_time) VALUES ('x', 'b', 1)")
    with db.read() as tx:
        assert tx.rows("SELECT holder FROM leases WHERE name = 'x'") == []


def test_a_number_beyond_64_bits_is_refused_in_one_line(db: Database) -> None:
    with pytest.raises(StatementError) as caught, db.read() as tx:
        tx.rows("SELECT id FROM jobs ORDER BY id LIMIT :n", {"n": 10**20})
    one_line(caught.value)


def test_text_that_is_not_utf8_is_refused_in_one_line(db: Database) -> None:
    """argv's undecodable bytes reach Python as surrogates, which no driver can encode."""
    with pytest.raises(StatementError, match="not valid UTF-8") as caught, db.write() as tx:
        tx.run("UPDATE leases SET holder = :h WHERE name = 'none'", {"h": "job\udcff"})
    assert "job\\xff" in one_line(caught.value)


def test_a_full_disk_at_commit_is_one_database_error(tmp_path) -> None:
    """SQLite's SQLITE_FULL, as a full file system gives it, made by capping the file."""
    from scns.db.migrate import ensure_schema

    db = SqliteDatabase(f"sqlite:///{tmp_path}/scns.db")
    ensure_schema(db)
    pages = db.connection().execute("PRAGMA page_count").fetchone()[0]
    db.connection().execute(f"PRAGMA max_page_count = {pages + 1}")
    with pytest.raises(DatabaseError, match="full") as caught, db.write() as tx:
        for n in range(200):
            tx.run("INSERT INTO leases (name, holder, expires_time) VALUES (:n, :h, 1)",
                   {"n": f"lease-{n}", "h": "x" * 4000})  # fmt: skip
    one_line(caught.value)
    with db.read() as tx:  # the connection is still usable, the transaction undone
        assert tx.rows("SELECT COUNT(*) FROM leases") == [(0,)]
    db.close()
