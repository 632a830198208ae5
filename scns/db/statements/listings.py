"""Statements that list jobs for people and tools: what a listing selects (``Selection``,
the Slurm tools' filters), the ``queue`` table (lines SQLite formats itself), listings read
page by page in id ranges, ``queue --json``'s rows with most of each job's JSON built by
SQLite, and ``history``'s end-time window."""

from __future__ import annotations

from scns.db.engine import Tx, any_of, in_clause
from scns.db.statements.common import COLS as _COLS
from scns.db.statements.common import LIVE as _LIVE
from scns.db.statements.common import job_from_row as _job
from scns.domain.job import JOB_COLUMNS, Job
from scns.domain.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from collections.abc import Iterable, Sequence


QUEUE_COLUMNS = (
    "id, array_job_id, array_task_id, name, user_name, state, reason, node, start_time,"
    " end_time, time_limit_s, cpus"
)


def list_jobs(
    tx: Tx,
    *,
    states: Sequence[str] | None = None,
    include_finished: bool = False,
    limit: int | None = None,
    newest_first: bool = False,
    uid: int | None = None,
) -> list[Job]:
    """Jobs for ``queue``: live ones by default, filtered by state when asked."""
    where, params = _listing_filter(states, include_finished, uid)
    order = "id DESC" if newest_first else "id"
    sql = f"SELECT {_COLS} FROM jobs WHERE {where} ORDER BY {order}"
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [_job(r) for r in tx.rows(sql, params)]


def _listing_filter(states, include_finished: bool,
                    uid: int | None = None) -> tuple[str, dict[str, object]]:  # fmt: skip
    """The WHERE of a listing: given states, everything, or (by default) live jobs; only
    ``uid``'s jobs when given (other users' jobs hidden by the site)."""
    if states:
        marks, params = in_clause("s", states)
        where = f"state IN ({marks})"
    else:
        where, params = ("1 = 1" if include_finished else f"state IN {_LIVE}"), {}
    if uid is not None:
        where += " AND uid = :uid"
        params["uid"] = uid
    return where, params


def find_jobs(
    tx: Tx, *, ids: Sequence[int] = (), tasks: Sequence[tuple[int, int]] = (),
    names: Sequence[str] = (), uids: Sequence[int] = (), states: Sequence[str] = (),
    ended_since: float | None = None, submitted_before: float | None = None,
    include_finished: bool = True,
) -> list[Job]:  # fmt: skip
    """Jobs matching every given filter (the Slurm tools' -j, --name, -u, -t, -S, -E).

    ``ids`` match a job or every task of an array; ``tasks`` one array task each.
    ``ended_since`` keeps live jobs and those that ended at or after it.
    """
    where, params = _match_filter(ids, tasks, names, uids, states, tx.dialect)
    where.insert(0, "1 = 1")
    if not include_finished:
        where.append(f"state IN {_LIVE}")
    if ended_since is not None:
        where.append(f"(state IN {_LIVE} OR end_time >= :ended_since)")
        params["ended_since"] = ended_since
    if submitted_before is not None:
        where.append("submit_time <= :submitted_before")
        params["submitted_before"] = submitted_before
    sql = f"SELECT {_COLS} FROM jobs WHERE {' AND '.join(where)} ORDER BY id"
    return [_job(r) for r in tx.rows(sql, params)]


def _match_filter(ids: Sequence[int], tasks: Sequence[tuple[int, int]], names: Sequence[str],
                  uids: Sequence[int], states: Sequence[str] = (), dialect: str | None = None,
                  ) -> tuple[list[str], dict[str, object]]:  # fmt: skip
    """The conditions of -j (``ids``: a job or every task of an array; ``tasks``: one task
    each), --name, -u and -t, each met when any of its values is; empty ones do not filter.
    ``dialect``: the ids as one parameter (see any_of)."""
    where: list[str] = []
    params: dict[str, object] = {}
    refs = []
    if ids:
        marks, p = any_of("i", ids, dialect)
        params.update(p)
        refs.append(f"id {marks} OR array_job_id {marks}")
    for n, (array_id, task) in enumerate(tasks):
        params[f"ta{n}"], params[f"tt{n}"] = array_id, task
        refs.append(f"(array_job_id = :ta{n} AND array_task_id = :tt{n})")
    if refs:
        where.append("(" + " OR ".join(refs) + ")")
    for column, values, key in (("name", names, "n"), ("uid", uids, "u"), ("state", states, "s")):
        if values:
            marks, p = in_clause(key, values)
            params.update(p)
            where.append(f"{column} IN ({marks})")
    return where, params


class Selection(Record):
    """What a listing (``queue``, ``history``) selects; empty filters select everything.

    ``states`` empty: live jobs, or every job with ``include_finished``. ``uid``: only this
    user's jobs (the site hides the others); ``uids``, ``names``, ``ids``, ``tasks``: the
    user's filters, as in ``find_jobs``. ``limit``: only the newest (highest ids) so many.
    """

    __slots__ = ("states", "include_finished", "uid", "uids", "names", "ids", "tasks", "limit")
    _defaults = {"states": (), "include_finished": False, "uid": None, "uids": (),  # noqa: RUF012
                 "names": (), "ids": (), "tasks": (), "limit": None}  # fmt: skip
    states: Sequence[str]
    include_finished: bool
    uid: int | None
    uids: Sequence[int]
    names: Sequence[str]
    ids: Sequence[int]
    tasks: Sequence[tuple[int, int]]
    limit: int | None


def _selection_filter(sel: Selection, dialect: str) -> tuple[str, dict[str, object]]:
    where, params = _listing_filter(None, sel.include_finished or bool(sel.states), sel.uid)
    more, more_params = _match_filter(sel.ids, sel.tasks, sel.names, sel.uids, sel.states,
                                      dialect)  # fmt: skip
    params.update(more_params)
    return " AND ".join([where, *more]), params


def _duration_sql(seconds: str) -> str:
    """SQLite text for timespec.format_duration of an integer expression (NULL: UNLIMITED)."""
    d = seconds
    return (
        f"CASE WHEN {d} IS NULL THEN 'UNLIMITED'"
        f" WHEN {d} >= 86400 THEN printf('%d-%02d:%02d:%02d', {d} / 86400, {d} % 86400 / 3600,"
        f" {d} % 3600 / 60, {d} % 60)"
        f" WHEN {d} >= 3600 THEN printf('%d:%02d:%02d', {d} / 3600, {d} % 3600 / 60, {d} % 60)"
        f" ELSE printf('%d:%02d', {d} / 60, {d} % 60) END"
    )


# render.print_queue's line, built by SQLite itself: with 100,000 pending jobs, fetching one
# ready string per row instead of twelve values, and formatting in C, halves `scns queue`.
# ("!" makes widths and precisions count characters, as Python's format does.) Built on
# first use: the short state codes come from the state enum, which submit never imports.
_QUEUE_LINE_SQL: list[str] = []


def _queue_line_sql() -> str:
    if not _QUEUE_LINE_SQL:
        from scns.domain.states import SHORT

        short = " ".join(f"WHEN '{state.value}' THEN '{code}'" for state, code in SHORT.items())
        _QUEUE_LINE_SQL.append(
            "printf('%14s %!-24.24s %!-10.10s %-3s %11s %11s %5d %s',"
            " CASE WHEN array_job_id IS NULL THEN id"
            " ELSE array_job_id || '_' || array_task_id END,"
            f" name, user_name, CASE state {short} ELSE state END, "
            + _duration_sql(
                "(CASE WHEN state = 'PENDING' OR start_time IS NULL THEN 0"
                " ELSE MAX(0, CAST(COALESCE(end_time, :now) - start_time AS INTEGER)) END)"
            )
            + ", "
            + _duration_sql("time_limit_s")
            + ", cpus,"
            " CASE WHEN state = 'PENDING' THEN '(' || COALESCE(reason, 'None') || ')'"
            " ELSE COALESCE(node, '') END)"
        )
    return _QUEUE_LINE_SQL[0]


def queue_lines(
    tx: Tx, now: float, *, states: Sequence[str] | None = None, include_finished: bool = False,
    limit: int | None = None, uid: int | None = None, selection: Selection | None = None,
    tagged: bool = False,
) -> list[tuple]:  # fmt: skip
    """The ``queue`` table's lines, formatted by SQLite (see _queue_line_sql), in id order;
    ``limit``: the newest so many. ``tagged`` adds a column marking each pending array task,
    ``"ARRAY TASK MAX_RUNNING"`` (else NULL), so the caller can show them together."""
    sel = selection or Selection(states=tuple(states or ()), include_finished=include_finished,
                                 uid=uid, limit=limit)  # fmt: skip
    where, params = _selection_filter(sel, tx.dialect)
    params["now"] = now
    tag = _PENDING_TASK_TAG if tagged else ""
    return _in_id_order(tx, f"SELECT {_queue_line_sql()}{tag} FROM jobs WHERE {where}", params,
                        sel.limit)  # fmt: skip


_PENDING_TASK_TAG = (
    ", CASE WHEN state = 'PENDING' AND array_job_id IS NOT NULL THEN array_job_id || ' ' ||"
    " array_task_id || ' ' || COALESCE(array_max_running, 0) END"
)


def queue_table(
    tx: Tx, *, states: Sequence[str] | None = None, include_finished: bool = False,
    limit: int | None = None, uid: int | None = None, selection: Selection | None = None,
    with_array_limit: bool = False,
) -> list[tuple]:  # fmt: skip
    """Only the columns the ``queue`` table shows, in id order (``limit``: the newest so many):
    a 100,000-job queue prints in well under a second when rows stay narrow tuples instead of
    full job records. ``with_array_limit`` adds array_max_running, for pending tasks shown
    together."""
    sel = selection or Selection(states=tuple(states or ()), include_finished=include_finished,
                                 uid=uid, limit=limit)  # fmt: skip
    where, params = _selection_filter(sel, tx.dialect)
    columns = QUEUE_COLUMNS + (", array_max_running" if with_array_limit else "")
    return _in_id_order(tx, f"SELECT {columns} FROM jobs WHERE {where}", params, sel.limit)


def _in_id_order(tx: Tx, head: str, params: dict[str, object], limit: int | None) -> list[tuple]:
    """Rows of ``head`` by id; with a limit, the newest (highest ids) so many, still by id."""
    if not limit:
        return tx.rows(head + " ORDER BY id", params)
    params["limit"] = limit
    rows = tx.rows(head + " ORDER BY id DESC LIMIT :limit", params)
    rows.reverse()
    return rows


SCRIPT_HEAD_CHARS = 65536
"""How much of a script listings read: enough for its command, never a 10 MiB script each."""

# A job's columns as listings read them: the script's head only, no environment (which only
# the launch needs, and which can be kilobytes per job).
LISTING_COLUMNS = ", ".join(
    f"substr(script, 1, {SCRIPT_HEAD_CHARS})" if c == "script"
    else "'' AS environment" if c == "environment" else c
    for c in JOB_COLUMNS
)  # fmt: skip


def listing_bounds(tx: Tx, sel: Selection) -> tuple[int, int] | None:
    """(first, last) id of the jobs a listing names (with ``sel.limit``: of the newest so
    many), for listing_rows to read in id ranges; None when it names none."""
    where, params = _selection_filter(sel, tx.dialect)
    floor = 0
    if sel.limit:
        params["skip"] = sel.limit - 1
        row = tx.one(f"SELECT id FROM jobs WHERE {where} ORDER BY id DESC LIMIT 1 OFFSET :skip",
                     params)  # fmt: skip
        floor = row[0] if row else 0
    params["floor"] = floor
    row = tx.one(f"SELECT MIN(id), MAX(id) FROM jobs WHERE {where} AND id >= :floor", params)
    return (row[0], row[1]) if row and row[0] is not None else None


def listing_rows(tx: Tx, sel: Selection, first: int, last: int) -> list[tuple]:
    """LISTING_COLUMNS rows of the selected jobs with ids in [first, last], by id: a listing
    reads in id ranges, so each read is an index range, never a sort of what remains."""
    where, params = _selection_filter(sel, tx.dialect)
    params.update(first=first, last=last)
    return tx.rows(
        f"SELECT {LISTING_COLUMNS} FROM jobs WHERE {where} AND id BETWEEN :first AND :last"
        " ORDER BY id",
        params,
    )


def json_listing_rows(tx: Tx, sel: Selection, first: int, last: int, now: float) -> list[tuple]:
    """listing_rows for ``queue --json`` on SQLite: most of each job's JSON object made by
    SQLite itself (see _json_listing_sql), in JSON_LISTING_COLUMNS."""
    where, params = _selection_filter(sel, tx.dialect)
    params.update(first=first, last=last, now=now)
    keys = ("tz_from", "tz_until", "tz_offset", "tz_text")
    params.update(zip(keys, _offset_period(int(now)), strict=True))
    rows = tx.rows(
        f"SELECT {_json_listing_sql()} FROM jobs WHERE {where} AND id BETWEEN :first AND :last",
        params,
    )
    rows.sort(key=_last)  # faster than SQLite's sorter, which would copy each wide row
    return rows


def _last(row: tuple) -> int:
    return row[-1]


JSON_LISTING_COLUMNS = ("head", "paths", "script", "argv", "waited_s", "ran_s", "cpu_user_s",
                        "cpu_system_s", "restarts", "array_job_id", "id")  # fmt: skip
"""What json_listing_rows returns: ``head``, render.job_dict's keys from job_id to end_time
as a JSON object, and ``paths`` its keys from workdir to max_rss_bytes; then what Python
renders itself: wait and run times before rounding, the floats (in Python's shortest form),
the command (from the script) and arguments; ``array_job_id`` only for an array task that
has no script of its own; the id."""


def _iso_sql(column: str) -> str:
    """SQLite text for render.iso: local ``YYYY-MM-DDTHH:MM:SS+HH:MM`` of the whole second.
    Within :tz_from..:tz_until the offset is :tz_offset seconds, written :tz_text (see
    _offset_period): local time is then UTC moved by it, without the C library's localtime,
    which costs more than all the rest."""
    t = f"CAST({column} AS INTEGER)"
    local = f"strftime('%Y-%m-%dT%H:%M:%S', {t}, 'unixepoch', 'localtime')"
    offset = f"(CAST(strftime('%s', {t}, 'unixepoch', 'localtime') AS INTEGER) - {t})"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL"
        f" WHEN {t} >= :tz_from AND {t} < :tz_until"
        f" THEN replace(datetime({t} + :tz_offset, 'unixepoch'), ' ', 'T') || :tz_text"
        f" ELSE {local} || printf('%s%02d:%02d', CASE WHEN {offset} < 0 THEN '-' ELSE '+' END,"
        f" abs({offset}) / 3600, abs({offset}) / 60 % 60)"
        f" || CASE WHEN abs({offset}) % 60 THEN printf(':%02d', abs({offset}) % 60) ELSE '' END"
        " END"
    )


def _offset_period(here: int) -> tuple[int, int, int, str]:
    """[from, until) around ``here`` (at most a year each way) in which the local UTC offset
    stays the one at ``here``, that offset in seconds, and as render.iso writes it."""
    if _OFFSET_PERIOD and _OFFSET_PERIOD[0][0] == here:
        return _OFFSET_PERIOD[0][1]
    import datetime as dt
    import time

    offset = time.localtime(here).tm_gmtoff

    def edge(step: int) -> int:
        """The last second before the offset changes, walking by ``step`` (days) then
        halving it."""
        at = here
        while abs(step) >= 1:
            while abs(at + step - here) <= 366 * 86400 and (
                time.localtime(at + step).tm_gmtoff == offset
            ):
                at += step
            step = int(step / 2)
        return at

    text = dt.datetime.fromtimestamp(here, dt.UTC).astimezone().isoformat()[19:]
    period = (edge(-86400), edge(86400) + 1, offset, text)
    _OFFSET_PERIOD[:] = [(here, period)]
    return period


_OFFSET_PERIOD: list[tuple[int, tuple[int, int, int, str]]] = []  # the last one computed


_JSON_LISTING_SQL: list[str] = []
_TIMES = ("submit_time", "begin_time", "expected_start_time", "start_time", "end_time")


def _json_listing_sql() -> str:
    """The columns of json_listing_rows (built on first use, as _queue_line_sql)."""
    if not _JSON_LISTING_SQL:
        from scns.domain.states import TERMINAL

        ended = ", ".join(f"'{state.value}'" for state in TERMINAL)
        head = (
            "json_object('job_id', id, 'display_id', CASE WHEN array_job_id IS NULL"
            " OR array_task_id IS NULL THEN CAST(id AS TEXT)"
            " ELSE array_job_id || '_' || array_task_id END, 'id', id,"
            " 'array_job_id', array_job_id, 'array_task_id', array_task_id, 'name', name,"
            " 'user', user_name, 'state', state, 'reason', reason, 'exit_code', exit_code,"
            " 'signal', signal, 'cpus', cpus, 'ntasks', ntasks, 'cpus_per_task', cpus_per_task,"
            " 'mem_mb', NULLIF(mem_mb, 0), 'node', node, 'cpu_ids', CASE WHEN cpu_ids IS NULL"
            " OR cpu_ids = '' THEN NULL ELSE json('[' || cpu_ids || ']') END,"
            " 'time_limit', time_limit_s, 'priority', priority, 'nice', nice,"
            " 'dependency', dependency,"
            " 'held', CASE WHEN held THEN json('true') ELSE json('false') END, "
            + ", ".join(f"'{name}', {_iso_sql(name)}" for name in _TIMES)
            + ")"
        )
        paths = (
            "json_object('workdir', workdir, 'stdout_path', stdout_path,"
            " 'stderr_path', stderr_path, 'max_rss_bytes', max_rss_bytes)"
        )
        # render.job_dict's wait and run times, before rounding
        waited = (
            f"COALESCE(start_time, CASE WHEN state IN ({ended}) THEN COALESCE(end_time, :now)"
            " ELSE :now END) - submit_time"
        )
        ran = "CASE WHEN start_time IS NOT NULL THEN COALESCE(end_time, :now) - start_time END"
        _JSON_LISTING_SQL.append(
            f"{head}, {paths}, substr(script, 1, {SCRIPT_HEAD_CHARS}), argv, {waited}, {ran},"
            " cpu_user_s, cpu_system_s, restarts,"
            " CASE WHEN script = '' THEN array_job_id END, id"
        )
    return _JSON_LISTING_SQL[0]


def array_heads(tx: Tx, array_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(script head, argv) of arrays' first tasks, which hold what every task runs."""
    marks, params = any_of("i", array_ids, tx.dialect)
    rows = tx.rows(
        f"SELECT id, substr(script, 1, {SCRIPT_HEAD_CHARS}), argv FROM jobs WHERE id {marks}",
        params,
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def finished_between(tx: Tx, start: float, end: float, sel: Selection) -> list[tuple]:
    """LISTING_COLUMNS rows of jobs that ended in [start, end], by end time (``sel.limit``:
    the last so many); the window is read through ix_jobs_end_time (see _finished_query)."""
    sql, params = _finished_query(tx.dialect, start, end, sel)
    rows = tx.rows(sql, params)
    if sel.limit:
        rows.reverse()
    return rows


def _finished_query(dialect: str, start: float, end: float,
                    sel: Selection) -> tuple[str, dict[str, object]]:  # fmt: skip
    """The history query. SQLite is told to take the end-time index: without statistics its
    planner prefers an equality on ``state`` (ix_jobs_state_id), which reads every COMPLETED
    job there is instead of one window's worth. PostgreSQL's statistics choose it alone."""
    where, params = _match_filter(sel.ids, sel.tasks, sel.names, sel.uids, sel.states, dialect)
    if sel.uid is not None:
        where.append("uid = :uid")
        params["uid"] = sel.uid
    params.update(start=start, end=end)
    index = " INDEXED BY ix_jobs_end_time" if dialect == "sqlite" else ""
    conditions = ["end_time >= :start", "end_time <= :end", f"state NOT IN {_LIVE}", *where]
    order = "end_time, id"
    if sel.limit:
        order = "end_time DESC, id DESC LIMIT :limit"
        params["limit"] = sel.limit
    sql = (f"SELECT {LISTING_COLUMNS} FROM jobs{index} WHERE {' AND '.join(conditions)}"
           f" ORDER BY {order}")  # fmt: skip
    return sql, params
