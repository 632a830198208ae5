"""Exceptions that cross layers: each carries the one line a user should read."""


class ScnsError(Exception):
    """Base for errors scns reports to the user as one line, without a traceback."""


class InvalidInput(ScnsError):
    """Something the user wrote (an option, a script, an id) cannot be accepted."""


class NotFound(ScnsError):
    """An id names no job, node or other record."""


class Conflict(ScnsError):
    """The record is not in the state the operation needs (a guarded update matched nothing)."""


class PermissionDenied(ScnsError):
    """The caller may not do this (another user's job, an operator-only option, a limit)."""


class UsageError(InvalidInput):
    """The command line itself is malformed (an unknown option, a missing value): exit 2."""
