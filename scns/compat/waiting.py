"""Waiting for jobs to end (``sbatch --wait``), and the exit code that reports them."""

from __future__ import annotations

import time

from scns.domain.job import Job


def exit_code_of(jobs: list[Job]) -> int:
    """sbatch --wait's exit: the job's exit code, 1 when a signal (cancel, timeout, out of
    memory) ended it, the highest of an array's tasks."""
    codes = []
    for job in jobs:
        if job.exit_code is not None and job.signal is None:
            codes.append(job.exit_code)
        elif job.state.value == "COMPLETED":
            codes.append(0)
        else:
            codes.append(1)
    return max(codes, default=0)


def wait_for(job_id: int, *, poll_s: float = 0.1, max_poll_s: float = 2.0) -> list[Job]:
    """Poll until the job (every task of an array) has ended; the ended jobs."""
    from scns.compat.backend import fetch_jobs
    from scns.service.jobs import JobFilter

    spec = JobFilter(refs=(str(job_id),))
    while True:
        jobs = fetch_jobs(spec)
        if jobs and all(j.state.is_terminal for j in jobs):
            return jobs
        time.sleep(poll_s)  # a poll with backoff: the job's own length is unknown
        poll_s = min(max_poll_s, poll_s * 1.5)
