"""The few facts about a job that bulk commands need (rights, filters, states), as a plain
tuple: building a full Job record for each of an array's 100,000 tasks costs seconds."""

from __future__ import annotations

from typing import NamedTuple

from scns.domain.states import JobState


class JobBrief(NamedTuple):
    id: int
    uid: int
    user_name: str
    name: str
    state: JobState
    array_job_id: int | None
    array_task_id: int | None

    @property
    def display_id(self) -> str:
        if self.array_job_id is not None and self.array_task_id is not None:
            return f"{self.array_job_id}_{self.array_task_id}"
        return str(self.id)


BRIEF_COLUMNS = "id, uid, user_name, name, state, array_job_id, array_task_id"


# JobState(name) goes through Enum.__call__: a tenth of a second over an array's 100,000 tasks
_STATES = {state.value: state for state in JobState}


def brief_from_row(row) -> JobBrief:
    return JobBrief(row[0], row[1], row[2], row[3], _STATES[row[4]], row[5], row[6])
