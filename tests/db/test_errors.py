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


# ---- the CLI's libpq path against a real PostgreSQL refusal ---------------------------------


@pytest.fixture
def libpq_db(pg_url: str):
    """The database as the CLI opens it: through the system's libpq, not psycopg."""
    from scns.db.engine import open_database
    from scns.db.libpq import LibpqDatabase, load

    if load() is None:
        pytest.skip("libpq.so.5 is not installed (the CLI then uses psycopg)")
    database = open_database(pg_url, short_lived=True)
    assert isinstance(database, LibpqDatabase)
    try:
        yield database
    finally:
        database.close()


@pytest.mark.postgres
def test_libpq_refusals_are_one_line_statement_errors(libpq_db: Database) -> None:
    db = libpq_db
    insert = "INSERT INTO leases (name, holder, expires_time) VALUES (:n, :h, 1)"
    with pytest.raises(StatementError) as caught, db.write() as tx:
        tx.run(insert, {"n": "x", "h": "a"})
        tx.run(insert, {"n": "x", "h": "b"})  # the server's unique violation
    text = one_line(caught.value)
    assert "duplicate key value violates unique constraint" in text
    assert "DETAIL" not in text and "Key (name)" not in text  # only the first line
    with db.read() as tx:  # the transaction was rolled back, the connection still serves
        assert tx.rows("SELECT holder FROM leases") == []
    with pytest.raises(StatementError) as caught, db.read() as tx:
        tx.rows("SELEC holder FROM leases")
    assert "syntax error" in one_line(caught.value)
    with pytest.raises(StatementError) as caught, db.write() as tx:
        tx.run(insert, {"n": "y", "h": "c"})
        tx.rows("SELECT 1 / (SELECT COUNT(*) - 1 FROM leases)")  # division by zero
    assert "division by zero" in one_line(caught.value)
    with db.write() as tx:
        tx.run(insert, {"n": "y", "h": "d"})
    with db.read() as tx:
        assert tx.rows("SELECT name, holder FROM leases") == [("y", "d")]


def test_a_statement_timeout_is_the_statements_error_on_every_adapter(db: Database) -> None:
    """The server cancelling one statement (SQLSTATE 57014) is that statement's refusal,
    not a lost database, whichever adapter saw it; no severity prefix ("ERROR:  ")."""
    if db.dialect != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")
    with pytest.raises(StatementError) as caught, db.write() as tx:
        tx.run("SET LOCAL statement_timeout = 50")
        tx.rows("SELECT pg_sleep(5)")
    text = one_line(caught.value)
    assert "statement timeout" in text
    assert text.startswith("the database refused a statement: canceling statement"), text
    with db.read() as tx:  # the connection still serves, without the timeout
        assert tx.rows("SELECT 1") == [(1,)]
        assert tx.rows("SHOW statement_timeout") == [("0",)]


def test_libpq_without_a_server_is_one_database_error() -> None:
    from scns.db.libpq import LibpqDatabase, load

    lib = load()
    if lib is None:
        pytest.skip("libpq.so.5 is not installed (the CLI then uses psycopg)")
    db = LibpqDatabase("postgresql+psycopg://postgres@127.0.0.1:1/none", lib)  # nothing listens
    with pytest.raises(DatabaseError, match=r"^database unavailable: ") as caught, db.read() as tx:
        tx.rows("SELECT 1")
    assert not isinstance(caught.value, StatementError)
    one_line(caught.value)


_FREEZE = """
CREATE FUNCTION refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'jobs are frozen' USING DETAIL = 'a second line', HINT = 'a third line';
END $$;
CREATE TRIGGER refuse_jobs BEFORE INSERT OR UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION refuse_jobs();
"""


@pytest.mark.postgres
def test_a_postgresql_refusal_on_the_cli_is_one_line_and_changes_nothing(scns, pg_url) -> None:
    """The real CLI (libpq where installed) against a server that refuses every write to
    jobs: each command prints the server's first line once, exits 1, never a traceback."""
    scns.env["SCNS_DATABASE_URL"] = pg_url
    job = scns.submit("-H", "--wrap", "true")
    scns.sql_write(_FREEZE)
    for args in (("submit", "--wrap", "true"), ("release", str(job)), ("hold", str(job)),
                 ("cancel", str(job)), ("update", str(job), "--nice", "5")):  # fmt: skip
        proc = scns.run(*args, check=False)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith(f"scns {args[0]}: error: "), proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.endswith("jobs are frozen\n")
        assert proc.stdout == ""
    assert scns.sql("SELECT id, state, held, nice FROM jobs") == [(job, "PENDING", 1, 0)]
