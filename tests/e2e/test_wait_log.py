"""``scns wait`` and ``scns log`` end to end (issue 13): exit codes as ``--wait``, a timeout,
Ctrl-C, a line per job when piped; whole output, last lines, stderr, and ``-f`` that ends
with the job."""

from __future__ import annotations

import os
import signal
import subprocess

from tests.conftest import SCNS, Scns


def test_wait_exits_with_the_highest_exit_code_a_line_per_job(cluster: Scns) -> None:
    failing = cluster.submit("--wrap", "exit 3")
    array = cluster.submit("-a", "0-2", "--wrap", "exit $SLURM_ARRAY_TASK_ID")
    proc = cluster.run("wait", str(failing), str(array), check=False)
    assert proc.returncode == 3, proc.stderr
    assert sorted(proc.stdout.splitlines()) == sorted([
        f"job {failing}: FAILED (exit 3)", f"job {array}_0: COMPLETED (exit 0)",
        f"job {array}_1: FAILED (exit 1)", f"job {array}_2: FAILED (exit 2)",
    ])  # fmt: skip
    proc = cluster.run("wait", f"{array}_1", check=False)  # one task of the array
    assert (proc.returncode, proc.stdout) == (1, f"job {array}_1: FAILED (exit 1)\n")
    ok = cluster.submit("--wrap", "true")
    assert cluster.run("wait", str(ok)).stdout == f"job {ok}: COMPLETED (exit 0)\n"
    cancelled = cluster.submit("--wrap", "sleep 300")
    cluster.wait_state(cancelled, "RUNNING")
    cluster.run("cancel", str(cancelled))
    proc = cluster.run("wait", str(cancelled), str(ok), check=False)
    assert proc.returncode == 1  # a signal ended it, as sbatch --wait reports
    assert f"job {cancelled}: CANCELLED (signal 15)" in proc.stdout.splitlines()


def test_wait_timeout_exits_124_and_leaves_the_job(cluster: Scns) -> None:
    job = cluster.submit("--wrap", "sleep 300")
    proc = cluster.run("wait", "--timeout", "0.5", str(job), check=False)
    assert proc.returncode == 124 and proc.stdout == ""
    assert proc.stderr == "scns wait: timed out after 0.5s; 1 of 1 jobs have not ended\n"
    assert cluster.state(job) in ("PENDING", "CONFIGURING", "RUNNING")
    cluster.run("cancel", str(job))


def test_wait_for_an_unknown_job_is_one_line(scns: Scns) -> None:
    job = scns.submit("-H", "--wrap", "true")
    proc = scns.run("wait", str(job), "4242", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == "scns wait: error: invalid job id 4242: no such job\n"
    proc = scns.run("wait", "x1", check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1


def test_ctrl_c_stops_waiting_and_leaves_the_jobs(cluster: Scns) -> None:
    quick = cluster.submit("--wrap", "true")
    slow = cluster.submit("--wrap", "sleep 300")
    proc = subprocess.Popen([*SCNS, "wait", str(quick), str(slow)], cwd=cluster.workdir,
                            env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    assert proc.stdout.readline() == f"job {quick}: COMPLETED (exit 0)\n"  # it is waiting
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and out == ""
    assert err == "scns wait: stopped waiting; the jobs keep running\n"
    assert cluster.state(slow) in ("CONFIGURING", "RUNNING")
    cluster.run("cancel", str(slow))


def test_log_prints_the_output_its_last_lines_and_stderr(cluster: Scns) -> None:
    job = cluster.submit("-o", "out.txt", "-e", "err.txt", "--wrap",
                         "printf 'one\\ntwo\\nthree\\n'; echo oops >&2")  # fmt: skip
    cluster.run("wait", str(job))
    assert cluster.run("log", str(job)).stdout == "one\ntwo\nthree\n"
    assert cluster.run("log", str(job), "-n", "2").stdout == "two\nthree\n"
    assert cluster.run("log", str(job), "--err").stdout == "oops\n"
    merged = cluster.submit("--wrap", "echo both; echo err >&2")
    cluster.run("wait", str(merged))
    proc = cluster.run("log", str(merged), "--err")
    assert proc.stdout == "both\nerr\n" and "no -e" in proc.stderr


def test_log_follow_ends_when_the_job_ends(cluster: Scns) -> None:
    job = cluster.submit("--wrap", "for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done")
    proc = subprocess.Popen([*SCNS, "log", "-f", str(job)], cwd=cluster.workdir,
                            env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    out, err = proc.communicate(timeout=60)  # no signal: it stops by itself
    assert (proc.returncode, err) == (0, "")
    assert out == "".join(f"line {i}\n" for i in range(1, 6))
    assert cluster.state(job) == "COMPLETED"


def test_log_refusals_are_one_line(scns: Scns) -> None:
    pending = scns.submit("-H", "--wrap", "echo hi")
    proc = scns.run("log", str(pending), check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"scns log: job {pending} is PENDING: no output yet")
    array = scns.submit("-H", "-a", "0-3", "--wrap", "true")
    proc = scns.run("log", str(array), check=False)
    assert proc.returncode == 1
    assert proc.stderr == (f"scns log: error: job {array} is an array: name one task, like"
                           f" {array}_0\n")  # fmt: skip
    os.symlink("/etc/passwd", os.path.join(scns.workdir, f"scns-{pending}.out"))
    scns.sql_write("UPDATE jobs SET state = 'COMPLETED', end_time = submit_time WHERE id = ?",
                   (pending,))  # fmt: skip
    proc = scns.run("log", str(pending), check=False)
    assert proc.returncode == 1 and "symbolic link" in proc.stderr and "root:" not in proc.stdout
    assert scns.run("log", "777", check=False).stderr.count("\n") == 1


def test_help_has_an_example(scns: Scns) -> None:
    for command in ("wait", "log"):
        assert "Example:" in scns.run(command, "--help").stdout, command
