"""Job control end to end (issue 13): requeue, cancel -s SIGNAL, cancel by filters as scancel
does, one line per array, and a running job's time limit changed by ``scns update``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import Scns, wait_until
from tests.e2e.system import System, make_system, remove_system
from tests.e2e.test_system_mode import people  # noqa: F401 - the module's throwaway users


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def _restarts(scns: Scns, job: int) -> int:
    return scns.sql("SELECT restarts FROM jobs WHERE id = ?", (job,))[0][0]


# ---- requeue -------------------------------------------------------------------------------


def test_requeue_runs_a_job_again_with_its_restart_count(cluster: Scns) -> None:
    out = os.path.join(cluster.workdir, "restarts.out")
    body = 'echo "restart=$SLURM_RESTART_COUNT"; [ "$SLURM_RESTART_COUNT" = 1 ] || sleep 300'
    job = cluster.submit("--open-mode", "append", "-o", out, "--wrap", body)
    wait_until(lambda: "restart=0" in _read(out), 30, 0.05, "the first run")
    assert cluster.state(job) == "RUNNING"
    proc = cluster.run("requeue", str(job))  # a running job: ended, then queued again
    assert proc.stdout == f"scns requeue: job {job} requeued\n"
    assert cluster.wait_state(job, "COMPLETED")["exit_code"] == 0
    assert _read(out) == "restart=0\nrestart=1\n" and _restarts(cluster, job) == 1
    cluster.run("requeue", str(job))  # a finished job runs again under the same id
    wait_until(lambda: _read(out).count("\n") == 3, 30, 0.05, "the third run")
    assert _read(out).splitlines()[-1] == "restart=2"
    waiting = cluster.submit("-H", "--wrap", "true")
    proc = cluster.run("requeue", str(waiting), check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"scns requeue: job {waiting} is PENDING: nothing to requeue\n"
    cluster.wait_state(job, "RUNNING", "COMPLETED")
    cluster.run("cancel", str(job), str(waiting))


# ---- cancel -s -----------------------------------------------------------------------------


def test_cancel_signal_reaches_a_running_job_and_cancels_nothing(cluster: Scns) -> None:
    flag = os.path.join(cluster.workdir, "usr1.flag")
    ready = os.path.join(cluster.workdir, "ready.flag")
    script = os.path.join(cluster.workdir, "trap.sh")
    with open(script, "w") as handle:
        handle.write(f"#!/bin/sh\ntrap 'echo got > {flag}' USR1\ntouch {ready}\n"
                     "while :; do sleep 0.1; done\n")  # fmt: skip
    job = cluster.submit(script)
    wait_until(lambda: os.path.exists(ready), 30, 0.05, "the job to set its trap")
    proc = cluster.run("cancel", "-s", "USR1", str(job))
    assert proc.stdout == f"scns cancel: job {job} sent SIGUSR1\n"
    wait_until(lambda: _read(flag) == "got\n", 30, 0.05, "the trap to run")
    assert cluster.state(job) == "RUNNING"
    waiting = cluster.submit("-H", "--wrap", "true")
    proc = cluster.run("cancel", "--signal", "usr1", str(waiting), check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"scns cancel: job {waiting} is not running: no signal sent\n"
    proc = cluster.run("cancel", "-s", "NOPE", str(job), check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "NOPE" in proc.stderr
    cluster.run("cancel", str(job), str(waiting))
    assert cluster.wait_state(job, "CANCELLED")["state"] == "CANCELLED"


# ---- cancel by filters ---------------------------------------------------------------------


def _live(scns: Scns) -> set[str]:
    return {j["display_id"] for j in scns.queue()}


def test_cancel_filters_combine_as_scancel(any_backend: Scns) -> None:
    scns = any_backend
    a = scns.submit("-H", "-J", "alpha", "--wrap", "true")
    b = scns.submit("-H", "-J", "beta", "--wrap", "true")
    sweep = scns.submit("-H", "-J", "alpha", "-a", "0-4", "--wrap", "true")
    proc = scns.run("cancel", "-n", "alpha", "-t", "RUNNING")  # both must hold: none does
    assert (proc.stdout, proc.stderr) == ("", "scns cancel: no job matches\n")
    assert scns.run("cancel", "-u", "nosuchuser").stdout == ""
    proc = scns.run("cancel", "-n", "alpha", "-t", "PD", "--me")
    assert proc.stdout.splitlines() == [
        f"scns cancel: job {a} cancelled",
        f"scns cancel: job {sweep} cancelled (5 tasks)",
    ]
    assert _live(scns) == {str(b)}
    c = scns.submit("-H", "-J", "gamma", "--wrap", "true")
    proc = scns.run("cancel", str(b), str(c), "-n", "gamma,delta")  # ids narrowed by the filter
    assert proc.stdout == f"scns cancel: job {c} cancelled\n"
    assert _live(scns) == {str(b)}
    assert scns.run("cancel", "-u", "root,nobody").stdout == f"scns cancel: job {b} cancelled\n"
    assert _live(scns) == set()


def test_cancelling_an_array_is_one_line(cluster: Scns) -> None:
    array = cluster.submit("-a", "0-9", "--wrap", "sleep 300")
    wait_until(lambda: sum(j["state"] == "RUNNING" for j in cluster.queue()) == 2, 30, 0.05,
               "two tasks to run")  # fmt: skip
    proc = cluster.run("cancel", str(array))
    assert proc.stdout == f"scns cancel: job {array} is being cancelled (10 tasks)\n"
    wait_until(lambda: not cluster.queue(), 30, 0.05, "every task to end")
    states = {j["state"] for j in cluster.queue("--all")}
    assert states == {"CANCELLED"}


# ---- update --time on a running job ----------------------------------------------------------


def test_update_extends_and_shortens_a_running_jobs_limit(cluster: Scns) -> None:
    longer = cluster.submit("-t", "0:05", "--wrap", "sleep 8")
    shorter = cluster.submit("-t", "10:00", "--wrap", "sleep 300")
    cluster.wait_state(longer, "RUNNING")
    cluster.wait_state(shorter, "RUNNING")
    assert cluster.run("update", str(longer), "--time", "1:00").stdout == (
        f"scns update: job {longer} updated\n")  # fmt: skip
    cluster.run("update", str(shorter), "-t", "0:01")
    assert cluster.wait_state(shorter, "TIMEOUT", "COMPLETED")["state"] == "TIMEOUT"
    info = cluster.wait_state(longer, "COMPLETED", "TIMEOUT", timeout=60)
    assert info["state"] == "COMPLETED" and info["run_time_s"] > 5  # past its old limit
    assert info["time_limit"] == 60
    proc = cluster.run("update", str(longer), "-t", "5", check=False)
    assert proc.returncode == 1 and "only pending and running jobs" in proc.stderr


def test_help_has_an_example(scns: Scns) -> None:
    for command in ("requeue", "cancel", "update"):
        assert "Example:" in scns.run(command, "--help").stdout, command


# ---- several users -------------------------------------------------------------------------


@pytest.fixture
def one_daemon(people) -> Iterator[System]:  # noqa: F811
    """A system daemon on SQLite: the rights live in the service, the same on every backend."""
    system = make_system({}, ["n1"], operators=f"@{people.ops}")
    try:
        system.start()
        yield system
    finally:
        remove_system(system)


def test_system_mode_rights(one_daemon: System, people) -> None:  # noqa: F811
    system, alice, bob, carol = one_daemon, people.alice, people.bob, people.carol
    job = system.submit(alice, "-t", "5:00", "-J", "mine", "-o", "mine.out", "--wrap",
                        "echo hello; sleep 300")  # fmt: skip
    system.wait_state(alice, job, "RUNNING")
    # the owner shortens, only an operator extends
    system.cli(alice, "update", str(job), "--time", "4:00", check=True)
    proc = system.cli(alice, "update", str(job), "--time", "9:00")
    assert proc.returncode == 1 and "only operators may extend" in proc.stderr
    system.cli(carol, "update", str(job), "--time", "9:00", check=True)
    assert system.query(alice, job)["time_limit"] == 540
    # another user's output is private; the owner reads it
    wait_until(lambda: system.cli(alice, "log", str(job)).stdout == "hello\n", 30, 0.05,
               "the job's output")  # fmt: skip
    proc = system.cli(bob, "log", str(job))
    assert proc.returncode == 1
    assert proc.stderr == f"scns log: error: job {job} is not yours: its output is private\n"
    # filters select the caller's own jobs; naming someone else's is refused
    theirs = system.submit(bob, "-H", "-J", "mine", "--wrap", "true")
    proc = system.cli(alice, "cancel", "-u", bob.name)
    assert proc.returncode == 1 and f"job {theirs} is not yours" in proc.stderr
    proc = system.cli(bob, "cancel", "-n", "mine")
    assert proc.stdout == f"scns cancel: job {theirs} cancelled\n"
    assert system.query(alice, job)["state"] == "RUNNING"
    # --test-only through the socket: a read-only forecast, nothing stored
    before = system.sql("SELECT COUNT(*) FROM jobs")
    proc = system.cli(alice, "submit", "--test-only", "--cpus", "2", "--wrap", "true")
    assert proc.returncode == 0, proc.stderr
    assert " on n1 using 2 CPUs" in proc.stdout
    assert system.sql("SELECT COUNT(*) FROM jobs") == before
    system.cli(alice, "cancel", "--me", check=True)
    assert system.wait_state(alice, job, "CANCELLED")["state"] == "CANCELLED"
