"""``sacct``: accounting records as Slurm 22.05 prints them (src/sacct), from scns's jobs.

scns has no job steps, so a job's one row is its allocation (``-X`` changes nothing). The
time window and the users shown follow sacct's defaults (slurmdb_job_cond_def_start_end):
without ``-j``, jobs since midnight and only the caller's; with ``-j``, any time, any user.
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
from scns.domain.states import JobState
from scns.errors import InvalidInput, ScnsError

DEFAULT_FIELDS = "jobid,jobname,partition,account,alloccpus,state,exitcode"
BRIEF_FIELDS = "jobid,state,exitcode"
USAGE = (
    "Usage: sacct [-a] [-b] [-D] [-E time] [-j job[,job]] [-n] [-N nodes] [-o fields] [-p|-P]\n"
    "             [-s states] [-S time] [-u users] [-X] [--name names] [--delimiter str]\n"
    "             [--noconvert] [-e] [-V]\n"
)

OPTIONS = (
    Option("allusers", "a", ("allusers",)),
    Option("accounts", "A", ("accounts",), "required"),
    Option("allocations", "X", ("allocations",)),
    Option("allocations", "t", ()),  # Slurm's deprecated spelling of -X
    Option("brief", "b", ("brief",)),
    Option("delimiter", None, ("delimiter",), "required"),
    Option("ignored", "D", ("duplicates",)),
    Option("ignored", "T", ("truncate",)),
    Option("ignored", "L", ("allclusters", "federation", "local")),
    Option("helpformat", "e", ("helpformat", "help-fields")),
    Option("endtime", "E", ("endtime",), "required"),
    Option("help", "h", ("help",)),
    Option("name", None, ("name",), "required"),
    Option("jobs", "j", ("jobs",), "required"),
    Option("long", "l", ("long",)),
    Option("clusters", "M", ("cluster", "clusters"), "required"),
    Option("nodelist", "N", ("nodelist",), "required"),
    Option("noconvert", None, ("noconvert",)),
    Option("noheader", "n", ("noheader",)),
    Option("format", "o", ("fields", "format"), "required"),
    Option("parsable", "p", ("parsable",)),
    Option("parsable2", "P", ("parsable2",)),
    Option("qos", "q", ("qos",), "required"),
    Option("partition", "r", ("partition",), "required"),
    Option("state", "s", ("state",), "required"),
    Option("starttime", "S", ("starttime",), "required"),
    Option("user", "u", ("uid", "user"), "required"),
    Option("usage", "U", ("usage",)),
    Option("verbose", "v", ("verbose",)),
    Option("version", "V", ("version",)),
)


class Context(NamedTuple):
    now: float
    convert: bool  # False with --noconvert: sizes stay in their unit


class Field(NamedTuple):
    """One sacct column: Slurm's name and default width (negative: left-justified), how it is
    printed (``str`` cut with ``+``; ``num`` and ``time`` never cut; ``date`` cut to width)."""

    name: str
    width: int
    kind: str
    value: Callable[[Row, Context], str | None]


class Request(NamedTuple):
    columns: list[tuple[Field, int]]
    header: bool
    parsable: int  # 0 fixed width, 1 with a trailing delimiter (--parsable), 2 without
    delimiter: str
    convert: bool
    refs: tuple[str, ...]
    names: tuple[str, ...]
    users: tuple[str, ...] | None  # None: every user
    states: frozenset[str] | None
    start: float | None
    end: float
    nodes: frozenset[str] | None


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
        if "helpformat" in keys:
            sys.stdout.write(_field_names())
            return 0
        if extra:
            raise InvalidInput(f"Unknown arguments: {' '.join(extra)}")
        now = time.time() if now is None else now
        request = parse_request(found, now, os.environ, None if os.getuid() == 0 else _user())
    except InvalidInput as exc:
        return _fail(str(exc))
    try:
        jobs = fetch(request)
    except ScnsError as exc:
        return _fail(str(exc))
    lines = render(request, select(request, jobs), now)
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _fail(message: str) -> int:
    sys.stderr.write(f"sacct: error: {message}\n")
    return 1


def parse_request(found: list, now: float, env, caller: str | None) -> Request:
    """The options as one request, with sacct's default window and users (without -j, -u or
    -a: the ``caller``'s jobs; None for root, who sees everyone's)."""
    values: dict[str, str | None] = {}
    refs: list[str] = []
    formats: list[str] = []
    users: list[str] | None = None
    all_users = False
    for key, value in found:
        if key == "jobs":
            refs += [_job_ref(word) for word in (value or "").split(",") if word]
        elif key == "format":
            formats.append(value or "")
        elif key == "allusers":
            all_users = True
        elif key == "user":
            all_users = value == "-1"
            users = None if all_users else [*(users or []), *filter(None, (value or "").split(","))]
        else:
            values[key] = value
    if "long" in values:
        raise InvalidInput("-l/--long is not supported here; name the fields with --format")
    if "brief" in values:
        formats.append(BRIEF_FIELDS)
    text = ",".join(formats) or env.get("SACCT_FORMAT") or DEFAULT_FIELDS
    states = fmt.parse_state_list(values["state"] or "") if "state" in values else None
    start = fmt.parse_time(values["starttime"] or "", now) if "starttime" in values else None
    end = fmt.parse_time(values["endtime"] or "", now) if "endtime" in values else None
    start, end = _window(start, end, now, has_refs=bool(refs), has_states=states is not None)
    if not users and (refs or "nodelist" in values or caller is None):
        all_users = True
    if not all_users and not users:
        users = [caller or ""]
    nodes = values.get("nodelist")
    return Request(
        columns=parse_fields(text),
        header="noheader" not in values,
        parsable=2 if "parsable2" in values else 1 if "parsable" in values else 0,
        delimiter=values.get("delimiter") or "|",
        convert="noconvert" not in values,
        refs=tuple(refs),
        names=tuple(n for n in (values.get("name") or "").split(",") if n),
        users=None if all_users else tuple(users or ()),
        states=states,
        start=start,
        end=end,
        nodes=frozenset(n for n in nodes.split(",") if n) if nodes else None,
    )


_JOB_REF = re.compile(r"([0-9]+)(?:_([0-9]+))?(?:\.[A-Za-z0-9+]+)?")


def _job_ref(word: str) -> str:
    """``123``, ``123_4``, with any ``.step`` dropped: scns jobs have one step, themselves."""
    match = _JOB_REF.fullmatch(word.strip())
    if not match:
        raise InvalidInput(f"Bad job/step specified: {word}")
    return match.group(1) + (f"_{match.group(2)}" if match.group(2) is not None else "")


def _user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # no passwd entry (containers): the id is the name
        return str(os.getuid())


def _window(start: float | None, end: float | None, now: float, *, has_refs: bool,
            has_states: bool) -> tuple[float | None, float]:  # fmt: skip
    """slurmdb_job_cond_def_start_end: -S defaults to midnight (no -j, no -s), now (-s only)
    or the beginning of time (-j); -E to now (to -S with -s); the window is [S, E)."""
    if has_states:
        if start is None and not has_refs:
            start = now
        if start is not None and end is None:
            end = start
    elif not has_refs and start is None:
        start = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    end = now if end is None else end
    if end in (start, now):
        end += 1  # [S, E) must include S itself, and the current second
    if start is not None and start > end:
        raise InvalidInput(f"Start time ({fmt.slurm_time(start)}) requested is after end time"
                           f" ({fmt.slurm_time(end)}).")  # fmt: skip
    return start, end


def parse_fields(text: str) -> list[tuple[Field, int]]:
    """``-o`` names in any case, each a prefix of a Slurm field (the first in Slurm's order
    wins), with an optional ``%width`` (negative: left-justified); ``ALL`` is every field."""
    columns: list[tuple[Field, int]] = []
    for word in text.split(","):
        word = word.lstrip()
        if not word:
            continue
        name, percent, width_text = word.partition("%")
        match = re.match(r"[+-]?[0-9]*", width_text.strip())
        digits = match.group(0) if match else ""
        width = int(digits) if digits.strip("+-") else 0
        if name.upper() == "ALL":
            columns += [(f, width if percent else f.width) for f in FIELDS]
            continue
        field = next((f for f in FIELDS if f.name.lower().startswith(name.lower())), None)
        if field is None or not name:
            raise InvalidInput(f'Invalid field requested: "{name}"')
        columns.append((field, width if percent else field.width))
    return columns


def fetch(request: Request) -> list[Job]:
    from scns.compat.backend import fetch_jobs
    from scns.service.jobs import JobFilter

    spec = JobFilter(refs=request.refs, names=request.names, users=request.users or (),
                     ended_since=request.start, submitted_before=request.end)  # fmt: skip
    return fetch_jobs(spec)


def select(request: Request, jobs: list[Job]) -> list[Row]:
    """The jobs the request selects (the fetch narrows them already; this is the definition),
    pending array tasks together, by job id. Unknown users and ids simply select nothing."""
    kept = [job for job in jobs if _selected(request, job) and _in_window(request, job)]
    return fmt.collapse_pending_arrays(sorted(kept, key=lambda j: j.id))


def _selected(request: Request, job: Job) -> bool:
    if request.refs and not any(_names(ref, job) for ref in request.refs):
        return False
    if request.names and job.name not in request.names:
        return False
    if request.users is not None and not {job.user_name, str(job.uid)} & set(request.users):
        return False
    return request.nodes is None or job.node in request.nodes


def _names(ref: str, job: Job) -> bool:
    """``123`` names a job or every task of array 123; ``123_4`` one task."""
    job_id, _, task = ref.partition("_")
    if task:
        return job.array_job_id == int(job_id) and job.array_task_id == int(task)
    return int(job_id) in (job.id, job.array_job_id)


def _in_window(request: Request, job: Job) -> bool:
    """as_mysql_jobacct_process's window: with -s, being in one of the states during it;
    otherwise submitted before its end and not ended before its start."""
    start, end = request.start or 0.0, request.end
    ended = job.end_time if job.state.is_terminal else None
    if request.states is None:
        return job.submit_time < end and (ended is None or ended >= start)
    state = fmt.accounting_state(job.state)
    if state not in request.states:
        return False
    if job.state is JobState.PENDING:
        return job.submit_time < end
    if not job.state.is_terminal:
        return job.start_time is not None and job.start_time < end
    return ended is not None and start <= ended <= end


def render(request: Request, rows: list[Row], now: float) -> list[str]:
    lines: list[str] = []
    columns = request.columns
    if request.header:
        lines += _header(request)
    if all(field.name in NEVER_SET for field, _ in columns):
        return lines  # only fields scns never fills (Snakemake's Account probe): no rows
    context = Context(now, request.convert)
    for row in rows:
        cells = [_cell(request, f, width, f.value(row, context)) for f, width in columns]
        lines.append(_join(request, cells))
    return lines


def _header(request: Request) -> list[str]:
    if request.parsable:
        return [_join(request, [field.name for field, _ in request.columns])]
    names = "".join(fmt.sacct_cell(f.name[: abs(w)], w) for f, w in request.columns)
    return [names, "".join("-" * abs(w) + " " for _, w in request.columns)]


def _cell(request: Request, field: Field, width: int, value: str | None) -> str:
    if field.kind == "date" and value is not None:
        value = value[: abs(width)]  # Slurm formats dates into a buffer of the field's width
    if request.parsable:
        return value or ""
    return fmt.sacct_cell(value, width, truncate=field.kind == "str")


def _join(request: Request, cells: list[str]) -> str:
    if not request.parsable:
        return "".join(cells)
    line = request.delimiter.join(cells)
    return line + request.delimiter if request.parsable == 1 else line


def _field_names() -> str:
    names = [f"{f.name:<19}" for f in FIELDS]
    rows = [" ".join(names[i : i + 4]) for i in range(0, len(names), 4)]
    return "\n".join(rows) + "\n"


# ---- fields (Slurm's names, widths and order, src/sacct/sacct.c) ----------------------------


def _elapsed(row: Row, context: Context) -> int:
    return fmt.elapsed_s(row.job, context.now)


def _start(row: Row, context: Context) -> str:
    job = row.job
    # Slurm stamps a job cancelled while pending as starting when it ended.
    start = job.start_time if job.start_time is not None or not job.state.is_terminal else (
        job.end_time)  # fmt: skip
    return fmt.slurm_time(start)


def _group(row: Row, context: Context) -> str | None:
    import grp

    try:
        return grp.getgrgid(row.job.gid).gr_name
    except (KeyError, TypeError, OverflowError):
        return None


def _size(value: float | None, unit: int, context: Context) -> str:
    return "" if value is None else fmt.with_unit(value, unit, convert=context.convert)


def _cpu(*seconds: float | None) -> str:
    return fmt.cpu_duration(sum(s or 0.0 for s in seconds))


def _limit_minutes(job: Job) -> str:
    return "UNLIMITED" if job.time_limit_s is None else str(-(-job.time_limit_s // 60))


def _reason(job: Job) -> str:
    return fmt.state_reason(job) if job.state is JobState.PENDING else "None"


FIELDS: tuple[Field, ...] = (
    Field("Account", 10, "str", lambda r, c: None),
    Field("AllocCPUS", 10, "num", lambda r, c: str(r.job.cpus)),
    Field("Comment", 14, "str", lambda r, c: r.job.comment),
    Field("CPUTime", 10, "time", lambda r, c: fmt.clock_duration(_elapsed(r, c) * r.job.cpus)),
    Field("CPUTimeRAW", 10, "num", lambda r, c: str(_elapsed(r, c) * r.job.cpus)),
    Field("Elapsed", 10, "time", lambda r, c: fmt.clock_duration(_elapsed(r, c))),
    Field("ElapsedRaw", 10, "num", lambda r, c: str(_elapsed(r, c))),
    Field("End", 19, "date",
          lambda r, c: fmt.slurm_time(r.job.end_time if r.job.state.is_terminal else None)),
    Field("ExitCode", 8, "str", lambda r, c: fmt.exit_code_text(r.job)),
    Field("GID", 6, "num", lambda r, c: str(r.job.gid)),
    Field("Group", 9, "str", _group),
    Field("JobID", -12, "str", lambda r, c: fmt.job_id_text(r)),
    Field("JobIDRaw", -12, "str", lambda r, c: str(r.job.id)),  # pending tasks: the first's
    Field("JobName", 10, "str", lambda r, c: r.job.name),
    Field("MaxRSS", 10, "str", lambda r, c: _size(r.job.max_rss_bytes, fmt.UNIT_NONE, c)),
    Field("NCPUS", 10, "num", lambda r, c: str(r.job.cpus)),
    Field("NNodes", 8, "num", lambda r, c: "1"),
    Field("NodeList", 15, "str", lambda r, c: r.job.node or fmt.NO_NODES),
    Field("NTasks", 8, "num", lambda r, c: None),  # a step's count; scns jobs have no steps
    Field("Partition", 10, "str", lambda r, c: fmt.DEFAULT_PARTITION),
    Field("QOS", 10, "str", lambda r, c: "normal"),
    Field("Reason", 22, "str", lambda r, c: _reason(r.job)),
    Field("ReqCPUS", 8, "num", lambda r, c: str(r.job.cpus)),
    Field("ReqMem", 10, "str", lambda r, c: _size(r.job.mem_mb or 0, fmt.UNIT_MEGA, c)),
    Field("ReqNodes", 8, "str", lambda r, c: "1"),
    Field("Start", 19, "date", _start),
    Field("State", 10, "str", lambda r, c: fmt.accounting_state(r.job.state)),
    Field("Submit", 19, "date", lambda r, c: fmt.slurm_time(r.job.submit_time)),
    Field("SystemCPU", 10, "str", lambda r, c: _cpu(r.job.cpu_system_s)),
    Field("Timelimit", 10, "str", lambda r, c: fmt.clock_duration(r.job.time_limit_s)),
    Field("TimelimitRaw", 10, "str", lambda r, c: _limit_minutes(r.job)),
    Field("TotalCPU", 10, "str", lambda r, c: _cpu(r.job.cpu_user_s, r.job.cpu_system_s)),
    Field("UID", 6, "num", lambda r, c: str(r.job.uid)),
    Field("User", 9, "str", lambda r, c: r.job.user_name or str(r.job.uid)),
    Field("UserCPU", 10, "str", lambda r, c: _cpu(r.job.cpu_user_s)),
    Field("WCKey", 10, "str", lambda r, c: None),
    Field("WorkDir", 20, "str", lambda r, c: r.job.workdir),
)  # fmt: skip
NEVER_SET = frozenset({"Account"})
"""Fields scns has nothing for: a listing of only these prints no rows (there are no
accounts to report, and Snakemake reads any output of ``sacct -o Account`` as one)."""
