"""All settings in one object, built once at the entry point and passed down.

Sources, strongest first: ``SCNS_*`` environment variables, the TOML config file
(``$SCNS_HOME/scns.toml`` or ``SCNS_CONFIG``), the defaults below.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from scns import paths


class _TomlSource(PydanticBaseSettingsSource):
    """The config file, below the environment."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by pydantic here
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(paths.read_config())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCNS_", extra="ignore")

    home: str = Field(default_factory=paths.home_dir)
    system: bool = False  # `scns daemon --system`: root, a socket, many users
    database_url: str = ""
    redis_url: str | None = None

    # daemon
    node: str | None = None
    cpus: int | None = None
    mem_mb: int | None = None
    poll_interval_s: float = 5.0
    heartbeat_interval_s: float = 5.0
    heartbeat_timeout_s: float = 30.0
    kill_wait_s: float = 30.0
    leader_lease_s: float = 6.0

    # scheduling
    scheduler_policy: str = "backfill"
    default_time_limit_s: int = 3600
    max_jobs_examined: int = 1000

    # several users (system mode)
    socket: str = paths.DEFAULT_SOCKET
    operators: str = ""  # "alice,@wheel": users and @groups with rights over every job
    private_data: bool = False  # hide other users' jobs entirely (Slurm's PrivateData=jobs)
    max_array_size: int = 10001  # array indices must stay below this (Slurm's MaxArraySize)
    max_jobs_per_user: int | None = None  # pending + running; 50,000 by default in system mode

    # cleanup
    max_run_time_s: int = 48 * 3600

    # PostgreSQL pool
    pool_size: int = 20
    max_overflow: int = 10
    pool_pre_ping: bool = True
    pool_recycle: int = 3600

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
    def limits(self):
        from scns.service.limits import SubmitLimits

        return SubmitLimits(self.max_array_size, self.max_jobs_per_user)
