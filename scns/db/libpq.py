"""PostgreSQL for short CLI commands through the system's libpq, via ctypes.

``import psycopg`` costs ~245 ms on a small machine, more than an entire ``scns submit`` on
SQLite; a CLI command runs one or two transactions of a few statements, which libpq's C API
does directly. The daemon keeps SQLAlchemy + psycopg (pool, pre-ping, reconnects); this path
is used only when libpq is installed, and the database test suite runs every statement
through it as well.
"""

from __future__ import annotations

import ctypes

from scns.db.errors import DatabaseError, StatementError, database_error
from scns.db.placeholders import rewrite_placeholders
from scns.db.transactions import Database, Given, Tx

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_OK = (1, 2)  # PGRES_COMMAND_OK, PGRES_TUPLES_OK
_INTS = {20, 21, 23, 26}
_FLOATS = {700, 701}
_BOOL = 16


def load() -> ctypes.CDLL | None:
    """The client library, or None when it is not installed."""
    try:
        lib = ctypes.CDLL("libpq.so.5")
    except OSError:
        return None
    lib.PQconnectdb.restype = ctypes.c_void_p
    lib.PQconnectdb.argtypes = [ctypes.c_char_p]
    lib.PQexecParams.restype = ctypes.c_void_p
    lib.PQexecParams.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p,
                                 ctypes.POINTER(ctypes.c_char_p), ctypes.c_void_p,
                                 ctypes.c_void_p, ctypes.c_int]  # fmt: skip
    for name in ("PQstatus", "PQresultStatus", "PQntuples", "PQnfields"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.PQftype.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.PQgetvalue.restype = ctypes.c_char_p
    lib.PQgetvalue.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.PQgetisnull.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.PQcmdTuples.restype = ctypes.c_char_p
    lib.PQcmdTuples.argtypes = [ctypes.c_void_p]
    for name in ("PQerrorMessage", "PQresultErrorMessage"):
        getattr(lib, name).restype = ctypes.c_char_p
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.PQclear.argtypes = [ctypes.c_void_p]
    lib.PQfinish.argtypes = [ctypes.c_void_p]
    return lib


def _positional(sql: str, params: Mapping[str, object]) -> tuple[bytes, list[object]]:
    """``:name`` placeholders to ``$n``, with the values in order."""
    found = _CONVERTED.get(sql)
    if found is None:
        found = _CONVERTED[sql] = _number_placeholders(sql)
    text, names = found
    return text, [params[name] for name in names]


_CONVERTED: dict[str, tuple[bytes, list[str]]] = {}


def _number_placeholders(sql: str) -> tuple[bytes, list[str]]:
    """``:name`` placeholders to libpq's ``$n``, and the names in order of n."""
    text, names = rewrite_placeholders(sql, lambda _name, n: f"${n}")
    return text.encode(), names


def _encode(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode()


def _decode(raw: bytes, oid: int) -> object:
    if oid in _INTS:
        return int(raw)
    if oid in _FLOATS:
        return float(raw)
    if oid == _BOOL:
        return raw == b"t"
    return raw.decode()


class _LibpqTx(Tx):
    dialect = "postgresql"

    def __init__(self, db: LibpqDatabase) -> None:
        self._db = db

    def _exec(self, sql: str, params: Mapping[str, object] | None):
        text, values = _positional(sql, params or {})
        try:
            encoded = [_encode(v) for v in values]
        except UnicodeError as exc:  # surrogate-escaped bytes that are not UTF-8
            raise database_error(exc) from exc
        array = (ctypes.c_char_p * max(1, len(values)))(*encoded)
        return self._db.execute(text, len(values), array)

    def rows(self, sql: str, params=None) -> list[tuple]:
        lib, result = self._db.lib, self._exec(sql, params)
        try:
            fields = lib.PQnfields(result)
            oids = [lib.PQftype(result, f) for f in range(fields)]
            return [
                tuple(
                    None if lib.PQgetisnull(result, r, f) else
                    _decode(lib.PQgetvalue(result, r, f), oids[f])
                    for f in range(fields)
                )
                for r in range(lib.PQntuples(result))
            ]  # fmt: skip
        finally:
            lib.PQclear(result)

    def run(self, sql: str, params=None) -> int:
        lib, result = self._db.lib, self._exec(sql, params)
        try:
            count = lib.PQcmdTuples(result)
            return int(count) if count else 0
        finally:
            lib.PQclear(result)

    def many(self, sql: str, params: Sequence[Mapping[str, object]]) -> None:
        for one in params:
            self.run(sql, one)


class LibpqDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: str, lib: ctypes.CDLL) -> None:
        self.url = url
        self.lib = lib
        self.dsn = _libpq_dsn(url)
        self._conn: int | None = None

    def _connection(self) -> int:
        if self._conn is None:
            conn = self.lib.PQconnectdb(self.dsn.encode())
            if self.lib.PQstatus(conn) != 0:  # CONNECTION_OK
                message = self.lib.PQerrorMessage(conn).decode(errors="replace").strip()
                self.lib.PQfinish(conn)
                first = message.splitlines()[0] if message else "connection failed"
                raise DatabaseError(f"database unavailable: {first}")
            self._conn = conn
        return self._conn

    def execute(self, text: bytes, count: int, values) -> int:
        conn = self._connection()
        result = self.lib.PQexecParams(conn, text, count, None, values, None, None, 0)
        if not result or self.lib.PQresultStatus(result) not in _OK:
            message = (self.lib.PQresultErrorMessage(result) if result else
                       self.lib.PQerrorMessage(conn)).decode(errors="replace").strip()  # fmt: skip
            if result:
                self.lib.PQclear(result)
            first = _severity_dropped(message.splitlines()[0] if message else "query failed")
            if self.lib.PQstatus(conn) != 0:
                self.close()
                raise DatabaseError(f"database unavailable: {first}")
            raise LibpqError(f"the database refused a statement: {first}")
        return result

    def write(self) -> _Transaction:
        return _Transaction(self)

    def read(self) -> Given:
        """Statements on their own, without BEGIN and COMMIT (two round trips saved): under
        READ COMMITTED each statement takes its own snapshot even inside a transaction."""
        return Given(_LibpqTx(self))

    def rollback(self) -> None:
        """ROLLBACK after a failed block; a rollback that fails must not hide why it ran."""
        if self._conn is not None:
            try:
                self.lib.PQclear(self.execute(b"ROLLBACK", 0, (ctypes.c_char_p * 1)()))
            except DatabaseError:
                pass

    def close(self) -> None:
        if self._conn is not None:
            self.lib.PQfinish(self._conn)
            self._conn = None


class _Transaction:
    """BEGIN on entry, COMMIT when the block ends, ROLLBACK when it raises (a with-block
    object, not a contextlib generator: see scns.db.transactions)."""

    __slots__ = ("_db",)

    def __init__(self, db: LibpqDatabase) -> None:
        self._db = db

    def __enter__(self) -> Tx:
        tx = _LibpqTx(self._db)
        tx.run("BEGIN")
        return tx

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        if kind is None:
            _LibpqTx(self._db).run("COMMIT")
        else:
            self._db.rollback()


def _libpq_dsn(url: str) -> str:
    """A SQLAlchemy-style URL as libpq takes it (no ``+psycopg`` driver suffix)."""
    for prefix in ("postgresql+psycopg://", "postgres+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def _severity_dropped(line: str) -> str:
    """The server's message without libpq's "ERROR:  " (psycopg shows it without)."""
    for prefix in ("ERROR:", "FATAL:", "PANIC:"):
        if line.startswith(prefix):
            return line[len(prefix) :].strip() or line
    return line


class LibpqError(StatementError):
    """A statement failed (a constraint, a missing table): the server's first line."""
