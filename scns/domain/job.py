"""What a job is: the validated request a submit produces, and the record the database holds."""

from __future__ import annotations

from dataclasses import dataclass, field

from scns.domain.states import JobState

# Slurm prints this for %a when a job is not part of an array.
NO_ARRAY_TASK = 4294967294


@dataclass(frozen=True)
class JobRequest:
    """A submission after parsing and validation, before it has an id."""

    name: str
    script: str
    argv: tuple[str, ...]
    workdir: str
    stdout_pattern: str
    stderr_pattern: str | None  # None: stderr goes into the stdout file
    ntasks: int = 1
    cpus_per_task: int = 1
    mem_mb: int = 0
    time_limit_s: int | None = None
    priority: int = 0
    nice: int = 0
    held: bool = False
    begin_time: float | None = None
    dependency: str | None = None
    kill_on_invalid_dep: bool = False
    requeue: bool = False
    array_task_ids: tuple[int, ...] | None = None
    array_max_running: int | None = None
    parsable: bool = False
    ignored_options: tuple[str, ...] = field(default=())

    @property
    def cpus(self) -> int:
        return self.ntasks * self.cpus_per_task


@dataclass
class Job:
    """One row of the jobs table, with times as epoch seconds (UTC)."""

    id: int
    name: str
    user_name: str
    uid: int
    gid: int
    state: JobState
    reason: str | None
    script: str
    argv: str
    environment: str
    workdir: str
    stdout_path: str
    stderr_path: str
    ntasks: int
    cpus_per_task: int
    cpus: int
    mem_mb: int
    time_limit_s: int | None
    priority: int
    nice: int
    held: int
    begin_time: float | None
    dependency: str | None
    kill_on_invalid_dep: int
    requeue: int
    array_job_id: int | None
    array_task_id: int | None
    array_max_running: int | None
    submit_time: float
    eligible_time: float | None
    expected_start_time: float | None
    start_time: float | None
    end_time: float | None
    exit_code: int | None
    signal: int | None
    node: str | None
    cpu_ids: str | None
    pid: int | None
    pid_start_ticks: int | None
    cancel_requested: int
    restarts: int

    @property
    def display_id(self) -> str:
        """``ARRAYID_TASKID`` for array tasks, as Slurm shows them."""
        if self.array_job_id is not None and self.array_task_id is not None:
            return f"{self.array_job_id}_{self.array_task_id}"
        return str(self.id)

    @property
    def cpu_id_list(self) -> list[int]:
        return [int(c) for c in self.cpu_ids.split(",")] if self.cpu_ids else []


JOB_COLUMNS: tuple[str, ...] = tuple(Job.__dataclass_fields__)
