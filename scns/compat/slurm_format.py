"""How Slurm 22.05 prints jobs: states, times, exit codes, job ids, node lists, cells.

Pure functions shared by the Slurm commands (squeue, sacct, scontrol, sinfo), each written
from the Slurm source it names, plus the getopt-style command-line reader they all use.
Times are epoch seconds rendered in the local zone, as Slurm renders them.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from scns.domain.job import Job
from scns.domain.states import SHORT, JobState
from scns.domain.timespec import format_duration
from scns.errors import InvalidInput

DEFAULT_PARTITION = "scns"
"""The one partition every job runs in (sinfo marks it ``scns*``)."""

NO_NODES = "None assigned"
"""sacct's NodeList of a job that never got a node (slurmdbd's text)."""

SLURM_VERSION = "22.05.0"
"""The Slurm release whose output these commands follow (``--version``)."""

MIN_JOB_AGE_S = 300
"""Slurm's MinJobAge: how long squeue still shows a finished job."""

YEAR_S = 365 * 86400

# ---- states ---------------------------------------------------------------------------------

# Every name and compact code Slurm accepts in a state list (job_state_num), base states first.
SLURM_STATES: dict[str, str] = {
    "PENDING": "PD", "RUNNING": "R", "SUSPENDED": "S", "COMPLETED": "CD", "CANCELLED": "CA",
    "FAILED": "F", "TIMEOUT": "TO", "NODE_FAIL": "NF", "PREEMPTED": "PR", "BOOT_FAIL": "BF",
    "DEADLINE": "DL", "OUT_OF_MEMORY": "OOM", "COMPLETING": "CG", "CONFIGURING": "CF",
    "RESIZING": "RS", "RESV_DEL_HOLD": "RD", "REQUEUED": "RQ", "REQUEUE_FED": "RF",
    "REQUEUE_HOLD": "RH", "REVOKED": "RV", "SIGNALING": "SI", "SPECIAL_EXIT": "SE",
    "STAGE_OUT": "SO", "STOPPED": "ST",
}  # fmt: skip


def parse_state_list(text: str) -> frozenset[str] | None:
    """``-t/--states`` and ``-s/--state``: Slurm state names (any case, names or codes, comma
    separated) to canonical names; None for ``all``. States scns never has select nothing."""
    if text.strip().lower() == "all":
        return None
    names = set()
    for word in text.split(","):
        key = word.strip().upper()
        name = next((n for n, c in SLURM_STATES.items() if key in (n, c)), None)
        if name is None:
            raise InvalidInput(f"Invalid job state specified: {word}")
        names.add(name)
    return frozenset(names)


def compact_state(state: JobState) -> str:
    """squeue's %t: PD R CF CD F CA TO NF OOM."""
    return SHORT[state]


def accounting_state(state: JobState) -> str:
    """sacct's State: the accounting database keeps base states, so CONFIGURING is RUNNING
    (submitit reads any state it does not know as finished)."""
    return JobState.RUNNING.value if state is JobState.CONFIGURING else state.value


# ---- times ----------------------------------------------------------------------------------


def slurm_time(ts: float | None) -> str:
    """slurm_make_time_str: local ``YYYY-MM-DDTHH:MM:SS``, ``Unknown`` when unset."""
    if not ts:
        return "Unknown"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(int(ts)))


def squeue_duration(seconds: int) -> str:
    """squeue's _print_secs (TIME, TIME_LIMIT): ``M:SS``, ``H:MM:SS`` or ``D-HH:MM:SS``."""
    if seconds < 0 or seconds > YEAR_S:
        return "INVALID"
    return format_duration(seconds)


def _parts(seconds: int) -> tuple[int, int, int, int]:
    """(days, hours, minutes, seconds) of a whole number of seconds."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return days, hours, minutes, secs


def clock_duration(seconds: int | None) -> str:
    """secs2time_str (sacct Elapsed and Timelimit, scontrol RunTime and TimeLimit):
    ``HH:MM:SS`` or ``D-HH:MM:SS``; None is ``UNLIMITED``."""
    if seconds is None:
        return "UNLIMITED"
    if seconds < 0:
        return "INVALID"
    days, hours, minutes, secs = _parts(seconds)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


def cpu_duration(seconds: float | None) -> str:
    """sacct's _elapsed_time (TotalCPU, UserCPU, SystemCPU): milliseconds shown only under an
    hour, ``MM:SS.mmm``; otherwise ``00:MM:SS``, ``HH:MM:SS`` or ``D-HH:MM:SS``."""
    micros = round((seconds or 0.0) * 1_000_000)
    whole, millis = micros // 1_000_000, (micros % 1_000_000) // 1000
    days, hours, minutes, secs = _parts(whole)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if millis:
        return f"{minutes:02d}:{secs:02d}.{millis:03d}"
    return f"00:{minutes:02d}:{secs:02d}"


def elapsed_s(job: Job, now: float) -> int:
    """Run time in whole seconds (job_time_used): 0 until started, up to now while running."""
    if job.start_time is None or job.state is JobState.PENDING:
        return 0
    end = job.end_time if job.end_time is not None and job.state.is_terminal else now
    return max(0, int(end) - int(job.start_time))


_UNIT_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_NAMED_CLOCK = {"midnight": 0, "noon": 12, "fika": 15, "teatime": 16}
_CLOCK_RE = r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?"
_CLOCK = re.compile(_CLOCK_RE)
_ISO = re.compile(rf"([0-9]{{4}})-([0-9]{{1,2}})-([0-9]{{1,2}})(?:t{_CLOCK_RE})?")
_US = re.compile(rf"([0-9]{{1,2}})[/.]?([0-9]{{1,2}})(?:[/.]?([0-9]{{2}}))?(?:-{_CLOCK_RE})?")


def parse_time(text: str, now: float) -> float:
    """Slurm's parse_time looking into the past (-S, -E): ``now[-N[unit]]``, ``today``,
    ``midnight``, ``YYYY-MM-DD[THH:MM[:SS]]``, ``MM/DD[/YY][-HH:MM[:SS]]``, ``MMDD[YY]``,
    ``HH:MM[:SS]`` (today), ``uts<epoch>``; dates without a year are this year's, or last
    year's when that month is still to come."""
    word = text.strip().lower()
    today = time.localtime(now)
    try:
        if match := re.fullmatch(r"uts([0-9]{7,})", word):
            return float(match.group(1))
        if match := re.fullmatch(r"now(?:\s*([+-])\s*([0-9]+)\s*([a-z]*))?", word):
            sign, count, unit = match.groups()
            if sign is None:
                return now
            scale = _UNIT_S.get(unit.removesuffix("s")) if unit else 1
            if scale is None:
                raise ValueError(unit)
            return now + (1 if sign == "+" else -1) * int(count) * scale
        if word in ("today", "tomorrow"):
            day = time.localtime(now + 86400) if word == "tomorrow" else today
            return _local(day.tm_year, day.tm_mon, day.tm_mday)
        if word in _NAMED_CLOCK:
            return _local(today.tm_year, today.tm_mon, today.tm_mday, _NAMED_CLOCK[word])
        if match := _ISO.fullmatch(word):
            return _local(*(int(g or 0) for g in match.groups()))
        if match := _CLOCK.fullmatch(word):
            clock = (int(g or 0) for g in match.groups())
            return _local(today.tm_year, today.tm_mon, today.tm_mday, *clock)
        if match := _US.fullmatch(word):
            us_month, us_day, us_year, *us_clock = (int(g or 0) for g in match.groups())
            if match.group(3) is None:  # no year: the last such date, as sacct reads it
                us_year = today.tm_year - 1 if us_month > today.tm_mon else today.tm_year
            else:
                us_year += 2000
            return _local(us_year, us_month, us_day, *us_clock)
    except (ValueError, OverflowError):
        pass
    raise InvalidInput(f"Invalid time specification: {text}")


def _local(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
           second: int = 0) -> float:  # fmt: skip
    """Local wall-clock time to epoch seconds, refusing impossible dates."""
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise ValueError("out of range")
    return time.mktime((year, month, day, hour, minute, second, 0, 0, -1))


# ---- numbers, exit codes, reasons -----------------------------------------------------------

UNIT_NONE, UNIT_KILO, UNIT_MEGA = 0, 1, 2


def with_unit(value: float, unit: int, *, convert: bool = True) -> str:
    """convert_num_unit with sacct's and squeue's default CONVERT_NUM_UNIT_EXACT: scale by 1024
    while no precision is lost (halves count as exact), e.g. 954M, 4G, 2.50G, 204804K."""
    if int(value) == 0:
        return "0"
    while convert and value >= 1024 and int(value) % 512 == 0:
        value /= 1024
        unit += 1
    suffix = ("", "K", "M", "G", "T", "P")[unit] if unit <= 5 else "?"
    return f"{int(value)}{suffix}" if int(value) == value else f"{value:.2f}{suffix}"


def exit_code_text(job: Job) -> str:
    """``ExitCode`` as ``status:signal``: ``3:0``, ``0:9`` for a signal, ``0:0`` while live."""
    if job.signal:
        return f"0:{job.signal}"
    code = job.exit_code or 0
    return f"{code - 128 if code >= 128 else code}:0"


_ENDING_REASONS = {
    JobState.TIMEOUT: "TimeLimit",
    JobState.OUT_OF_MEMORY: "OutOfMemory",
    JobState.NODE_FAIL: "NodeDown",
}


def state_reason(job: Job) -> str:
    """Slurm's reason word: why a job waits, or why it failed; ``None`` otherwise."""
    if job.state is JobState.PENDING:
        # scns's own notes (a requeue's cause) are sentences; Slurm's reasons are one word.
        return job.reason if job.reason and len(job.reason.split()) == 1 else "None"
    if job.state is JobState.FAILED:
        return "NonZeroExitCode" if job.exit_code else "JobLaunchFailure"
    return _ENDING_REASONS.get(job.state, "None")


def shows_reason(state: JobState) -> bool:
    """squeue's %R shows ``(reason)`` rather than the node for these states."""
    return state in (JobState.PENDING, JobState.FAILED, JobState.TIMEOUT, JobState.OUT_OF_MEMORY)


# ---- job ids and pending arrays -------------------------------------------------------------


class Row(NamedTuple):
    """One output line: a job, or pending tasks of one array shown together (``job`` is the
    first of them)."""

    job: Job
    pending_tasks: tuple[int, ...] | None = None


def collapse_pending_arrays(jobs: Sequence[Job]) -> list[Row]:
    """Rows in the jobs' order; two or more pending tasks of one array become a single row at
    the place of the first, as Slurm keeps them in one record until each starts."""
    groups: dict[int, list[Job]] = {}
    for job in jobs:
        if job.array_job_id is not None and job.state is JobState.PENDING:
            groups.setdefault(job.array_job_id, []).append(job)
    rows: list[Row] = []
    for job in jobs:
        group = groups.get(job.array_job_id, []) if job.array_job_id is not None else []
        if len(group) < 2 or job.state is not JobState.PENDING:
            rows.append(Row(job))
        elif group[0] is job:
            rows.append(Row(job, tuple(sorted(t.array_task_id or 0 for t in group))))
    return rows


def array_task_text(task_ids: Sequence[int], max_running: int | None) -> str:
    """xlate_array_task_str: ``0-3``, ``1,3,5-7`` or ``0-20:4`` (cut to 63 characters with
    ``...``), then ``%N`` when a limit is set."""
    ids = sorted(set(task_ids))
    first, last = ids[0], ids[-1]
    steps = {b - a for a, b in itertools.pairwise(ids)}
    if last - first > 10 and len(ids) > 5 and len(steps) == 1 and steps != {1}:
        text = f"{first}-{last}:{steps.pop()}"
    else:
        text = ",".join(f"{a}-{b}" if a != b else str(a) for a, b in _runs(ids))[:63]
        if len(text) > 61:
            text = text[:60] + "..."
    return f"{text}%{max_running}" if max_running else text


def _runs(ids: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in ids:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def job_id_text(row: Row) -> str:
    """``123``, ``5_1`` for an array task, ``5_[0-3%2]`` for pending tasks shown together."""
    job = row.job
    if row.pending_tasks is not None:
        return f"{job.array_job_id}_[{array_task_text(row.pending_tasks, job.array_max_running)}]"
    return job.display_id


_NODE = re.compile(r"(.*?)([0-9]+)")


def nodelist(names: Iterable[str]) -> str:
    """Slurm's compact host list: ``n1``, ``pre[1-3,5]``, ``node[01-02]`` (sorted, one range
    per prefix and digit width)."""
    groups: dict[tuple[str, int], list[int]] = {}
    plain: list[str] = []
    for name in names:
        match = _NODE.fullmatch(name)
        if not match:
            plain.append(name)
            continue
        prefix, digits = match.groups()
        width = len(digits) if digits.startswith("0") and len(digits) > 1 else 0
        groups.setdefault((prefix, width), []).append(int(digits))
    out = sorted(set(plain))
    for (prefix, width), numbers in sorted(groups.items()):
        ranges = _runs(sorted(set(numbers)))
        parts = [f"{a:0{width}d}" + (f"-{b:0{width}d}" if b != a else "") for a, b in ranges]
        single = len(ranges) == 1 and ranges[0][0] == ranges[0][1]
        out.append(f"{prefix}{parts[0]}" if single else f"{prefix}[{','.join(parts)}]")
    return ",".join(out)


# ---- cells ----------------------------------------------------------------------------------


def squeue_cell(text: str, width: int, right: bool, cut: bool = True) -> str:
    """squeue's _print_str: ``%.N`` right-justifies, ``%N`` left-justifies; both cut to N
    characters unless the field never cuts (TIME, NODELIST)."""
    if width <= 0:
        return text
    if cut or not right:  # a left-justified field is cut by printf's precision regardless
        text = text[:width]
    return text.rjust(width) if right else text.ljust(width)


def sacct_cell(text: str | None, width: int, *, truncate: bool = True) -> str:
    """print_fields_str in the fixed-width layout: negative widths left-justify, longer values
    end in ``+``; every cell is followed by one space."""
    size = abs(width)
    if text is None:
        text = ""
    elif truncate and len(text) > size:
        text = text[: size - 1] + "+" if size else ""
    return (text.rjust(size) if width >= 0 else text.ljust(size)) + " "


# ---- command lines --------------------------------------------------------------------------


class Option(NamedTuple):
    """One getopt_long option: ``value`` is "none", "required" or "optional" (attached only)."""

    key: str
    short: str | None
    longs: tuple[str, ...]
    value: str = "none"


def parse_options(argv: Sequence[str], options: Sequence[Option]) -> tuple[list, list[str]]:
    """Read argv as GNU getopt_long does: bundled short flags (``-nu USER``), attached values
    (``-j5``, ``--jobs=5``), unique prefixes of long names (``--job``), ``--``; arguments may
    come anywhere. Returns ((key, value) in order, positional arguments)."""
    by_short = {o.short: o for o in options if o.short}
    by_long = {name: o for o in options for name in o.longs}
    found: list[tuple[str, str | None]] = []
    positional: list[str] = []
    option: Option | None
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if arg.startswith("--"):
            name, eq, attached = arg[2:].partition("=")
            option = by_long.get(name) or _unique_prefix(name, by_long)
            if option.value == "none" and eq:
                raise InvalidInput(f"option '--{name}' doesn't allow an argument")
            value = attached if eq else None
            if option.value == "required" and not eq:
                if i >= len(argv):
                    raise InvalidInput(f"option '--{name}' requires an argument")
                value, i = argv[i], i + 1
            found.append((option.key, value))
        elif arg.startswith("-") and len(arg) > 1:
            at = 1
            while at < len(arg):
                option = by_short.get(arg[at])
                if option is None:
                    raise InvalidInput(f"invalid option -- '{arg[at]}'")
                rest, at = arg[at + 1 :], at + 1
                if option.value == "none":
                    found.append((option.key, None))
                    continue
                if option.value == "required" and not rest:
                    if i >= len(argv):
                        raise InvalidInput(f"option requires an argument -- '{option.short}'")
                    rest, i = argv[i], i + 1
                found.append((option.key, rest or None))
                break
        else:
            positional.append(arg)
    return found, positional


def _unique_prefix(name: str, by_long: dict[str, Option]) -> Option:
    matches = {o.key: o for full, o in by_long.items() if full.startswith(name)} if name else {}
    if len(matches) == 1:
        return next(iter(matches.values()))
    if matches:
        raise InvalidInput(f"option '--{name}' is ambiguous")
    raise InvalidInput(f"unrecognized option '--{name}'")
