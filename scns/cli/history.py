"""``scns history``: finished jobs in a time window, like sacct, from the end-time index."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from scns.cli.filter_options import LIST as _LIST
from scns.cli.filter_options import Me, Names, Users
from scns.errors import InvalidInput, ScnsError

DEFAULT_FIELDS = "JobID,JobName%24,User,State,ExitCode,Elapsed,End,NodeList"


def register(app: typer.Typer) -> None:
    """Add the command to the main app (called at the end of scns.cli.app)."""
    app.command("history")(history)


def history(
    starttime: Annotated[
        str | None,
        typer.Option(
            "--starttime",
            "-S",
            metavar="TIME",
            help="Jobs that ended at or after TIME (default: midnight today). Slurm's"
            " forms: now, now-2days, now-3hours, today, 16:00,"
            " YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS, MM/DD/YY.",
        ),
    ] = None,
    endtime: Annotated[
        str | None,
        typer.Option(
            "--endtime",
            "-E",
            metavar="TIME",
            help="... and at or before TIME (default: now); the same forms.",
        ),
    ] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            "-s",
            metavar="STATES",
            help=f"Only these final states: CD, F, CA, TO, NF, OOM or names ({_LIST}).",
        ),
    ] = None,
    me: Me = False,
    user: Users = None,
    name: Names = None,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-o",
            metavar="FIELDS",
            help="sacct's field names, comma-separated, each with an optional %WIDTH"
            f" (negative: left-justified). Default: {DEFAULT_FIELDS}. Others: Submit,"
            " Start, Timelimit, AllocCPUS, ReqMem, MaxRSS, TotalCPU, CPUTime,"
            " Reason, WorkDir, JobIDRaw, UID, Group, Comment.",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(metavar="N", help="Only the N that ended last.")
    ] = None,
    noheader: Annotated[bool, typer.Option("--noheader", help="No header lines.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array, one job per line (as queue --json).")
    ] = False,
) -> None:
    """Finished jobs, like sacct: those that ended in a time window, oldest end first.

    The window is read through an index on the end time, so a day of a million-job history
    answers as fast as an empty one.

    Example: scns history -S now-2days --state FAILED,TIMEOUT -o JobID,JobName%30,ExitCode,End
    """
    now = time.time()
    try:
        code = _show(now, starttime, endtime, state or [], me, user or [], name or [],
                     format_, limit, noheader, as_json)  # fmt: skip
    except ScnsError as exc:
        sys.stderr.write(f"scns history: error: {exc}\n")
        code = 1
    except BrokenPipeError:
        from scns.cli.fast_jobs import closed_stdout

        code = closed_stdout()
    raise typer.Exit(code)


def _show(now: float, starttime: str | None, endtime: str | None, states: list[str], me: bool,
          users: list[str], names: list[str], format_: str | None, limit: int | None,
          noheader: bool, as_json: bool) -> int:  # fmt: skip
    import os

    from scns.cli import render
    from scns.cli.fast_jobs import list_values
    from scns.paths import socket_path

    start, end = window(starttime, endtime, now)
    wanted = _final_states(list_values(states))
    users = list_values(users) + ([str(os.geteuid())] if me else [])
    columns = _columns(format_ or DEFAULT_FIELDS)  # refused before any work
    sock = socket_path()
    if sock:
        from scns.cli.remote import call, job_from_record

        args = {"all": True, "states": wanted, "users": users, "names": list_values(names),
                "limit": limit, "json": True, "ended_after": start,
                "ended_before": end}  # fmt: skip
        jobs = [job_from_record(r) for r in call(sock, "queue", args)["jobs"]]  # type: ignore[index]
        if as_json:
            render.print_json_stream(render.job_dict(j, now) for j in jobs)
            return 0
    else:
        from scns.cli.context import open_db
        from scns.db.statements import job_from_row
        from scns.service.jobs import finished_between, selection

        db, _ = open_db()
        sel = selection(states=wanted, all_jobs=True, users=users, names=list_values(names),
                        limit=limit)  # fmt: skip
        rows = finished_between(db, start, end, sel)
        if as_json:
            render.print_json_stream(render.row_dicts(rows, now))
            return 0
        jobs = [job_from_row(r) for r in rows]
    sys.stdout.write("".join(line + "\n" for line in _table(columns, jobs, now, not noheader)))
    return 0


def window(starttime: str | None, endtime: str | None, now: float) -> tuple[float, float]:
    """[start, end] in epoch seconds from Slurm's time forms; sacct's defaults: midnight
    today to now."""
    from scns.compat.slurm_format import parse_time, slurm_time

    if starttime is None:
        start = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    else:
        start = parse_time(starttime, now)
    end = now if endtime is None else parse_time(endtime, now)
    if start > end:
        raise InvalidInput(f"the window starts ({slurm_time(start)}) after it ends"
                           f" ({slurm_time(end)})")  # fmt: skip
    return start, end


def _final_states(words: list[str]) -> list[str]:
    """State names for the filter; a live state is refused (it has no place in history)."""
    from scns.domain.states import parse_state

    states = [parse_state(w) for w in words]
    for state in states:
        if not state.is_terminal:
            raise InvalidInput(f"{state.value} is not a final state: live jobs are in scns queue")
    return [s.value for s in states]


def _columns(text: str) -> list:
    from scns.compat import sacct

    try:
        return sacct.parse_fields(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc} (see scns history --help)") from None


def _table(columns: list, jobs: list, now: float, header: bool) -> list[str]:
    """sacct's fixed-width layout (scns.compat.sacct's fields, widths and cutting)."""
    from scns.compat import sacct
    from scns.compat.slurm_format import Row

    request = sacct.Request(columns=columns, header=header, parsable=0, delimiter="|",
                            convert=True, refs=(), names=(), users=None, states=None,
                            start=None, end=now, nodes=None)  # fmt: skip
    return sacct.render(request, [Row(job) for job in jobs], now)
