"""A stale node can never act on a job it no longer holds (PostgreSQL, two daemons).

Node n1 freezes inside its launch window (its wrapper spawned, RUNNING not yet recorded:
the test-only pause point stops the daemon there, as a SIGSTOP, a long GC or a VM pause
would), is declared down, the job is requeued and runs on n2; when n1 resumes, its guarded
start finds the allocation gone and the job never runs twice.
"""

from __future__ import annotations

import os
import signal

from tests.conftest import Scns, wait_until

CLUSTER_ENV = {"SCNS_HEARTBEAT_TIMEOUT_S": "3", "SCNS_POLL_INTERVAL_S": "1"}


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        data = handle.read()
    return data[data.rindex(b")") + 2 :].split()[0] == b"T"


def test_a_node_frozen_mid_launch_does_not_start_a_moved_job(pg_scns: Scns) -> None:
    scns = pg_scns
    scns.env.update(CLUSTER_ENV)
    pause = {"SCNS_TEST_STOP_BEFORE_RUNNING": "1"}
    frozen = scns.start_daemon("--cpus", "1", "--node", "n1", env=pause)
    ran = os.path.join(scns.workdir, "ran.txt")
    job = scns.submit("-o", "/dev/null", "--wrap", f'echo "$SLURMD_NODENAME" >> {ran}')
    wait_until(lambda: _stopped(frozen.pid), 30, 0.05, "n1 to freeze inside its launch")
    # n2 declares n1 down, gets the requeued job and freezes in the same window: the job is
    # CONFIGURING on n2 when n1 wakes up, the moment an unfenced start would win
    other = scns.start_daemon("--cpus", "1", "--node", "n2", env=pause)
    try:
        wait_until(lambda: _stopped(other.pid), 60, 0.05, "n2 to freeze inside its launch")
        assert scns.sql("SELECT state, node FROM jobs WHERE id = ?", (job,)) == [
            ("CONFIGURING", "n2")
        ]
        os.kill(frozen.pid, signal.SIGCONT)
        wait_until(lambda: "job_start_lost" in scns.daemon_log(), 30, 0.1, "n1 to lose it")
        assert scns.sql("SELECT state, node FROM jobs WHERE id = ?", (job,)) == [
            ("CONFIGURING", "n2")
        ]
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
        os.kill(other.pid, signal.SIGCONT)
    final = scns.wait_state(job, "COMPLETED", "FAILED", timeout=60)
    assert (final["state"], final["node"], final["exit_code"]) == ("COMPLETED", "n2", 0)
    with open(ran) as handle:
        assert handle.read().split() == ["n2"]  # ran once, where the database says


def test_real_sigstops_never_run_a_job_twice_or_on_a_node_the_database_does_not_name(
    pg_scns: Scns,
) -> None:
    """Two nodes; n1 is frozen with real SIGSTOPs (longer than the heartbeat timeout) while
    jobs flow. Whatever n1 was doing when it froze, every job that completes ran exactly
    once, on the node its row names."""
    scns = pg_scns
    scns.env.update(CLUSTER_ENV)
    n1 = scns.start_daemon("--cpus", "1", "--node", "n1")
    scns.start_daemon("--cpus", "1", "--node", "n2")
    ran = os.path.join(scns.workdir, "ran")
    os.makedirs(ran)
    jobs = [scns.submit("-o", "/dev/null", "--requeue", "--wrap",
                        f'echo "$SLURMD_NODENAME" >> {ran}/$SLURM_JOB_ID; sleep 0.3')
            for _ in range(12)]  # fmt: skip
    for _round in range(2):
        os.kill(n1.pid, signal.SIGSTOP)
        wait_until(lambda: _stopped(n1.pid), 10, 0.01, "n1 to stop")
        wait_until(lambda: any(n == "n1" and s == "DOWN" for n, s in scns.sql(
            "SELECT name, state FROM nodes")), 30, 0.1, "n1 to be declared down")  # fmt: skip
        os.kill(n1.pid, signal.SIGCONT)
        wait_until(lambda: any(n == "n1" and s == "UP" for n, s in scns.sql(
            "SELECT name, state FROM nodes")), 30, 0.1, "n1 to come back")  # fmt: skip

    def finished() -> bool:
        states = {s for (s,) in scns.sql("SELECT state FROM jobs")}
        return not states & {"PENDING", "CONFIGURING", "RUNNING"}

    wait_until(finished, 120, 0.2, "every job to end")
    for job in jobs:
        state, node = scns.sql("SELECT state, node FROM jobs WHERE id = ?", (job,))[0]
        if state != "COMPLETED":
            continue
        with open(os.path.join(ran, str(job))) as handle:
            lines = handle.read().split()
        assert lines[-1] == node, (job, lines, node)  # its last run is where the row says
        starts = scns.sql("SELECT COUNT(*) FROM events WHERE job_id = ? AND kind = 'started'",
                          (job,))[0][0]  # fmt: skip
        assert len(lines) <= starts, (job, lines, starts)  # no run the database did not record
