"""Snakemake with ``--executor slurm`` (the real plugin) against scns, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.clients.conftest import require
from tests.conftest import Scns

require("snakemake")
require("snakemake_executor_plugin_slurm")
require("snakemake_executor_plugin_slurm_jobstep")

pytestmark = pytest.mark.clients

# a and b run side by side; c needs both. b asks for 2 threads: {threads} and the CPUs its
# process may use must both be 2.
SNAKEFILE = """
rule all:
    input: "c.txt"

rule a:
    output: "a.txt"
    shell: "echo a $SLURM_JOB_ID > {output}"

rule b:
    output: "b.txt"
    threads: 2
    shell: "echo b $SLURM_JOB_ID {threads} $(nproc) > {output}"

rule c:
    input: "a.txt", "b.txt"
    output: "c.txt"
    shell: "cat {input} > {output}; echo c $SLURM_JOB_ID >> {output}"
"""


def test_workflow_with_a_dependency_and_two_threads(slurm: Scns) -> None:
    snakefile = os.path.join(slurm.workdir, "Snakefile")
    with open(snakefile, "w") as handle:
        handle.write(SNAKEFILE)
    argv = [sys.executable, "-m", "snakemake", "--executor", "slurm", "--jobs", "3",
            "--snakefile", snakefile, "--directory", slurm.workdir,
            "--default-resources", "runtime=5", "mem_mb=200",
            "--slurm-init-seconds-before-status-checks", "1"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, env=slurm.env,
                          cwd=slurm.workdir, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr

    with open(os.path.join(slurm.workdir, "c.txt")) as handle:
        rows = [line.split() for line in handle.read().splitlines()]
    assert [row[0] for row in rows] == ["a", "b", "c"]
    assert rows[1][2:] == ["2", "2"]  # {threads} and nproc inside the job
    job_ids = {int(row[1]) for row in rows}
    assert len(job_ids) == 3  # one scns job per rule (`all` is local)
    jobs = {job["id"]: job for job in slurm.queue("--all")}
    assert {j: jobs[j]["state"] for j in job_ids} == dict.fromkeys(job_ids, "COMPLETED")
    assert jobs[int(rows[1][1])]["cpus"] == 2
