"""The one place that turns jobs and nodes into tables, text and JSON."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any, TypeVar

from scns.domain.job import JOB_COLUMNS, Job
from scns.domain.states import JobState
from scns.domain.timefmt import iso
from scns.domain.timespec import format_duration

T = TypeVar("T")


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
        "restarts": job.restarts,  # requeues so far (SLURM_RESTART_COUNT)
        "argv": _argv(job.argv),  # the script's arguments
        "command": command_line(job.script),  # the script's first command, or the --wrap one
    }


def _wait_s(job: Job, now: float) -> float | None:
    if job.start_time is not None:
        return round(max(0.0, job.start_time - job.submit_time), 3)
    until = (now if job.end_time is None else job.end_time) if job.state.is_terminal else now
    return round(max(0.0, until - job.submit_time), 3)


def command_line(script: str | None) -> str | None:
    """What a job runs: its script's first line that is neither blank nor a comment (so not
    the ``#!`` line nor ``#SBATCH``), which for ``--wrap`` is the wrapped command; None when
    the script is hidden (another user's job) or has no such line."""
    if not script:
        return None
    for line in script.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text
    return None


def _argv(argv: str | None) -> list[str] | None:
    """The stored JSON list of script arguments; None when hidden."""
    return json.loads(argv) if argv else None


def _run_s(job: Job, now: float) -> float | None:
    if job.start_time is None:
        return None
    end = now if job.end_time is None else job.end_time
    return round(max(0.0, end - job.start_time), 3)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def print_json_stream(items: Iterable[dict[str, Any]]) -> None:
    """A JSON array written while its elements come, one element per line (json's C
    encoder, which ``indent`` would turn off; no list of them all in memory)."""
    print_json_texts(map(json.dumps, items))


def print_json_texts(texts: Iterable[str]) -> None:
    """A JSON array of elements already encoded, one per line, written in chunks."""
    write = sys.stdout.write
    opened = False
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == 1000:
            write((",\n" if opened else "[\n") + ",\n".join(chunk))
            opened = True
            chunk.clear()
    if chunk:
        write((",\n" if opened else "[\n") + ",\n".join(chunk))
        opened = True
    write("\n]\n" if opened else "[]\n")


def json_texts(rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """job_dict of each row of statements.json_listing_rows as JSON text: SQLite made most
    of it; this adds the rounded wait and run times, the floats (in Python's shortest form),
    the command and arguments. tests/unit/test_queue_format.py holds it equal to job_dict."""
    commands: dict[str, str] = {}  # script -> its command as JSON (arrays share one script)
    for head, paths, script, argv, waited, ran, cpu_user, cpu_system, restarts, _, _ in rows:
        command = commands.get(script)
        if command is None:
            command = commands[script] = json.dumps(command_line(script))
        yield (
            f'{head[:-1]},"wait_time_s":{round(max(0.0, waited), 3)!r},'
            f'"run_time_s":{"null" if ran is None else repr(round(max(0.0, ran), 3))},'
            f'{paths[1:-1]},"cpu_user_s":{"null" if cpu_user is None else repr(cpu_user)},'
            f'"cpu_system_s":{"null" if cpu_system is None else repr(cpu_system)},'
            f'"restarts":{restarts},"argv":{argv or "null"},"command":{command}}}'
        )


_TERMINAL_STATES = frozenset(s.value for s in JobState if s.is_terminal)


def row_dicts(rows: Iterable[Sequence[Any]], now: float) -> Iterator[dict[str, Any]]:
    """job_dict of each job row (JOB_COLUMNS order) without building Job records, for
    ``queue --json``; tests/unit/test_queue_format.py holds it equal to job_dict."""
    fields = itemgetter(*(JOB_COLUMNS.index(name) for name in _ROW_FIELDS))
    terminal = _TERMINAL_STATES
    for row in rows:
        (job_id, name, user, state, reason, script, argv, workdir, stdout_path, stderr_path,
         ntasks, cpus_per_task, cpus, mem_mb, limit, priority, nice, held, begin, dependency,
         array_id, task_id, submit, expected, start, end, exit_code, sig, node, cpu_ids,
         restarts, rss, cpu_user, cpu_system) = fields(row)  # fmt: skip
        if start is not None:
            until = start
        else:
            until = (now if end is None else end) if state in terminal else now
        yield {
            "job_id": job_id,
            "display_id": (
                str(job_id) if array_id is None or task_id is None else f"{array_id}_{task_id}"
            ),
            "id": job_id,
            "array_job_id": array_id,
            "array_task_id": task_id,
            "name": name,
            "user": user,
            "state": state,
            "reason": reason,
            "exit_code": exit_code,
            "signal": sig,
            "cpus": cpus,
            "ntasks": ntasks,
            "cpus_per_task": cpus_per_task,
            "mem_mb": mem_mb or None,
            "node": node,
            "cpu_ids": [int(c) for c in cpu_ids.split(",")] if cpu_ids else None,
            "time_limit": limit,
            "priority": priority,
            "nice": nice,
            "dependency": dependency,
            "held": bool(held),
            "submit_time": iso(submit),
            "begin_time": iso(begin),
            "expected_start_time": iso(expected),
            "start_time": iso(start),
            "end_time": iso(end),
            "wait_time_s": round(max(0.0, until - submit), 3),
            "run_time_s": None
            if start is None
            else round(max(0.0, (now if end is None else end) - start), 3),
            "workdir": workdir,
            "stdout_path": stdout_path,
            "stderr_path": stderr_path,
            "max_rss_bytes": rss,
            "cpu_user_s": cpu_user,
            "cpu_system_s": cpu_system,
            "restarts": restarts,
            "argv": _argv(argv),
            "command": command_line(script),
        }


_ROW_FIELDS = (
    "id", "name", "user_name", "state", "reason", "script", "argv", "workdir", "stdout_path",
    "stderr_path", "ntasks", "cpus_per_task", "cpus", "mem_mb", "time_limit_s", "priority",
    "nice", "held", "begin_time", "dependency", "array_job_id", "array_task_id", "submit_time",
    "expected_start_time", "start_time", "end_time", "exit_code", "signal", "node", "cpu_ids",
    "restarts", "max_rss_bytes", "cpu_user_s", "cpu_system_s",
)  # fmt: skip


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
    array = (f" ArrayJobId={job.array_job_id} ArrayTaskId={job.array_task_id}"
             if job.array_job_id is not None else "")  # fmt: skip
    hidden = job.script is None  # another user's job: its private fields are withheld
    from shlex import join

    lines = [
        f"JobId={d['job_id']}{array} JobName={job.name}",
        f"   UserId={job.user_name}({job.uid}) Priority={job.priority} Nice={job.nice}"
        f" Held={'yes' if job.held else 'no'}",
        f"   JobState={job.state.value} Reason={job.reason or 'None'}"
        f" Dependency={job.dependency or '(null)'}",
        f"   Restarts={job.restarts} ExitCode={code}"
        + (f" Signal={job.signal}" if job.signal else ""),
        f"   NumCPUs={job.cpus} NumTasks={job.ntasks} CPUs/Task={job.cpus_per_task}"
        + (f" Mem={job.mem_mb}M" if job.mem_mb else ""),
        f"   TimeLimit={format_duration(job.time_limit_s)}"
        f" RunTime={format_duration(d['run_time_s'] or 0)}"
        f" WaitTime={format_duration(d['wait_time_s'] or 0)}",
        f"   SubmitTime={d['submit_time']} BeginTime={d['begin_time'] or 'None'}",
        f"   StartTime={d['start_time'] or _expected(d)} EndTime={d['end_time'] or 'Unknown'}",
        f"   NodeList={job.node or '(null)'} CPU_IDs={job.cpu_ids or '(null)'}",
        *_usage_line(job),
        f"   Command={_HIDDEN if hidden else d['command'] or '(null)'}",
        f"   Argv={_HIDDEN if hidden else join(d['argv'] or []) or '(none)'}",
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


def print_queue(rows: Iterable[tuple], now: float, *, header: bool = True) -> None:
    """The squeue-style table from narrow rows (statements.queue_table), in fixed widths.

    Like squeue's default format, columns have fixed widths (names are cut at 24
    characters), so rows stream out in one pass: 100,000 pending jobs print in a fraction of
    a second. A row whose job id is a string (collapse_pending) shows it as it is.
    """
    write = sys.stdout.write
    if header:
        write(_QUEUE_LINE.format(*QUEUE_HEADER) + "\n")
    durations: dict[object, str] = {}
    out = []
    for (job_id, array_id, task_id, name, user, state, reason, node, start, end, limit,
         cpus, *_) in rows:  # fmt: skip
        if state == "PENDING":
            where, elapsed = f"({reason or 'None'})", 0
        else:
            where, elapsed = node or "", int((end or now) - start) if start else 0
        shown = durations.get(elapsed) or durations.setdefault(elapsed, format_duration(elapsed))
        key = ("limit", limit)
        limit_text = durations.get(key) or durations.setdefault(key, format_duration(limit))
        display = str(job_id) if array_id is None else f"{array_id}_{task_id}"
        out.append(_QUEUE_LINE.format(display, name[:24], user[:10], _SHORT[state], shown,
                                      limit_text, cpus, where))  # fmt: skip
        if len(out) >= 5000:
            write("\n".join(out) + "\n")
            out.clear()
    if out:
        write("\n".join(out) + "\n")


def print_queue_lines(lines: list[str], *, header: bool = True) -> None:
    """The same table from lines the database formatted (statements.listings._queue_line_sql)."""
    write = sys.stdout.write
    if header:
        write(_QUEUE_LINE.format(*QUEUE_HEADER) + "\n")
    for start in range(0, len(lines), 5000):
        write("\n".join(lines[start : start + 5000]) + "\n")


_QUEUE_LINE = "{:>14} {:<24} {:<10} {:<3} {:>11} {:>11} {:>5} {}"
_ID_WIDTH = 14  # the JOBID column's


def collapse_pending(rows: list[T], task_of: Callable[[T], tuple[int, int, int | None] | None],
                     shown_as: Callable[[T, str], T]) -> list[T]:  # fmt: skip
    """squeue's pending arrays: two or more pending tasks of one array become one row at the
    place of the first, its id ``42_[5-99%4]`` (slurm_format.array_task_text).

    ``task_of(row)`` is (array id, task id, max running) for a pending array task, else
    None; ``shown_as(row, text)`` is that row showing the id ``text``.
    """
    groups: dict[int, list[int]] = {}
    for row in rows:
        task = task_of(row)
        if task is not None:
            groups.setdefault(task[0], []).append(task[1])
    if all(len(tasks) < 2 for tasks in groups.values()):
        return rows
    from scns.compat.slurm_format import array_task_text

    out, done = [], set()
    for row in rows:
        task = task_of(row)
        tasks = groups[task[0]] if task is not None else ()
        if len(tasks) < 2:
            out.append(row)
        elif task is not None and task[0] not in done:
            done.add(task[0])
            out.append(shown_as(row, f"{task[0]}_[{array_task_text(tasks, task[2])}]"))
    return out


def collapse_pending_rows(rows: list[tuple]) -> list[tuple]:
    """collapse_pending over rows of statements.queue_table with array_max_running."""
    return collapse_pending(
        rows,
        lambda r: (r[1], r[2], r[12]) if r[1] is not None and r[5] == "PENDING" else None,
        lambda r, text: (text, None, None, *r[3:]),
    )


def collapse_pending_lines(rows: list[tuple[str, str | None]]) -> list[str]:
    """collapse_pending over (line, tag) rows of statements.queue_lines: the shown row is the
    first task's line with the array's id in the JOBID column."""

    def task_of(row: tuple[str, str | None]) -> tuple[int, int, int | None] | None:
        if row[1] is None:
            return None
        array_id, task_id, limit = (int(n) for n in row[1].split(" "))
        return array_id, task_id, limit or None

    def shown_as(row: tuple[str, str | None], text: str) -> tuple[str, str | None]:
        task = task_of(row)
        assert task is not None
        width = max(_ID_WIDTH, len(f"{task[0]}_{task[1]}"))
        return f"{text:>{_ID_WIDTH}}" + row[0][width:], None

    return [line for line, _ in collapse_pending(rows, task_of, shown_as)]


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
