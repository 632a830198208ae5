"""The benchmark's tools: scratch homes, timed commands, daemons, read-only database polls.

Standard library only (plus SQLAlchemy for the PostgreSQL reader, which scns already needs).
Waits poll a condition with a deadline; nothing sleeps for a fixed time except the idle probe.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python") if os.path.exists(VENV_BIN) else sys.executable
SCNS = os.path.join(VENV_BIN, "scns") if os.path.exists(VENV_BIN) else shutil.which("scns")
CPUS = len(os.sched_getaffinity(0))
# Byte-code caching as an installed scns has it (pip compiles at install time): this machine
# sets PYTHONDONTWRITEBYTECODE, which would make every command recompile scns from source
# (~40 ms a run). The cache goes to a bench-owned prefix, not into the shared checkout.
PYCACHE = f"/tmp/sbpyc-{os.getuid()}"
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY")


class BenchError(Exception):
    """A scenario could not produce its figure (the message says why)."""


def wait_until(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.01, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# ---- statistics -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# ---- scratch homes and commands -------------------------------------------------------------


@dataclass
class Home:
    """One scratch ``SCNS_HOME`` (short path: wake sockets must fit in 108 bytes)."""

    path: str
    env: dict[str, str]
    daemons: list[Daemon] = field(default_factory=list)

    @classmethod
    def fresh(cls, tag: str, extra_env: dict[str, str] | None = None) -> Home:
        path = tempfile.mkdtemp(prefix=f"sb{tag[:6]}-", dir="/tmp")
        env = dict(bench_env(), SCNS_HOME=path, **(extra_env or {}))
        return cls(path, env)

    @property
    def db_path(self) -> str:
        return os.path.join(self.path, "scns.db")

    def scns(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [SCNS, *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=600,
        )
        if check and proc.returncode != 0:
            raise BenchError(f"scns {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def timed(self, *args: str) -> tuple[float, str]:
        """Wall seconds of one ``scns`` run (output read through a pipe, as a script would)."""
        began = time.perf_counter()
        proc = subprocess.run([SCNS, *args], cwd=self.path, env=self.env, capture_output=True)
        elapsed = time.perf_counter() - began
        if proc.returncode != 0:
            raise BenchError(f"scns {' '.join(args)} failed: {proc.stderr.decode()[:300]}")
        return elapsed, proc.stdout.decode()

    def daemon(self, node: str, cpus: int, cpu_set: set[int] | None = None,
               *extra: str) -> Daemon:  # fmt: skip
        started = Daemon.start(self, node, cpus, cpu_set, *extra)
        self.daemons.append(started)
        return started

    def close(self) -> None:
        for d in self.daemons:
            d.stop()
        self.daemons.clear()
        shutil.rmtree(self.path, ignore_errors=True)


def bench_env() -> dict[str, str]:
    """The caller's environment without SCNS_* settings, with a byte-code cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCNS_")}
    env["SCNS_SOCKET"] = ""  # personal mode, even where a system daemon serves the machine
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    return env


def prepare() -> None:
    """Fill the byte-code cache for scns and the interpreter start-up, once per run."""
    env = bench_env()
    subprocess.run(
        [PYTHON, "-m", "compileall", "-q", os.path.join(ROOT, "scns")],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run([PYTHON, "-c", "pass"], env=env, check=True)


def time_python_pass() -> float:
    """Interpreter start-up: ``python -c pass`` with the venv's interpreter (site included)."""
    began = time.perf_counter()
    subprocess.run([PYTHON, "-c", "pass"], env=bench_env(), check=True)
    return time.perf_counter() - began


def time_xargs(n: int, cpus: int = CPUS) -> float:
    """``seq n | xargs -P cpus -n1 true``: what spawning n trivial processes costs here."""
    began = time.perf_counter()
    subprocess.run(f"seq {n} | xargs -P {cpus} -n1 true", shell=True, check=True)
    return time.perf_counter() - began


# The script `scns submit --wrap true` stores and a job runs: what the drain is compared to.
WRAP_TRUE_SCRIPT = "#!/bin/sh\ntrue\n"


def time_xargs_script(n: int, cpus: int = CPUS) -> float:
    """``xargs -P cpus`` running the drain's own job script n times (an executable file
    with the ``#!/bin/sh`` line the job has): the bare machine's rate for the same work."""
    directory = tempfile.mkdtemp(prefix="sbxargs-", dir="/tmp")
    script = os.path.join(directory, "job.sh")
    with open(script, "w") as handle:
        handle.write(WRAP_TRUE_SCRIPT)
    os.chmod(script, 0o755)
    try:
        began = time.perf_counter()
        subprocess.run(f"seq {n} | xargs -P {cpus} -I{{}} {script}", shell=True, check=True)
        return time.perf_counter() - began
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# ---- daemons --------------------------------------------------------------------------------


class Daemon:
    """A ``scns daemon`` subprocess whose stderr log lines are kept with their arrival time."""

    def __init__(self, popen: subprocess.Popen, spawned_at: float) -> None:
        self.popen = popen
        self.spawned_at = spawned_at  # time.time() just before the spawn
        self.lines: list[tuple[float, str]] = []
        self.started_at: float | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, home: Home, node: str, cpus: int, cpu_set: set[int] | None,
              *extra: str) -> Daemon:  # fmt: skip
        def pin() -> None:
            if cpu_set:
                os.sched_setaffinity(0, cpu_set)

        spawned_at = time.time()
        popen = subprocess.Popen(
            [SCNS, "daemon", "--cpus", str(cpus), "--node", node, *extra],
            cwd=home.path,
            env=home.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=pin if cpu_set else None,
        )
        daemon = cls(popen, spawned_at)
        wait_until(
            lambda: daemon.started_at or daemon.popen.poll() is not None,
            60,
            what=f"daemon {node} to start",
        )
        if daemon.started_at is None:
            raise BenchError(f"daemon {node} exited: {daemon.log_text()[-500:]}")
        return daemon

    def _read(self) -> None:
        for line in self.popen.stderr:
            now = time.time()
            self.lines.append((now, line.rstrip("\n")))
            if self.started_at is None and "event=daemon_started" in line:
                self.started_at = now

    def log_text(self) -> str:
        return "\n".join(line for _t, line in self.lines)

    def pass_ms(self) -> list[float]:
        """``pass_ms`` of every logged scheduling pass (logged when it started something)."""
        found = []
        for _t, line in self.lines:
            for part in line.split():
                if part.startswith("pass_ms="):
                    found.append(float(part[len("pass_ms=") :]))
        return found

    def proc_stat(self) -> tuple[float, int]:
        """(CPU seconds used so far, RSS bytes) from /proc."""
        pid = self.popen.pid
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu_s = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        rss = 0
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        return cpu_s, rss

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(timeout=5)


# ---- reading the database without disturbing it --------------------------------------------


class Reader:
    """Read-only queries against the benchmark's database (SQLite file or PostgreSQL URL)."""

    def __init__(self, sqlite_path: str | None = None, url: str | None = None) -> None:
        self._conn: Any = None
        self._engine: Any = None
        if sqlite_path:
            self._conn = sqlite3.connect(
                f"file:{sqlite_path}?mode=ro", uri=True, isolation_level=None, timeout=30
            )
        else:
            from sqlalchemy import create_engine

            self._engine = create_engine(normalise_pg_url(url or ""), pool_size=1)

    def rows(self, sql: str, params: dict | None = None) -> list[tuple]:
        if self._conn is not None:
            return self._conn.execute(sql, params or {}).fetchall()
        from sqlalchemy import text

        with self._engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params or {}).fetchall()]

    def scalar(self, sql: str, params: dict | None = None) -> Any:
        return self.rows(sql, params)[0][0]

    def count_finished(self) -> int:
        marks = ", ".join(f"'{s}'" for s in TERMINAL)
        return self.scalar(f"SELECT COUNT(*) FROM jobs WHERE state IN ({marks})")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._engine is not None:
            self._engine.dispose()


def normalise_pg_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def read_start_time(path: str) -> float | None:
    """The ``date +%s.%N`` a job wrote as its first line, once it is there."""
    with contextlib.suppress(OSError, ValueError):
        with open(path) as handle:
            line = handle.readline()
        if line.endswith("\n"):
            return float(line)
    return None
