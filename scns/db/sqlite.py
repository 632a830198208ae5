"""Embedded SQLite through the standard library: WAL, a busy timeout, BEGIN IMMEDIATE for
writes; every error of the driver leaves as a DatabaseError."""

from __future__ import annotations

import os
import time

try:  # the C module alone: the sqlite3 package adds datetime adapters scns never uses (~2 ms)
    import _sqlite3 as sqlite3
except ImportError:  # pragma: no cover - an interpreter without the split
    import sqlite3  # type: ignore[no-redef]

from scns.db.errors import DatabaseError, database_error
from scns.db.transactions import Database, Given, Tx

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable, Mapping, Sequence

    from scns.db.transactions import Params

# What a driver raises, besides its own errors, for a value it cannot bind: both become a
# DatabaseError at this module's edge (scns.db.errors says which message).
_SQLITE_FAILURES = (sqlite3.Error, OverflowError, UnicodeError)


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
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
            except OSError:
                pass  # sqlite3.connect says why, in its own words
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            mode = _wal_mode(conn, self._busy_timeout_ms / 1000)
            if mode.lower() != "wal":
                raise DatabaseError(f"database {self.path} cannot use WAL mode ({mode})")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {self.path}: {exc}") from None
        return conn

    def write(self) -> _Transaction:
        return _Transaction(self.connection(), _begin_immediate)

    def read(self) -> _Transaction:
        return _Transaction(self.connection(), _begin)

    def reads(self) -> Given:
        """Each statement its own implicit transaction: no BEGIN and COMMIT to run (the
        daemon's pass and launch reads, several times per job in a drain)."""
        return Given(_SqliteTx(self.connection()))

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


class _Transaction:
    """One transaction as a with-block: begun on entry, committed when the block ends,
    rolled back when it raises (the exception goes on)."""

    __slots__ = ("_begin", "_conn")

    def __init__(self, conn: sqlite3.Connection, begin: Callable[[sqlite3.Connection], None]):
        self._conn = conn
        self._begin = begin

    def __enter__(self) -> Tx:
        self._begin(self._conn)
        return _SqliteTx(self._conn)

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        if kind is None:
            _commit(self._conn)
        else:
            _rollback(self._conn)


def _begin(conn: sqlite3.Connection) -> None:
    """A deferred BEGIN: the read snapshot starts at the first statement."""
    try:
        conn.execute("BEGIN")
    except sqlite3.Error as exc:
        raise database_error(exc) from exc


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
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


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


def sqlite_path(url: str) -> str:
    """The file behind a ``sqlite:///path`` URL (relative paths are kept relative)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise DatabaseError(f"not a sqlite URL: {url}")
    return url[len(prefix) :]


def _wal_mode(conn, timeout_s: float) -> str:
    """Switch a connection to WAL. Several first commands on a new database race for the
    switch, and SQLite answers the losers "database is locked" at once, without its busy
    handler: retry for as long as the busy timeout allows."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
