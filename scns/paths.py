"""Where scns keeps things, resolved with the standard library only.

The fast CLI paths (submit, query) call these directly; ``scns.settings.Settings`` uses the
same functions for its defaults, so both always agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def home_dir(env: Mapping[str, str] = os.environ) -> str:
    """``SCNS_HOME``, else ``$XDG_DATA_HOME/scns``, else ``~/.local/share/scns``."""
    if env.get("SCNS_HOME"):
        return os.path.abspath(os.path.expanduser(env["SCNS_HOME"]))
    data = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "scns")


def config_path(env: Mapping[str, str] = os.environ) -> str:
    """``SCNS_CONFIG``, else ``$SCNS_HOME/scns.toml``."""
    return env.get("SCNS_CONFIG") or os.path.join(home_dir(env), "scns.toml")


def read_config(env: Mapping[str, str] = os.environ) -> dict[str, object]:
    """The optional TOML config file's top-level table ({} when there is none)."""
    path = config_path(env)
    if not os.path.exists(path):
        return {}
    import tomllib

    from scns.errors import InvalidInput

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc}") from None


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
