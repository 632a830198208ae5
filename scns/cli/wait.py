"""``scns wait``: block until jobs end and exit as ``scns submit --wait`` does (``pueue
wait``): the highest exit code among them, 1 for a job a signal ended."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from scns.domain.dependency import JobRef
from scns.domain.job import Job
from scns.domain.states import ALLOCATED
from scns.errors import NotFound, ScnsError

TIMED_OUT = 124  # as timeout(1) exits
INTERRUPTED = 130
POLL_FIRST_S = 0.1  # a poll with backoff: how long the jobs take is unknown
POLL_MAX_S = 2.0
BAR_FROM_JOBS = 2  # on a terminal, a progress bar once there are this many jobs


def register(app: typer.Typer) -> None:
    app.command("wait")(wait)


def wait(
    job_ids: Annotated[
        list[str], typer.Argument(help="Job ids, array ids (every task) or array tasks.")
    ],
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", metavar="SECONDS", help="Give up after this long (exit 124)."),
    ] = None,
) -> None:
    """Wait for jobs to end; exit with the highest exit code among them (1 for a job a
    signal ended: cancel, timeout, out of memory), as `scns submit --wait` does.

    A progress bar on a terminal; one line per job as it ends when piped. Ctrl-C stops
    waiting and leaves the jobs alone.

    Example: scns wait 42 43 --timeout 600 && echo all done
    """
    raise typer.Exit(wait_for_jobs(job_ids, timeout))


def wait_for_jobs(refs: list[str], timeout_s: float | None) -> int:
    """The command's exit code; every message is one line."""
    from scns.compat.waiting import exit_code_of
    from scns.service.jobs import parse_job_ref

    deadline = None if timeout_s is None else time.monotonic() + max(0.0, timeout_s)
    try:
        wanted = [parse_job_ref(text) for text in refs]
        watch = _Watch(refs, wanted)
        seen = watch.first_look()
        with _display(seen) as display:
            jobs = _poll(watch, seen, display, deadline)
    except KeyboardInterrupt:
        sys.stderr.write("scns wait: stopped waiting; the jobs keep running\n")
        return INTERRUPTED
    except ScnsError as exc:
        sys.stderr.write(f"scns wait: error: {exc}\n")
        return 1
    if jobs is None:
        left = sum(not j.state.is_terminal for j in watch.last.values())
        sys.stderr.write(f"scns wait: timed out after {timeout_s:g}s; {left} of"
                         f" {len(watch.last)} jobs have not ended\n")  # fmt: skip
        return TIMED_OUT
    return exit_code_of(jobs)


def _poll(watch: _Watch, jobs: list[Job], display, deadline: float | None) -> list[Job] | None:
    """Jobs once all have ended, or None at the deadline."""
    poll_s = POLL_FIRST_S
    while True:
        display.show(jobs)
        if all(j.state.is_terminal for j in jobs):
            return jobs
        pause = poll_s
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            pause = min(pause, left)
        time.sleep(pause)
        poll_s = min(POLL_MAX_S, poll_s * 1.5)
        jobs = watch.look()


class _Watch:
    """The jobs some references name, looked up through the socket or the database."""

    def __init__(self, texts: list[str], refs: list[JobRef]) -> None:
        from scns.service.jobs import JobFilter

        self.texts = texts
        self.refs = refs
        self.spec = JobFilter(refs=tuple(str(r) for r in refs))
        self.last: dict[int, Job] = {}

    def first_look(self) -> list[Job]:
        """The jobs now; NotFound for a reference that names none."""
        jobs = self.look()
        for text, ref in zip(self.texts, self.refs, strict=True):
            if not any(_names(ref, job) for job in jobs):
                raise NotFound(f"invalid job id {text}: no such job")
        return jobs

    def look(self) -> list[Job]:
        """Every job named; one purged meanwhile keeps its last known record."""
        from scns.compat.backend import fetch_jobs

        for job in fetch_jobs(self.spec):
            self.last[job.id] = job
        return list(self.last.values())


def _names(ref: JobRef, job: Job) -> bool:
    if ref.task_id is not None:
        return job.array_job_id == ref.job_id and job.array_task_id == ref.task_id
    return job.id == ref.job_id or job.array_job_id == ref.job_id


def ending(job: Job) -> str:
    """``job 42: COMPLETED (exit 0)``, ``job 42_3: CANCELLED (signal 15)``."""
    if job.signal is not None:
        how = f" (signal {job.signal})"
    elif job.exit_code is not None:
        how = f" (exit {job.exit_code})"
    else:
        how = ""
    return f"job {job.display_id}: {job.state.value}{how}"


def _display(jobs: list[Job]):
    if sys.stdout.isatty() and len(jobs) >= BAR_FROM_JOBS:
        return _Bar(len(jobs))
    return _Lines()


class _Lines:
    """Piped (or one job): a line per job as it ends (again if it is requeued and ends)."""

    def __init__(self) -> None:
        self.told: dict[int, float | None] = {}

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def show(self, jobs: list[Job]) -> None:
        for job in sorted(jobs, key=lambda j: j.id):
            if job.state.is_terminal and self.told.get(job.id, -1.0) != job.end_time:
                self.told[job.id] = job.end_time
                sys.stdout.write(ending(job) + "\n")
        sys.stdout.flush()


class _Bar(_Lines):
    """On a terminal: done / running / pending and the time waited; jobs that did not
    complete are named above the bar."""

    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        super().__init__()
        self.progress = Progress(
            TextColumn("waiting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("done, {task.fields[running]} running, {task.fields[pending]} pending"),
            TimeElapsedColumn(),
        )
        self.task = self.progress.add_task("jobs", total=total, running=0, pending=total)

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, jobs: list[Job]) -> None:
        done = [j for j in jobs if j.state.is_terminal]
        running = sum(j.state in ALLOCATED for j in jobs)
        for job in sorted(done, key=lambda j: j.id):
            if self.told.get(job.id, -1.0) != job.end_time:
                self.told[job.id] = job.end_time
                if job.state.value != "COMPLETED" or job.exit_code:
                    self.progress.console.print(ending(job), markup=False, highlight=False)
        pending = len(jobs) - len(done) - running
        self.progress.update(self.task, total=len(jobs), completed=len(done), running=running,
                             pending=pending)  # fmt: skip
