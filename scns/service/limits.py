"""Site limits on what one submission or one user may hold, checked inside the submit's
own transaction so two racing submits cannot both slip under a limit."""

from __future__ import annotations

import os

from scns import paths
from scns.domain.record import Record
from scns.errors import InvalidInput, PermissionDenied

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc loads collections (~2 ms a command)
    from collections.abc import Mapping

DEFAULT_MAX_ARRAY_SIZE = 10001
SYSTEM_MAX_JOBS_PER_USER = 50_000


class SubmitLimits(Record):
    """``max_array_size`` as Slurm's MaxArraySize (indices below it); ``max_jobs_per_user``
    counts pending and running jobs, array tasks one by one (None: no limit); ``max_time_s``
    is the longest time limit a job may have, and the limit of a job that names none (None:
    unlimited), as a partition's MaxTime."""

    __slots__ = ("max_array_size", "max_jobs_per_user", "max_time_s")
    _defaults = {  # noqa: RUF012
        "max_array_size": DEFAULT_MAX_ARRAY_SIZE,
        "max_jobs_per_user": None,
        "max_time_s": None,
    }
    max_array_size: int
    max_jobs_per_user: int | None
    max_time_s: int | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ,
                 config: Mapping[str, object] | None = None) -> SubmitLimits:  # fmt: skip
        """The limits as ``Settings`` would read them, for the personal-mode fast path."""
        if config is None:
            config = paths.read_config(env)
        size = _whole("max_array_size", env, config, minimum=1)
        per_user = _whole("max_jobs_per_user", env, config, minimum=0)
        if per_user is None and paths.is_system(env):
            per_user = SYSTEM_MAX_JOBS_PER_USER
        max_time = paths.setting("max_time", env, config)
        try:
            max_time_s = parse_max_time(str(max_time)) if max_time not in (None, "") else None
        except ValueError as exc:
            raise paths.invalid_setting("max_time", max_time, str(exc), env) from None
        return cls(DEFAULT_MAX_ARRAY_SIZE if size is None else size, per_user, max_time_s)


def parse_max_time(text: str) -> int | None:
    """The ``max_time`` setting in seconds (None: unlimited); ValueError says what is wrong."""
    from scns.domain.timespec import parse_time_limit

    try:
        return parse_time_limit(text)
    except InvalidInput as exc:  # "invalid --time 'x': why": the setting is named by the caller
        raise ValueError(str(exc).partition(": ")[2] or str(exc)) from None


def _whole(name: str, env: Mapping[str, str], config: Mapping[str, object], *,
           minimum: int) -> int | None:  # fmt: skip
    """A whole-number setting held to the bound ``Settings`` gives it (None when unset)."""
    value = paths.setting(name, env, config)
    if value is None:
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise paths.invalid_setting(name, value, "expected a whole number", env) from None
    if number < minimum:
        raise paths.invalid_setting(name, value, f"must be at least {minimum}", env)
    return number


def check_array(task_ids, limits: SubmitLimits) -> None:
    """Refuse an array with an index at or above max_array_size."""
    if task_ids and max(task_ids) >= limits.max_array_size:
        raise PermissionDenied(
            f"array index {max(task_ids)} is not below max_array_size"
            f" {limits.max_array_size} (Invalid job array specification)"
        )


def apply_max_time(time_limit_s: int | None, limits: SubmitLimits) -> int | None:
    """The job's time limit under the site's max_time: its own when within it, max_time when
    it names none (or UNLIMITED); a longer one is refused."""
    cap = limits.max_time_s
    if cap is None:
        return time_limit_s
    if time_limit_s is None:
        return cap
    if time_limit_s > cap:
        from scns.domain.timespec import format_duration

        raise PermissionDenied(
            f"time limit {format_duration(time_limit_s)} is above max_time"
            f" {format_duration(cap)} (Requested time limit is invalid)"
        )
    return time_limit_s


def check_user_jobs(held: int, adding: int, user: str, limits: SubmitLimits) -> None:
    """Refuse a submission that would take ``user`` above max_jobs_per_user."""
    cap = limits.max_jobs_per_user
    if cap is not None and held + adding > cap:
        raise PermissionDenied(
            f"user {user} would have {held + adding} pending or running jobs, above"
            f" max_jobs_per_user {cap} (QOSMaxSubmitJobPerUserLimit)"
        )
