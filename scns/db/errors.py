"""The database adapters' one error type: whatever a driver raises (sqlite3, psycopg,
SQLAlchemy, libpq) leaves ``scns.db`` as a DatabaseError, a ScnsError with one line."""

from __future__ import annotations

from scns.errors import ScnsError

BIGINT_MAX = 2**63 - 1  # the largest integer either database stores


class DatabaseError(ScnsError):
    """The database cannot be reached or used; the message says which and why."""


class StatementError(DatabaseError):
    """The database refused one statement (a constraint, a value out of range, a missing
    table): the connection itself is fine."""


# Messages that mean the database (not the statement) cannot be used, by driver wording.
_UNAVAILABLE = ("disk is full", "disk i/o error", "readonly database", "unable to open",
                "database is locked", "server closed", "connection", "terminating")  # fmt: skip


def database_error(exc: BaseException) -> DatabaseError:
    """``exc`` from a driver (or from binding a value) as the DatabaseError to raise."""
    if isinstance(exc, DatabaseError):
        return exc
    if isinstance(exc, OverflowError):  # sqlite3 binding an int beyond 64 bits
        return StatementError(f"a number is too large: the largest is {BIGINT_MAX}")
    if isinstance(exc, UnicodeError):
        return StatementError(f"text is not valid UTF-8: {_shown(exc)}")
    text = first_line(exc)
    driver = type(exc).__module__.split(".")[0]  # sqlite3's OperationalError is also a
    # statement's (no such table), psycopg's and SQLAlchemy's the connection's, unless the
    # server's SQLSTATE says the statement was refused (a statement timeout, 57014)
    lost = type(exc).__name__ == "OperationalError" and driver in ("psycopg", "sqlalchemy")
    state = _sqlstate(exc)
    if state is not None:
        lost = state.startswith(_UNAVAILABLE_STATES)
    if lost or any(word in text.lower() for word in _UNAVAILABLE):
        return DatabaseError(f"database unavailable: {text}")
    return StatementError(f"the database refused a statement: {text}")


# SQLSTATE classes and codes of a server that cannot be used (not of one statement):
# connection exceptions, insufficient resources (disk full, out of memory, too many
# connections), operator intervention (shutdown, crash, cannot connect now) but for 57014
# (a statement cancelled, as by statement_timeout), system errors.
_UNAVAILABLE_STATES = ("08", "53", "57P", "58")


def _sqlstate(exc: BaseException) -> str | None:
    """The server's SQLSTATE for psycopg's errors (SQLAlchemy's: the wrapped one's)."""
    state = getattr(getattr(exc, "orig", None) or exc, "sqlstate", None)
    return state if isinstance(state, str) and len(state) == 5 else None


def first_line(exc: BaseException) -> str:
    """The driver's own first line (SQLAlchemy's wrapped error: the driver's, not its own)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _shown(exc: UnicodeError) -> str:
    """The offending text around the bad character, as the terminal can show it."""
    text = getattr(exc, "object", "")
    start = getattr(exc, "start", 0)
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogateescape")
    part = bytes(text[max(0, start - 30) : start + 30])
    return "'" + part.decode("utf-8", "backslashreplace") + "'"
