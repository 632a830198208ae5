"""Building a daemon from settings and command-line options, then running it."""

from __future__ import annotations

import os
import socket

from scns.errors import InvalidInput


def start(*, cpus: int | None, node: str | None, mem: str | None, system: bool = False) -> None:
    from scns.daemon.home import prepare_home
    from scns.daemon.loop import Daemon
    from scns.db.engine import open_database, sqlite_path
    from scns.db.migrate import ensure_schema
    from scns.settings import Settings

    if system:
        if os.geteuid() != 0:
            raise InvalidInput("scns daemon --system must run as root")
        os.environ["SCNS_SYSTEM"] = "1"  # the same defaults for everything this process reads
    _check_config()
    settings = Settings()
    embedded = settings.database_url.startswith("sqlite:///")
    prepare_home(settings.home, settings.run_dir,
                 sqlite_path(settings.database_url) if embedded else None)  # fmt: skip
    cpu_ids = choose_cpus(cpus if cpus is not None else settings.cpus)
    name = node or settings.node or socket.gethostname().split(".")[0]
    _check_node_name(name)
    mem_mb = _memory(mem, settings.mem_mb)
    db = open_database(settings.database_url, pool=settings.pool)
    if db.dialect == "sqlite":
        db._synchronous = "NORMAL"  # type: ignore[attr-defined]
    ensure_schema(db)
    Daemon(settings, db, name, cpu_ids, mem_mb).run()


def _check_config() -> None:
    """The config file may hold the database's and Redis's passwords and decides what runs
    as whom: refuse one that another user owns or may write."""
    import stat

    from scns import paths

    path = paths.config_path()
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    if info.st_uid not in (0, os.geteuid()) or stat.S_IMODE(info.st_mode) & 0o022:
        raise InvalidInput(f"refusing config file {path}: it must be ours and not writable"
                           " by other users (chmod 600)")  # fmt: skip


def choose_cpus(count: int | None) -> list[int]:
    """The first ``count`` CPUs this process may use (all of them by default)."""
    usable = sorted(os.sched_getaffinity(0))
    if count is None:
        return usable
    if count < 1:
        raise InvalidInput(f"invalid --cpus {count}: must be at least 1")
    if count > len(usable):
        raise InvalidInput(f"invalid --cpus {count}: this machine has {len(usable)} usable CPUs")
    return usable[:count]


def _check_node_name(name: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise InvalidInput(f"invalid node name {name!r}: use letters, digits, '-', '_' or '.'")


def _memory(text: str | None, configured: int | None) -> int:
    if text is not None:
        from scns.domain.sizes import parse_mem_mb

        return parse_mem_mb(text)
    if configured is not None:
        return configured
    return physical_memory_mb()


def physical_memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        return 0
