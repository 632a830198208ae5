"""``scns query`` and ``scns queue`` on the fast path: standard library only on SQLite.

They parse only the plain forms of their options; anything else (``--help``, an unknown or
malformed option, a missing id) returns None and the typer app handles it, so usage errors
and help stay exactly typer's. Output, JSON keys and exit codes are the typer commands':
both call the same service functions and the same renderer.
"""

from __future__ import annotations

import sys
import time

from scns.domain.record import Record
from scns.errors import InvalidInput, ScnsError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from collections.abc import Sequence


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
    return show_queue(parsed)


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


class QueueOptions(Record):
    """``scns queue``'s options, as squeue names them (see the typer command's help)."""

    __slots__ = ("all_jobs", "states", "limit", "as_json", "me", "users", "names", "jobs",
                 "sort", "format", "expand", "header")  # fmt: skip
    _defaults = {"all_jobs": False, "states": (), "limit": None, "as_json": False,  # noqa: RUF012
                 "me": False, "users": (), "names": (), "jobs": (), "sort": None,
                 "format": None, "expand": False, "header": True}  # fmt: skip
    all_jobs: bool
    states: Sequence[str]  # as typed: names or short codes, comma-separated or repeated
    limit: int | None  # the newest so many
    as_json: bool
    me: bool
    users: Sequence[str]  # names or uids, comma-separated or repeated
    names: Sequence[str]
    jobs: Sequence[str]  # 12 (a job or a whole array) or 12_3, comma-separated or repeated
    sort: str | None  # squeue's --sort keys
    format: str | None  # squeue's -o format
    expand: bool  # -r: one line per pending array task
    header: bool


def show_queue(opts: QueueOptions) -> int:
    """The body of ``scns queue``, shared by this fast path and the typer command."""
    from scns.paths import socket_path

    now = time.time()
    try:
        sel_args = _selection_args(opts)
        sock = socket_path()
        if sock:
            return _remote_queue(sock, opts, sel_args, now)
        return _local_queue(opts, sel_args, now)
    except ScnsError as exc:
        return _fail(exc, "queue")
    except BrokenPipeError:  # `scns queue | head`: the reader has all it wanted
        return closed_stdout()


def _selection_args(opts: QueueOptions) -> dict:
    """The filters as the service's ``selection`` (and the socket's request) take them."""
    import os

    users = list_values(opts.users) + ([str(os.geteuid())] if opts.me else [])
    return {"states": list(opts.states), "all_jobs": opts.all_jobs, "users": users,
            "names": list_values(opts.names), "refs": list_values(opts.jobs),
            "limit": opts.limit}  # fmt: skip


def list_values(values) -> list[str]:
    """Values of an option given repeated, comma-separated, or both."""
    return [w.strip() for value in values for w in value.split(",") if w.strip()]


def _local_queue(opts: QueueOptions, sel_args: dict, now: float) -> int:
    from scns.cli import render
    from scns.cli.context import open_db
    from scns.service import jobs

    sel = jobs.selection(**sel_args)
    db, _ = open_db()
    if opts.sort or opts.format:
        return _print_jobs(opts, jobs.listed_jobs(db, sel), now)
    if opts.as_json and db.dialect == "sqlite":
        pages = jobs.listing_pages(db, sel, json_now=now)
        render.print_json_texts(render.json_texts(r for page in pages for r in page))
    elif opts.as_json:
        pages = jobs.listing_pages(db, sel)
        render.print_json_stream(render.row_dicts((r for page in pages for r in page), now))
    elif db.dialect == "sqlite":
        rows = jobs.queue_line_rows(db, now, sel, tagged=not opts.expand)
        lines = [r[0] for r in rows] if opts.expand else render.collapse_pending_lines(rows)
        render.print_queue_lines(lines, header=opts.header)
    else:
        table = jobs.queue_table(db, selection=sel, with_array_limit=True)
        _print_table(opts, table, now)
    return 0


def _remote_queue(sock: str, opts: QueueOptions, sel_args: dict, now: float) -> int:
    """``queue`` through the system socket, rendered by the same code."""
    from scns.cli.remote import call, job_from_record

    with_jobs = opts.as_json or bool(opts.sort or opts.format)
    args = {"all": sel_args["all_jobs"], "states": sel_args["states"], "limit": opts.limit,
            "json": with_jobs, "users": sel_args["users"], "names": sel_args["names"],
            "refs": sel_args["refs"], "wide": True}  # fmt: skip
    result = call(sock, "queue", args)
    if with_jobs:
        return _print_jobs(opts, [job_from_record(r) for r in result["jobs"]], now)  # type: ignore[index]
    _print_table(opts, [tuple(r) for r in result["rows"]], now)  # type: ignore[index]
    return 0


def _print_table(opts: QueueOptions, rows: list[tuple], now: float) -> None:
    """The default table from narrow rows (statements.queue_table with array_max_running)."""
    from scns.cli import render

    render.print_queue(rows if opts.expand else render.collapse_pending_rows(rows), now,
                       header=opts.header)  # fmt: skip


def _print_jobs(opts: QueueOptions, jobs: list, now: float) -> int:
    """Jobs in --sort order: JSON, the -o format, or the default table."""
    from scns.cli import render
    from scns.compat import slurm_format as fmt

    if opts.as_json:
        rows = sort_rows([fmt.Row(j) for j in jobs], opts.sort or "", now)
        render.print_json_stream(render.job_dict(row.job, now) for row in rows)
        return 0
    shown = [fmt.Row(j) for j in jobs] if opts.expand else fmt.collapse_pending_arrays(jobs)
    shown = sort_rows(shown, opts.sort or "", now)
    if opts.format is not None:
        lines = format_lines(opts.format, shown, now, header=opts.header, expand=opts.expand)
        sys.stdout.write("".join(line + "\n" for line in lines))
        return 0
    render.print_queue([_narrow(row) for row in shown], now, header=opts.header)
    return 0


def _narrow(row) -> tuple:
    """A row of the default table (statements.queue_table's columns) for one shown row."""
    from scns.compat.slurm_format import job_id_text

    job = row.job
    return (job_id_text(row), None, None, job.name, job.user_name, job.state.value, job.reason,
            job.node, job.start_time, job.end_time, job.time_limit_s, job.cpus)  # fmt: skip


def format_lines(text: str, rows: list, now: float, *, header: bool, expand: bool) -> list[str]:
    """Rows in squeue's ``-o`` format (scns.compat.squeue's fields, widths and cutting)."""
    import contextlib
    import io

    from scns.compat import squeue

    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):  # squeue reports unknown letters and goes on
        items = squeue.parse_format(text)
    if errors.getvalue():
        letters = ", ".join(line.rsplit(": ", 1)[-1] for line in errors.getvalue().splitlines())
        raise InvalidInput(f"unknown format field %{letters} (see scns queue --help)")
    request = squeue.Request(items=items, header=header, states=None, refs=(), users=None,
                             names=None, nodes=None, expand_arrays=expand, dated=False)  # fmt: skip
    return squeue.render(request, rows, now)


def sort_rows(rows: list, spec: str, now: float) -> list:
    """Rows in squeue's ``--sort`` order: format letters, each ascending or (``-``)
    descending, the first the most significant (src/squeue/sort.c); empty: as given."""
    keys = _sort_keys(now)
    order: list[tuple[str, bool]] = []
    for i, letter in enumerate(spec):
        if letter in ",+-":
            continue
        if letter not in keys:
            raise InvalidInput(f"invalid sort specification: {letter}")
        order.append((letter, i > 0 and spec[i - 1] == "-"))
    for letter, descending in reversed(order):  # stable sorts, least significant first
        key = keys[letter]
        rows = sorted(rows, key=lambda row: key(row.job), reverse=descending)  # sorted calls it now
    return rows


def _sort_keys(now: float) -> dict:
    """squeue's sort letters (sort.c) as keys of a job; letters for what scns jobs do not
    have (features, sockets, reservations, ...) keep the order."""
    from scns.compat import slurm_format as fmt

    def ends(job) -> float:
        if job.state.is_terminal:
            return job.end_time or 0.0
        if job.start_time is not None and job.time_limit_s is not None:
            return job.start_time + job.time_limit_s
        return 0.0

    def starts(job) -> float:  # sort.c's _get_start_time
        start = job.start_time or (job.expected_start_time if job.state.value == "PENDING"
                                   else None)  # fmt: skip
        if not start:
            return now + 100
        return now if job.state.value == "PENDING" and start < now else start

    def left(job) -> float:
        if job.time_limit_s is None:
            return float("inf")
        return job.time_limit_s - fmt.elapsed_s(job, now)

    def group(job) -> str:
        import grp

        try:
            return grp.getgrgid(job.gid).gr_name
        except (KeyError, OverflowError):
            return ""

    def same(job) -> int:
        return 0

    keys = {
        "B": lambda j: j.node or "",
        "C": lambda j: j.cpus,
        "D": lambda j: 1,
        "e": ends,
        "g": group,
        "G": lambda j: j.gid,
        "i": lambda j: (j.id, -1) if j.array_job_id is None else (j.array_job_id, j.array_task_id),
        "j": lambda j: j.name or "",
        "l": lambda j: float("inf") if j.time_limit_s is None else j.time_limit_s,
        "L": left,
        "m": lambda j: j.mem_mb or 0,
        "M": lambda j: fmt.elapsed_s(j, now),
        "N": lambda j: j.node or "",
        "p": lambda j: (j.priority or 0) - (j.nice or 0),
        "P": lambda j: fmt.DEFAULT_PARTITION,
        "Q": lambda j: (j.priority or 0) - (j.nice or 0),
        "S": starts,
        "t": lambda j: fmt.compact_state(j.state),
        "T": lambda j: j.state.value,
        "u": lambda j: j.user_name or "",
        "U": lambda j: j.uid,
        "V": lambda j: j.submit_time,
    }
    return {**dict.fromkeys("bcdfhHIJnOvz", same), **keys}


_VALUED = {"--state": "states", "-t": "states", "--limit": "limit", "--user": "users",
           "-u": "users", "--name": "names", "-n": "names", "--jobs": "jobs", "-j": "jobs",
           "--sort": "sort", "-S": "sort", "--format": "format", "-o": "format"}  # fmt: skip
_FLAGS = {"--all": "all_jobs", "-a": "all_jobs", "--json": "as_json", "--me": "me",
          "--array": "expand", "-r": "expand"}  # fmt: skip


def _queue_options(args: list[str]) -> QueueOptions | None:
    """The options in their plain forms, else None (typer then decides, with click's rules).

    A value may start with "-" (``--sort -i``), as click takes it, but not with "--".
    """
    values: dict[str, object] = {}
    lists: dict[str, list[str]] = {"states": [], "users": [], "names": [], "jobs": []}
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if arg in _FLAGS:
            values[_FLAGS[arg]] = True
        elif arg in ("-h", "--noheader"):
            values["header"] = False
        elif name in _VALUED and not (eq and not name.startswith("--")):
            if not eq:
                i += 1
                if i == len(args) or args[i].startswith("--") or args[i] == "-":
                    return None  # leave the odd cases to click's rules
                value = args[i]
            key = _VALUED[name]
            if key in lists:
                lists[key].append(value)
            elif key != "limit":
                values[key] = value
            elif value.isascii() and value.isdigit():
                values["limit"] = int(value)
            else:
                return None
        else:
            return None
        i += 1
    return QueueOptions(**values, **{key: tuple(found) for key, found in lists.items()})


def closed_stdout() -> int:
    """Stop writing to a pipe whose reader left, without Python's complaint at exit."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


def _fail(exc: BaseException, command: str) -> int:
    sys.stderr.write(f"scns {command}: error: {exc}\n")
    return 1
