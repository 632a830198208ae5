"""Site limits on what one submission or one user may hold, checked inside the submit's
own transaction so two racing submits cannot both slip under a limit."""

from __future__ import annotations

import os
from collections.abc import Mapping

from scns import paths
from scns.domain.record import Record
from scns.errors import InvalidInput, PermissionDenied

DEFAULT_MAX_ARRAY_SIZE = 10001
SYSTEM_MAX_JOBS_PER_USER = 50_000


class SubmitLimits(Record):
    """``max_array_size`` as Slurm's MaxArraySize (indices below it); ``max_jobs_per_user``
    counts pending and running jobs, array tasks one by one (None: no limit)."""

    __slots__ = ("max_array_size", "max_jobs_per_user")
    _defaults = {"max_array_size": DEFAULT_MAX_ARRAY_SIZE, "max_jobs_per_user": None}  # noqa: RUF012
    max_array_size: int
    max_jobs_per_user: int | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ,
                 config: Mapping[str, object] | None = None) -> SubmitLimits:  # fmt: skip
        """The limits as ``Settings`` would read them, for the personal-mode fast path."""
        if config is None:
            config = paths.read_config(env)
        size = _whole(paths.setting("max_array_size", env, config), "SCNS_MAX_ARRAY_SIZE")
        per_user = _whole(paths.setting("max_jobs_per_user", env, config),
                          "SCNS_MAX_JOBS_PER_USER")  # fmt: skip
        if per_user is None and paths.is_system(env):
            per_user = SYSTEM_MAX_JOBS_PER_USER
        return cls(DEFAULT_MAX_ARRAY_SIZE if size is None else size, per_user)


def _whole(value: object, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise InvalidInput(f"invalid {name} {value!r}: expected a whole number") from None


def check_array(task_ids, limits: SubmitLimits) -> None:
    """Refuse an array with an index at or above max_array_size."""
    if task_ids and max(task_ids) >= limits.max_array_size:
        raise PermissionDenied(
            f"array index {max(task_ids)} is not below max_array_size"
            f" {limits.max_array_size} (Invalid job array specification)"
        )


def check_user_jobs(held: int, adding: int, user: str, limits: SubmitLimits) -> None:
    """Refuse a submission that would take ``user`` above max_jobs_per_user."""
    cap = limits.max_jobs_per_user
    if cap is not None and held + adding > cap:
        raise PermissionDenied(
            f"user {user} would have {held + adding} pending or running jobs, above"
            f" max_jobs_per_user {cap} (QOSMaxSubmitJobPerUserLimit)"
        )
