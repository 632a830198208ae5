"""The environment a job runs with: the submitter's, plus scns's and Slurm's job variables."""

from __future__ import annotations

import json
from collections.abc import Mapping

from scns.domain.job import Job


def job_environment(job: Job, submit_env_json: str, node: str, array: Mapping | None) -> dict:
    """Existing Slurm scripts read SLURM_*; new ones may read SCNS_*. Both are set."""
    env = json.loads(submit_env_json or "{}")
    cpus = str(job.cpus)
    ids = {
        "SCNS_JOB_ID": str(job.id),
        "SCNS_JOB_NAME": job.name,
        "SCNS_CPUS": cpus,
        "SCNS_NODE": node,
        "SCNS_CPU_IDS": job.cpu_ids or "",
        "SLURM_JOB_ID": str(job.id),
        "SLURM_JOBID": str(job.id),
        "SLURM_JOB_NAME": job.name,
        "SLURM_JOB_USER": job.user_name,
        "SLURM_JOB_UID": str(job.uid),
        "SLURM_CPUS_PER_TASK": str(job.cpus_per_task),
        "SLURM_NTASKS": str(job.ntasks),
        "SLURM_NPROCS": str(job.ntasks),
        "SLURM_JOB_NODELIST": node,
        "SLURM_NODELIST": node,
        "SLURMD_NODENAME": node,
        "SLURM_JOB_NUM_NODES": "1",
        "SLURM_NNODES": "1",
        "SLURM_NODEID": "0",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_CPUS_ON_NODE": cpus,
        "SLURM_JOB_CPUS_PER_NODE": cpus,
        "SLURM_CLUSTER_NAME": "scns",
        "SLURM_JOB_PARTITION": "scns",  # the one partition sinfo shows
        "SLURM_RESTART_COUNT": str(job.restarts),
        "SLURM_OPEN_MODE": "a" if job.open_mode == "append" else "t",  # srun reads it
        "ENVIRONMENT": "BATCH",
    }
    env.update(ids)
    env.setdefault("SLURM_SUBMIT_DIR", job.workdir)
    if job.mem_mb:
        env["SLURM_MEM_PER_NODE"] = str(job.mem_mb)
    if job.time_limit_s:
        env["SCNS_TIME_LIMIT_S"] = str(job.time_limit_s)
    if job.array_job_id is not None and array:
        env.update(_array_vars(job, array))
    return env


def _array_vars(job: Job, array: Mapping) -> dict[str, str]:
    values = {
        "ARRAY_JOB_ID": str(job.array_job_id),
        "ARRAY_TASK_ID": str(job.array_task_id),
        "ARRAY_TASK_COUNT": str(array["count"]),
        "ARRAY_TASK_MIN": str(array["min"]),
        "ARRAY_TASK_MAX": str(array["max"]),
    }
    if array.get("step"):
        values["ARRAY_TASK_STEP"] = str(array["step"])
    out = {}
    for key, value in values.items():
        out["SLURM_" + key] = value
        out["SCNS_" + key] = value
    return out
