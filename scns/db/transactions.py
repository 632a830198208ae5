"""What every database backend provides: ``Database`` opens short transactions, ``Tx`` runs
the statements of ``scns.db.statements`` inside one (``:name`` placeholders, the same SQL
text on every backend)."""

from __future__ import annotations

from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc and typing are not needed at run time
    from collections.abc import Iterator, Mapping, Sequence
    from typing import TypeAlias

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

    @contextmanager
    def write(self) -> Iterator[Tx]:
        raise NotImplementedError
        yield  # pragma: no cover

    @contextmanager
    def read(self) -> Iterator[Tx]:
        raise NotImplementedError
        yield  # pragma: no cover

    @contextmanager
    def autocommit(self) -> Iterator[Tx]:
        """For statements that each stand alone (one guarded write, or reads that need no
        common snapshot): where the backend allows, each commits by itself, without BEGIN
        and COMMIT around them (two round trips on PostgreSQL). Elsewhere: write()."""
        with self.write() as tx:
            yield tx

    @contextmanager
    def reads(self) -> Iterator[Tx]:
        """Reads that need no common snapshot: read() here; on PostgreSQL (where READ
        COMMITTED gives each statement its own snapshot anyway) autocommit()."""
        with self.read() as tx:
            yield tx

    @contextmanager
    def session(self) -> Iterator[None]:
        """Run the transactions inside on one connection (the daemon wraps each turn in one).

        A pooled PostgreSQL connection is checked out (and pinged) once for the whole turn
        instead of once per transaction; elsewhere this changes nothing.
        """
        yield

    def close(self) -> None:
        """Release connections (the daemon calls this before exiting)."""
