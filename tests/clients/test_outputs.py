"""Each client's own parser on what scns's commands print (both backends).

The job-id readers of sbatch's output, and every status query in the exact form the client
sends it (sacct and squeue), parsed by the client's code, for jobs in each state a client
must tell apart: completed, failed, cancelled, running, held and a held array.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import shlex
import subprocess
import uuid

import pytest

from tests.clients.conftest import require, slurm_cmd, wait_all_ended
from tests.conftest import Scns

submitit_slurm = require("submitit.slurm.slurm")
dask_slurm = require("dask_jobqueue.slurm")
status_query = require("snakemake_executor_plugin_slurm.job_status_query")
parsl_slurm = require("parsl.providers.slurm.slurm")

pytestmark = pytest.mark.clients


def shell(scns: Scns, command: str) -> str:
    """A status command as Parsl runs it (through a shell); stdout, which must be clean."""
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=scns.env,
                          cwd=scns.workdir, timeout=60)  # fmt: skip
    assert (proc.returncode, proc.stderr) == (0, ""), f"{command}: {proc.stderr}"
    return proc.stdout


def submit(scns: Scns, *args: str) -> str:
    out = slurm_cmd(scns, "sbatch", "--parsable", *args).stdout
    assert out.endswith("\n") and out.count("\n") == 1
    return out.strip().split(";")[0]  # Snakemake's reading


def test_job_ids_and_states_parse_with_each_clients_code(slurm: Scns) -> None:
    script = os.path.join(slurm.workdir, "job.sh")
    with open(script, "w") as handle:
        handle.write("#!/bin/sh\ntrue\n")
    proc = slurm_cmd(slurm, "sbatch", script)
    assert proc.stderr == "" and proc.stdout.startswith("Submitted batch job ")  # Parsl's test
    assert proc.stdout.count("\n") == 1  # the job line and nothing else on stdout
    done = proc.stdout.split()[-1]
    assert submitit_slurm.SlurmExecutor._get_job_id_from_submission_command(proc.stdout) == done
    dask_job = dask_slurm.SLURMJob.__new__(dask_slurm.SLURMJob)  # only its id reader
    assert dask_job._job_id_from_submit_output(proc.stdout) == done

    run = f"run-{uuid.uuid4()}"  # Snakemake names every job of a run by the run's uuid
    failed = submit(slurm, "-J", run, "--wrap", "exit 3")
    cancelled = submit(slurm, "-J", run, "--wrap", "sleep 300")
    running = submit(slurm, "-J", run, "--wrap", "sleep 300")
    held = submit(slurm, "-J", run, "-H", "--wrap", "true")
    array = submit(slurm, "-J", run, "-H", "-a", "0-2%2", "--wrap", "true")
    slurm.wait_state(running, "RUNNING")
    slurm.wait_state(cancelled, "RUNNING")
    slurm_cmd(slurm, "scancel", cancelled)
    wait_all_ended(slurm, done, failed, cancelled)
    expected = {done: "COMPLETED", failed: "FAILED", cancelled: "CANCELLED",
                running: "RUNNING", held: "PENDING"}  # fmt: skip

    watcher = submitit_slurm.SlurmInfoWatcher()  # submitit: sacct with a header, tasks expanded
    for job in [*expected, array]:
        watcher.register_job(job)
    info = watcher.read_info(slurm_cmd(slurm, *watcher._make_command()).stdout)
    assert {job: info[job]["State"] for job in expected} == expected
    assert [info[f"{array}_{i}"]["State"] for i in range(3)] == ["PENDING"] * 3

    logger = logging.getLogger("snakemake-status")  # Snakemake: sacct, and squeue its fallback
    for command in (
        status_query.query_job_status_sacct(run),
        status_query.query_job_status_squeue(run),
    ):
        states, _ = asyncio.run(status_query.query_job_status(command, logger))
        assert states is not None, f"{command} failed"
        named = {job: state for job, state in expected.items() if job != done}  # the run's
        assert {job: states.get(job) for job in named} == named, command
    assert status_query.get_min_job_age() == 300
    account_probe = shlex.split(f'sacct -nu "{getpass.getuser()}" -o Account%256 | tail -1')
    assert subprocess.run(account_probe, capture_output=True, text=True, env=slurm.env).stdout == ""

    ids = ",".join(expected)  # Parsl: sacct (states in its table), or squeue (missing = done)
    out = shell(slurm, f"sacct -X --noheader --format=jobid,state%20 --job '{ids}'")
    sacct = dict(line.split()[:2] for line in out.splitlines())
    assert sacct == expected and set(sacct.values()) <= set(parsl_slurm.sacct_translate_table)
    out = shell(slurm, f"squeue --noheader --format='%i %t' --job '{ids}'")
    squeue = dict(line.split()[:2] for line in out.splitlines())
    assert (squeue[running], squeue[held]) == ("R", "PD")
    assert set(squeue.values()) <= set(parsl_slurm.squeue_translate_table)
    slurm_cmd(slurm, "sacct", "-X")  # Parsl's probe: exit 0 means "use sacct"
