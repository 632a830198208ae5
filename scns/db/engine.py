"""Connections: stdlib sqlite3 for the embedded default, SQLAlchemy + psycopg for PostgreSQL.

Both run the same parameterised SQL text (``:name`` placeholders) from ``scns.db.statements``.
The embedded path skips SQLAlchemy on purpose: importing it costs ~400 ms, which would be most
of every ``scns submit``; the schema still comes from SQLAlchemy (``scns.db.schema``) and
migrations from Alembic, and one test suite runs the statements on both backends.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager, suppress

try:  # the C module alone: the sqlite3 package adds datetime adapters scns never uses (~2 ms)
    import _sqlite3 as sqlite3
except ImportError:  # pragma: no cover - an interpreter without the split
    import sqlite3  # type: ignore[no-redef]

from scns.db.errors import DatabaseError, StatementError, database_error, first_line

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc and typing are not needed at run time
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from typing import Any, TypeAlias

    Params: TypeAlias = Mapping[str, object] | None


__all__ = ["Database", "DatabaseError", "StatementError", "Tx", "in_clause", "open_database",
           "sqlite_path"]  # fmt: skip

# What a driver raises, besides its own errors, for a value it cannot bind: both become a
# DatabaseError at this module's edge (scns.db.errors says which message).
_SQLITE_FAILURES = (sqlite3.Error, OverflowError, UnicodeError)


def _pg_failures() -> tuple[type[BaseException], ...]:
    """psycopg's and SQLAlchemy's errors, for an ``except`` clause (evaluated only when an
    error passes): the modules loaded already, never imported here (SQLAlchemy: ~400 ms)."""
    import sys

    found: list[type[BaseException]] = [OverflowError, UnicodeError]
    for module, name in (("psycopg", "Error"), ("sqlalchemy.exc", "SQLAlchemyError")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            found.append(getattr(loaded, name))
    return tuple(found)


class Tx:
    """One open transaction; every statement of ``scns.db.statements`` takes one."""

    dialect: str

    def rows(self, sql: str, params: Params = None) -> list[tuple]:
        raise NotImplementedError

    def run(self, sql: str, params: Params = None) -> int:
        """Execute a statement and return how many rows it changed."""
        raise NotImplementedError

    def many(self, sql: str, params: Sequence[Mapping[str, object]]) -> None:
        raise NotImplementedError

    def one(self, sql: str, params: Params = None) -> tuple | None:
        found = self.rows(sql, params)
        return found[0] if found else None


class _SqliteTx(Tx):
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Params = None) -> list[tuple]:
        try:
            return self._conn.execute(sql, params or {}).fetchall()
        except _SQLITE_FAILURES as exc:
            raise database_error(exc) from exc

    def run(self, sql: str, params: Params = None) -> int:
        try:
            return self._conn.execute(sql, params or {}).rowcount
        except _SQLITE_FAILURES as exc:
            raise database_error(exc) from exc

    def many(self, sql: str, params: Sequence[Mapping[str, object]]) -> None:
        try:
            self._conn.executemany(sql, params)
        except _SQLITE_FAILURES as exc:
            raise database_error(exc) from exc


_TEXT_CACHE: dict[str, object] = {}


class _SqlAlchemyTx(Tx):
    dialect = "postgresql"

    def __init__(self, conn: Any, text: Callable[[str], object],
                 dialect: str = "postgresql") -> None:  # fmt: skip
        self._conn = conn
        self._text = text
        self.dialect = dialect

    def _text_of(self, sql: str):
        """One TextClause per statement text: building one re-parses its parameters."""
        clause = _TEXT_CACHE.get(sql)
        if clause is None:
            clause = _TEXT_CACHE[sql] = self._text(sql)
        return clause

    def rows(self, sql: str, params: Params = None) -> list[tuple]:
        try:
            found = self._conn.execute(self._text_of(sql), params or {}).fetchall()
        except _pg_failures() as exc:
            raise database_error(exc) from exc
        return [tuple(r) for r in found]

    def run(self, sql: str, params: Params = None) -> int:
        try:
            return self._conn.execute(self._text_of(sql), params or {}).rowcount
        except _pg_failures() as exc:
            raise database_error(exc) from exc

    def many(self, sql: str, params: Sequence[Mapping[str, object]]) -> None:
        if params:
            try:
                self._conn.execute(self._text_of(sql), list(params))
            except _pg_failures() as exc:
                raise database_error(exc) from exc


class Database:
    """A handle on the scns database; ``write()`` and ``read()`` open short transactions."""

    dialect: str
    url: str

    @contextmanager
    def write(self) -> Iterator[Tx]:
        raise NotImplementedError
        yield  # pragma: no cover

    @contextmanager
    def read(self) -> Iterator[Tx]:
        raise NotImplementedError
        yield  # pragma: no cover

    @contextmanager
    def autocommit(self) -> Iterator[Tx]:
        """For statements that each stand alone (one guarded write, or reads that need no
        common snapshot): where the backend allows, each commits by itself, without BEGIN
        and COMMIT around them (two round trips on PostgreSQL). Elsewhere: write()."""
        with self.write() as tx:
            yield tx

    @contextmanager
    def reads(self) -> Iterator[Tx]:
        """Reads that need no common snapshot: read() here; on PostgreSQL (where READ
        COMMITTED gives each statement its own snapshot anyway) autocommit()."""
        with self.read() as tx:
            yield tx

    @contextmanager
    def session(self) -> Iterator[None]:
        """Run the transactions inside on one connection (the daemon wraps each turn in one).

        A pooled PostgreSQL connection is checked out (and pinged) once for the whole turn
        instead of once per transaction; elsewhere this changes nothing.
        """
        yield

    def close(self) -> None:
        """Release connections (the daemon calls this before exiting)."""


class SqliteDatabase(Database):
    """Embedded SQLite: WAL, a busy timeout, and BEGIN IMMEDIATE for every write."""

    dialect = "sqlite"

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, synchronous: str = "NORMAL"):
        self.url = url
        self.path = sqlite_path(url)
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def connection(self) -> sqlite3.Connection:
        # A forked child must never reuse its parent's connection.
        if self._conn is None or self._pid != os.getpid():
            self._conn = self._open()
            self._pid = os.getpid()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"cannot create {directory}: {exc.strerror}") from None
        if not os.access(directory, os.W_OK) or (
            os.path.exists(self.path) and not os.access(self.path, os.W_OK)
        ):
            raise DatabaseError(f"database {self.path} is not writable")
        if not os.path.exists(self.path):  # 0600: it holds users' environments
            with suppress(OSError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise DatabaseError(f"database {self.path} cannot use WAL mode ({mode})")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {self.path}: {exc}") from None
        return conn

    @contextmanager
    def write(self) -> Iterator[Tx]:
        conn = self.connection()
        _begin_immediate(conn)
        try:
            yield _SqliteTx(conn)
        except BaseException:
            _rollback(conn)
            raise
        _commit(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        conn = self.connection()
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise database_error(exc) from exc
        try:
            yield _SqliteTx(conn)
        except BaseException:
            _rollback(conn)
            raise
        _commit(conn)

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


def _commit(conn: sqlite3.Connection) -> None:
    """COMMIT, where a full disk or a lost file shows (then rolled back, and one line)."""
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        raise database_error(exc) from exc


def _rollback(conn: sqlite3.Connection) -> None:
    """ROLLBACK if a transaction is still open: SQLite may have rolled back already (a full
    disk does), and a failing rollback must not hide the error that caused it."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock up front; sqlite's busy handler covers most waits, this the rest."""
    deadline = time.monotonic() + 60
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise database_error(exc) from exc
            if time.monotonic() > deadline:
                raise DatabaseError(f"database is busy: {exc}") from None
            time.sleep(0.005)


class SqlAlchemyDatabase(Database):
    """PostgreSQL (or any SQLAlchemy URL) through a pooled engine."""

    def __init__(self, url: str, *, pool: Mapping[str, object] | None = None) -> None:
        from sqlalchemy import create_engine, text

        self.url = url
        self._text = text
        options: dict[str, object] = {}
        if not url.startswith("sqlite"):
            options.update(pool or {})
        self.engine = create_engine(url, **options)
        self.dialect = self.engine.dialect.name
        self._held: Any = None  # a pool connection kept across sessions, for HOLD_S at most
        self._auto: Any = None  # its autocommit twin, for autocommit()
        self._held_since = 0.0
        self._in_session = False

    HOLD_S = 1.0

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep one pooled connection across the daemon's turns, returning it to the pool
        (and so pinging, and recycling, through the pool's own settings) once a second and
        after any error: a turn then costs no pre-ping round trip."""
        if self._in_session:
            yield
            return
        if self._held is not None and time.monotonic() - self._held_since > self.HOLD_S:
            self._release_held()
        try:
            if self._held is None:
                self._held = self.engine.connect()
                self._held_since = time.monotonic()
        except _pg_failures() as exc:
            raise database_error(exc) from exc
        self._in_session = True
        try:
            yield
        except BaseException:
            self._release_held()
            raise
        finally:
            self._in_session = False

    def _release_held(self) -> None:
        held, auto, self._held, self._auto = self._held, self._auto, None, None
        for conn in (held, auto):
            if conn is not None:
                with suppress(Exception):  # a broken connection: the pool discards it
                    conn.close()

    def reads(self):
        return self.autocommit()

    @contextmanager
    def autocommit(self) -> Iterator[Tx]:
        if not self._in_session:
            with self.write() as tx:
                yield tx
            return
        try:
            if self._auto is None:
                self._auto = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            with self._auto.begin():  # no BEGIN or COMMIT reaches the server
                yield _SqlAlchemyTx(self._auto, self._text, self.dialect)
        except _pg_failures() as exc:
            raise database_error(exc) from exc

    @contextmanager
    def write(self) -> Iterator[Tx]:
        try:
            if self._held is not None:
                with self._held.begin():
                    yield _SqlAlchemyTx(self._held, self._text, self.dialect)
            else:
                with self.engine.begin() as conn:
                    yield _SqlAlchemyTx(conn, self._text, self.dialect)
        except _pg_failures() as exc:
            raise database_error(exc) from exc

    read = write

    def close(self) -> None:
        self._release_held()
        self.engine.dispose()


class _PsycopgTx(Tx):
    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Params = None) -> list[tuple]:
        try:
            cur = self._conn.execute(_pyformat(sql), params or {})
            return cur.fetchall() if cur.description else []
        except _pg_failures() as exc:
            raise database_error(exc) from exc

    def run(self, sql: str, params: Params = None) -> int:
        try:
            return self._conn.execute(_pyformat(sql), params or {}).rowcount
        except _pg_failures() as exc:
            raise database_error(exc) from exc

    def many(self, sql: str, params: Sequence[Mapping[str, object]]) -> None:
        if params:
            try:
                with self._conn.cursor() as cur:
                    cur.executemany(_pyformat(sql), list(params))
            except _pg_failures() as exc:
                raise database_error(exc) from exc


_PYFORMAT_CACHE: dict[str, str] = {}


def _pyformat(sql: str) -> str:
    """``:name`` placeholders to psycopg's ``%(name)s`` (literal % doubled first)."""
    converted = _PYFORMAT_CACHE.get(sql)
    if converted is None:
        escaped = sql.replace("%", "%%")
        converted, _names = rewrite_placeholders(escaped, lambda name, _n: f"%({name})s")
        _PYFORMAT_CACHE[sql] = converted
    return converted


_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def rewrite_placeholders(sql: str, render) -> tuple[str, list[str]]:
    """Each ``:name`` placeholder replaced by ``render(name, n)`` (n: 1 for the first name
    seen, the same n each time a name repeats), and the names in that order.

    What ``re.sub(r"(?<![:\\w]):([A-Za-z_]\\w*)", ...)`` would do, without importing re
    (~3 ms of every CLI command on PostgreSQL): ``::type`` casts and words like ``a:b`` stay.
    """
    order: dict[str, int] = {}
    out = []
    done = i = 0
    while (i := sql.find(":", i)) >= 0:
        before = sql[i - 1] if i else ""
        start = i + 1
        if (
            before == ":"
            or before == "_"
            or before.isalnum()
            or sql[start : start + 1] not in _NAME_START
        ):
            i = start
            continue
        end = start + 1
        while end < len(sql) and (sql[end] == "_" or sql[end].isalnum()):
            end += 1
        name = sql[start:end]
        out.append(sql[done:i])
        out.append(render(name, order.setdefault(name, len(order) + 1)))
        done = i = end
    out.append(sql[done:])
    return "".join(out), list(order)


class PsycopgDatabase(Database):
    """PostgreSQL for short-lived CLI commands: one plain psycopg connection, no pool.

    A command makes one or two transactions and exits, so SQLAlchemy's pool buys nothing and
    its import would cost more than the whole command; the daemon uses SqlAlchemyDatabase.
    """

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._conn: Any = None

    def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise DatabaseError(f"database unavailable: {first_line(exc)}") from None
        return self._conn

    @contextmanager
    def write(self) -> Iterator[Tx]:
        conn = self._connection()
        try:
            with conn.transaction():
                yield _PsycopgTx(conn)
        except _pg_failures() as exc:  # BEGIN, COMMIT, ROLLBACK
            raise database_error(exc) from exc

    read = write

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def sqlite_path(url: str) -> str:
    """The file behind a ``sqlite:///path`` URL (relative paths are kept relative)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise DatabaseError(f"not a sqlite URL: {url}")
    return url[len(prefix) :]


def open_database(
    url: str, *, pool: Mapping[str, object] | None = None, short_lived: bool = False
) -> Database:
    """Pick the connection kind from the URL scheme (and from how long the caller lives)."""
    if url.startswith("sqlite:///"):
        return SqliteDatabase(url)
    if url.startswith(("postgresql", "postgres")):
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        if short_lived:
            from scns.db.libpq import LibpqDatabase, load

            lib = load()
            return LibpqDatabase(url, lib) if lib is not None else PsycopgDatabase(url)
        return SqlAlchemyDatabase(url, pool=pool)
    raise DatabaseError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def in_clause(name: str, values: Iterable[object],
              dialect: str | None = None) -> tuple[str, dict[str, object]]:  # fmt: skip
    """What goes inside ``IN (...)`` for a list of values, and its parameters.

    With the ``dialect``, a list of ids is ONE bound parameter (a JSON array unpacked by
    json_each on SQLite, an array literal unnested on PostgreSQL): 100,000 ids cost one
    parameter and one statement text, instead of SQLite's quadratic binding and
    PostgreSQL's 65,535-parameter refusal. Without it (short lists of names), one
    placeholder per value.
    """
    values = list(values)
    if dialect is not None and all(type(v) is int for v in values):
        joined = ",".join(map(str, values))
        if dialect == "postgresql":
            return f"SELECT unnest(CAST(:{name} AS BIGINT[]))", {name: "{" + joined + "}"}
        return f"SELECT value FROM json_each(:{name})", {name: "[" + joined + "]"}
    params = {f"{name}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params) or "NULL", params
