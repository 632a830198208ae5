"""All settings in one object, built once at the entry point and passed down.

Sources, strongest first: ``SCNS_*`` environment variables, the TOML config file
(``$SCNS_HOME/scns.toml`` or ``SCNS_CONFIG``), the defaults below. A bad value or an unknown
key in the file is an ``InvalidInput`` naming it, never pydantic's traceback.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from scns import paths
from scns.errors import InvalidInput

Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # an interval or a timeout


class _TomlSource(PydanticBaseSettingsSource):
    """The config file, below the environment."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by pydantic here
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(paths.read_config())


class Settings(BaseSettings):
    """Every field is also a config-file key: ``paths.SETTING_NAMES`` lists them for the fast
    paths (tests/unit/test_settings.py keeps the two equal)."""

    model_config = SettingsConfigDict(env_prefix="SCNS_", extra="ignore")

    home: str = Field(default_factory=paths.home_dir)
    system: bool = False  # `scns daemon --system`: root, a socket, many users
    database_url: str = ""
    redis_url: str | None = None

    # daemon
    node: str | None = None
    cpus: int | None = Field(None, gt=0)
    mem_mb: int | None = Field(None, gt=0)
    poll_interval_s: Seconds = 5.0
    heartbeat_interval_s: Seconds = 5.0
    heartbeat_timeout_s: Seconds = 30.0
    kill_wait_s: float = Field(30.0, ge=0, allow_inf_nan=False)  # 0: SIGKILL at once
    leader_lease_s: Seconds = 6.0

    # scheduling
    scheduler_policy: str = "backfill"  # one of scns.sched.policy.POLICIES
    default_time_limit_s: int = Field(3600, gt=0)  # what backfill assumes for unlimited jobs
    max_jobs_examined: int = Field(1000, gt=0)
    # the site's longest run time (Slurm time, e.g. 2-00:00:00); None: unlimited
    max_time: str | None = None

    # several users (system mode)
    socket: str = paths.DEFAULT_SOCKET
    operators: str = ""  # "alice,@wheel": users and @groups with rights over every job
    private_data: bool = False  # hide other users' jobs entirely (Slurm's PrivateData=jobs)
    max_array_size: int = Field(10001, ge=1)  # indices must stay below it (MaxArraySize)
    max_jobs_per_user: int | None = Field(None, ge=0)  # pending + running; 50,000 in system mode

    # how jobs are held: "auto" (a cgroup per job where the host allows, else process
    # groups) or "process-group" (the weaker fallback, on purpose)
    containment: str = "auto"
    max_pids_per_job: int | None = Field(None, ge=1)  # a cgroup's pids.max: stops fork bombs

    # operators: the daemon's log lines and its Prometheus endpoint (None: off)
    log_format: str = "logfmt"  # or "json"
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_address: str = "127.0.0.1"

    # PostgreSQL pool
    pool_size: int = Field(20, gt=0)
    max_overflow: int = Field(10, ge=0)
    pool_pre_ping: bool = True
    pool_recycle: int = Field(3600, ge=-1)  # -1: never recycle (SQLAlchemy's convention)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _one_line(exc) from None

    @field_validator("scheduler_policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        from scns.sched.policy import POLICIES

        if value not in POLICIES:
            raise ValueError(f"expected one of {', '.join(sorted(POLICIES))}")
        return value

    @field_validator("containment")
    @classmethod
    def _known_containment(cls, value: str) -> str:
        if value not in ("auto", "process-group"):
            raise ValueError("expected auto or process-group")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in ("logfmt", "json"):
            raise ValueError("expected logfmt or json")
        return value

    @field_validator("max_time", mode="before")
    @classmethod
    def _slurm_time(cls, value: object) -> str | None:
        from scns.service.limits import parse_max_time

        if value is None or value == "":
            return None
        text = str(value)  # a TOML number is minutes, as in --time
        parse_max_time(text)
        return text

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings, env_settings, _TomlSource(settings_cls))

    def model_post_init(self, __context: Any) -> None:
        if not self.database_url:
            self.database_url = "sqlite:///" + f"{self.home}/scns.db"
        if self.system and self.max_jobs_per_user is None:
            from scns.service.limits import SYSTEM_MAX_JOBS_PER_USER

            self.max_jobs_per_user = SYSTEM_MAX_JOBS_PER_USER

    @property
    def pool(self) -> dict[str, Any]:
        return {
            "pool_size": self.pool_size,
            "max_overflow": self.max_overflow,
            "pool_pre_ping": self.pool_pre_ping,
            "pool_recycle": self.pool_recycle,
        }

    @property
    def run_dir(self) -> str:
        return paths.run_dir(self.home)

    @property
    def access(self):
        """The site's rights rules (operators, private data) as the pure layer's value."""
        from scns.domain.rights import Access, parse_operators

        users, groups = parse_operators(self.operators)
        return Access(users, groups, self.private_data)

    @property
    def max_time_s(self) -> int | None:
        """The site's maximum run time in seconds (None: unlimited)."""
        from scns.service.limits import parse_max_time

        return parse_max_time(self.max_time) if self.max_time else None

    @property
    def limits(self):
        from scns.service.limits import SubmitLimits

        return SubmitLimits(self.max_array_size, self.max_jobs_per_user, self.max_time_s)


_WHY = {  # pydantic's error types, as the one line says them
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "finite_number": "expected a finite number",
}


def _one_line(exc: ValidationError) -> InvalidInput:
    """Pydantic's report as one ``InvalidInput`` line naming each bad setting."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        ctx = error.get("ctx") or {}
        if error["type"] == "value_error":
            why = str(ctx.get("error", error["msg"]))
        elif error["type"] in ("greater_than", "greater_than_equal"):
            bound = ctx.get("gt", ctx.get("ge"))
            why = f"must be {'above' if 'gt' in ctx else 'at least'} {bound:g}"
        else:
            why = _WHY.get(error["type"], error["msg"])
        lines.append(str(paths.invalid_setting(name, error.get("input"), why, os.environ)))
    return InvalidInput("; ".join(lines))
