"""``squeue``: the live queue as Slurm 22.05 prints it (src/squeue), from scns's jobs.

Finished jobs show only when asked for by state (``-t all``, ``-t CD``) and for MinJobAge
after they end. ``-j`` with one id that names no job (or one purged from view) fails as
Slurm's ``slurm_load_job`` does; with several ids, unknown ones are simply absent.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

from scns.compat import slurm_format as fmt
from scns.compat.slurm_format import Option, Row
from scns.domain.job import Job
from scns.domain.states import LIVE, TERMINAL, JobState
from scns.errors import InvalidInput, ScnsError

DEFAULT_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
LONG_FORMAT = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
INVALID_JOB_ID = "slurm_load_jobs error: Invalid job id specified"
USAGE = (
    "Usage: squeue [-A account] [--clusters names] [-i seconds] [--job jobid] [-n name]\n"
    "              [-o format] [-p partitions] [--qos qos] [--reservation reservation]\n"
    "              [--sort fields] [--start] [--states states] [-u user_name] [--usage]\n"
    "              [-w nodes] [--me] [-ahlrvV]\n"
)

OPTIONS = (
    Option("accounts", "A", ("accounts", "account"), "required"),
    Option("all", "a", ("all",)),
    Option("array", "r", ("array",)),
    Option("ignored", None, ("array-unique", "federation", "hide", "local", "sibling")),
    Option("noconvert", None, ("noconvert",)),
    Option("format", "o", ("format",), "required"),
    Option("Format", "O", ("Format",), "required"),
    Option("help", None, ("help",)),
    Option("jobs", "j", ("jobs",), "optional"),
    Option("long", "l", ("long",)),
    Option("licenses", "L", ("licenses",), "required"),
    Option("clusters", "M", ("cluster", "clusters"), "required"),
    Option("me", None, ("me",)),
    Option("name", "n", ("name",), "required"),
    Option("nodelist", "w", ("node", "nodes", "nodelist"), "required"),
    Option("noheader", "h", ("noheader",)),
    Option("partitions", "p", ("partitions",), "required"),
    Option("priority", "P", ("priority",)),
    Option("qos", "q", ("qos",), "required"),
    Option("reservation", "R", ("reservation",), "required"),
    Option("sort", "S", ("sort",), "required"),
    Option("states", "t", ("states",), "required"),
    Option("user", "u", ("user", "users"), "required"),
    Option("usage", None, ("usage",)),
    Option("verbose", "v", ("verbose",)),
    Option("version", "V", ("version",)),
)


class Item(NamedTuple):
    """One ``%[.][width]letter`` of a format and the text after it (letter None: prefix)."""

    letter: str | None
    width: int
    right: bool
    suffix: str


class Request(NamedTuple):
    items: list[Item]
    header: bool
    states: frozenset[str] | None  # None: every state
    refs: tuple[tuple[int, int | None], ...]
    users: frozenset[int] | None
    names: frozenset[str] | None
    nodes: frozenset[str] | None
    expand_arrays: bool
    dated: bool


Value = Callable[[Row, float], tuple[str, bool]]  # (text, cut to width)


def main(args: list[str], now: float | None = None) -> int:
    """Run the command; ``now`` is the time it runs at (tests pass one in)."""
    try:
        found, extra = fmt.parse_options(args, OPTIONS)
        keys = {key for key, _ in found}
        if keys & {"help", "usage"}:
            sys.stdout.write(USAGE)
            return 0
        if "version" in keys:
            sys.stdout.write(f"slurm {fmt.SLURM_VERSION}\n")
            return 0
        request = parse_request(found, extra, os.environ)
    except InvalidInput as exc:
        return _fail(str(exc))
    now = time.time() if now is None else now
    try:
        jobs = fetch(request, now)
    except ScnsError as exc:
        return _fail(str(exc))
    if jobs is None:
        sys.stderr.write(INVALID_JOB_ID + "\n")
        return 1
    lines = render(request, select(request, jobs, now), now)
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _fail(message: str) -> int:
    sys.stderr.write(f"squeue: error: {message}\n")
    return 1


def parse_request(found: list, extra: list[str], env) -> Request:
    """The options as one request; unknown format letters and users are reported and skipped,
    as Slurm does."""
    values: dict[str, str | None] = {}
    users: set[int] | None = None
    for key, value in found:
        if key == "user":
            users = _uids(value)
        elif key == "me":
            users = {os.geteuid()}
        else:
            values[key] = value
    if extra and "jobs" in values and values["jobs"] is None:
        values["jobs"] = extra.pop(0)  # `--jobs 5`: getopt leaves an optional value apart
    if extra:
        raise InvalidInput(f"Unrecognized option: {extra[0]}")
    if "Format" in values:
        raise InvalidInput("-O/--Format is not supported here; use -o/--format")
    long_list = "long" in values
    if long_list and "format" in values:
        raise InvalidInput("Options -o(--format) and -l(--long) are mutually exclusive")
    text = values.get("format") or (LONG_FORMAT if long_list else None)
    text = text or env.get("SQUEUE_FORMAT") or DEFAULT_FORMAT
    states = values.get("states") or env.get("SQUEUE_STATES")
    names = values.get("name")
    nodes = values.get("nodelist")
    return Request(
        items=parse_format(text),
        header="noheader" not in values,
        states=fmt.parse_state_list(states) if states else frozenset(s.value for s in LIVE),
        refs=_refs(values.get("jobs") or ""),
        users=frozenset(users) if users is not None else None,
        names=frozenset(n.casefold() for n in names.split(",") if n) if names else None,
        nodes=frozenset(n for n in nodes.split(",") if n) if nodes else None,
        expand_arrays="array" in values or "SQUEUE_ARRAY" in env,
        dated=long_list and "noheader" not in values,
    )


def _uids(text: str | None) -> set[int]:
    import pwd

    uids = set()
    for user in (text or "").split(","):
        if user.isdigit():
            uids.add(int(user))
            continue
        try:
            uids.add(pwd.getpwnam(user).pw_uid)
        except KeyError:
            sys.stderr.write(f"squeue: error: Invalid user: {user}\n")
    return uids


_REF = re.compile(r"([0-9]+)(?:_([0-9]+))?")


def _refs(text: str) -> tuple[tuple[int, int | None], ...]:
    """``-j`` ids as (job, task or None); like Slurm's strtol, anything after them is ignored."""
    refs = []
    for word in filter(None, text.split(",")):
        match = _REF.match(word)
        if not match or int(match.group(1)) <= 0:
            raise InvalidInput(f"Invalid job id: {word}")
        task = match.group(2)
        refs.append((int(match.group(1)), int(task) if task is not None else None))
    return tuple(refs)


def parse_format(text: str) -> list[Item]:
    """Slurm's parse_format: a prefix, then ``%[.][width]letter`` items each with its
    suffix; an unknown letter is reported and printed as it was written."""
    head, _, rest = text.partition("%")
    items = [Item(None, 0, False, head)] if head else []
    for token in filter(None, rest.split("%") if "%" in text else []):
        # Slurm knows only "."; "-" (left, the default anyway) is accepted as printf has it.
        match = re.match(r"(\.|-)?([0-9]*)(.?)", token)
        assert match is not None  # every part is optional
        right, width, letter = match.groups()
        suffix = token[match.end() :]
        if letter not in FIELDS:
            sys.stderr.write(f"squeue: error: Invalid job format specification: {letter}\n")
            items.append(Item(None, 0, False, "%" + token))
            continue
        items.append(Item(letter, int(width or 0), right == ".", suffix))
    return items


def fetch(request: Request, now: float) -> list[Job] | None:
    """The jobs the request could show; None when its one ``-j`` id names no job in view."""
    from scns.compat.backend import fetch_jobs
    from scns.service.jobs import JobFilter

    wanted = request.states
    finished = wanted is None or any(s in wanted for s in (t.value for t in TERMINAL))
    finished = finished or bool(request.refs)
    spec = JobFilter(
        refs=tuple(sorted({str(job_id) for job_id, _ in request.refs})),
        ended_since=now - fmt.MIN_JOB_AGE_S if finished else None,
        include_finished=finished,
    )
    jobs = fetch_jobs(spec)
    if len(request.refs) == 1 and not jobs:
        return None
    return jobs


def select(request: Request, jobs: list[Job], now: float) -> list[Row]:
    """Filter, show pending array tasks together, and order as squeue's default sort
    (partition, compact state as text, then priority, highest first)."""
    shown_since = now - fmt.MIN_JOB_AGE_S  # older finished jobs are gone from Slurm's view
    kept = [job for job in jobs if _wanted(request, job) and not _purged(job, shown_since)]
    rows = [Row(j) for j in kept] if request.expand_arrays else fmt.collapse_pending_arrays(kept)

    def order(row: Row) -> tuple:
        job = row.job
        return (fmt.compact_state(job.state), -((job.priority or 0) - (job.nice or 0)), job.id)

    return sorted(rows, key=order)


def _purged(job: Job, shown_since: float) -> bool:
    return job.state.is_terminal and (job.end_time or 0) < shown_since


def _wanted(request: Request, job: Job) -> bool:
    if request.refs and not any(_names(ref, job) for ref in request.refs):
        return False
    if request.states is not None and job.state.value not in request.states:
        return False
    if request.users is not None and job.uid not in request.users:
        return False
    if request.names is not None and (job.name or "").casefold() not in request.names:
        return False
    return request.nodes is None or job.node in request.nodes


def _names(ref: tuple[int, int | None], job: Job) -> bool:
    job_id, task = ref
    if task is None:
        return job_id in (job.id, job.array_job_id)
    return job.array_job_id == job_id and job.array_task_id == task


def render(request: Request, rows: list[Row], now: float) -> list[str]:
    lines = [time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now))] if request.dated else []
    if request.header:
        lines.append("".join(_header_cell(item) for item in request.items))
    for row in rows:
        lines.append("".join(_cell(item, row, now) for item in request.items))
    return lines


def _header_cell(item: Item) -> str:
    if item.letter is None:
        return item.suffix
    title = FIELDS[item.letter][0]
    cut = item.letter not in ("R", "N")  # Slurm prints these two titles whole
    return fmt.squeue_cell(title, item.width, item.right, cut) + item.suffix


def _cell(item: Item, row: Row, now: float) -> str:
    if item.letter is None:
        return item.suffix
    text, cut = FIELDS[item.letter][1](row, now)
    return fmt.squeue_cell(text, item.width, item.right, cut) + item.suffix


# ---- fields ---------------------------------------------------------------------------------


def _job_id(row: Row, now: float) -> tuple[str, bool]:
    text = fmt.job_id_text(row)
    # squeue formats a pending array's id into a 32-byte buffer.
    return (text[:31] if row.pending_tasks is not None else text), True


def _task_id(row: Row, now: float) -> tuple[str, bool]:
    job = row.job
    if row.pending_tasks is not None:
        return fmt.array_task_text(row.pending_tasks, job.array_max_running), True
    return ("N/A" if job.array_task_id is None else str(job.array_task_id)), True


def _time_limit(row: Row, now: float) -> tuple[str, bool]:
    limit = row.job.time_limit_s
    return ("UNLIMITED", True) if limit is None else (fmt.squeue_duration(limit), False)


def _time_left(row: Row, now: float) -> tuple[str, bool]:
    limit = row.job.time_limit_s
    if limit is None:
        return "UNLIMITED", True
    return fmt.squeue_duration(limit - fmt.elapsed_s(row.job, now)), False


def _reason_or_node(row: Row, now: float) -> tuple[str, bool]:
    job = row.job
    if fmt.shows_reason(job.state):
        return f"({fmt.state_reason(job)})", True
    return job.node or "", False


def _start(row: Row, now: float) -> tuple[str, bool]:
    job = row.job
    start = job.start_time or (job.expected_start_time if job.state is JobState.PENDING else None)
    return (fmt.slurm_time(start) if start else "N/A"), True


def _end(row: Row, now: float) -> tuple[str, bool]:
    job = row.job
    if job.state.is_terminal and job.end_time:
        return fmt.slurm_time(job.end_time), True
    if job.start_time is None or job.state is JobState.PENDING:
        return "N/A", True
    if job.time_limit_s is None:
        return "NONE", True
    return fmt.slurm_time(job.start_time + job.time_limit_s), True


def _group(row: Row, now: float) -> tuple[str, bool]:
    import grp

    try:
        return grp.getgrgid(row.job.gid).gr_name, True
    except (KeyError, TypeError, OverflowError):
        return str(row.job.gid), True


def _text(get: Callable[[Job], object]) -> Value:
    def value(row: Row, now: float) -> tuple[str, bool]:
        return str(get(row.job)), True

    return value


FIELDS: dict[str, tuple[str, Value]] = {  # letter: (title, value)
    "i": ("JOBID", _job_id),
    "A": ("JOBID", _text(lambda j: j.id)),
    "F": ("ARRAY_JOB_ID", _text(lambda j: j.id if j.array_job_id is None else j.array_job_id)),
    "K": ("ARRAY_TASK_ID", _task_id),
    "j": ("NAME", _text(lambda j: j.name or "")),
    "u": ("USER", _text(lambda j: j.user_name or j.uid)),
    "U": ("UID", _text(lambda j: j.uid)),
    "g": ("GROUP", _group),
    "G": ("GROUP", _text(lambda j: j.gid)),
    "t": ("ST", _text(lambda j: fmt.compact_state(j.state))),
    "T": ("STATE", _text(lambda j: j.state.value)),
    "M": ("TIME", lambda row, now: (fmt.squeue_duration(fmt.elapsed_s(row.job, now)), False)),
    "l": ("TIME_LIMIT", _time_limit),
    "L": ("TIME_LEFT", _time_left),
    "D": ("NODES", _text(lambda j: 1)),
    "C": ("CPUS", _text(lambda j: j.cpus)),
    "c": ("MIN_CPUS", _text(lambda j: j.cpus)),
    "m": ("MIN_MEMORY", _text(lambda j: fmt.with_unit(j.mem_mb or 0, fmt.UNIT_MEGA))),
    "R": ("NODELIST(REASON)", _reason_or_node),
    "r": ("REASON", _text(fmt.state_reason)),
    "N": ("NODELIST", lambda row, now: (row.job.node or "", False)),
    "B": ("EXEC_HOST", _text(lambda j: j.node or "n/a")),
    "P": ("PARTITION", _text(lambda j: fmt.DEFAULT_PARTITION)),
    "S": ("START_TIME", _start),
    "e": ("END_TIME", _end),
    "V": ("SUBMIT_TIME", _text(lambda j: fmt.slurm_time(j.submit_time))),
    "a": ("ACCOUNT", _text(lambda j: "(null)")),  # no accounts in scns: what squeue prints for none
    "k": ("COMMENT", _text(lambda j: "(null)")),
    "q": ("QOS", _text(lambda j: "normal")),
    "E": ("DEPENDENCY", _text(lambda j: j.dependency or "(null)")),
    "Z": ("WORK_DIR", _text(lambda j: j.workdir or "(null)")),
    "Q": ("PRIORITY", _text(lambda j: j.priority)),
    "y": ("NICE", _text(lambda j: j.nice)),
}
