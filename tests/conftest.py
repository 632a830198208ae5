"""Shared test fixtures: a scratch SCNS_HOME, the real CLI, a real daemon subprocess.

Nothing here sleeps for a fixed time: ``wait_until`` polls a predicate with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

SCNS = [sys.executable, "-m", "scns"]


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02,
               message: str = "condition") -> Any:  # fmt: skip
    """Poll until ``predicate()`` is truthy; fail the test with ``message`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@dataclass
class Scns:
    """Runs the real ``scns`` command against one scratch home."""

    home: str
    env: dict[str, str]
    workdir: str
    daemons: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, check: bool = True, cwd: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:  # fmt: skip
        proc = subprocess.run(
            [*SCNS, *args],
            capture_output=True,
            text=True,
            cwd=cwd or self.workdir,
            env={**self.env, **(env or {})},
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"scns {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def submit(self, *args: str, cwd: str | None = None) -> int:
        out = self.run("submit", "--parsable", *args, cwd=cwd).stdout.strip()
        return int(out.split(";")[0])

    def query(self, job_id: int | str) -> dict:
        return json.loads(self.run("query", str(job_id), "--json").stdout)

    def queue(self, *args: str) -> list[dict]:
        return json.loads(self.run("queue", "--json", *args).stdout)

    def state(self, job_id: int | str) -> str:
        return self.query(job_id)["state"]

    def wait_state(self, job_id: int | str, *states: str, timeout: float = 30.0) -> dict:
        def reached():
            info = self.query(job_id)
            return info if info["state"] in states else None

        return wait_until(reached, timeout, 0.05, f"job {job_id} to reach {states}")

    def start_daemon(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(os.path.join(self.home, f"daemon-{len(self.daemons)}.log"), "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [*SCNS, "daemon", *args],
            stdout=log,
            stderr=log,
            env={**self.env, **(env or {})},
            cwd=self.workdir,
            start_new_session=True,
        )
        log.close()
        self.daemons.append(proc)
        node = args[args.index("--node") + 1] if "--node" in args else None
        wait_until(lambda: self._registered(node, proc), 30, 0.05, "daemon to register")
        return proc

    def _registered(self, node: str | None, proc: subprocess.Popen) -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited early with {proc.returncode}: {self.daemon_log()}")
        wake = os.path.join(self.home, "run", "wake")
        if not os.path.isdir(wake):
            return False
        names = os.listdir(wake)
        return bool(names) if node is None else f"{node}.sock" in names

    def daemon_log(self) -> str:
        logs = sorted(f for f in os.listdir(self.home) if f.startswith("daemon-"))
        return "".join(open(os.path.join(self.home, f)).read() for f in logs)

    def stop_daemons(self) -> None:
        for proc in self.daemons:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.daemons:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _scratch_home() -> str:
    # Unix socket paths are limited to 108 bytes: keep homes short, not under pytest's tmp.
    return tempfile.mkdtemp(prefix="scns-t-", dir="/tmp")


@pytest.fixture
def scns() -> Iterator[Scns]:
    """A CLI on an empty embedded home (no daemon yet)."""
    home = _scratch_home()
    work = os.path.join(home, "work")
    os.makedirs(work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCNS_", "SLURM_"))}
    env.update(
        SCNS_HOME=home,
        SCNS_KILL_WAIT_S="1",
        SCNS_POLL_INTERVAL_S="2",
        PYTHONDONTWRITEBYTECODE="1",
    )
    tool = Scns(home, env, work)
    try:
        yield tool
    finally:
        tool.stop_daemons()
        _kill_leftover_jobs(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def cluster(scns: Scns) -> Scns:
    """The CLI with one running daemon (2 CPUs, node ``n1``)."""
    scns.start_daemon("--cpus", "2", "--node", "n1")
    return scns


def _kill_leftover_jobs(home: str) -> None:
    """Jobs outlive daemons by design; tests must not leave them behind."""
    proc = subprocess.run(["pgrep", "-f", home], capture_output=True, text=True)
    for pid in proc.stdout.split():
        with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
            os.killpg(int(pid), signal.SIGKILL)


# ---- PostgreSQL and Redis --------------------------------------------------------------------
# CI (CI=true) must run these tests: a missing server fails them. Elsewhere they skip and say why.

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def _unavailable(what: str, why: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is required in CI but unavailable: {why}")
    pytest.skip(f"{what} unavailable ({why}); set SCNS_TEST_DATABASE_URL/SCNS_TEST_REDIS_URL")


def _pg_admin_dsn() -> str:
    url = os.environ.get("SCNS_TEST_DATABASE_URL", DEFAULT_PG)
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database upgraded to the current schema once; tests clone it (CREATE ... TEMPLATE)."""
    try:
        import psycopg

        conn = psycopg.connect(_pg_admin_dsn(), autocommit=True, connect_timeout=3)
    except Exception as exc:
        _unavailable("PostgreSQL", str(exc).strip().splitlines()[0] if str(exc) else repr(exc))
    name = f"scns_tpl_{os.getpid()}"
    conn.execute(f"DROP DATABASE IF EXISTS {name}")
    conn.execute(f"CREATE DATABASE {name}")
    from scns.db.migrate import upgrade

    upgrade(_with_db(name))
    try:
        yield name
    finally:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()


def _with_db(name: str) -> str:
    base = _pg_admin_dsn()
    head, _, _ = base.rpartition("/")
    return "postgresql+psycopg://" + head.split("://", 1)[1] + "/" + name


_pg_counter = iter(range(1_000_000))


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database with the current schema, dropped afterwards."""
    import psycopg

    name = f"scns_t_{os.getpid()}_{next(_pg_counter)}"
    with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    try:
        yield _with_db(name)
    finally:
        with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_url() -> str:
    """A Redis database emptied for this test."""
    url = os.environ.get("SCNS_TEST_REDIS_URL", DEFAULT_REDIS)
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.flushdb()
        client.close()
    except Exception as exc:
        _unavailable("Redis", repr(exc))
    return url


@pytest.fixture
def pg_scns(scns: Scns, pg_url: str, redis_url: str) -> Scns:
    """The CLI on PostgreSQL + Redis (no daemon yet)."""
    scns.env.update(
        SCNS_DATABASE_URL=pg_url,
        SCNS_REDIS_URL=redis_url,
        SCNS_HEARTBEAT_INTERVAL_S="1",
        SCNS_LEADER_LEASE_S="3",
    )
    return scns
