"""dask-jobqueue (the real library) against scns's Slurm commands, on both backends."""

from __future__ import annotations

import operator
import os
import sys

import pytest

from tests.clients.conftest import no_process_matches, require, wait_all_ended
from tests.conftest import Scns, wait_until

dask = require("dask")
dask_jobqueue = require("dask_jobqueue")
distributed = require("distributed")

pytestmark = pytest.mark.clients


def test_scale_compute_and_close_leaves_no_worker(
    slurm: Scns, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = os.path.join(slurm.workdir, "dask-scratch")  # not /tmp/dask-scratch-space
    monkeypatch.setenv("DASK_TEMPORARY_DIRECTORY", scratch)  # for the workers' jobs
    monkeypatch.setitem(dask.config.config, "temporary-directory", scratch)  # for this process
    cluster = dask_jobqueue.SLURMCluster(
        cores=1,
        processes=1,
        memory="1GB",
        walltime="00:05:00",
        interface="lo",  # scheduler and workers on loopback only
        python=sys.executable,
        log_directory=os.path.join(slurm.workdir, "dask-logs"),
        local_directory=scratch,
        scheduler_options={"dashboard_address": ":0"},  # no fixed port
    )
    address = cluster.scheduler_address
    try:
        with distributed.Client(cluster) as client:
            cluster.scale(2)
            client.wait_for_workers(2, timeout=120)
            job_ids = [job.job_id for job in cluster.workers.values()]
            assert len(job_ids) == 2 and all(j and j.isdigit() for j in job_ids)
            squares = client.map(operator.mul, range(20), range(20))
            assert client.submit(sum, squares).result(timeout=60) == sum(i * i for i in range(20))
            assert len(client.scheduler_info()["workers"]) == 2
    finally:
        cluster.close()
    states = wait_all_ended(slurm, *job_ids)
    assert all(states[j] == "CANCELLED" for j in job_ids), states
    wait_until(lambda: no_process_matches(address), 30, 0.2, "every dask worker to be gone")
