"""A daemon is disposable: kill it, stop it, lose a node; jobs and their results survive.

Each test runs on SQLite and on PostgreSQL + Redis, with real daemons and job processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

from tests.conftest import Scns, wait_until

FAST = {"SCNS_HEARTBEAT_INTERVAL_S": "0.5", "SCNS_HEARTBEAT_TIMEOUT_S": "3",
        "SCNS_LEADER_LEASE_S": "2", "SCNS_POLL_INTERVAL_S": "1"}  # fmt: skip


def marker(scns: Scns, name: str) -> str:
    return os.path.join(scns.workdir, name)


def allocated_cpus(scns: Scns) -> int:
    nodes = json.loads(scns.run("info", "--json").stdout)
    return sum(n["allocated_cpus"] for n in nodes)


def starts(scns: Scns) -> dict[int, int]:
    return dict(scns.sql("SELECT job_id, COUNT(*) FROM events WHERE kind = 'started' "
                         "GROUP BY job_id"))  # fmt: skip


def test_sigkill_daemons_jobs_survive_with_their_true_exit_status(any_backend: Scns) -> None:
    scns = any_backend
    # a restart, not a node failure: the heartbeat timeout must outlast the downtime
    env = {**FAST, "SCNS_HEARTBEAT_TIMEOUT_S": "60"}
    a = scns.start_daemon("--node", "a", "--cpus", "2", env=env)
    b = scns.start_daemon("--node", "b", "--cpus", "2", env=env)
    go = marker(scns, "go")
    wait_go = f"while [ ! -e {go} ]; do sleep 0.05; done"
    ok = scns.submit("--wrap", f"{wait_go}; touch {marker(scns, 'ok')}")
    three = scns.submit("--wrap", f"{wait_go}; touch {marker(scns, 'three')}; exit 3")
    killed = scns.submit("--wrap", f"{wait_go}; touch {marker(scns, 'sig')}; kill -TERM $$")
    longer = scns.submit("--wrap", f"{wait_go}; sleep 2; touch {marker(scns, 'long')}")
    ids = [ok, three, killed, longer]
    wait_until(lambda: all(scns.state(i) == "RUNNING" for i in ids), 30, 0.1, "4 jobs running")
    for daemon in (a, b):
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
    open(go, "w").close()
    for name in ("ok", "three", "sig"):
        wait_until(lambda n=name: os.path.exists(marker(scns, n)), 20, 0.05, f"{name} to end")
    assert all(scns.state(i) == "RUNNING" for i in ids)  # nobody has recorded anything yet
    scns.start_daemon("--node", "a", "--cpus", "2", env=env)
    scns.start_daemon("--node", "b", "--cpus", "2", env=env)
    results = {i: scns.wait_state(i, "COMPLETED", "FAILED", timeout=30) for i in ids}
    assert (results[ok]["state"], results[ok]["exit_code"]) == ("COMPLETED", 0)
    assert (results[three]["state"], results[three]["exit_code"]) == ("FAILED", 3)
    assert (results[killed]["state"], results[killed]["signal"]) == ("FAILED", signal.SIGTERM)
    assert results[killed]["exit_code"] is None
    assert (results[longer]["state"], results[longer]["exit_code"]) == ("COMPLETED", 0)
    assert os.path.exists(marker(scns, "long"))
    assert starts(scns) == {i: 1 for i in ids}
    assert allocated_cpus(scns) == 0


def test_sigterm_daemon_exits_quickly_and_running_jobs_finish(any_backend: Scns) -> None:
    scns = any_backend
    daemon = scns.start_daemon("--node", "a", "--cpus", "2", env=FAST)
    release = marker(scns, "release")
    job = scns.submit("--wrap", f"while [ ! -e {release} ]; do sleep 0.05; done; echo done")
    info = scns.wait_state(job, "RUNNING")
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=5) == 0
    pid = scns.sql("SELECT pid FROM jobs WHERE id = ?", (job,))[0][0]
    os.kill(pid, 0)  # the job's wrapper is still alive without its daemon
    open(release, "w").close()
    scns.start_daemon("--node", "a", "--cpus", "2", env=FAST)
    done = scns.wait_state(job, "COMPLETED", "FAILED")
    assert done["state"] == "COMPLETED" and done["exit_code"] == 0
    with open(info["stdout_path"]) as handle:
        assert handle.read() == "done\n"
    assert starts(scns) == {job: 1}


def _kill_node(daemon: subprocess.Popen, scns: Scns, job_ids: list[int]) -> None:
    """A node failure: its daemon and its jobs all die at once."""
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    for (pid,) in scns.sql(f"SELECT pid FROM jobs WHERE id IN ({','.join('?' * len(job_ids))})",
                           tuple(job_ids)):  # fmt: skip
        os.killpg(pid, signal.SIGKILL)


def test_heartbeat_timeout_node_fail_or_requeue_and_cpus_freed(any_backend: Scns) -> None:
    scns = any_backend
    b = scns.start_daemon("--node", "b", "--cpus", "2", env=FAST)
    failing = scns.submit("--wrap", "sleep 60")
    requeued = scns.submit("--requeue", "--wrap", f"echo $SCNS_NODE >> {marker(scns, 'ran')}; "
                           "sleep 60")  # fmt: skip
    wait_until(lambda: all(scns.state(i) == "RUNNING" for i in (failing, requeued)), 30, 0.1)
    scns.start_daemon("--node", "a", "--cpus", "1", env=FAST)
    _kill_node(b, scns, [failing, requeued])
    info = scns.wait_state(failing, "NODE_FAIL", timeout=30)
    assert info["reason"] and "node" in info["reason"]
    again = scns.wait_state(requeued, "RUNNING", timeout=30)
    assert again["node"] == "a"
    with open(marker(scns, "ran")) as handle:
        assert handle.read().split() == ["b", "a"]
    nodes = {n["name"]: n for n in json.loads(scns.run("info", "--json").stdout)}
    assert nodes["b"]["state"] == "down" and nodes["b"]["allocated_cpus"] == 0
    scns.run("cancel", str(requeued))
    scns.wait_state(requeued, "CANCELLED")
    assert allocated_cpus(scns) == 0


def test_returning_node_kills_what_the_cluster_gave_up_on(any_backend: Scns) -> None:
    scns = any_backend
    b = scns.start_daemon("--node", "b", "--cpus", "1", env=FAST)
    job = scns.submit("--wrap", "sleep 120")
    scns.wait_state(job, "RUNNING")
    pid = scns.sql("SELECT pid FROM jobs WHERE id = ?", (job,))[0][0]
    b.send_signal(signal.SIGSTOP)  # the node stops answering, its job keeps running
    try:
        scns.start_daemon("--node", "a", "--cpus", "1", env=FAST)
        scns.wait_state(job, "NODE_FAIL", timeout=30)
    finally:
        b.send_signal(signal.SIGCONT)
    # back: it re-registers, sees its job was given up on, and kills the orphan
    wait_until(lambda: _gone(pid), 30, 0.1, "the orphaned job to be killed")
    assert scns.state(job) == "NODE_FAIL"


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().split(b") ")[1][:1] in (b"Z", b"X")
    except OSError:
        return True


def test_memory_limit_ends_out_of_memory(any_backend: Scns) -> None:
    scns = any_backend
    scns.start_daemon("--node", "a", "--cpus", "1", "--mem", "2G", env=FAST)
    # the job holds 400 MiB until something kills it: only the memory watcher will
    grab = "python3 -c 'import signal; x = bytearray(400 * 2**20); signal.pause()'"
    hog = scns.submit("--mem", "64M", "--wrap", grab)
    info = scns.wait_state(hog, "OUT_OF_MEMORY", "FAILED", "COMPLETED", timeout=30)
    assert info["state"] == "OUT_OF_MEMORY"
    assert info["signal"] == signal.SIGKILL
    small = scns.submit("--mem", "64M", "--wrap", "python3 -c 'x = bytearray(8 * 2**20)'")
    assert scns.wait_state(small, "COMPLETED", "FAILED", "OUT_OF_MEMORY")["state"] == "COMPLETED"
    refused = scns.run("submit", "--mem", "3G", "--wrap", "true", check=False)
    assert refused.returncode != 0 and "memory" in refused.stderr
    assert allocated_cpus(scns) == 0


def test_health_reflects_daemon_heartbeats(any_backend: Scns) -> None:
    scns = any_backend
    down = scns.run("health", check=False)
    assert down.returncode != 0 and down.stderr.count("\n") == 1
    daemon = scns.start_daemon("--node", "a", "--cpus", "1", env=FAST)
    up = scns.run("health", env=FAST)
    assert up.returncode == 0 and "1 of 1" in up.stdout
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()

    def unhealthy() -> bool:
        proc = scns.run("health", check=False, env=FAST)
        return proc.returncode != 0 and "fresh" in proc.stderr

    wait_until(unhealthy, 20, 0.2, "health to notice the dead daemon")
