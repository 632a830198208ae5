"""Where scns keeps things, resolved with the standard library only.

The fast CLI paths (submit, query) call these directly; ``scns.settings.Settings`` uses the
same functions for its defaults, so both always agree.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc loads collections (~2 ms a command)
    from collections.abc import Mapping

SYSTEM_HOME = "/var/lib/scns"
SYSTEM_CONFIG = "/etc/scns/scns.toml"
DEFAULT_SOCKET = "/run/scns/scns.sock"

# The keys a config file may hold: the fields of ``scns.settings.Settings``, kept here so the
# fast paths can refuse a typo without importing pydantic (a unit test keeps the two equal).
SETTING_NAMES = frozenset({
    "home", "system", "database_url", "redis_url",
    "node", "cpus", "mem_mb", "poll_interval_s", "heartbeat_interval_s", "heartbeat_timeout_s",
    "kill_wait_s", "leader_lease_s",
    "scheduler_policy", "default_time_limit_s", "max_jobs_examined", "max_time",
    "socket", "operators", "private_data", "max_array_size", "max_jobs_per_user",
    "pool_size", "max_overflow", "pool_pre_ping", "pool_recycle",
    "log_format", "metrics_port", "metrics_address", "containment", "max_pids_per_job",
})  # fmt: skip


def is_system(env: Mapping[str, str] = os.environ) -> bool:
    """System mode: ``scns daemon --system`` (which sets ``SCNS_SYSTEM=1``) or root's admin
    commands run with ``SCNS_SYSTEM=1``."""
    return env.get("SCNS_SYSTEM", "").lower() in ("1", "true", "yes")


def home_dir(env: Mapping[str, str] = os.environ) -> str:
    """``SCNS_HOME``; else ``/var/lib/scns`` in system mode; else ``$XDG_DATA_HOME/scns``,
    else ``~/.local/share/scns``."""
    if env.get("SCNS_HOME"):
        return os.path.abspath(os.path.expanduser(env["SCNS_HOME"]))
    if is_system(env):
        return SYSTEM_HOME
    data = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "scns")


def config_path(env: Mapping[str, str] = os.environ) -> str:
    """``SCNS_CONFIG``; else ``/etc/scns/scns.toml`` in system mode when it exists; else
    ``$SCNS_HOME/scns.toml``."""
    if env.get("SCNS_CONFIG"):
        return env["SCNS_CONFIG"]
    if is_system(env) and os.path.exists(SYSTEM_CONFIG):
        return SYSTEM_CONFIG
    return os.path.join(home_dir(env), "scns.toml")


def socket_path(env: Mapping[str, str] = os.environ) -> str | None:
    """The system daemon's socket the CLI talks to, or None for personal mode.

    ``SCNS_SOCKET`` set and non-empty names it; set but empty forces personal mode; unset,
    the default socket is used when it exists.
    """
    if "SCNS_SOCKET" in env:
        return env["SCNS_SOCKET"] or None
    return DEFAULT_SOCKET if os.path.exists(DEFAULT_SOCKET) else None


def setting(name: str, env: Mapping[str, str] = os.environ,
            config: Mapping[str, object] | None = None) -> object | None:  # fmt: skip
    """One setting as ``Settings`` resolves it (environment over config file), for the fast
    paths that cannot afford pydantic; None when neither gives it."""
    value = env.get("SCNS_" + name.upper())
    if value is not None and value != "":
        return value
    if config is None:
        config = read_config(env)
    return config.get(name)


def read_config(env: Mapping[str, str] = os.environ) -> dict[str, object]:
    """The optional TOML config file's top-level table ({} when there is none); a key that
    names no setting is refused, so a typo is never silently ignored."""
    path = config_path(env)
    if not os.path.exists(path):
        return {}
    import tomllib

    from scns.errors import InvalidInput

    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc}") from None
    unknown = sorted(set(config) - SETTING_NAMES)
    if unknown:
        raise InvalidInput(f"unknown key {unknown[0]!r} in {path}{_suggestion(unknown[0])}")
    return config


def _suggestion(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, SETTING_NAMES, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def invalid_setting(name: str, value: object, why: str, env: Mapping[str, str] = os.environ):
    """The one-line error for a bad setting, naming it as the user wrote it: the environment
    variable when that is set, else the key in the config file."""
    from scns.errors import InvalidInput

    variable = "SCNS_" + name.upper()
    if variable in env:
        where = f"{variable}={value!r}"
    else:
        where = f"{name}={value!r} in {config_path(env)}"
    return InvalidInput(f"invalid setting {where}: {why}")


def database_url(env: Mapping[str, str] = os.environ, config: Mapping[str, object] | None = None):
    """Environment wins over the config file, which wins over the embedded default."""
    if env.get("SCNS_DATABASE_URL"):
        return env["SCNS_DATABASE_URL"]
    if config is None:
        config = read_config(env)
    if config.get("database_url"):
        return str(config["database_url"])
    return "sqlite:///" + os.path.join(home_dir(env), "scns.db")


def redis_url(env: Mapping[str, str] = os.environ, config: Mapping[str, object] | None = None):
    """The Redis URL for dispatch, or None on the embedded default."""
    if env.get("SCNS_REDIS_URL"):
        return env["SCNS_REDIS_URL"]
    if config is None:
        config = read_config(env)
    return str(config["redis_url"]) if config.get("redis_url") else None


def run_dir(home: str) -> str:
    """Daemon runtime files: wake-up sockets, job scripts and exit-status records."""
    return os.path.join(home, "run")
