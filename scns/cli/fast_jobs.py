"""``scns query`` and ``scns queue`` on the fast path: standard library only on SQLite.

They parse only the plain forms of their options; anything else (``--help``, an unknown or
malformed option, a missing id) returns None and the typer app handles it, so usage errors
and help stay exactly typer's. Output, JSON keys and exit codes are the typer commands':
both call the same service functions and the same renderer.
"""

from __future__ import annotations

import sys
import time

from scns.errors import ScnsError


def run(command: str, args: list[str]) -> int | None:
    """The command's exit code, or None when the typer app should handle these arguments."""
    if command == "query":
        return query(args)
    if command == "queue":
        return queue(args)
    return None


def query(args: list[str]) -> int | None:
    as_json = "--json" in args
    words = [a for a in args if a != "--json"]
    if len(words) != 1 or words[0].startswith("-"):
        return None
    return show_query(words[0], as_json)


def queue(args: list[str]) -> int | None:
    parsed = _queue_options(args)
    if parsed is None:
        return None
    return show_queue(*parsed)


def show_query(job_id: str, as_json: bool) -> int:
    """The body of ``scns query``, shared by this fast path and the typer command."""
    from scns.cli import render
    from scns.paths import socket_path

    try:
        sock = socket_path()
        if sock:
            from scns.cli.remote import call, job_from_record

            job = job_from_record(call(sock, "query", {"job_id": job_id}))  # type: ignore[arg-type]
        else:
            from scns.cli.context import open_db
            from scns.service.jobs import get_job

            db, _ = open_db()
            job = get_job(db, job_id)
    except ScnsError as exc:
        return _fail(exc, "query")
    now = time.time()
    if as_json:
        render.print_json(render.job_dict(job, now))
    else:
        sys.stdout.write(render.query_text(job, now))
    return 0


def show_queue(all_jobs: bool, state: list[str], limit: int | None, as_json: bool) -> int:
    """The body of ``scns queue``, shared by this fast path and the typer command."""
    from scns.cli import render
    from scns.cli.context import open_db
    from scns.domain.states import parse_state
    from scns.paths import socket_path as target
    from scns.service.jobs import list_jobs, queue_lines, queue_table

    now = time.time()
    lines = None
    try:
        states = [parse_state(s).value for item in state for s in item.split(",") if s] or None
        sock = target()
        if sock:
            return _remote_queue(sock, all_jobs, states, limit, as_json, now)
        db, _ = open_db()
        if as_json:
            jobs = list_jobs(db, all_jobs=all_jobs, states=states, limit=limit)
        elif db.dialect == "sqlite":
            lines = queue_lines(db, now, all_jobs=all_jobs, states=states, limit=limit)
        else:
            rows = queue_table(db, all_jobs=all_jobs, states=states, limit=limit)
    except ScnsError as exc:
        return _fail(exc, "queue")
    if as_json:
        render.print_json([render.job_dict(j, now) for j in jobs])
    elif lines is not None:
        render.print_queue_lines(lines)
    else:
        render.print_queue(rows, now)
    return 0


def _remote_queue(sock: str, all_jobs: bool, states: list[str] | None, limit: int | None,
                  as_json: bool, now: float) -> int:  # fmt: skip
    """``queue`` through the system socket, rendered by the same code."""
    from scns.cli import render
    from scns.cli.remote import call, job_from_record

    args = {"all": all_jobs, "states": states or [], "limit": limit, "json": as_json}
    result = call(sock, "queue", args)
    if as_json:
        render.print_json([render.job_dict(job_from_record(r), now) for r in result["jobs"]])
    else:
        render.print_queue((tuple(r) for r in result["rows"]), now)
    return 0


def _queue_options(args: list[str]) -> tuple[bool, list[str], int | None, bool] | None:
    """(--all, --state values, --limit, --json) for the plain forms, else None."""
    all_jobs = as_json = False
    state: list[str] = []
    limit: int | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if arg in ("--all", "-a"):
            all_jobs = True
        elif arg == "--json":
            as_json = True
        elif name in ("--state", "-t", "--limit") and not (eq and name == "-t"):
            if not eq:
                i += 1
                if i == len(args) or args[i].startswith("-"):
                    return None  # leave the odd cases to click's rules
                value = args[i]
            if name != "--limit":
                state.append(value)
            elif value.isascii() and value.isdigit():
                limit = int(value)
            else:
                return None
        else:
            return None
        i += 1
    return all_jobs, state, limit, as_json


def _fail(exc: BaseException, command: str) -> int:
    sys.stderr.write(f"scns {command}: error: {exc}\n")
    return 1
