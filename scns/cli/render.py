"""The one place that turns jobs and nodes into tables, text and JSON."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from scns.domain.job import Job
from scns.domain.states import JobState
from scns.domain.timespec import format_duration


def iso(ts: float | None) -> str | None:
    """ISO 8601 with the local time zone, as users read their own clock."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).astimezone().isoformat(timespec="seconds")


def job_dict(job: Job, now: float) -> dict[str, Any]:
    """The JSON contract of ``query --json`` and each element of ``queue --json``."""
    return {
        "job_id": job.id,  # an integer, as in Slurm's JSON; array tasks have their own
        "display_id": job.display_id,  # 123, or 123_4 for an array task
        "id": job.id,
        "array_job_id": job.array_job_id,
        "array_task_id": job.array_task_id,
        "name": job.name,
        "user": job.user_name,
        "state": job.state.value,
        "reason": job.reason,
        "exit_code": job.exit_code,
        "signal": job.signal,
        "cpus": job.cpus,
        "ntasks": job.ntasks,
        "cpus_per_task": job.cpus_per_task,
        "mem_mb": job.mem_mb or None,
        "node": job.node,
        "cpu_ids": job.cpu_id_list if job.cpu_ids else None,
        "time_limit": job.time_limit_s,
        "priority": job.priority,
        "nice": job.nice,
        "dependency": job.dependency,
        "held": bool(job.held),
        "submit_time": iso(job.submit_time),
        "begin_time": iso(job.begin_time),
        "expected_start_time": iso(job.expected_start_time),
        "start_time": iso(job.start_time),
        "end_time": iso(job.end_time),
        "wait_time_s": _wait_s(job, now),
        "run_time_s": _run_s(job, now),
        "workdir": job.workdir,
        "stdout_path": job.stdout_path,
        "stderr_path": job.stderr_path,
        "max_rss_bytes": job.max_rss_bytes,  # sacct's MaxRSS, from the job's cgroup
        "cpu_user_s": job.cpu_user_s,  # with cpu_system_s: sacct's TotalCPU
        "cpu_system_s": job.cpu_system_s,
    }


def _wait_s(job: Job, now: float) -> float | None:
    until = job.start_time or (job.end_time if job.state.is_terminal else now)
    return round(max(0.0, until - job.submit_time), 3)


def _run_s(job: Job, now: float) -> float | None:
    if job.start_time is None:
        return None
    return round(max(0.0, (job.end_time or now) - job.start_time), 3)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


TAIL_MAX_BYTES = 64 * 1024


def output_tail(path: str | None, lines: int = 10,
                max_bytes: int = TAIL_MAX_BYTES) -> list[str] | None:  # fmt: skip
    """The last lines of a job's output, read as the caller: at most ``max_bytes`` of a
    regular file, opened without following a link and without blocking, so ``/dev/zero``
    or a FIFO put in its place can neither exhaust memory nor hang ``query``."""
    import stat

    if not path:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        start = max(0, info.st_size - max_bytes)
        data = os.pread(fd, max_bytes, start)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode(errors="replace").splitlines()[-lines:]


def query_text(job: Job, now: float) -> str:
    """``scontrol show job`` in spirit: one ``Key=Value`` fact per line, then the output tail."""
    d = job_dict(job, now)
    code = "-" if job.exit_code is None and job.signal is None else (
        f"{job.exit_code or 0}:{job.signal or 0}")  # fmt: skip
    lines = [
        f"JobId={d['job_id']} JobName={job.name}",
        f"   UserId={job.user_name}({job.uid}) Priority={job.priority} Nice={job.nice}",
        f"   JobState={job.state.value} Reason={job.reason or 'None'}"
        f" Dependency={job.dependency or '(null)'}",
        f"   ExitCode={code}" + (f" Signal={job.signal}" if job.signal else ""),
        f"   NumCPUs={job.cpus} NumTasks={job.ntasks} CPUs/Task={job.cpus_per_task}"
        + (f" Mem={job.mem_mb}M" if job.mem_mb else ""),
        f"   TimeLimit={format_duration(job.time_limit_s)}"
        f" RunTime={format_duration(d['run_time_s'] or 0)}"
        f" WaitTime={format_duration(d['wait_time_s'] or 0)}",
        f"   SubmitTime={d['submit_time']} StartTime={d['start_time'] or _expected(d)}"
        f" EndTime={d['end_time'] or 'Unknown'}",
        f"   NodeList={job.node or '(null)'} CPU_IDs={job.cpu_ids or '(null)'}",
        *_usage_line(job),
        f"   WorkDir={job.workdir or _HIDDEN}",
        f"   StdOut={job.stdout_path or _HIDDEN}",
        f"   StdErr={job.stderr_path or _HIDDEN}",
    ]
    tail = output_tail(job.stdout_path) if job.start_time else None
    if tail:
        lines.append(f"   --- last {len(tail)} lines of output ---")
        lines += [f"   {line}" for line in tail]
    return "\n".join(lines) + "\n"


_HIDDEN = "(hidden: not your job)"


def _usage_line(job: Job) -> list[str]:
    """MaxRSS and TotalCPU as sacct shows them, once the job has been measured."""
    if job.max_rss_bytes is None and job.cpu_user_s is None:
        return []
    rss = "-" if job.max_rss_bytes is None else f"{job.max_rss_bytes // 1024}K"
    cpu = (job.cpu_user_s or 0.0) + (job.cpu_system_s or 0.0)
    return [
        f"   MaxRSS={rss} TotalCPU={cpu:.2f}s UserCPU={job.cpu_user_s or 0.0:.2f}s"
        f" SystemCPU={job.cpu_system_s or 0.0:.2f}s"
    ]


def _expected(d: dict) -> str:
    return f"{d['expected_start_time']} (expected)" if d["expected_start_time"] else "Unknown"


QUEUE_HEADER = ("JOBID", "NAME", "USER", "ST", "TIME", "TIME_LIMIT", "CPUS", "NODELIST(REASON)")


_SHORT = {s.value: s.short for s in JobState}


def print_queue(rows: Iterable[tuple], now: float) -> None:
    """The squeue-style table from narrow rows (statements.queue_table), in fixed widths.

    Like squeue's default format, columns have fixed widths (long names are cut), so rows
    stream out in one pass: 100,000 pending jobs print in a fraction of a second.
    """
    write = sys.stdout.write
    write(_QUEUE_LINE.format(*QUEUE_HEADER) + "\n")
    durations: dict[object, str] = {}
    out = []
    for (job_id, array_id, task_id, name, user, state, reason, node, start, end, limit,
         cpus) in rows:  # fmt: skip
        if state == "PENDING":
            where, elapsed = f"({reason or 'None'})", 0
        else:
            where, elapsed = node or "", int((end or now) - start) if start else 0
        shown = durations.get(elapsed) or durations.setdefault(elapsed, format_duration(elapsed))
        key = ("limit", limit)
        limit_text = durations.get(key) or durations.setdefault(key, format_duration(limit))
        display = str(job_id) if array_id is None else f"{array_id}_{task_id}"
        out.append(_QUEUE_LINE.format(display, name[:12], user[:10], _SHORT[state], shown,
                                      limit_text, cpus, where))  # fmt: skip
        if len(out) >= 5000:
            write("\n".join(out) + "\n")
            out.clear()
    if out:
        write("\n".join(out) + "\n")


def print_queue_lines(lines: list[str]) -> None:
    """The same table from lines the database formatted (statements.jobs._queue_line_sql)."""
    write = sys.stdout.write
    write(_QUEUE_LINE.format(*QUEUE_HEADER) + "\n")
    for start in range(0, len(lines), 5000):
        write("\n".join(lines[start : start + 5000]) + "\n")


_QUEUE_LINE = "{:>14} {:<12} {:<10} {:<3} {:>11} {:>11} {:>5} {}"


def print_table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> None:
    """Plain aligned columns, like squeue: fast for 100,000 rows and friendly to grep."""
    rows = list(rows)
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
    fmt = " ".join(f"{{:>{w}}}" if i in (0, 6) else f"{{:<{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header).rstrip()]
    out += [fmt.format(*row).rstrip() for row in rows]
    sys.stdout.write("\n".join(out) + "\n")
