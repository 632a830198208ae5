"""Opening the database from the environment, cheaply, for every command."""

from __future__ import annotations

import os

from scns import paths
from scns.db.engine import Database, open_database
from scns.db.migrate import ensure_schema

_OPENED: list[Database] = []


def open_db(env=os.environ, *, synchronous: str = "FULL") -> tuple[Database, str]:
    """The checked database and the run directory, without building the full Settings."""
    config = paths.read_config(env)
    url = paths.database_url(env, config)
    db = open_database(url, short_lived=True)
    _OPENED.append(db)
    if db.dialect == "sqlite":
        db._synchronous = synchronous  # type: ignore[attr-defined]
    ensure_schema(db)
    return db, paths.run_dir(paths.home_dir(env))


def close_databases() -> None:
    """Close what ``open_db`` opened: SQLite checkpoints its WAL, libpq says goodbye to the
    server. The fast exit calls this; it would otherwise happen in the interpreter's teardown."""
    while _OPENED:
        _OPENED.pop().close()


def notify(run_dir: str) -> None:
    """Wake the daemons on this machine after a change they should act on.

    Daemons elsewhere are woken by the NOTIFY sent inside the change's own transaction.
    """
    from scns import wake

    wake.notify(run_dir)


def nodes_now(heartbeat_timeout_s: float | None):
    """Node summaries, from the system daemon when there is one (``info``, ``health``)."""
    import time

    from scns.cli.remote import call, target
    from scns.service.nodes import NodeSummary, node_summaries

    sock = target(env=os.environ)
    if sock:
        return [NodeSummary(**n) for n in call(sock, "info", {})]
    db, _ = open_db()
    if heartbeat_timeout_s is None:
        return node_summaries(db, time.time())
    return node_summaries(db, time.time(), heartbeat_timeout_s)
