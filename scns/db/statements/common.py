"""Shared pieces of the statement modules: the job column list and row conversion."""

from __future__ import annotations

import json
from collections.abc import Sequence

from scns.domain.job import JOB_COLUMNS, Job
from scns.domain.states import JobState

COLS = ", ".join(JOB_COLUMNS)
LIVE = "('PENDING', 'CONFIGURING', 'RUNNING')"


def job_from_row(row: Sequence[object]) -> Job:
    job = Job(*row)
    job.state = JobState(job.state)
    return job


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
