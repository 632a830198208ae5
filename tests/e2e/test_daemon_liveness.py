"""A daemon that keeps working: failing steps back off and show in `scns health`, a full disk
and an unreachable PostgreSQL are survived without a restart and without a busy loop, one
daemon per node name, a clean stop takes the node offline at once, and a restarted daemon
takes its dead predecessor's lease without waiting for it to expire.

Real daemons and jobs; every wait polls with a deadline. "No busy loop" is measured: the
daemon's log lines per second and the CPU time it uses while something keeps failing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from tests.conftest import SCNS, Scns, wait_until

FAST = {"SCNS_HEARTBEAT_INTERVAL_S": "0.5", "SCNS_HEARTBEAT_TIMEOUT_S": "3",
        "SCNS_LEADER_LEASE_S": "2", "SCNS_POLL_INTERVAL_S": "1"}  # fmt: skip
WINDOW_S = 5.0  # how long a failure is watched for log lines and CPU use
MAX_LINES_PER_S = 5  # on average over the window ("a few lines a second")
MAX_LINES_IN_ONE_S = 15  # the first failures of every step may come together
MAX_CPU_SHARE = 0.2  # of the window's wall time: a spinning loop takes ~1.0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_lines(path: str) -> list[str]:
    with open(path, errors="replace") as handle:
        return handle.read().splitlines()


def watch_quietly(pid: int, log_path: str, seconds: float = WINDOW_S) -> list[str]:
    """Watch a daemon for ``seconds`` (polling its liveness, not sleeping blindly): it stays
    up, logs a few lines a second at most, and does not spin. Returns the lines logged."""
    before, cpu_before = len(log_lines(log_path)), cpu_seconds(pid)
    end = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() >= end or not os.path.exists(f"/proc/{pid}"),
               seconds + 5, 0.1, "the watch window")  # fmt: skip
    assert os.path.exists(f"/proc/{pid}"), "the daemon died"
    used = cpu_seconds(pid) - cpu_before
    lines = log_lines(log_path)[before:]
    per_second: dict[str, int] = {}
    for line in lines:
        stamp = re.match(r"time=(\S+)", line)
        second = stamp.group(1) if stamp else ""
        per_second[second] = per_second.get(second, 0) + 1
    listing = "\n".join(lines)
    assert len(lines) <= MAX_LINES_PER_S * seconds, f"{len(lines)} lines in {seconds}s:\n{listing}"
    assert max(per_second.values(), default=0) <= MAX_LINES_IN_ONE_S, per_second
    assert used <= MAX_CPU_SHARE * seconds, f"the daemon used {used:.2f}s of CPU in {seconds}s"
    return lines


def daemon_log_path(scns: Scns, index: int) -> str:
    return os.path.join(scns.home, f"daemon-{index}.log")


def health(scns: Scns, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return scns.run("health", check=False, env=env or FAST)


# ---- a step that keeps failing ---------------------------------------------------------------


def test_health_reports_a_failing_step_until_it_recovers(scns: Scns) -> None:
    daemon = scns.start_daemon("--node", "n1", "--cpus", "1", env=FAST)
    assert health(scns).returncode == 0
    # An unwritable status path: where the node's status directory was, a regular file.
    statuses = os.path.join(scns.home, "run", "status", "n1")
    shutil.rmtree(statuses)
    open(statuses, "w").close()
    job = scns.submit("--wrap", "echo hi")

    def reported() -> subprocess.CompletedProcess | None:
        proc = health(scns)
        return proc if proc.returncode != 0 else None

    proc = wait_until(reported, 20, 0.2, "health to report the failing step")
    assert proc.stderr.count("\n") == 1
    assert "node n1" in proc.stderr and "step launch failing" in proc.stderr
    assert "NotADirectoryError" in proc.stderr
    lines = watch_quietly(daemon.pid, daemon_log_path(scns, 0))
    assert scns.state(job) in ("PENDING", "CONFIGURING")
    assert sum("step_failed step=launch" in line for line in lines) <= 1
    os.unlink(statuses)
    os.mkdir(statuses, 0o700)
    assert scns.wait_state(job, "COMPLETED", "FAILED")["state"] == "COMPLETED"
    wait_until(lambda: health(scns).returncode == 0, 20, 0.2, "health to recover")
    assert "step_recovered step=launch" in scns.daemon_log()
    info = {n["name"]: n for n in scns_info(scns)}
    assert info["n1"]["reason"] is None


def scns_info(scns: Scns) -> list[dict]:
    import json

    return json.loads(scns.run("info", "--json").stdout)


# ---- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def small_home(scns: Scns):
    """SCNS_HOME on a 16 MiB tmpfs (needs root); the daemon logs and the jobs' work directory
    stay outside it."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a tmpfs home needs root (mount -t tmpfs)")
    home = tempfile.mkdtemp(prefix="scns-df-", dir="/tmp")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", home],
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        os.rmdir(home)
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.strip()}")
    scns.env["SCNS_HOME"] = home
    try:
        yield home
    finally:
        scns.stop_daemons()
        out = subprocess.run(["pgrep", "-f", home], capture_output=True, text=True)
        for pid in out.stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.killpg(int(pid), signal.SIGKILL)
        subprocess.run(["umount", "-l", home], capture_output=True)
        with contextlib.suppress(OSError):
            os.rmdir(home)


def start_daemon_at(scns: Scns, home: str, *args: str, env: dict[str, str]) -> subprocess.Popen:
    """A daemon on ``home`` that logs into the test's own (roomy) home."""
    path = daemon_log_path(scns, len(scns.daemons))
    with open(path, "ab") as log:
        proc = subprocess.Popen([*SCNS, "daemon", *args], stdout=log, stderr=log,
                                env={**scns.env, **env}, cwd=scns.workdir,
                                start_new_session=True)  # fmt: skip
    scns.daemons.append(proc)
    node = args[args.index("--node") + 1]
    sock = os.path.join(home, "run", "wake", f"{node}.sock")
    wait_until(lambda: os.path.exists(sock) or proc.poll() is not None, 30, 0.05, "the daemon")
    assert proc.poll() is None, scns.daemon_log()
    return proc


def fill(path: str) -> None:
    """Write zeros until the file system is full."""
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with contextlib.suppress(OSError), open(path + ".small", "wb", buffering=0) as handle:
        while True:
            handle.write(b"\0" * 512)


def test_full_disk_is_survived_and_recovered_from_without_a_restart(
    scns: Scns, small_home: str
) -> None:
    daemon = start_daemon_at(scns, small_home, "--node", "n1", "--cpus", "1", env=FAST)
    first = scns.submit("--wrap", "echo first")
    assert scns.wait_state(first, "COMPLETED", "FAILED")["state"] == "COMPLETED"
    later = scns.submit("--begin", "now+3seconds", "--wrap", "echo later")
    filler = os.path.join(small_home, "filler")
    fill(filler)
    # Once it may start, the job cannot (no room for its script): the daemon says so, or
    # stops heartbeating if even that cannot be written; either way health fails.
    wait_until(lambda: health(scns).returncode != 0, 30, 0.2, "health to notice the full disk")
    assert health(scns).stderr.count("\n") == 1
    watch_quietly(daemon.pid, daemon_log_path(scns, 0))
    os.unlink(filler)
    os.unlink(filler + ".small")
    info = scns.wait_state(later, "COMPLETED", "FAILED", timeout=30)
    assert info["state"] == "COMPLETED" and info["exit_code"] == 0
    wait_until(lambda: health(scns).returncode == 0, 20, 0.2, "health to recover")
    assert daemon.poll() is None


# ---- an unreachable PostgreSQL ---------------------------------------------------------------


def _admin_dsn(scns: Scns) -> tuple[str, str]:
    dsn = scns.env["SCNS_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
    base, name = dsn.rsplit("/", 1)
    return base + "/postgres", name


def _allow_connections(scns: Scns, allowed: bool) -> None:
    import psycopg

    admin, name = _admin_dsn(scns)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(allowed).lower()}")
        if not allowed:  # what an outage looks like to clients: every connection cut
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))  # fmt: skip


@pytest.mark.postgres
def test_unreachable_postgresql_few_log_lines_no_spin_and_recovery(pg_scns: Scns) -> None:
    scns = pg_scns
    daemon = scns.start_daemon("--node", "n1", "--cpus", "2", env=FAST)
    release = os.path.join(scns.workdir, "release")
    running = scns.submit("--wrap", f"while [ ! -e {release} ]; do sleep 0.05; done; echo ok")
    scns.wait_state(running, "RUNNING")
    _allow_connections(scns, False)
    try:
        # the job ends during the outage: its end cannot be recorded, and its pidfd stays
        # readable until it is; the daemon must neither spin nor flood its log
        open(release, "w").close()
        proc = health(scns)
        assert proc.returncode != 0 and proc.stderr.count("\n") == 1
        watch_quietly(daemon.pid, daemon_log_path(scns, 0), 2 * WINDOW_S)
    finally:
        _allow_connections(scns, True)
    done = scns.wait_state(running, "COMPLETED", "FAILED", timeout=30)
    assert done["state"] == "COMPLETED" and done["exit_code"] == 0
    after = scns.submit("--wrap", "echo after")
    assert scns.wait_state(after, "COMPLETED", "FAILED", timeout=30)["state"] == "COMPLETED"
    wait_until(lambda: health(scns).returncode == 0, 20, 0.2, "health to recover")
    assert daemon.poll() is None
    assert scns.sql("SELECT job_id, COUNT(*) FROM events WHERE kind = 'started'"
                    " GROUP BY job_id ORDER BY job_id") == [(running, 1), (after, 1)]  # fmt: skip


# ---- one daemon per node name ----------------------------------------------------------------


def test_second_daemon_with_the_same_node_name_refuses(any_backend: Scns) -> None:
    scns = any_backend
    first = scns.start_daemon("--node", "n1", "--cpus", "1", env=FAST)
    second = subprocess.run([*SCNS, "daemon", "--node", "n1", "--cpus", "1"],
                            capture_output=True, text=True, env={**scns.env, **FAST},
                            cwd=scns.workdir, timeout=60)  # fmt: skip
    assert second.returncode != 0
    assert second.stderr.count("\n") == 1, second.stderr
    assert "node n1" in second.stderr and f"pid {first.pid}" in second.stderr
    # the first one is untouched: its wake socket is there and it runs jobs
    assert os.path.exists(os.path.join(scns.home, "run", "wake", "n1.sock"))
    job = scns.submit("--wrap", "true")
    assert scns.wait_state(job, "COMPLETED", "FAILED")["state"] == "COMPLETED"
    # once it is gone, the name is free again
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=10) == 0
    scns.start_daemon("--node", "n1", "--cpus", "1", env=FAST)


def test_another_node_name_on_this_host_warns_when_cpus_add_up_beyond_the_machine(
    scns: Scns,
) -> None:
    machine = len(os.sched_getaffinity(0))
    scns.start_daemon("--node", "a", "--cpus", str(machine), env=FAST)
    scns.start_daemon("--node", "b", "--cpus", "1", env=FAST)
    warnings = [line for line in log_lines(daemon_log_path(scns, 1)) if "overcommit" in line]
    assert len(warnings) == 1
    assert "others=a" in warnings[0] and f"cpus={machine + 1}" in warnings[0]
    assert not any("overcommit" in line for line in log_lines(daemon_log_path(scns, 0)))


# ---- a clean stop ----------------------------------------------------------------------------


def test_clean_stop_takes_the_node_offline_at_once(any_backend: Scns) -> None:
    scns = any_backend
    slow = {**FAST, "SCNS_HEARTBEAT_TIMEOUT_S": "60"}  # only the stop may make it offline
    a = scns.start_daemon("--node", "a", "--cpus", "2", env=slow)
    scns.start_daemon("--node", "b", "--cpus", "1", env=slow)
    a.send_signal(signal.SIGTERM)
    assert a.wait(timeout=10) == 0
    nodes = {n["name"]: n for n in scns_info(scns)}
    assert (nodes["a"]["state"], nodes["a"]["reason"]) == ("down", "stopped")
    ok = scns.run("health", env=slow)
    assert "1 of 2" in ok.stdout
    jobs = [scns.submit("--wrap", "echo $SCNS_NODE") for _ in range(3)]
    for job in jobs:
        info = scns.wait_state(job, "COMPLETED", "FAILED")
        assert (info["state"], info["node"]) == ("COMPLETED", "b")
    scns.stop_daemons()
    proc = scns.run("health", check=False, env=slow)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    scns.start_daemon("--node", "a", "--cpus", "2", env=slow)
    nodes = {n["name"]: n for n in scns_info(scns)}
    assert nodes["a"]["state"] == "idle" and nodes["a"]["reason"] is None
    assert nodes["b"]["state"] == "down"


# ---- the lease of a dead predecessor ---------------------------------------------------------


def test_restarted_daemon_takes_its_dead_predecessors_lease_at_once(scns: Scns) -> None:
    env = {**FAST, "SCNS_LEADER_LEASE_S": "30", "SCNS_HEARTBEAT_TIMEOUT_S": "60"}
    first = scns.start_daemon("--node", "n1", "--cpus", "1", env=env)
    wait_until(lambda: "leader=True" in scns.daemon_log(), 20, 0.05, "leadership")
    first.send_signal(signal.SIGKILL)
    first.wait()
    restarted_at = time.monotonic()
    scns.start_daemon("--node", "n1", "--cpus", "1", env=env)
    job = scns.submit("--wrap", "true")
    # it does not wait for the 30 s lease: the job runs well within 10 s of the restart
    scns.wait_state(job, "RUNNING", "COMPLETED", timeout=10)
    assert time.monotonic() - restarted_at < 10
    assert "lease_taken_over" in scns.daemon_log()


def test_a_directory_planted_at_a_status_path_is_survived_and_recovered_from(scns: Scns) -> None:
    daemon = scns.start_daemon("--node", "n1", "--cpus", "2", env=FAST)
    gate = os.path.join(scns.workdir, "gate")
    job = scns.submit("--wrap", f"while [ ! -e {gate} ]; do sleep 0.05; done")
    scns.wait_state(job, "RUNNING")
    status = os.path.join(scns.home, "run", "status", "n1", str(job))
    os.mkdir(status)
    open(gate, "w").close()

    def settled() -> str | None:
        if scns.state(job) in ("COMPLETED", "FAILED"):
            return "ended"
        proc = health(scns)
        return "reported" if "step reap failing" in proc.stderr else None

    # Where reading the record fails, reaping keeps failing: reported, backing off, quiet.
    if wait_until(settled, 20, 0.2, "the job to end or its reaping to be reported") == "reported":
        assert health(scns).stderr.count("\n") == 1
        watch_quietly(daemon.pid, daemon_log_path(scns, 0))
        os.rmdir(status)  # the obstacle goes: the job is reaped without a restart
    scns.wait_state(job, "COMPLETED", "FAILED")
    after = scns.submit("--wrap", "true")
    assert scns.wait_state(after, "COMPLETED", "FAILED")["state"] == "COMPLETED"
    wait_until(lambda: health(scns).returncode == 0, 20, 0.2, "health to recover")
