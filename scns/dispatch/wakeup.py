"""Cross-machine wake-ups: PostgreSQL LISTEN/NOTIFY, with nothing extra for the CLI to import.

The CLI notifies inside the transaction that made the change (``statements.notify``), so a
daemon is woken exactly when the change is visible. Each daemon listens on one dedicated
connection whose socket sits in the daemon's selector.
"""

from __future__ import annotations

import contextlib

import psycopg

from scns.log import log

CHANNEL = "scns_wake"


class Listener:
    """A LISTEN connection that reconnects after PostgreSQL restarts."""

    def __init__(self, url: str) -> None:
        self.dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.conn: psycopg.Connection | None = None
        self.fd = -1  # kept apart: a lost connection can no longer report its fileno()

    def connect(self) -> bool:
        try:
            self.conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=3)
            self.conn.execute(f"LISTEN {CHANNEL}")
            self.fd = self.conn.fileno()
            return True
        except psycopg.Error as exc:
            log("listen_failed", error=str(exc).strip().splitlines()[0] if str(exc) else exc)
            self.conn = None
            return False

    def drain(self) -> list[str]:
        """Payloads that arrived; raises psycopg.Error when the connection broke."""
        assert self.conn is not None
        return [n.payload for n in self.conn.notifies(timeout=0, stop_after=None)]

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
            self.conn = None
