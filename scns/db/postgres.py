"""PostgreSQL: SQLAlchemy's pooled engine for the daemon, one plain psycopg connection for
short CLI commands (the libpq path is scns.db.libpq). Neither library is imported until a
database of this kind is opened; every error of theirs leaves as a DatabaseError."""

from __future__ import annotations

import time
from contextlib import contextmanager, suppress

from scns.db.errors import DatabaseError, database_error, first_line
from scns.db.placeholders import rewrite_placeholders
from scns.db.transactions import Database, Tx

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from typing import Any

    from scns.db.transactions import Params


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
