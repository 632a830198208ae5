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

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Read the database directly (for checks the CLI does not expose, like exact times).

        Use ``?`` placeholders; they are translated for PostgreSQL."""
        url = self.env.get("SCNS_DATABASE_URL")
        if url and url.startswith("postgresql"):
            import psycopg

            dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
            with psycopg.connect(dsn) as conn:
                return conn.execute(query.replace("?", "%s"), params).fetchall()
        import sqlite3

        conn = sqlite3.connect(os.path.join(self.home, "scns.db"), timeout=30)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    def sql_write(self, query: str, params: tuple = ()) -> None:
        """Change the database directly (as anyone who can write it could)."""
        url = self.env.get("SCNS_DATABASE_URL")
        if url and url.startswith("postgresql"):
            import psycopg

            dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
            with psycopg.connect(dsn) as conn:
                conn.execute(query.replace("?", "%s"), params)
            return
        import sqlite3

        conn = sqlite3.connect(os.path.join(self.home, "scns.db"), timeout=30)
        try:
            with conn:
                conn.execute(query, params)
        finally:
            conn.close()

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


def assert_never_oversubscribed(rows, cpus_by_node: dict[str, int]) -> None:
    """From recorded (node, start, end, cpus, cpu_ids) rows: at no instant does a node run
    jobs on more CPUs than it has, and no core is held by two running jobs.

    The recorded interval contains the process's real one: RUNNING is recorded before the
    wrapper is let go, and the end after the process is reaped."""
    by_node: dict[str, list] = {}
    for node, start, end, cpus, cores in rows:
        assert start is not None and end is not None and start <= end
        if start == end:  # a job over within the clock's resolution overlaps nothing
            continue
        by_node.setdefault(node, []).append((start, end, cpus, cores))
    for node, jobs in by_node.items():
        points = []
        for start, end, cpus, cores in jobs:
            points.append((start, 1, cpus, cores))
            points.append((end, 0, cpus, cores))
        busy, held = 0, set()
        for _t, is_start, cpus, cores in sorted(points, key=lambda p: (p[0], p[1])):
            core_set = {int(c) for c in cores.split(",")}
            assert len(core_set) == cpus
            if is_start:
                assert not (held & core_set), f"node {node}: a core given to two running jobs"
                busy += cpus
                held |= core_set
                assert busy <= cpus_by_node[node], f"node {node}: more CPUs busy than it has"
            else:
                busy -= cpus
                held -= core_set


def _scratch_home() -> str:
    # Unix socket paths are limited to 108 bytes: keep homes short, not under pytest's tmp.
    return tempfile.mkdtemp(prefix="scns-t-", dir="/tmp")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def scns(request) -> Iterator[Scns]:
    """A CLI on an empty embedded home (no daemon yet)."""
    home = _scratch_home()
    work = os.path.join(home, "work")
    os.makedirs(work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCNS_", "SLURM_"))}
    env.update(
        SCNS_HOME=home,
        SCNS_SOCKET="",  # personal mode, even when a system daemon serves this machine
        SCNS_KILL_WAIT_S="1",
        SCNS_POLL_INTERVAL_S="2",
        PYTHONDONTWRITEBYTECODE="1",
    )
    tool = Scns(home, env, work)
    try:
        yield tool
    finally:
        tool.stop_daemons()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            sys.stderr.write(f"\n---- daemon logs ({home}) ----\n{tool.daemon_log()[-20000:]}\n")
        _kill_leftover_jobs(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_backend(request, scns: Scns) -> Scns:
    """The CLI with no daemon yet, on each backend in turn (PostgreSQL with Redis)."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_scns")
    return scns


@pytest.fixture(params=["sqlite", "postgresql"])
def cluster(request, scns: Scns) -> Scns:
    """The CLI with one running daemon (2 CPUs, node ``n1``), on each backend in turn."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_scns")
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
    conn.close()
    from scns.db.migrate import upgrade

    upgrade(_with_db(name))
    try:
        yield name
    finally:  # a fresh connection: a test may have restarted the server meanwhile
        with psycopg.connect(_pg_admin_dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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
