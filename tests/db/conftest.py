"""One database fixture, parametrised over both backends, for the behavioural DB suite."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from scns.db.engine import Database, open_database
from scns.db.migrate import ensure_schema
from scns.db.postgres import PsycopgDatabase


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-cli", "postgresql-psycopg"])
def db(request) -> Iterator[Database]:
    """The same statements on SQLite, on PostgreSQL via SQLAlchemy (the daemon's path), via
    libpq (the CLI's path) and via plain psycopg (the CLI's path where libpq is missing)."""
    if request.param == "sqlite":
        home = tempfile.mkdtemp(prefix="scns-db-", dir="/tmp")
        database = open_database(f"sqlite:///{home}/scns.db")
        ensure_schema(database)
    else:
        url = request.getfixturevalue("pg_url")
        if request.param == "postgresql-psycopg":
            database = PsycopgDatabase(url)
        else:
            database = open_database(url, short_lived=request.param == "postgresql-cli")
    try:
        yield database
    finally:
        database.close()
        if request.param == "sqlite":
            import shutil

            shutil.rmtree(os.path.dirname(database.path), ignore_errors=True)
