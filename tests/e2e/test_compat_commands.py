"""``scancel``, ``scontrol``, ``sinfo`` and ``srun`` as Slurm's clients drive them, against
real daemons (both backends), through ``scns compat path``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from tests.conftest import Scns, wait_until

ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT")


@pytest.fixture
def slurm(cluster: Scns) -> Scns:
    """The cluster with Slurm's command names first on PATH (jobs inherit it)."""
    path = cluster.run("compat", "path").stdout.strip().splitlines()[-1]
    cluster.env["PATH"] = f"{path}:{cluster.env.get('PATH', '/usr/bin:/bin')}"
    return cluster


def cmd(scns: Scns, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, cwd=scns.workdir,
                          env={**scns.env, **(env or {})}, timeout=120)  # fmt: skip


def ok(scns: Scns, *argv: str) -> str:
    proc = cmd(scns, *argv)
    assert proc.returncode == 0, f"{argv} failed ({proc.returncode}): {proc.stderr}"
    return proc.stdout


def sbatch(scns: Scns, *args: str) -> int:
    return int(ok(scns, "sbatch", "--parsable", *args).strip())


def read(scns: Scns, name: str) -> str:
    with open(os.path.join(scns.workdir, name)) as handle:
        return handle.read()


def lines_in(scns: Scns, name: str) -> int:
    path = os.path.join(scns.workdir, name)
    return read(scns, name).count("\n") if os.path.exists(path) else 0


# ---- scancel --------------------------------------------------------------------------------


def test_scancel_pending_running_finished_and_unknown_ids(slurm: Scns) -> None:
    running = sbatch(slurm, "--wrap", "sleep 60")
    pending = sbatch(slurm, "-H", "--wrap", "true")
    finished = sbatch(slurm, "--wrap", "true")
    slurm.wait_state(running, "RUNNING")
    slurm.wait_state(finished, "COMPLETED")
    proc = cmd(slurm, "scancel", str(running), f"{pending},{finished}", "99999", "99998_3")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert slurm.wait_state(running, *ENDED)["state"] == "CANCELLED"
    assert slurm.wait_state(pending, *ENDED)["state"] == "CANCELLED"
    assert slurm.query(finished)["state"] == "COMPLETED"
    bad = cmd(slurm, "scancel", "abc")
    assert bad.returncode == 1 and bad.stderr == "scancel: error: Invalid job id abc\n"
    none = cmd(slurm, "scancel")
    assert none.returncode == 1 and "No job identification provided" in none.stderr


def test_scancel_signal_reaches_a_running_job_and_spares_a_pending_one(slurm: Scns) -> None:
    trap = "trap 'echo got-usr1 > usr1.txt; exit 0' USR1; while :; do sleep 0.1; done"
    running = sbatch(slurm, "--wrap", trap)
    pending = sbatch(slurm, "-H", "--wrap", trap)
    slurm.wait_state(running, "RUNNING")
    proc = cmd(slurm, "scancel", "-s", "USR1", str(running), str(pending))
    assert (proc.returncode, proc.stderr) == (0, "")
    info = slurm.wait_state(running, *ENDED)
    assert info["state"] == "COMPLETED" and read(slurm, "usr1.txt") == "got-usr1\n"
    assert slurm.query(pending)["state"] == "PENDING"
    ok(slurm, "scancel", "--signal=KILL", str(pending))  # KILL is a cancel, as in Slurm
    assert slurm.wait_state(pending, *ENDED)["state"] == "CANCELLED"


def test_scancel_filters(slurm: Scns) -> None:
    first = sbatch(slurm, "-H", "-J", "alpha", "--wrap", "true")
    second = sbatch(slurm, "-H", "-J", "beta", "--wrap", "true")
    third = sbatch(slurm, "-H", "-J", "beta", "--wrap", "true")
    running = sbatch(slurm, "-J", "beta", "--wrap", "sleep 60")
    slurm.wait_state(running, "RUNNING")
    ok(slurm, "scancel", "-n", "alpha")
    assert slurm.wait_state(first, *ENDED)["state"] == "CANCELLED"
    assert slurm.query(second)["state"] == "PENDING"
    user = slurm.query(second)["user"]
    ok(slurm, "scancel", "-u", user, "--state=PD", "--name=beta", str(second))
    assert slurm.wait_state(second, *ENDED)["state"] == "CANCELLED"
    assert slurm.query(third)["state"] == "PENDING"
    assert slurm.query(running)["state"] == "RUNNING"
    ok(slurm, "scancel", "--me", "-t", "PENDING")
    assert slurm.wait_state(third, *ENDED)["state"] == "CANCELLED"
    assert slurm.query(running)["state"] == "RUNNING"
    ok(slurm, "scancel", "--me")
    assert slurm.wait_state(running, *ENDED)["state"] == "CANCELLED"
    refused = cmd(slurm, "scancel", "-A", "acct", str(running))
    assert refused.returncode == 1
    assert refused.stderr == "scancel: error: -A/--account is not supported by scns\n"


# ---- scontrol -------------------------------------------------------------------------------


def test_scontrol_show_job_of_an_array_task_and_of_unknown_ids(slurm: Scns) -> None:
    array = sbatch(slurm, "-a", "0-1", "-J", "arr", "--wrap", "true")
    slurm.wait_state(f"{array}_1", *ENDED)
    task = slurm.query(f"{array}_1")["id"]
    text = ok(slurm, "scontrol", "show", "job", f"{array}_1")
    assert text.startswith(f"JobId={task} ArrayJobId={array} ArrayTaskId=1 JobName=arr\n")
    assert "   JobState=COMPLETED Reason=None Dependency=(null)\n" in text
    assert " ExitCode=0:0\n" in text and "   Partition=scns\n" in text
    assert f"   StdOut={slurm.workdir}/slurm-{array}_1.out\n" in text
    assert text.endswith("\n\n")
    whole = ok(slurm, "scontrol", "-o", "show", "job", str(array))
    assert whole.count("\n") == 2 and f"ArrayJobId={array} ArrayTaskId=0 " in whole
    plain = sbatch(slurm, "--wrap", "exit 3")
    slurm.wait_state(plain, *ENDED)
    one = ok(slurm, "scontrol", "show", "jobid", str(plain), "-o")
    assert one.startswith(f"JobId={plain} JobName=wrap ") and "ArrayJobId" not in one
    assert " JobState=FAILED Reason=NonZeroExitCode " in one and " ExitCode=3:0 " in one
    for unknown in ("99999", "abc"):
        proc = cmd(slurm, "scontrol", "show", "job", unknown)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr == "slurm_load_jobs error: Invalid job id specified\n"


def test_scontrol_requeue_of_a_running_and_of_a_finished_job(slurm: Scns) -> None:
    script = 'echo run >> runs.txt; if [ "$(wc -l < runs.txt)" -lt 2 ]; then sleep 60; fi'
    job = sbatch(slurm, "--wrap", script)
    slurm.wait_state(job, "RUNNING")
    wait_until(lambda: lines_in(slurm, "runs.txt") == 1, 20, 0.05, "the first run")
    ok(slurm, "scontrol", "requeue", str(job))
    wait_until(lambda: lines_in(slurm, "runs.txt") == 2, 30, 0.05, "the requeued run")
    assert slurm.wait_state(job, *ENDED)["state"] == "COMPLETED"
    ok(slurm, "scontrol", "requeue", f"jobid={job}")  # a finished job runs again
    wait_until(lambda: lines_in(slurm, "runs.txt") == 3, 30, 0.05, "the third run")
    info = slurm.wait_state(job, *ENDED)
    assert info["state"] == "COMPLETED" and info["restarts"] == 2
    assert " Restarts=2 " in ok(slurm, "scontrol", "show", "job", str(job))
    unknown = cmd(slurm, "scontrol", "requeue", "99999")
    assert (unknown.returncode, unknown.stderr) == (1, "Invalid job id specified for job 99999\n")


def test_scontrol_hold_release_and_update(slurm: Scns) -> None:
    job = sbatch(slurm, "--begin", "now+1hour", "--wrap", "true")
    ok(slurm, "scontrol", "hold", str(job))
    assert slurm.query(job)["held"] is True
    assert " Reason=JobHeldUser " in ok(slurm, "scontrol", "show", "job", str(job))
    ok(slurm, "scontrol", "release", str(job))
    assert slurm.query(job)["held"] is False
    ok(slurm, "scontrol", "update", f"JobId={job}", "TimeLimit=10", "Priority=5")
    info = slurm.query(job)
    assert (info["time_limit"], info["priority"]) == (600, 5)
    ok(slurm, "scontrol", "update", f"jobid={job}", "timelimit=+1:00", "nice=3")
    info = slurm.query(job)
    assert (info["time_limit"], info["nice"]) == (660, 3)
    errors = {
        ("hold", "99999"): "Invalid job id specified for job 99999\n",
        ("update", f"JobId={job}", "Foo=1"):
            "scontrol: error: Update of this parameter is not supported: Foo=1\n",
        ("update", "TimeLimit=5"): "scontrol: error: No job ID specified\n",
        ("frobnicate",): "scontrol: error: invalid command: frobnicate\n",
    }  # fmt: skip
    for argv, message in errors.items():
        proc = cmd(slurm, "scontrol", *argv)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", message)
    running = sbatch(slurm, "--wrap", "sleep 60")
    slurm.wait_state(running, "RUNNING")
    ok(slurm, "scontrol", "update", f"JobId={running}", "TimeLimit=5")  # a running job's limit
    assert slurm.query(running)["time_limit"] == 300
    late = cmd(slurm, "scontrol", "hold", str(running))
    assert late.returncode == 1
    assert late.stderr == f"Job is no longer pending execution for job {running}\n"
    ok(slurm, "scancel", str(running), str(job))


def test_scontrol_show_config_partition_node_and_sinfo(slurm: Scns) -> None:
    config = ok(slurm, "scontrol", "show", "config")
    assert config.startswith("Configuration data as of ")
    assert re.search(r"^MinJobAge\s+= 300 sec$", config, re.MULTILINE)
    assert re.search(r"^MaxArraySize\s+= 10001$", config, re.MULTILINE)
    part = ok(slurm, "scontrol", "show", "partition")
    assert part.startswith("PartitionName=scns\n") and "   Nodes=n1\n" in part
    assert "State=UP TotalCPUs=2 TotalNodes=1" in part
    node = ok(slurm, "scontrol", "show", "node", "n1")
    assert node.startswith("NodeName=n1 CPUAlloc=0 CPUTot=2\n") and "State=IDLE" in node
    assert ok(slurm, "sinfo", "-o", "%P") == "PARTITION\nscns*\n"
    assert ok(slurm, "sinfo", "-h", "-o", "%P") == "scns*\n"
    assert ok(slurm, "sinfo") == (
        "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\n"
        "scns*        up   infinite      1   idle n1\n"
    )
    assert ok(slurm, "sinfo", "-N", "-h") == "n1             1     scns* idle  \n"
    assert ok(slurm, "sinfo", "-h", "-o", "%P %a %l %D %t %N %c %C") == (
        "scns* up infinite 1 idle n1 2 0/2/0/2\n"
    )
    bad = cmd(slurm, "sinfo", "-o", "%q")
    assert (bad.returncode, bad.stderr) == (
        1, "sinfo: error: Invalid node format specification: %q\n")  # fmt: skip


# ---- srun -----------------------------------------------------------------------------------


def test_srun_runs_tasks_inside_the_job_allocation(slurm: Scns) -> None:
    """The job holds both CPUs of the node: a step must not wait for the scheduler."""
    job = sbatch(slurm, "-n", "2", "--wrap",
                 "srun -n2 --output=out-%j-%t.txt sh -c 'echo $SLURM_PROCID'")  # fmt: skip
    assert slurm.wait_state(job, *ENDED)["state"] == "COMPLETED"
    assert read(slurm, f"out-{job}-0.txt") == "0\n"
    assert read(slurm, f"out-{job}-1.txt") == "1\n"
    first = "'echo $SLURM_STEP_ID $SLURM_JOB_ID $SLURM_CPUS_PER_TASK $SLURM_NTASKS'"
    second = "'echo $SLURM_STEP_ID; echo oops >&2'"
    steps = sbatch(slurm, "-c", "2", "--wrap",
                   f"srun -c 1 --unbuffered --cpu-bind=q -N 1 -l sh -c {first}; "
                   f"srun --error=err-%J.txt sh -c {second}")  # fmt: skip
    assert slurm.wait_state(steps, *ENDED)["state"] == "COMPLETED"
    assert read(slurm, f"slurm-{steps}.out") == f"0 {steps} 1 1\n1\n"
    assert read(slurm, f"err-{steps}.1.txt") == "oops\n"


def test_srun_exit_code_becomes_the_jobs(slurm: Scns) -> None:
    job = sbatch(slurm, "--wrap", "srun sh -c 'exit 3'")
    info = slurm.wait_state(job, *ENDED)
    assert (info["state"], info["exit_code"]) == ("FAILED", 3)
    assert " ExitCode=3:0 " in ok(slurm, "scontrol", "-o", "show", "job", str(job))
    assert read(slurm, f"slurm-{job}.out") == "srun: error: n1: task 0: Exited with exit code 3\n"
    killed = sbatch(slurm, "--wrap", "srun sh -c 'kill -9 $$'; echo status=$?")
    slurm.wait_state(killed, *ENDED)
    assert read(slurm, f"slurm-{killed}.out").endswith("task 0: Killed\nstatus=137\n")


def test_scancel_signal_reaches_an_srun_task_once(slurm: Scns) -> None:
    """scns signals every process of the job; srun does not pass that one on again."""
    with open(os.path.join(slurm.workdir, "task.sh"), "w") as handle:
        handle.write("trap 'echo got >> sig.txt' USR1\necho up > ready.txt\n"
                     "while [ ! -s sig.txt ]; do sleep 0.1; done\n"
                     "i=0; while [ $i -lt 10 ]; do sleep 0.1; i=$((i+1)); done\n")  # fmt: skip
    # The batch shell catches USR1 too: scns signals it as well (Slurm would need -f).
    job = sbatch(slurm, "--wrap", "trap 'true' USR1; srun sh task.sh")
    wait_until(lambda: lines_in(slurm, "ready.txt"), 20, 0.05, "the task to start")
    ok(slurm, "scancel", "-s", "USR1", str(job))
    assert slurm.wait_state(job, *ENDED)["state"] == "COMPLETED"
    assert read(slurm, "sig.txt") == "got\n"


def test_srun_outside_a_job_refuses(slurm: Scns) -> None:
    proc = cmd(slurm, "srun", "hostname")
    assert (proc.returncode, proc.stdout) == (1, "")
    refusal = "srun: error: interactive jobs are not supported by scns yet; use sbatch\n"
    assert proc.stderr == refusal
    inside = cmd(slurm, "srun", "-N", "2", "true", env={"SLURM_JOB_ID": "1"})
    assert inside.returncode == 1 and inside.stderr.startswith("srun: error: --nodes=2")


# ---- system mode ----------------------------------------------------------------------------


@pytest.fixture
def two_users() -> Iterator[tuple]:
    from tests.e2e.system import make_system, remove_system
    from tests.e2e.users import Accounts, require_root

    require_root()
    base = tempfile.mkdtemp(prefix="scns-u-", dir="/tmp")
    os.chmod(base, 0o755)
    accounts = Accounts(base)
    system = None
    try:
        accounts.let_users_run_python()
        alice, bob = accounts.user("a"), accounts.user("b")
        system = make_system({}, ["n1"], operators="")
        system.start()
        yield system, alice, bob
    finally:
        if system is not None:
            remove_system(system)
        accounts.remove()


def test_scancel_of_another_users_job_is_refused(two_users) -> None:
    system, alice, bob = two_users
    job = system.submit(alice, "--begin", "now+1hour", "--wrap", "true")
    mine = system.submit(bob, "--begin", "now+1hour", "--wrap", "true")
    argv = [sys.executable, "-c", "import sys; from scns.compat.entry import main; "
            "sys.exit(main(sys.argv[1:]))", "scancel", str(job), str(mine), "99999"]  # fmt: skip
    proc = bob.run(argv, env=system.user_env(bob))
    assert proc.returncode == 1 and proc.stdout == ""
    denied = f"scancel: error: Kill job error on job id {job}: Access/permission denied\n"
    assert proc.stderr == denied
    assert system.query(alice, job)["state"] == "PENDING"
    assert system.wait_state(bob, mine, "CANCELLED")["state"] == "CANCELLED"
