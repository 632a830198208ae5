"""A system-mode scns for the multi-user tests: root daemons on a socket, users as clients.

One daemon on embedded SQLite, or two (nodes n1 and n2, each with its own socket) on
PostgreSQL + Redis; users talk to them only through the sockets, as they would on a real
machine, and tests read the state directory and database as root.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from tests.conftest import wait_until
from tests.e2e.users import User

SCNS = [sys.executable, "-m", "scns"]


@dataclass
class System:
    home: str
    sockets: list[str]
    root_env: dict[str, str]  # the daemons' (and root admin commands') environment
    nodes: list[str]
    daemons: list[subprocess.Popen] = field(default_factory=list)

    # ---- daemons ---------------------------------------------------------------------------

    def start(self, **extra: str) -> None:
        cpus = "2" if len(self.nodes) == 1 else "1"
        for node, sock in zip(self.nodes, self.sockets, strict=True):
            log = open(os.path.join(self.home, f"daemon-{node}.log"), "ab")  # noqa: SIM115
            env = {**self.root_env, **extra, "SCNS_SOCKET": sock}
            self.daemons.append(subprocess.Popen(
                [*SCNS, "daemon", "--system", "--cpus", cpus, "--node", node],
                stdout=log, stderr=log, env=env, start_new_session=True,
            ))  # fmt: skip
            log.close()
        for proc, sock in zip(self.daemons, self.sockets, strict=True):
            wait_until(lambda p=proc, s=sock: self._serving(p, s), 30, 0.05, "daemon socket")

    def _serving(self, proc: subprocess.Popen, sock: str) -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited with {proc.returncode}: {self.logs()}")
        import socket

        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(sock)  # the file may be a stopped daemon's: wait for an answer
            return True
        except OSError:
            return False
        finally:
            probe.close()

    def stop(self) -> None:
        for proc in self.daemons:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.daemons:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.daemons.clear()

    def restart(self, **extra: str) -> None:
        self.stop()
        self.start(**extra)

    def logs(self) -> str:
        out = []
        for name in sorted(os.listdir(self.home)):
            if name.startswith("daemon-"):
                with open(os.path.join(self.home, name)) as handle:
                    out.append(handle.read())
        return "".join(out)

    # ---- users -----------------------------------------------------------------------------

    def user_env(self, user: User, sock: int = 0) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": user.home,
            "USER": user.name,
            "LOGNAME": user.name,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "SCNS_SOCKET": self.sockets[sock % len(self.sockets)],
        }

    def cli(self, user: User, *args: str, sock: int = 0, umask: int = 0o022,
            check: bool = False, cwd: str | None = None,
            ) -> subprocess.CompletedProcess:  # fmt: skip
        proc = user.run([*SCNS, *args], env=self.user_env(user, sock), umask=umask, cwd=cwd)
        if check and proc.returncode != 0:
            raise AssertionError(f"scns {' '.join(args)} as {user.name}: {proc.stderr}")
        return proc

    def submit(self, user: User, *args: str, sock: int = 0, umask: int = 0o022) -> int:
        proc = self.cli(user, "submit", "--parsable", *args, sock=sock, umask=umask, check=True)
        return int(proc.stdout.strip())

    def query(self, user: User, job_id: int | str, sock: int = 0) -> dict:
        return json.loads(self.cli(user, "query", str(job_id), "--json", sock=sock,
                                   check=True).stdout)  # fmt: skip

    def wait_state(self, user: User, job_id: int, *states: str, timeout: float = 30) -> dict:
        ended = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"}

        def reached():
            info = self.query(user, job_id)
            if info["state"] not in states and info["state"] in ended:
                raise AssertionError(f"job {job_id} ended {info['state']}: {info['reason']}")
            return info if info["state"] in states else None

        return wait_until(reached, timeout, 0.05, f"job {job_id} to reach {states}")

    def admin(self, *args: str) -> subprocess.CompletedProcess:
        """A root admin command on the state itself (cleanup, db upgrade)."""
        return subprocess.run([*SCNS, *args], capture_output=True, text=True,
                              env={**self.root_env, "SCNS_SOCKET": self.sockets[0]},
                              timeout=120)  # fmt: skip

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        url = self.root_env.get("SCNS_DATABASE_URL")
        if url:
            import psycopg

            with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
                return conn.execute(query.replace("?", "%s"), params).fetchall()
        import sqlite3

        conn = sqlite3.connect(os.path.join(self.home, "scns.db"), timeout=30)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()


def make_system(base_env: dict[str, str], nodes: list[str], operators: str) -> System:
    home = tempfile.mkdtemp(prefix="scns-sys-", dir="/tmp")
    sockets_dir = tempfile.mkdtemp(prefix="scns-sock-", dir="/tmp")
    os.chmod(sockets_dir, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCNS_", "SLURM_"))}
    env.update(base_env)
    env.update(SCNS_HOME=home, SCNS_OPERATORS=operators, SCNS_KILL_WAIT_S="1",
               SCNS_POLL_INTERVAL_S="2", PYTHONDONTWRITEBYTECODE="1")  # fmt: skip
    sockets = [os.path.join(sockets_dir, f"{node}.sock") for node in nodes]
    return System(home, sockets, env, nodes)


def remove_system(system: System) -> None:
    system.stop()
    subprocess.run(["pkill", "-KILL", "-f", system.home], capture_output=True)
    shutil.rmtree(system.home, ignore_errors=True)
    shutil.rmtree(os.path.dirname(system.sockets[0]), ignore_errors=True)
