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
    lock = hold_node(settings.run_dir, name)  # held until this process exits
    db = open_database(settings.database_url, pool=settings.pool)
    if db.dialect == "sqlite":
        db._synchronous = "NORMAL"  # type: ignore[attr-defined]
    ensure_schema(db)
    check_node_row(db, name, settings.heartbeat_timeout_s)
    warn_overcommit(db, name, len(cpu_ids), settings.heartbeat_timeout_s)
    try:
        Daemon(settings, db, name, cpu_ids, mem_mb).run()
    finally:
        os.close(lock)


def hold_node(run_dir: str, name: str) -> int:
    """One daemon per node name: an exclusive lock on ``run/node-<name>.lock``, which holds
    the pid and host of its owner for the refusal. The kernel drops it when the process
    ends, however it ends; jobs never inherit it (close-on-exec, and fcntl locks are not
    inherited across fork)."""
    import fcntl

    path = os.path.join(run_dir, f"node-{name}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise _taken(name, holder) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return fd


def check_node_row(db, name: str, timeout_s: float) -> None:
    """Across machines (one PostgreSQL database): a node whose daemon elsewhere, or in
    another home on this host, still heartbeats is taken."""
    import time

    from scns.db import statements as sql
    from scns.domain.liveness import is_served

    with db.read() as tx:
        row = sql.get_node(tx, name)
    if row is None or not is_served(row, time.time(), timeout_s):
        return
    if row["hostname"] == socket.gethostname() and not _is_daemon(row["pid"]):
        return  # our own predecessor (the lock above proves it gone) or a reused pid
    raise _taken(name, f"pid {row['pid']} on {row['hostname']}")


def _taken(name: str, holder: str) -> InvalidInput:
    return InvalidInput(f"node {name} is already served by a running daemon ({holder});"
                        " stop it first, or give this one another --node")  # fmt: skip


def _is_daemon(pid: int) -> bool:
    """Whether ``pid`` is a live scns process other than this one."""
    if pid == os.getpid():
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
        return b"scns" in command and b"daemon" in command
    except OSError:
        return False


def warn_overcommit(db, name: str, cpus: int, timeout_s: float) -> None:
    """Several nodes on one host are allowed (tests simulate clusters so), but say so in one
    line when their CPUs add up beyond the machine's."""
    import time

    from scns.db import statements as sql
    from scns.domain.liveness import is_served
    from scns.log import log

    host, now = socket.gethostname(), time.time()
    with db.read() as tx:
        others = [n for n in sql.list_nodes(tx) if n["name"] != name
                  and n["hostname"] == host and is_served(n, now, timeout_s)]  # fmt: skip
    total = cpus + sum(len([c for c in n["cpu_ids"].split(",") if c]) for n in others)
    machine = os.cpu_count() or 1
    if others and total > machine:
        log("cpus_overcommitted", node=name, others=",".join(n["name"] for n in others),
            cpus=total, machine_cpus=machine)  # fmt: skip


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
