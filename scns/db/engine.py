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
from scns.db.sqlite import SqliteDatabase, sqlite_path
from scns.db.transactions import Database, Tx

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc is not needed at run time
    from collections.abc import Iterable, Mapping

    from scns.db.postgres import PsycopgDatabase, SqlAlchemyDatabase, rewrite_placeholders

__all__ = ["Database", "DatabaseError", "PsycopgDatabase", "SqlAlchemyDatabase",
           "SqliteDatabase", "StatementError", "Tx", "in_clause", "open_database",
           "rewrite_placeholders", "sqlite_path"]  # fmt: skip

_POSTGRES_NAMES = ("PsycopgDatabase", "SqlAlchemyDatabase", "rewrite_placeholders")


def __getattr__(name: str) -> object:
    """The PostgreSQL backends, imported on first use (the embedded CLI never needs them)."""
    if name in _POSTGRES_NAMES:
        from scns.db import postgres

        return getattr(postgres, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        from scns.db import postgres

        if short_lived:
            from scns.db.libpq import LibpqDatabase, load

            lib = load()
            return LibpqDatabase(url, lib) if lib is not None else postgres.PsycopgDatabase(url)
        return postgres.SqlAlchemyDatabase(url, pool=pool)
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
