"""Standard Workload Format (Parallel Workloads Archive) traces, so real workloads can be replayed.

A line holds 18 whitespace-separated fields; -1 means unknown; lines starting with ';' are header
comments. Fields: 1 job number, 2 submit time, 3 wait time, 4 run time, 5 allocated processors,
6 average cpu time, 7 used memory, 8 requested processors, 9 requested time, 10 requested memory,
11 status, 12 user, 13 group, 14 executable, 15 queue, 16 partition, 17 preceding job,
18 think time. Only what a replay needs is kept: requested processors (else allocated), run time,
and requested time (else run time). Jobs with an unknown run time or no processors are skipped.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FIELDS = 18


@dataclass(frozen=True, slots=True)
class SwfJob:
    """One replayable job: when it arrives, how wide it is, how long it runs and asks to run."""

    job_id: int
    submit_s: int
    run_s: int
    cpus: int
    time_limit_s: int  # the user's estimate (requested time), never unknown once parsed


def parse_swf(lines: Iterable[str]) -> list[SwfJob]:
    """Jobs of an SWF text; raises ValueError naming the first malformed line."""
    jobs = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith(";"):
            continue
        try:
            job = _parse_line(text)
        except ValueError as err:
            raise ValueError(f"line {number}: {err}") from None
        if job is not None:
            jobs.append(job)
    return jobs


def read_swf(path: Path) -> list[SwfJob]:
    """Jobs of an SWF file."""
    with path.open(encoding="utf-8") as handle:
        return parse_swf(handle)


def format_swf(jobs: Iterable[SwfJob], header: Iterable[str] = ()) -> str:
    """SWF text for jobs: the kept fields filled in, every other field -1."""
    lines = [f"; {comment}" for comment in header]
    for job in jobs:
        fields = [-1] * FIELDS
        fields[0], fields[1], fields[3] = job.job_id, job.submit_s, job.run_s
        fields[4] = fields[7] = job.cpus
        fields[8] = job.time_limit_s
        lines.append(" ".join(str(value) for value in fields))
    return "\n".join(lines) + "\n"


def write_swf(path: Path, jobs: Iterable[SwfJob], header: Iterable[str] = ()) -> None:
    """Write jobs as an SWF file."""
    path.write_text(format_swf(jobs, header), encoding="utf-8")


def _parse_line(text: str) -> SwfJob | None:
    parts = text.split()
    if len(parts) != FIELDS:
        raise ValueError(f"expected {FIELDS} fields, got {len(parts)}")
    try:
        values = [int(float(part)) for part in parts]
    except ValueError:
        raise ValueError("fields must be numbers") from None
    run_s = values[3]
    cpus = values[7] if values[7] > 0 else values[4]
    if run_s < 0 or cpus <= 0:
        return None
    time_limit_s = values[8] if values[8] > 0 else run_s
    return SwfJob(
        job_id=values[0], submit_s=values[1], run_s=run_s, cpus=cpus, time_limit_s=time_limit_s
    )
