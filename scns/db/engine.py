"""Connections: stdlib sqlite3 for the embedded default, SQLAlchemy + psycopg for PostgreSQL.

All run the same parameterised SQL text (``:name`` placeholders) from ``scns.db.statements``.
The embedded path skips SQLAlchemy on purpose: importing it costs ~400 ms, which would be most
of every ``scns submit``; the schema still comes from SQLAlchemy (``scns.db.schema``) and
migrations from Alembic, and one test suite runs the statements on every backend. The
backends live in their own modules (``scns.db.sqlite``, ``scns.db.postgres``,
``scns.db.libpq``); this one picks one from a URL, and is where the rest of scns imports
the interface from.
"""

from __future__ import annotations

from scns.db.errors import DatabaseError, StatementError
from scns.db.transactions import Database, Tx

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc is not needed at run time
    from collections.abc import Iterable, Mapping

    from scns.db.placeholders import rewrite_placeholders
    from scns.db.postgres import PsycopgDatabase, SqlAlchemyDatabase
    from scns.db.sqlite import SqliteDatabase, sqlite_path

__all__ = ["Database", "DatabaseError", "PsycopgDatabase", "SqlAlchemyDatabase",
           "SqliteDatabase", "StatementError", "Tx", "any_of", "id_rows", "in_clause",
           "open_database", "rewrite_placeholders", "sqlite_path"]  # fmt: skip

# The backends, each imported on first use: the embedded CLI never needs PostgreSQL's, and a
# command on PostgreSQL does not load SQLite's driver (~4 ms: _sqlite3 imports functools and
# collections). name -> the module of scns.db that defines it.
_LAZY = {"PsycopgDatabase": "postgres", "SqlAlchemyDatabase": "postgres",
         "SqliteDatabase": "sqlite", "sqlite_path": "sqlite",
         "rewrite_placeholders": "placeholders"}  # fmt: skip


def __getattr__(name: str) -> object:
    """A backend's name, from its module (imported now, on first use)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import sys

    full = f"scns.db.{module}"
    __import__(full)
    return getattr(sys.modules[full], name)


def open_database(
    url: str, *, pool: Mapping[str, object] | None = None, short_lived: bool = False
) -> Database:
    """Pick the connection kind from the URL scheme (and from how long the caller lives)."""
    if url.startswith("sqlite:///"):
        from scns.db.sqlite import SqliteDatabase

        return SqliteDatabase(url)
    if url.startswith(("postgresql", "postgres")):
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        if short_lived:
            from scns.db.libpq import LibpqDatabase, load

            lib = load()
            if lib is not None:
                return LibpqDatabase(url, lib)
        from scns.db import postgres

        if short_lived:  # no libpq on this machine
            return postgres.PsycopgDatabase(url)
        return postgres.SqlAlchemyDatabase(url, pool=pool)
    raise DatabaseError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def in_clause(name: str, values: Iterable[object]) -> tuple[str, dict[str, object]]:
    """What goes inside ``IN (...)`` for a short list of values (names, states): one
    placeholder per value. Lists of ids go through any_of."""
    params = {f"{name}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params) or "NULL", params


def any_of(name: str, ids: Iterable[int],
           dialect: str | None) -> tuple[str, dict[str, object]]:  # fmt: skip
    """``<column> <this>``: the column is one of ``ids``, bound as ONE parameter whatever
    their number, and its parameters.

    On PostgreSQL ``= ANY(CAST(:ids AS INT[]))``: a hashed array test, or an index scan,
    never a join, so a stale row estimate right after a big submit cannot turn 100,000 ids
    into a nested loop (an ``IN (SELECT unnest(...))`` over a table PostgreSQL believed
    empty took minutes); INT, like the id columns, or the test is not hashed. On SQLite
    ``IN (SELECT value FROM json_each(:ids))``: a JSON array unpacked in C, instead of one
    bound parameter per id (quadratic in SQLite, and refused past 65,535 by PostgreSQL).
    No dialect (a statement text built for either): one placeholder per id.
    """
    if dialect is None:
        marks, params = in_clause(name, ids)
        return f"IN ({marks})", params
    if dialect == "postgresql":
        return f"= ANY(CAST(:{name} AS INT[]))", {name: _id_array(ids, dialect)}
    rows, params = id_rows(name, ids, dialect)
    return f"IN ({rows})", params


def id_rows(name: str, ids: Iterable[int], dialect: str) -> tuple[str, dict[str, object]]:
    """A SELECT giving one row per id, the ids bound as ONE parameter (as in any_of)."""
    if dialect == "postgresql":
        return f"SELECT unnest(CAST(:{name} AS INT[]))", {name: _id_array(ids, dialect)}
    return f"SELECT value FROM json_each(:{name})", {name: _id_array(ids, dialect)}


def _id_array(ids: Iterable[int], dialect: str) -> str:
    """The ids as one array value: ``{1,2}`` for PostgreSQL, ``[1,2]`` (JSON) for SQLite."""
    joined = ",".join(map(str, ids))  # ints (a bound value either way, never SQL text)
    return "{" + joined + "}" if dialect == "postgresql" else "[" + joined + "]"
