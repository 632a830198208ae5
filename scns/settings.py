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
