"""``sbatch`` as Slurm's clients drive it, backed by scns (both backends)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import Scns, wait_until


@pytest.fixture
def slurm(cluster: Scns) -> Scns:
    """The cluster with Slurm's command names first on PATH."""
    path = cluster.run("compat", "path").stdout.strip().splitlines()[-1]
    assert os.path.isfile(os.path.join(path, "sbatch"))
    cluster.env["PATH"] = f"{path}:{cluster.env.get('PATH', '/usr/bin:/bin')}"
    return cluster


def sbatch(scns: Scns, *args: str, stdin: str | None = None, check: bool = True,
           cwd: str | None = None) -> subprocess.CompletedProcess:  # fmt: skip
    proc = subprocess.run(["sbatch", *args], capture_output=True, text=True, env=scns.env,
                          cwd=cwd or scns.workdir, input=stdin, timeout=120)  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"sbatch {args} failed ({proc.returncode}): {proc.stderr}")
    return proc


def job_id(proc: subprocess.CompletedProcess) -> int:
    assert proc.stdout.startswith("Submitted batch job ") and proc.stdout.count("\n") == 1
    return int(proc.stdout.split()[-1])


def _write(scns: Scns, name: str, text: str) -> str:
    path = os.path.join(scns.workdir, name)
    with open(path, "w") as handle:
        handle.write(text)
    return path


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def test_submit_prints_exactly_the_job_line_and_copies_the_script(slurm: Scns) -> None:
    script = _write(slurm, "job.sh", "#!/bin/sh\n#SBATCH -J copied\necho args=$*\n")
    proc = sbatch(slurm, "-A", "acct", "-p", "part", "--qos=normal", "-C", "x", "--clusters",
                  "c", "--reservation", "r", "--wckey", "w", script, "one", "-n", "2")  # fmt: skip
    assert proc.stderr == ""  # what clients always send is accepted silently
    first = job_id(proc)
    os.unlink(script)  # dask-jobqueue deletes it as soon as sbatch returns
    info = slurm.wait_state(first, "COMPLETED", "FAILED")
    assert info["state"] == "COMPLETED" and info["name"] == "copied"
    assert info["cpus"] == 1  # "-n 2" after the script is the script's
    out = os.path.join(slurm.workdir, f"slurm-{first}.out")  # Slurm's default name
    assert _read(out) == "args=one -n 2\n"
    parsable = sbatch(slurm, "--parsable", "--wrap", "true")
    assert parsable.stdout.strip().isdigit() and parsable.stdout.count("\n") == 1


def test_script_from_stdin_and_wait_returns_the_exit_code(slurm: Scns) -> None:
    proc = sbatch(slurm, "-W", stdin="#!/bin/sh\n#SBATCH -o stdin.out\necho $SLURM_JOB_NAME\n")
    assert proc.returncode == 0
    assert _read(os.path.join(slurm.workdir, "stdin.out")) == "sbatch\n"
    failing = sbatch(slurm, "--wait", "--wrap", "exit 3", check=False)
    assert failing.returncode == 3 and failing.stdout.startswith("Submitted batch job")
    array = sbatch(slurm, "-W", "-a", "1-3", "--wrap", "exit $SLURM_ARRAY_TASK_ID", check=False)
    assert array.returncode == 3
    killed = sbatch(slurm, "-W", "-t", "0:01", "--wrap", "sleep 300", check=False)
    assert killed.returncode == 1  # a signal (here the time limit) ended it


def test_export_open_mode_and_memory_options(slurm: Scns) -> None:
    slurm.env["SCNS_SECRET_TEST"] = "visible"
    out = os.path.join(slurm.workdir, "env.out")
    with open(out, "w") as handle:
        handle.write("kept\n")
    sbatch(slurm, "-W", "-o", out, "--open-mode=append", "--export=NONE,FOO=bar",
           "--wrap", 'echo "FOO=$FOO SECRET=$SCNS_SECRET_TEST ID=$SLURM_JOB_ID"')  # fmt: skip
    text = _read(out)
    assert text.startswith("kept\n") and "FOO=bar SECRET= ID=" in text
    out2 = os.path.join(slurm.workdir, "env2.out")
    sbatch(slurm, "-W", "-o", out2, "--export=ALL", "--wrap", "echo SECRET=$SCNS_SECRET_TEST")
    assert _read(out2) == "SECRET=visible\n"
    job = job_id(sbatch(slurm, "-H", "-c", "2", "--mem-per-cpu=100M", "--wrap", "true"))
    assert slurm.query(job)["mem_mb"] == 200
    exclusive = job_id(sbatch(slurm, "-H", "--exclusive", "--wrap", "true"))
    assert slurm.query(exclusive)["cpus"] == 2  # the whole node


def test_what_scns_cannot_do_is_refused_in_one_line(slurm: Scns) -> None:
    refused = (
        (("-N", "2"), "one node"),
        (("--gpus=1",), "GPUs"),
        (("--gres=gpu:2",), "GPUs"),
        (("--open-mode=sideways",), "open-mode"),
        (("--signal=NOPE@5",), "signal"),
        (("--export=1BAD",), "export"),
    )
    for args, words in refused:
        proc = sbatch(slurm, *args, "--wrap", "true", check=False)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.startswith("sbatch: error:") and proc.stderr.count("\n") == 1
        assert words in proc.stderr, proc.stderr
    assert job_id(sbatch(slurm, "-N", "1", "--ntasks-per-node=1", "--wrap", "true"))


def test_signal_before_the_time_limit(slurm: Scns) -> None:
    """--signal=B:USR2@N reaches the batch shell N seconds before the limit (submitit and
    Nextflow rely on it); without B: the job's other processes get it."""
    flag = os.path.join(slurm.workdir, "warned")
    script = (f"trap 'echo shell > {flag}; exit 0' USR2\n"
              "sleep 100 & wait\n")  # fmt: skip
    job = job_id(sbatch(slurm, "-t", "0:03", "--signal=B:USR2@2", "--wrap", script))
    info = slurm.wait_state(job, "COMPLETED", "TIMEOUT", "FAILED", timeout=30)
    assert info["state"] == "COMPLETED" and _read(flag) == "shell\n"
    step = os.path.join(slurm.workdir, "step-warned")
    child = (f"import signal\nsignal.signal(signal.SIGUSR1, lambda *a: (open({step!r},"
             "'w').write('step'), exit(0)))\nwhile True:\n    signal.pause()\n")  # fmt: skip
    path = _write(slurm, "child.py", child)
    job = job_id(sbatch(slurm, "-t", "0:03", "--signal=USR1@2", "--wrap", f"python3 {path}"))
    slurm.wait_state(job, "COMPLETED", "TIMEOUT", "FAILED", timeout=30)
    wait_until(lambda: os.path.exists(step), 5, 0.05, "the step to get USR1")
    assert _read(step) == "step"


def test_slurm_variables_inside_the_job(slurm: Scns) -> None:
    out = os.path.join(slurm.workdir, "vars.out")
    names = [
        "SLURM_JOB_ID", "SLURM_JOBID", "SLURM_JOB_NAME", "SLURM_ARRAY_JOB_ID",
        "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
        "SLURM_ARRAY_TASK_COUNT", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID",
        "SLURM_NTASKS", "SLURM_JOB_NUM_NODES", "SLURM_NNODES", "SLURM_JOB_NODELIST",
        "SLURM_NODELIST", "SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE", "SLURM_SUBMIT_DIR",
        "SLURM_SUBMIT_HOST", "SLURM_CLUSTER_NAME", "SLURM_RESTART_COUNT",
    ]  # fmt: skip
    body = "; ".join(f'echo "{n}=${n}"' for n in names) + "; nproc"
    sbatch(slurm, "-W", "-a", "2-3", "-c", "2", "-o", out.replace("vars", "vars-%a"),
           "--wrap", body)  # fmt: skip
    text = _read(out.replace("vars", "vars-3"))
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert values["SLURM_ARRAY_TASK_ID"] == "3" and values["SLURM_ARRAY_TASK_MIN"] == "2"
    assert values["SLURM_ARRAY_TASK_MAX"] == "3" and values["SLURM_ARRAY_TASK_COUNT"] == "2"
    assert values["SLURM_JOB_ID"] == values["SLURM_JOBID"] != values["SLURM_ARRAY_JOB_ID"]
    assert values["SLURM_PROCID"] == values["SLURM_LOCALID"] == values["SLURM_NODEID"] == "0"
    assert values["SLURM_JOB_NUM_NODES"] == values["SLURM_NNODES"] == "1"
    assert values["SLURM_JOB_NODELIST"] == values["SLURM_NODELIST"] == "n1"
    assert values["SLURM_CPUS_PER_TASK"] == values["SLURM_CPUS_ON_NODE"] == "2"
    assert values["SLURM_SUBMIT_DIR"] == slurm.workdir and values["SLURM_SUBMIT_HOST"]
    assert values["SLURM_CLUSTER_NAME"] and values["SLURM_RESTART_COUNT"] == "0"
    assert text.strip().splitlines()[-1] == "2"  # the usable CPUs are -c


def test_a_job_ignoring_sigterm_is_killed_after_the_kill_wait(slurm: Scns) -> None:
    job = job_id(sbatch(slurm, "--wrap", "trap '' TERM; sleep 300 & wait; sleep 300"))
    slurm.wait_state(job, "RUNNING")
    slurm.run("cancel", str(job))
    assert slurm.wait_state(job, "CANCELLED", timeout=30)["state"] == "CANCELLED"
