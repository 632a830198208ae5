"""submitit (the real library) against scns's Slurm commands, on both backends."""

from __future__ import annotations

import operator
import os
import time

import pytest

from tests.clients.conftest import no_process_matches, require, sacct_states, wait_all_ended
from tests.conftest import Scns, wait_until

submitit = require("submitit")

pytestmark = pytest.mark.clients


def test_submit_result_exception_array_and_cancel(slurm: Scns) -> None:
    executor = submitit.AutoExecutor(folder=os.path.join(slurm.workdir, "logs"))
    assert executor.cluster == "slurm"  # it found srun on PATH
    executor.update_parameters(timeout_min=5, cpus_per_task=1)

    job = executor.submit(operator.add, 2, 3)
    assert job.result() == 5
    failing = executor.submit(operator.truediv, 1, 0)
    with pytest.raises(submitit.core.utils.FailedJobError, match="ZeroDivisionError"):
        failing.result()

    squares = executor.map_array(operator.mul, range(4), range(4))
    assert [j.result() for j in squares] == [0, 1, 4, 9]
    assert {j.job_id.split("_")[0] for j in squares} == {squares[0].job_id.split("_")[0]}

    long = executor.submit(time.sleep, 300)
    wait_until(lambda: slurm.state(long.job_id) == "RUNNING", 60, 0.2, "the sleep to run")
    long.cancel()  # `scancel ID` must exit 0, or submitit raises
    states = wait_all_ended(slurm, long.job_id)
    assert states[long.job_id] == "CANCELLED"
    wait_until(lambda: long.done(force_check=True), 30, 0.5, "submitit to see the job done")
    assert long.state == "CANCELLED"
    folder = os.path.join(slurm.workdir, "logs")  # on every runner's command line
    wait_until(
        lambda: no_process_matches(folder), 30, 0.2, "the runner (it ignores SIGTERM) to die"
    )

    ended = sacct_states(slurm, job.job_id, failing.job_id, *(j.job_id for j in squares))
    assert ended[job.job_id] == "COMPLETED"
    assert all(ended[j.job_id] == "COMPLETED" for j in squares)
    assert ended[failing.job_id] == "FAILED"  # the runner re-raises: python, srun, job exit 1
