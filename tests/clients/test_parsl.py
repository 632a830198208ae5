"""Parsl's HighThroughputExecutor on its SlurmProvider against scns, on both backends."""

from __future__ import annotations

import os

import pytest

from tests.clients.conftest import no_process_matches, require, wait_all_ended
from tests.conftest import Scns, wait_until

parsl = require("parsl")

pytestmark = pytest.mark.clients


@parsl.python_app
def square(x: int) -> int:
    return x * x


@parsl.python_app
def slurm_view() -> tuple[str, str, str]:
    """What the worker's job sees: its id, its name and the CPUs on its node."""
    env = os.environ
    return env["SLURM_JOB_ID"], env["SLURM_JOB_NAME"], env["SLURM_CPUS_ON_NODE"]


def test_htex_on_slurm_provider_runs_apps_and_cancels_its_block(slurm: Scns) -> None:
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import SlurmProvider

    run_dir = os.path.join(slurm.workdir, "runinfo")
    provider = SlurmProvider(init_blocks=1, min_blocks=0, max_blocks=1, nodes_per_block=1,
                             walltime="00:05:00", cmd_timeout=60)  # fmt: skip
    executor = HighThroughputExecutor(label="scns", address="127.0.0.1", max_workers_per_node=2,
                                      provider=provider)  # fmt: skip
    config = Config(executors=[executor], run_dir=run_dir, strategy="none", usage_tracking=0)
    with parsl.load(config):
        assert [f.result(timeout=120) for f in map(square, range(5))] == [0, 1, 4, 9, 16]
        job_id, job_name, cpus_on_node = slurm_view().result(timeout=60)
        assert list(executor.blocks_to_job_id.values()) == [job_id]
        assert job_name.startswith("parsl")
        assert cpus_on_node == "2"  # Parsl asks for --exclusive: the whole node
    parsl.clear()
    assert wait_all_ended(slurm, job_id)[job_id] == "CANCELLED"  # cleanup scancels the block
    wait_until(lambda: no_process_matches(run_dir), 30, 0.2, "the worker pool to be gone")
