"""``scns queue`` and ``scns history`` formatting: every speed shortcut gives exactly what the
general code gives (job_dict, collapse_pending_arrays), and squeue's --sort and -o rules.

The shortcuts: SQLite builds most of ``queue --json`` (statements.json_listing_rows, with
local times through _iso_sql), render.row_dicts builds job_dict without Job records, the
default table collapses pending arrays from narrow rows or from SQLite's ready lines.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import redirect_stdout

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scns.cli import render
from scns.cli.fast_jobs import QueueOptions, _queue_options, format_lines, sort_rows
from scns.compat import slurm_format as fmt
from scns.db import statements as sql
from scns.db.statements import listings as listing_sql
from scns.domain.job import JOB_COLUMNS, Job
from scns.domain.states import JobState
from scns.errors import InvalidInput
from tests.unit.test_slurm_format import T0, berlin, make_job

__all__ = ["berlin"]  # every test in Europe/Berlin: DST shows in local times

STATES = [s.value for s in JobState]
TIMES = st.one_of(
    st.none(),
    st.floats(min_value=946_684_800, max_value=2_100_000_000),  # 2000 .. 2036
    st.sampled_from([1_711_846_799.5, 1_711_846_800.0, 1_729_990_799.9, 1_729_990_800.0]),
)  # the last four: either side of Berlin's 2024 DST changes

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def job_rows(draw) -> dict[str, object]:
    """A jobs row as the database may hold it (the columns job_dict reads vary freely)."""
    array = draw(st.booleans())
    ended = draw(TIMES)
    return {
        "id": draw(st.integers(1, 10**9)), "name": draw(TEXT), "user_name": draw(TEXT),
        "uid": 1000, "gid": 1000, "state": draw(st.sampled_from(STATES)),
        "reason": draw(st.none() | TEXT),
        "script": draw(st.sampled_from(["", "#!/bin/sh\ntrue\n", "#!/bin/bash\n#SBATCH -c 2\n\n"
                                        "  python train.py --lr 3 \n", "# only comments\n"])),
        "argv": draw(st.sampled_from(["[]", '["a","b c"]', '["\\u00e9"]'])),
        "environment": "{}", "workdir": draw(TEXT), "stdout_path": draw(TEXT),
        "stderr_path": draw(TEXT), "ntasks": 1, "cpus_per_task": draw(st.integers(1, 64)),
        "cpus": draw(st.integers(1, 64)), "mem_mb": draw(st.sampled_from([0, 512, 4096])),
        "time_limit_s": draw(st.none() | st.integers(0, 10**7)),
        "priority": draw(st.integers(-100, 100)), "nice": draw(st.integers(-100, 100)),
        "held": draw(st.sampled_from([0, 1])), "begin_time": draw(TIMES),
        "dependency": draw(st.none() | st.just("afterok:1")), "kill_on_invalid_dep": 0,
        "requeue": 0, "array_job_id": draw(st.integers(1, 10**6)) if array else None,
        "array_task_id": draw(st.integers(0, 1000)) if array else None,
        "array_max_running": None,
        "submit_time": draw(st.floats(min_value=946_684_800, max_value=2_100_000_000)),
        "expected_start_time": draw(TIMES), "start_time": draw(TIMES), "end_time": ended,
        "exit_code": draw(st.none() | st.integers(0, 255)),
        "signal": draw(st.none() | st.integers(1, 64)), "node": draw(st.none() | TEXT),
        "cpu_ids": draw(st.sampled_from([None, "", "0", "0,1,5"])),
        "restarts": draw(st.integers(0, 5)),
        "max_rss_bytes": draw(st.none() | st.integers(0, 2**40)),
        "cpu_user_s": draw(st.none() | st.floats(0, 1e6)),
        "cpu_system_s": draw(st.none() | st.floats(0, 1e6)),
    }  # fmt: skip


def as_job(row: dict[str, object]) -> Job:
    return sql.job_from_row([row.get(name, Job._defaults.get(name, 0)) for name in JOB_COLUMNS])


def reference(row: dict[str, object], now: float) -> dict:
    """job_dict through the JSON text it prints."""
    return json.loads(json.dumps(render.job_dict(as_job(row), now)))


# ---- the JSON shortcuts ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_db() -> Iterator[object]:
    from scns.db.engine import open_database
    from scns.db.migrate import ensure_schema

    home = tempfile.mkdtemp(prefix="scns-qf-", dir="/tmp")
    database = open_database(f"sqlite:///{home}/scns.db")
    ensure_schema(database)
    yield database
    database.close()
    shutil.rmtree(home, ignore_errors=True)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=job_rows(), now=st.floats(min_value=946_684_800, max_value=2_100_000_000))
def test_sqlite_json_is_job_dict(sqlite_db, row: dict[str, object], now: float) -> None:
    """queue --json on SQLite: the object SQLite and json_texts make is job_dict's."""
    from scns.db.statements.listings import Selection

    with sqlite_db.write() as tx:
        tx.run("DELETE FROM jobs")
        sql.insert_jobs(tx, [row])
    with sqlite_db.read() as tx:
        rows = listing_sql.json_listing_rows(tx, Selection(include_finished=True), 0, 10**10, now)
    (text,) = list(render.json_texts(rows))
    assert json.loads(text) == reference(row, now)


@settings(max_examples=300, deadline=None)
@given(row=job_rows(), now=st.floats(min_value=946_684_800, max_value=2_100_000_000))
def test_row_dicts_is_job_dict(row: dict[str, object], now: float) -> None:
    """queue --json on PostgreSQL and history --json: dicts straight from the rows."""
    values = tuple(row.get(name, Job._defaults.get(name, 0)) for name in JOB_COLUMNS)
    (got,) = list(render.row_dicts([values], now))
    assert json.loads(json.dumps(got)) == reference(row, now)


@given(st.floats(min_value=0, max_value=2_100_000_000))
def test_iso_is_the_whole_second_in_local_time(ts: float) -> None:
    whole = dt.datetime.fromtimestamp(int(ts), dt.UTC).astimezone()
    assert render.iso(ts) == whole.isoformat(timespec="seconds")
    assert render.iso(ts)[:19] == time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(int(ts)))


def test_offset_period_ends_at_the_dst_changes() -> None:
    """Around 2024-06-01 Berlin is at +02:00 from 31 March 01:00 UTC to 27 October 01:00."""
    start, until, offset, text = listing_sql._offset_period(1_717_200_000)
    assert (start, until, offset, text) == (1_711_846_800, 1_729_990_800, 7200, "+02:00")


def test_json_stream_is_one_array_one_job_per_line(capsys) -> None:
    render.print_json_stream([])
    assert capsys.readouterr().out == "[]\n"
    render.print_json_stream({"n": n} for n in range(2500))
    out = capsys.readouterr().out
    assert json.loads(out) == [{"n": n} for n in range(2500)]
    assert out.count("\n") == 2502 and out.startswith("[\n{") and out.endswith("}\n]\n")


@pytest.mark.parametrize(
    ("script", "command"),
    [
        ("#!/bin/sh\nmake -j4\n", "make -j4"),  # --wrap
        (
            "#!/bin/bash\n#SBATCH -J x\n#SCNS -c 2\n\n  python a.py 'b c'\nnext\n",
            "python a.py 'b c'",
        ),
        ("#!/bin/sh\n# nothing\n\n", None),
        ("", None),  # an array task's own row: its first task has the script
        (None, None),  # hidden: another user's job
    ],
)
def test_command_is_the_first_line_that_runs(script: str | None, command: str | None) -> None:
    assert render.command_line(script) == command


# ---- pending arrays shown together -----------------------------------------------------------


def narrow(job: Job) -> tuple:
    """statements.queue_table's row of a job, with array_max_running."""
    return (job.id, job.array_job_id, job.array_task_id, job.name, job.user_name, job.state.value,
            job.reason, job.node, job.start_time, job.end_time, job.time_limit_s, job.cpus,
            job.array_max_running)  # fmt: skip


@st.composite
def queues(draw) -> list[Job]:
    """Jobs in id order: plain ones and tasks of two arrays, in mixed states."""
    jobs = []
    for job_id in range(1, draw(st.integers(0, 14)) + 1):
        kind = draw(st.sampled_from(["plain", "a", "b"]))
        state = draw(st.sampled_from([JobState.PENDING, JobState.PENDING, JobState.RUNNING]))
        array = {"plain": None, "a": 100, "b": 200}[kind]
        jobs.append(make_job(id=job_id, state=state, array_job_id=array,
                             array_task_id=job_id if array else None,
                             array_max_running=3 if kind == "a" else None))  # fmt: skip
    return jobs


@given(queues())
def test_collapsed_rows_and_lines_are_squeues(jobs: list[Job]) -> None:
    expected = [fmt.job_id_text(row) for row in fmt.collapse_pending_arrays(jobs)]
    rows = render.collapse_pending_rows([narrow(j) for j in jobs])
    assert [str(r[0]) if r[1] is None else f"{r[1]}_{r[2]}" for r in rows] == expected
    table = io.StringIO()
    with redirect_stdout(table):
        render.print_queue(rows, T0, header=False)
    lines = []
    for job in jobs:  # the lines SQLite formats, tagged as statements.queue_lines tags them
        out = io.StringIO()
        with redirect_stdout(out):
            render.print_queue([narrow(job)], T0, header=False)
        pending_task = job.array_job_id is not None and job.state is JobState.PENDING
        tag = f"{job.array_job_id} {job.array_task_id} {job.array_max_running or 0}"
        lines.append((out.getvalue().rstrip("\n"), tag if pending_task else None))
    assert render.collapse_pending_lines(lines) == table.getvalue().splitlines()


def test_a_long_array_id_keeps_the_columns_after_it() -> None:
    job = make_job(id=123456789, array_job_id=123456789, array_task_id=1000, array_max_running=4)
    other = make_job(id=123456790, array_job_id=123456789, array_task_id=1001)
    out = io.StringIO()
    with redirect_stdout(out):
        render.print_queue([narrow(job)], T0, header=False)
    line = out.getvalue().rstrip("\n")
    tags = [(line, "123456789 1000 4"), (line.replace("_1000", "_1001"), "123456789 1001 4")]
    (shown,) = render.collapse_pending_lines(tags)
    assert shown.split() == ["123456789_[1000-1001%4]", *line.split()[1:]]
    assert other.display_id == "123456789_1001"


def test_names_are_cut_at_24_characters() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        render.print_queue([narrow(make_job(name="n" * 30))], T0)
    header, line = out.getvalue().splitlines()
    assert "n" * 24 + " " in line and "n" * 25 not in line
    assert header.index("USER") == line.index("alice")


# ---- --sort and -o, as squeue ----------------------------------------------------------------

S = JobState
JOBS = [
    make_job(id=1, name="b", priority=5, state=S.RUNNING, start_time=T0 - 50),
    make_job(id=2, name="a", priority=9),
    make_job(id=3, name="c", priority=1, user_name="bob", uid=1001),
    make_job(id=4, name="a", priority=9, nice=5, array_job_id=4, array_task_id=0),
    make_job(id=5, name="a", priority=9, nice=5, array_job_id=4, array_task_id=1),
]


def ids(rows: list[fmt.Row]) -> list[str]:
    return [fmt.job_id_text(r) for r in rows]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", ["1", "2", "3", "4_0", "4_1"]),  # no --sort: by id
        ("i", ["1", "2", "3", "4_0", "4_1"]),
        ("-i", ["4_1", "4_0", "3", "2", "1"]),
        ("P,t,-p", ["2", "4_0", "4_1", "3", "1"]),  # squeue's own: PD before R, then priority
        ("-p", ["2", "1", "4_0", "4_1", "3"]),  # priority minus nice, highest first
        ("j,-i", ["4_1", "4_0", "2", "1", "3"]),
        ("u", ["1", "2", "4_0", "4_1", "3"]),
        ("-M", ["1", "2", "3", "4_0", "4_1"]),  # time used
        ("t", ["2", "3", "4_0", "4_1", "1"]),  # compact state as text: PD < R
        ("+V", ["1", "2", "3", "4_0", "4_1"]),
    ],
)
def test_sort_follows_squeue(spec: str, expected: list[str]) -> None:
    assert ids(sort_rows([fmt.Row(j) for j in JOBS], spec, T0)) == expected


def test_an_unknown_sort_key_is_refused() -> None:
    with pytest.raises(InvalidInput, match="invalid sort specification: x"):
        sort_rows([fmt.Row(j) for j in JOBS], "i,x", T0)


def test_format_uses_squeues_fields_and_widths() -> None:
    rows = fmt.collapse_pending_arrays(JOBS)
    lines = format_lines("%.6i|%-3j|%.2t|%u", rows, T0, header=True, expand=False)
    assert lines == [
        " JOBID|NAM|ST|USER",
        "     1|b  | R|alice",
        "     2|a  |PD|alice",
        "     3|c  |PD|bob",
        "4_[0-1|a  |PD|alice",
    ]  # %.6i cuts, as squeue
    assert format_lines("%i", rows, T0, header=False, expand=False)[-1] == "4_[0-1]"


def test_an_unknown_format_field_is_one_clear_error() -> None:
    with pytest.raises(InvalidInput, match=r"unknown format field %X"):
        format_lines("%i %X", [], T0, header=True, expand=False)


# ---- the fast path's option reading ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], QueueOptions()),
        (["--me", "-u", "a,b", "--user=c", "-n", "x", "-j", "4,5_1", "-t", "PD", "-r", "-h"],
         QueueOptions(me=True, users=("a,b", "c"), names=("x",), jobs=("4,5_1",),
                      states=("PD",), expand=True, header=False)),
        (["--sort", "-i", "-o", "%i %j", "--limit", "5", "--json", "-a"],
         QueueOptions(sort="-i", format="%i %j", limit=5, as_json=True, all_jobs=True)),
        (["--sort=t,-p", "--format=%.5i"], QueueOptions(sort="t,-p", format="%.5i")),
    ],
)  # fmt: skip
def test_plain_options_take_the_fast_path(args: list[str], expected: QueueOptions) -> None:
    assert _queue_options(args) == expected


@pytest.mark.parametrize(
    "args",
    [["--help"], ["-x"], ["--limit", "many"], ["-t"], ["-t=PD"], ["--state", "--json"], ["1"]],
)
def test_odd_options_go_to_typer(args: list[str]) -> None:
    assert _queue_options(args) is None


def test_selection_reads_squeues_values() -> None:
    from scns.service.jobs import selection

    sel = selection(states=["pd,R", "CD"], users=["0"], names=["x"], refs=["4", "5_1"], limit=3)
    assert (sel.states, sel.uids, sel.names, sel.ids, sel.tasks, sel.limit) == (
        ("PENDING", "RUNNING", "COMPLETED"), (0,), ("x",), (4,), ((5, 1),), 3)  # fmt: skip
    assert sel.include_finished  # asking for ids lists them in every state
    assert selection(states=["all"]).include_finished and selection(states=["all"]).states == ()
    with pytest.raises(InvalidInput, match="unknown user 'no-such-user-here'"):
        selection(users=["no-such-user-here"])
    with pytest.raises(InvalidInput, match="unknown job state 'SLEEPY'"):
        selection(states=["SLEEPY"])
    assert os.environ["TZ"] == "Europe/Berlin"
