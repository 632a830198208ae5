"""What a job is: the validated request a submit produces, and the record the database holds."""

from __future__ import annotations

from scns.domain.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:  # the enum import is left to the commands that read jobs back
    from scns.domain.states import JobState

# Slurm prints this for %a when a job is not part of an array.
NO_ARRAY_TASK = 4294967294


class JobRequest(Record):
    """A submission after parsing and validation, before it has an id."""

    __slots__ = (
        "name",
        "script",
        "argv",
        "workdir",
        "stdout_pattern",
        "stderr_pattern",
        "ntasks",
        "cpus_per_task",
        "mem_mb",
        "time_limit_s",
        "priority",
        "nice",
        "held",
        "begin_time",
        "dependency",
        "kill_on_invalid_dep",
        "requeue",
        "array_task_ids",
        "array_max_running",
        "parsable",
        "ignored_options",
        "export",
        "open_mode",
        "signal_spec",
        "comment",
        "exclusive",
        "wait",
    )
    _defaults = {  # noqa: RUF012 - read-only by convention
        "ntasks": 1,
        "cpus_per_task": 1,
        "mem_mb": 0,
        "time_limit_s": None,
        "priority": 0,
        "nice": 0,
        "held": False,
        "begin_time": None,
        "dependency": None,
        "kill_on_invalid_dep": False,
        "requeue": False,
        "array_task_ids": None,
        "array_max_running": None,
        "parsable": False,
        "ignored_options": (),
        "export": None,
        "open_mode": None,
        "signal_spec": None,
        "comment": None,
        "exclusive": False,
        "wait": False,
    }
    name: str
    script: str
    argv: tuple[str, ...]
    workdir: str
    stdout_pattern: str
    stderr_pattern: str | None
    ntasks: int
    cpus_per_task: int
    mem_mb: int
    time_limit_s: int | None
    priority: int
    nice: int
    held: bool
    begin_time: float | None
    dependency: str | None
    kill_on_invalid_dep: bool
    requeue: bool
    array_task_ids: tuple[int, ...] | None
    array_max_running: int | None
    parsable: bool
    ignored_options: tuple[str, ...]
    export: str | None  # sbatch --export, applied to the stored environment
    open_mode: str | None
    signal_spec: str | None
    comment: str | None
    exclusive: bool  # the job takes a whole node
    wait: bool  # the submitting command waits for the end (not stored)

    @property
    def cpus(self) -> int:
        return self.ntasks * self.cpus_per_task


class Job(Record):
    """One row of the jobs table, with times as epoch seconds (UTC)."""

    __slots__ = (
        "id",
        "name",
        "user_name",
        "uid",
        "gid",
        "state",
        "reason",
        "script",
        "argv",
        "environment",
        "workdir",
        "stdout_path",
        "stderr_path",
        "ntasks",
        "cpus_per_task",
        "cpus",
        "mem_mb",
        "time_limit_s",
        "priority",
        "nice",
        "held",
        "begin_time",
        "dependency",
        "kill_on_invalid_dep",
        "requeue",
        "array_job_id",
        "array_task_id",
        "array_max_running",
        "submit_time",
        "eligible_time",
        "expected_start_time",
        "start_time",
        "end_time",
        "exit_code",
        "signal",
        "node",
        "cpu_ids",
        "pid",
        "pid_start_ticks",
        "cancel_requested",
        "restarts",
        "umask",
        "max_rss_bytes",
        "cpu_user_s",
        "cpu_system_s",
        "open_mode",
        "signal_spec",
        "comment",
        "pending_signal",
        "requeue_requested",
    )
    _defaults = {  # noqa: RUF012 - measured at the end; older rows have none
        "umask": None,
        "max_rss_bytes": None,
        "cpu_user_s": None,
        "cpu_system_s": None,
        "open_mode": None,
        "signal_spec": None,
        "comment": None,
        "pending_signal": None,
        "requeue_requested": 0,
    }
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
    umask: int | None
    max_rss_bytes: int | None
    cpu_user_s: float | None
    cpu_system_s: float | None
    open_mode: str | None  # sbatch --open-mode: "append", else the files are truncated
    signal_spec: str | None  # sbatch --signal=[B:]SIG[@TIME]
    comment: str | None
    pending_signal: int | None  # scancel --signal, until the node delivers it
    requeue_requested: int  # scontrol requeue of a running job, until its node ends it

    @property
    def display_id(self) -> str:
        """``ARRAYID_TASKID`` for array tasks, as Slurm shows them."""
        if self.array_job_id is not None and self.array_task_id is not None:
            return f"{self.array_job_id}_{self.array_task_id}"
        return str(self.id)

    @property
    def cpu_id_list(self) -> list[int]:
        return [int(c) for c in self.cpu_ids.split(",")] if self.cpu_ids else []


JOB_COLUMNS: tuple[str, ...] = Job.__slots__
