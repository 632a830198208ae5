"""Schema versions: create, check and upgrade through Alembic, shipped inside the package.

Every command checks the revision once (one cheap query); SQLite creates or upgrades itself,
PostgreSQL is shared and changed only by ``scns db upgrade``.
"""

from __future__ import annotations

import os

from scns.db.errors import DatabaseError, StatementError
from scns.db.transactions import Database
from scns.errors import ScnsError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from scns.db.sqlite import SqliteDatabase

HEAD_REVISION = "0005"
_MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


class SchemaOutOfDate(ScnsError):
    """The database's schema is older (or newer) than this scns."""


def current_revision(db: Database) -> str | None:
    """The Alembic revision stamped in the database, or None when it has no scns schema."""
    try:
        with db.reads() as tx:  # one statement: no BEGIN/COMMIT around it
            row = tx.one("SELECT version_num FROM alembic_version")
    except StatementError as exc:  # no such table: a database scns has never touched
        if "alembic_version" in str(exc) or "no such table" in str(exc).lower():
            return None
        raise DatabaseError(f"cannot read schema version: {exc}") from None
    return row[0] if row else None


def ensure_schema(db: Database) -> None:
    """Make sure the schema is current, upgrading embedded SQLite in place."""
    revision = current_revision(db)
    if revision == HEAD_REVISION:
        return
    if db.dialect == "sqlite":
        _upgrade_sqlite_once(db)  # type: ignore[arg-type]
        return
    if revision is None:
        raise SchemaOutOfDate(
            "the database has no scns schema yet: run `scns db upgrade` once to create it"
        )
    raise SchemaOutOfDate(
        f"the database schema is at revision {revision}, this scns needs {HEAD_REVISION}: "
        "run `scns db upgrade`"
    )


def _upgrade_sqlite_once(db: SqliteDatabase) -> None:
    """Upgrade under a file lock, so concurrent first commands do not race to create tables."""
    import fcntl

    with open(db.path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if current_revision(db) != HEAD_REVISION:
            db.close()
            upgrade(db.url)


def alembic_config(url: str):
    """An Alembic config pointing at the migrations shipped in the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creating the schema if empty)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def sqlalchemy_url(url: str) -> str:
    """Normalise plain postgres URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
