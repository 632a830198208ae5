"""``squeue`` and ``sacct`` as Slurm's clients call them, against a real daemon (both backends).

Each status query here is the exact command line a client sends (see shared/slurm-clients.md):
Nextflow's and Parsl's squeue, Snakemake's, submitit's and Parsl's sacct, Snakemake's account
probe.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import re
import subprocess

import pytest

from tests.conftest import Scns

HEADER = "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)"
SACCT_HEADER = (
    "JobID           JobName  Partition    Account  AllocCPUS      State ExitCode \n"
    "------------ ---------- ---------- ---------- ---------- ---------- -------- \n"
)


@pytest.fixture
def slurm(cluster: Scns) -> Scns:
    """The cluster with Slurm's command names first on PATH."""
    path = cluster.run("compat", "path").stdout.strip().splitlines()[-1]
    cluster.env["PATH"] = f"{path}:{cluster.env.get('PATH', '/usr/bin:/bin')}"
    return cluster


def run(scns: Scns, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, env=scns.env,
                          cwd=scns.workdir, timeout=60)  # fmt: skip


def ok(scns: Scns, *argv: str) -> str:
    """Stdout of a command that must succeed without a word on stderr."""
    proc = run(scns, *argv)
    assert (proc.returncode, proc.stderr) == (0, ""), f"{argv}: {proc.stderr}"
    return proc.stdout


def finished(scns: Scns, *args: str, state: str) -> int:
    job_id = scns.submit(*args)
    scns.wait_state(job_id, state, "COMPLETED", "FAILED", "CANCELLED")
    assert scns.state(job_id) == state
    return job_id


def test_squeue_shows_the_queue_as_slurm_does(slurm: Scns) -> None:
    user = pwd.getpwuid(os.getuid()).pw_name
    done = finished(slurm, "-J", "done", "--wrap", "true", state="COMPLETED")
    bad = finished(slurm, "-J", "bad", "--wrap", "exit 3", state="FAILED")
    held = slurm.submit("-H", "-J", "held", "--wrap", "sleep 300")
    running = slurm.submit("-J", "runner", "--wrap", "sleep 300")
    slurm.wait_state(running, "RUNNING")
    array = slurm.submit("-H", "-J", "arr", "-a", "0-3%2", "--wrap", "sleep 300")

    lines = ok(slurm, "squeue").splitlines()
    assert lines[0] == HEADER
    assert lines[1:3] == [
        f"{held:>18}      scns     held {user[:8]:>8} PD       0:00      1 (JobHeldUser)",
        f"{f'{array}_[0-3%2]':>18}      scns      arr {user[:8]:>8} PD       0:00      1"
        " (JobHeldUser)",
    ]
    runner = f"{running:>18}      scns   runner {user[:8]:>8}  R "
    assert lines[3].startswith(runner) and len(lines) == 4
    assert re.fullmatch(r" *[0-9]+:[0-9]{2}      1 n1", lines[3][len(runner) :])

    everything = ok(slurm, "squeue", "-t", "all", "-h", "-o", "%i %t %T %j %D %C %R %P %N")
    assert f"{done} CD COMPLETED done 1 1 n1 scns n1" in everything.splitlines()
    assert f"{bad} F FAILED bad 1 1 (NonZeroExitCode) scns n1" in everything.splitlines()

    nextflow = ok(slurm, "squeue", "--noheader", "-o", "%i %t", "-t", "all", "-u", user)
    assert nextflow.splitlines() == [f"{done} CD", f"{bad} F", f"{held} PD",
                                     f"{array}_[0-3%2] PD", f"{running} R"]  # fmt: skip
    parsl = ok(slurm, "squeue", "--noheader", "--format=%i %t", "--job", f"{held},{done},{running}")
    assert parsl.splitlines() == [f"{held} PD", f"{running} R"]  # missing: Parsl's "completed"

    assert ok(slurm, "squeue", "-j", str(done)) == HEADER + "\n"  # finished: header only
    unknown = run(slurm, "squeue", "-j", "987654")
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr == "slurm_load_jobs error: Invalid job id specified\n"
    bad_option = run(slurm, "squeue", "--states=bogus")
    assert (bad_option.returncode, bad_option.stdout) == (1, "")
    assert bad_option.stderr == "squeue: error: Invalid job state specified: bogus\n"
    slurm.run("cancel", str(held), str(running), str(array))


def test_sacct_reports_what_clients_poll(slurm: Scns) -> None:
    user = pwd.getpwuid(os.getuid()).pw_name
    today = dt.datetime.now().strftime("%Y-%m-%d")
    ok_run = finished(slurm, "-J", "snk-run", "--wrap", "true", state="COMPLETED")
    failed = finished(slurm, "-J", "snk-run", "--wrap", "exit 3", state="FAILED")
    cancelled = slurm.submit("-J", "victim", "--wrap", "sleep 300")
    slurm.wait_state(cancelled, "RUNNING")
    slurm.run("cancel", str(cancelled))
    slurm.wait_state(cancelled, "CANCELLED")
    array = slurm.submit("-H", "-J", "arr", "-a", "1-3%4", "--wrap", "sleep 300")

    snakemake = ok(slurm, "sacct", "-X", "--parsable2", "--clusters", "all", "--noheader",
                   "--format=JobIdRaw,State", "--starttime", f"{today}T00:00", "--endtime",
                   "now", "--name", "snk-run")  # fmt: skip
    assert snakemake == f"{ok_run}|COMPLETED\n{failed}|FAILED\n"

    submitit = ok(slurm, "sacct", "-o", "JobID,State,NodeList", "--parsable2", "-j", str(failed),
                  "-j", f"{cancelled},{array}")  # fmt: skip
    assert submitit.splitlines() == [
        "JobID|State|NodeList",
        f"{failed}|FAILED|n1",
        f"{cancelled}|CANCELLED|n1",
        f"{array}_[1-3%4]|PENDING|None assigned",
    ]
    parsl = ok(slurm, "sacct", "-X", "--noheader", "--format=jobid,state%20", "--job",
               f"{ok_run},{cancelled}")  # fmt: skip
    assert [line.split() for line in parsl.splitlines()] == [
        [str(ok_run), "COMPLETED"],
        [str(cancelled), "CANCELLED"],
    ]
    exit_code = ok(slurm, "sacct", "-j", str(failed), "-P", "-n", "-o", "State,ExitCode")
    assert exit_code == "FAILED|3:0\n"
    signal = ok(slurm, "sacct", "-j", str(cancelled), "-P", "-n", "-o", "ExitCode,Start,End")
    code, start, end = signal.strip().split("|")
    assert code == f"0:{slurm.query(cancelled)['signal']}" and code != "0:0"
    assert start.startswith(today) and end.startswith(today)

    assert ok(slurm, "sacct", "-j", "987654") == SACCT_HEADER  # unknown: header only
    assert ok(slurm, "sacct", "-nu", user, "-o", "Account%256") == ""  # Snakemake's probe
    mine = ok(slurm, "sacct", "-n", "-P", "-o", "JobID,User,Partition,AllocCPUS")
    assert f"{ok_run}|{user}|scns|1" in mine.splitlines()  # no -j: today's jobs, the caller's
    bad_field = run(slurm, "sacct", "--format=JobID,Nonsense")
    assert (bad_field.returncode, bad_field.stdout) == (1, "")
    assert bad_field.stderr == 'sacct: error: Invalid field requested: "Nonsense"\n'
    slurm.run("cancel", str(array))
