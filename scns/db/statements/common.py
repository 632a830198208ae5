"""Shared pieces of the statement modules: the job column list and row conversion.

``scns submit`` imports this package, so nothing here may pull in ``json`` (which brings
``re`` and ``enum``, ~4 ms) or the job-state enum at import time.
"""

from __future__ import annotations

from scns.domain.compact_json import dumps  # noqa: F401 - the statements' JSON columns
from scns.domain.job import JOB_COLUMNS, Job
from scns.domain.state_names import ALLOCATED_NAMES, LIVE_NAMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

COLS = ", ".join(JOB_COLUMNS)


def state_list(names: Sequence[str]) -> str:
    """SQL's ``('A', 'B')`` for ``state IN ...``, from the domain's state names."""
    return "(" + ", ".join(f"'{name}'" for name in names) + ")"


LIVE = state_list(LIVE_NAMES)  # ('PENDING', 'CONFIGURING', 'RUNNING')
ALLOCATED = state_list(ALLOCATED_NAMES)  # ('CONFIGURING', 'RUNNING'): jobs holding cores


def job_from_row(row: Sequence[object]) -> Job:
    job = Job(*row)
    job.state = _job_state(job.state)
    return job


def _job_state(value):
    """JobState(value), importing the enum on first use (submit never needs it)."""
    global _job_state
    from scns.domain.states import JobState

    _job_state = JobState
    return JobState(value)
