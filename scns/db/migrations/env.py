"""Alembic environment: runs the shipped migrations against the URL scns passes in."""

from alembic import context
from sqlalchemy import create_engine, pool

from scns.db.schema import metadata

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:  # scns.db.migrate always sets it
        raise RuntimeError("no sqlalchemy.url in the Alembic config")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # SQLite cannot ALTER most things in place: batch mode rebuilds tables instead.
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
