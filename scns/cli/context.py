"""Opening the database from the environment, cheaply, for every command."""

from __future__ import annotations

import os

from scns import paths
from scns.db.engine import Database, open_database
from scns.db.migrate import ensure_schema


def open_db(env=os.environ, *, synchronous: str = "FULL") -> tuple[Database, str]:
    """The checked database and the run directory, without building the full Settings."""
    config = paths.read_config(env)
    url = paths.database_url(env, config)
    pool = {k: config[k] for k in ("pool_size", "max_overflow") if k in config}
    db = open_database(url, pool=pool or {"pool_size": 2, "max_overflow": 2})
    if db.dialect == "sqlite":
        db._synchronous = synchronous  # type: ignore[attr-defined]
    ensure_schema(db)
    return db, paths.run_dir(paths.home_dir(env))


def notify(run_dir: str, env=os.environ) -> None:
    """Wake the daemons after a change they should act on."""
    from scns import wake

    wake.notify(run_dir)
    redis_url = paths.redis_url(env)
    if redis_url:
        from scns.dispatch.wakeup import publish_wakeup

        publish_wakeup(redis_url)
