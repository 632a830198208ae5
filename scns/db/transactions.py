"""What every database backend provides: ``Database`` opens short transactions, ``Tx`` runs
the statements of ``scns.db.statements`` inside one (``:name`` placeholders, the same SQL
text on every backend).

Transactions are plain context-manager objects rather than ``contextlib.contextmanager``
generators: ``import contextlib`` pulls in ``collections`` and ``functools``, ~3 ms of every
short command (a third of what ``scns submit`` may add to an interpreter start). The
PostgreSQL daemon backend, which imports SQLAlchemy anyway, still uses generators.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc and typing are not needed at run time
    from collections.abc import Mapping, Sequence
    from contextlib import AbstractContextManager
    from typing import Any, TypeAlias

    Params: TypeAlias = Mapping[str, object] | None


class Tx:
    """One open transaction; every statement of ``scns.db.statements`` takes one."""

    dialect: str

    def rows(self, sql: str, params: Params = None) -> list[tuple]:
        raise NotImplementedError

    def run(self, sql: str, params: Params = None) -> int:
        """Execute a statement and return how many rows it changed."""
        raise NotImplementedError

    def many(self, sql: str, params: Sequence[Mapping[str, object]]) -> None:
        raise NotImplementedError

    def one(self, sql: str, params: Params = None) -> tuple | None:
        found = self.rows(sql, params)
        return found[0] if found else None


class Database:
    """A handle on the scns database; ``write()`` and ``read()`` open short transactions."""

    dialect: str
    url: str

    def write(self) -> AbstractContextManager[Tx]:
        """A read-write transaction: committed when the block ends, rolled back if it raises."""
        raise NotImplementedError

    def read(self) -> AbstractContextManager[Tx]:
        """A read-only transaction: one snapshot for the statements of the block."""
        raise NotImplementedError

    def autocommit(self) -> AbstractContextManager[Tx]:
        """For statements that each stand alone (one guarded write, or reads that need no
        common snapshot): where the backend allows, each commits by itself, without BEGIN
        and COMMIT around them (two round trips on PostgreSQL). Elsewhere: write()."""
        return self.write()

    def reads(self) -> AbstractContextManager[Tx]:
        """Reads that need no common snapshot: read() here; on PostgreSQL (where READ
        COMMITTED gives each statement its own snapshot anyway) autocommit()."""
        return self.read()

    def session(self) -> AbstractContextManager[None]:
        """Run the transactions inside on one connection (the daemon wraps each turn in one).

        A pooled PostgreSQL connection is checked out (and pinged) once for the whole turn
        instead of once per transaction; elsewhere this changes nothing.
        """
        return NO_SESSION

    def close(self) -> None:
        """Release connections (the daemon calls this before exiting)."""


class Given:
    """A with-block that hands over what it was given and does nothing at its end: the
    statements of a backend's ``reads()`` (each its own transaction), or no session."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    def __enter__(self) -> Any:
        return self._value

    def __exit__(self, *_exc: object) -> None:
        return None


NO_SESSION = Given(None)  # the session of a backend that needs no shared connection
