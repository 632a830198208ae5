"""``scns submit`` as people type it: options anywhere, --wait, a hint, a warning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import Scns, wait_until


def _script(scns: Scns, body: str) -> str:
    path = os.path.join(scns.workdir, "job.sh")
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n" + body)
    return path


def test_options_after_the_script_are_options_and_after_dashdash_arguments(
    any_backend: Scns,
) -> None:
    scns = any_backend
    script = _script(scns, 'echo "args=$*"\n')
    job = scns.submit(script, "--cpus", "2", "-H", "one", "--", "--cpus", "3")
    info = scns.query(job)
    assert info["cpus"] == 2 and info["held"] is True
    argv = scns.sql("SELECT argv FROM jobs WHERE id = ?", (job,))[0][0]
    assert argv == '["one","--cpus","3"]'


def test_wait_exits_like_sbatch_wait(cluster: Scns) -> None:
    assert cluster.run("submit", "--wait", "--wrap", "true").returncode == 0
    proc = cluster.run("submit", "--wrap", "exit 7", "--wait", check=False)
    assert proc.returncode == 7 and proc.stdout.startswith("Submitted batch job")
    proc = cluster.run("submit", "-a", "0-2", "--wrap", "exit $SCNS_ARRAY_TASK_ID", "-W",
                       check=False)  # fmt: skip
    assert proc.returncode == 2
    proc = cluster.run("submit", "-t", "0:01", "--wait", "--wrap", "sleep 300", check=False)
    assert proc.returncode == 1  # a signal ended it


def test_ctrl_c_while_waiting_leaves_the_job_running(cluster: Scns) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "scns", "submit", "--parsable", "--wait",
                             "--wrap", "sleep 300"], cwd=cluster.workdir, env=cluster.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    job = int(proc.stdout.readline())
    cluster.wait_state(job, "RUNNING")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.count("\n") == 1 and f"job {job} keeps running" in err
    assert cluster.query(job)["state"] == "RUNNING"
    cluster.run("cancel", str(job))


def test_no_daemon_still_stores_and_warns(scns: Scns) -> None:
    proc = scns.run("submit", "--wrap", "true")
    job = int(proc.stdout.split()[-1])
    assert proc.stderr.count("\n") == 1 and "no scns daemon is running" in proc.stderr
    assert scns.query(job)["state"] == "PENDING"
    scns.start_daemon("--node", "n1")
    wait_until(lambda: scns.state(job) == "COMPLETED", 30, 0.05, "the stored job to run")
    assert scns.run("submit", "--wrap", "true").stderr == ""  # a daemon runs now


def test_missing_output_directory_is_an_error_with_a_hint(scns: Scns) -> None:
    proc = scns.run("submit", "-o", "logs/x.out", "--wrap", "true", check=False)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    assert "mkdir -p" in proc.stderr and "logs" in proc.stderr


def test_a_malformed_command_line_exits_2_and_a_bad_value_1(scns: Scns) -> None:
    for args, code in ((("--frob", "--wrap", "true"), 2), (("--wrap",), 2),
                       (("-t", "bogus", "--wrap", "true"), 1)):  # fmt: skip
        proc = scns.run("submit", *args, check=False)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("scns submit: error:")


def test_first_commands_racing_on_a_new_home_all_succeed(scns: Scns) -> None:
    """Several first commands at once race to switch the new database to WAL."""
    home = os.path.join(scns.home, "racing")
    procs = [subprocess.Popen([sys.executable, "-m", "scns", "submit", "-H", "--wrap", "true"],
                              cwd=scns.workdir, env={**scns.env, "SCNS_HOME": home},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(8)]  # fmt: skip
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _err in results), results
