"""Migrations: upgrading gives exactly the schema the models define, on both backends, and
an out-of-date database is named with the command that fixes it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
from sqlalchemy import create_engine

from scns.db.engine import open_database
from scns.db.migrate import HEAD_REVISION, SchemaOutOfDate, ensure_schema, sqlalchemy_url, upgrade
from scns.db.schema import metadata


def _schema_diff(url: str) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    return diff


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::sqlalchemy.exc.SAWarning")
def test_sqlite_upgrade_matches_models() -> None:
    home = tempfile.mkdtemp(prefix="scns-mig-", dir="/tmp")
    url = f"sqlite:///{home}/scns.db"
    upgrade(url)
    assert _schema_diff(url) == []


def test_postgresql_upgrade_matches_models(pg_url: str) -> None:
    assert _schema_diff(pg_url) == []


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_empty_postgresql_says_to_run_db_upgrade(pg_url: str) -> None:
    db = open_database(pg_url, short_lived=True)
    with db.write() as tx:
        tx.run("DROP TABLE alembic_version")
    with pytest.raises(SchemaOutOfDate, match="scns db upgrade"):
        ensure_schema(db)
    db.close()


def test_older_postgresql_schema_says_to_run_db_upgrade(pg_url: str) -> None:
    db = open_database(pg_url, short_lived=True)
    with db.write() as tx:
        tx.run("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(SchemaOutOfDate, match=f"0000.*{HEAD_REVISION}.*scns db upgrade"):
        ensure_schema(db)
    db.close()


def test_cli_on_empty_postgresql_prints_one_line_then_upgrade_works(pg_url: str) -> None:
    db = open_database(pg_url, short_lived=True)
    with db.write() as tx:
        tx.run("DROP SCHEMA public CASCADE")
        tx.run("CREATE SCHEMA public")
    db.close()
    env = {**os.environ, "SCNS_DATABASE_URL": pg_url, "SCNS_HOME": tempfile.mkdtemp()}
    proc = subprocess.run([sys.executable, "-m", "scns", "queue"], capture_output=True,
                          text=True, env=env)  # fmt: skip
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "scns db upgrade" in proc.stderr
    upgraded = subprocess.run([sys.executable, "-m", "scns", "db", "upgrade"],
                              capture_output=True, text=True, env=env)  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    again = subprocess.run([sys.executable, "-m", "scns", "queue"], capture_output=True,
                           text=True, env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
