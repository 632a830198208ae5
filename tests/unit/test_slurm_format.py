"""Slurm 22.05's formatting rules, one table per rule, from the Slurm source each mirrors."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from scns.compat import slurm_format as fmt
from scns.compat.slurm_format import Option, Row
from scns.domain.job import Job
from scns.domain.states import JobState
from scns.errors import InvalidInput

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z, 23:13:20 in Berlin (CET)


@pytest.fixture(autouse=True)
def berlin() -> Iterator[None]:
    """Local time is Europe/Berlin, so a UTC rendering would show."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def make_job(**fields) -> Job:
    """A job record as the database returns it; pending, one CPU, submitted at T0 - 600."""
    values = dict(
        id=1, name="job", user_name="alice", uid=1000, gid=1000, state=JobState.PENDING,
        reason="Priority", script="", argv="", environment="", workdir="/home/alice",
        stdout_path="/home/alice/slurm-1.out", stderr_path="/home/alice/slurm-1.out",
        ntasks=1, cpus_per_task=1, cpus=1, mem_mb=0, time_limit_s=None, priority=0, nice=0,
        held=0, begin_time=None, dependency=None, kill_on_invalid_dep=0, requeue=0,
        array_job_id=None, array_task_id=None, array_max_running=None, submit_time=T0 - 600,
        eligible_time=None, expected_start_time=None, start_time=None, end_time=None,
        exit_code=None, signal=None, node=None, cpu_ids=None, pid=None, pid_start_ticks=None,
        cancel_requested=0, restarts=0,
    )  # fmt: skip
    values.update(fields)
    return Job(**values)


# ---- states ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("all", None),
        ("ALL", None),
        ("PD", {"PENDING"}),
        ("pd,r", {"PENDING", "RUNNING"}),
        ("Running,completed", {"RUNNING", "COMPLETED"}),
        ("CA,F,TO,NF,OOM", {"CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"}),
        ("cf", {"CONFIGURING"}),
        ("CG,S,PR", {"COMPLETING", "SUSPENDED", "PREEMPTED"}),  # Slurm's, never scns's
    ],
)
def test_state_lists_take_names_and_codes_in_any_case(text, names) -> None:
    assert fmt.parse_state_list(text) == (None if names is None else frozenset(names))


@pytest.mark.parametrize("text", ["bogus", "PD,nope", "R,"])
def test_an_unknown_state_is_slurms_error(text) -> None:
    with pytest.raises(InvalidInput, match=r"^Invalid job state specified: "):
        fmt.parse_state_list(text)


@pytest.mark.parametrize(
    ("state", "code", "accounted"),
    [
        (JobState.PENDING, "PD", "PENDING"),
        (JobState.CONFIGURING, "CF", "RUNNING"),  # sacct: the database keeps base states
        (JobState.RUNNING, "R", "RUNNING"),
        (JobState.COMPLETED, "CD", "COMPLETED"),
        (JobState.FAILED, "F", "FAILED"),
        (JobState.CANCELLED, "CA", "CANCELLED"),
        (JobState.TIMEOUT, "TO", "TIMEOUT"),
        (JobState.NODE_FAIL, "NF", "NODE_FAIL"),
        (JobState.OUT_OF_MEMORY, "OOM", "OUT_OF_MEMORY"),
    ],
)
def test_state_codes_and_accounting_names(state, code, accounted) -> None:
    assert fmt.compact_state(state) == code
    assert fmt.accounting_state(state) == accounted
    assert fmt.SLURM_STATES[state.value] == code


# ---- times ----------------------------------------------------------------------------------


def test_times_are_local_and_unknown_when_unset() -> None:
    assert fmt.slurm_time(T0) == "2023-11-14T23:13:20"
    assert fmt.slurm_time(T0 + 0.9) == "2023-11-14T23:13:20"
    assert fmt.slurm_time(1_690_000_000) == "2023-07-22T06:26:40"  # summer time, +2
    assert fmt.slurm_time(None) == "Unknown"


@pytest.mark.parametrize(
    ("seconds", "squeue", "clock"),
    [
        (0, "0:00", "00:00:00"),
        (5, "0:05", "00:00:05"),
        (62, "1:02", "00:01:02"),
        (3599, "59:59", "00:59:59"),
        (3723, "1:02:03", "01:02:03"),
        (86399, "23:59:59", "23:59:59"),
        (86400, "1-00:00:00", "1-00:00:00"),
        (90061, "1-01:01:01", "1-01:01:01"),
        (365 * 86400, "365-00:00:00", "365-00:00:00"),
        (365 * 86400 + 1, "INVALID", "365-00:00:01"),
        (-1, "INVALID", "INVALID"),
    ],
)
def test_durations(seconds, squeue, clock) -> None:
    assert fmt.squeue_duration(seconds) == squeue
    assert fmt.clock_duration(seconds) == clock


def test_no_limit_is_unlimited() -> None:
    assert fmt.clock_duration(None) == "UNLIMITED"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "00:00:00"),
        (0.0, "00:00:00"),
        (1.234, "00:01.234"),
        (0.0004, "00:00:00"),  # under a millisecond
        (65.0, "00:01:05"),
        (59 * 60 + 59.5, "59:59.500"),
        (3723.5, "01:02:03"),  # milliseconds only under an hour
        (90061.25, "1-01:01:01"),
    ],
)
def test_cpu_times(seconds, text) -> None:
    assert fmt.cpu_duration(seconds) == text


def test_elapsed_counts_whole_seconds_of_running() -> None:
    assert fmt.elapsed_s(make_job(), T0) == 0
    running = make_job(state=JobState.RUNNING, start_time=T0 - 61.7)
    assert fmt.elapsed_s(running, T0) == 62  # int(T0) - int(start), as Slurm's time_t
    done = make_job(state=JobState.COMPLETED, start_time=T0 - 100, end_time=T0 - 40)
    assert fmt.elapsed_s(done, T0) == 60
    requeued = make_job(state=JobState.PENDING, start_time=T0 - 100)
    assert fmt.elapsed_s(requeued, T0) == 0


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("now", "2023-11-14T23:13:20"),
        ("NOW-1hours", "2023-11-14T22:13:20"),
        ("now-90", "2023-11-14T23:11:50"),
        ("now+1day", "2023-11-15T23:13:20"),
        ("today", "2023-11-14T00:00:00"),
        ("midnight", "2023-11-14T00:00:00"),
        ("teatime", "2023-11-14T16:00:00"),
        ("2023-11-14", "2023-11-14T00:00:00"),
        ("2023-11-14T22:00", "2023-11-14T22:00:00"),
        ("2023-11-14T22:00:07", "2023-11-14T22:00:07"),
        ("11/14", "2023-11-14T00:00:00"),
        ("11/14/23", "2023-11-14T00:00:00"),
        ("1114", "2023-11-14T00:00:00"),
        ("12/01", "2022-12-01T00:00:00"),  # a month still to come: last year's
        ("11/02-08:30", "2023-11-02T08:30:00"),
        ("22:30", "2023-11-14T22:30:00"),
        ("uts1699000000", "2023-11-03T09:26:40"),
    ],
)
def test_times_looking_into_the_past(text, when) -> None:
    assert fmt.slurm_time(fmt.parse_time(text, T0)) == when


@pytest.mark.parametrize("text", ["", "yesterday", "2023-13-01", "now-3fortnights", "25:00"])
def test_bad_times(text) -> None:
    with pytest.raises(InvalidInput, match=r"^Invalid time specification"):
        fmt.parse_time(text, T0)


# ---- numbers, exit codes, reasons -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0, fmt.UNIT_MEGA, "0"),
        (954, fmt.UNIT_MEGA, "954M"),
        (1024, fmt.UNIT_MEGA, "1G"),
        (4096, fmt.UNIT_MEGA, "4G"),
        (2560, fmt.UNIT_MEGA, "2.50G"),  # halves are exact enough
        (2000, fmt.UNIT_MEGA, "2000M"),
        (209715200, fmt.UNIT_NONE, "200M"),
        (209719296, fmt.UNIT_NONE, "204804K"),
        (1000, fmt.UNIT_NONE, "1000"),
        (3 * 1024**4, fmt.UNIT_KILO, "3P"),
        (2048 * 1024**5, fmt.UNIT_KILO, "2?"),  # Slurm runs out of units
    ],
)
def test_sizes_scale_while_exact(value, unit, text) -> None:
    assert fmt.with_unit(value, unit) == text


def test_sizes_unconverted() -> None:
    assert fmt.with_unit(4096, fmt.UNIT_MEGA, convert=False) == "4096M"
    assert fmt.with_unit(209715200, fmt.UNIT_NONE, convert=False) == "209715200"


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "0:0"),
        ({"state": JobState.RUNNING}, "0:0"),
        ({"state": JobState.COMPLETED, "exit_code": 0}, "0:0"),
        ({"state": JobState.FAILED, "exit_code": 3}, "3:0"),
        ({"state": JobState.FAILED, "signal": 9}, "0:9"),
        ({"state": JobState.CANCELLED, "signal": 15}, "0:15"),
        ({"state": JobState.FAILED, "exit_code": 137}, "9:0"),  # Slurm subtracts 128
    ],
)
def test_exit_codes(fields, text) -> None:
    assert fmt.exit_code_text(make_job(**fields)) == text


@pytest.mark.parametrize(
    ("fields", "reason", "in_parentheses"),
    [
        ({"reason": "Priority"}, "Priority", True),
        ({"reason": "JobHeldUser"}, "JobHeldUser", True),
        ({"reason": None}, "None", True),
        ({"reason": "requeued by user"}, "None", True),
        ({"state": JobState.RUNNING, "reason": None}, "None", False),
        ({"state": JobState.FAILED, "exit_code": 3}, "NonZeroExitCode", True),
        ({"state": JobState.FAILED, "signal": 9}, "JobLaunchFailure", True),
        ({"state": JobState.TIMEOUT, "signal": 15}, "TimeLimit", True),
        ({"state": JobState.OUT_OF_MEMORY}, "OutOfMemory", True),
        ({"state": JobState.NODE_FAIL}, "NodeDown", False),
        ({"state": JobState.COMPLETED, "reason": "exit code 0"}, "None", False),
        ({"state": JobState.CANCELLED, "reason": "cancelled by user"}, "None", False),
    ],
)
def test_reasons(fields, reason, in_parentheses) -> None:
    job = make_job(**fields)
    assert fmt.state_reason(job) == reason
    assert fmt.shows_reason(job.state) is in_parentheses


# ---- job ids, arrays, node lists ------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "limit", "text"),
    [
        ([0, 1, 2, 3], 2, "0-3%2"),
        ([2, 3], None, "2-3"),
        ([7], 4, "7%4"),
        ([1, 3, 5, 6, 7], None, "1,3,5-7"),
        ([0, 4, 8, 12, 16, 20], None, "0-20:4"),  # a step function
        ([0, 2, 4, 6, 8], None, "0,2,4,6,8"),  # too few for a step
        ([0, 1, 3, 5, 7, 9, 11], None, "0-1,3,5,7,9,11"),
        (  # 87 characters: Slurm keeps 60 of them
            [*range(0, 60, 2), 61],
            3,
            "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,36,38,40,42...%3",
        ),
    ],
)
def test_array_task_lists(ids, limit, text) -> None:
    assert fmt.array_task_text(ids, limit) == text


def test_pending_tasks_of_an_array_are_one_row_where_the_first_was() -> None:
    def task(job_id, task_id, state=JobState.PENDING):
        return make_job(id=job_id, array_job_id=5, array_task_id=task_id, state=state,
                        array_max_running=2)  # fmt: skip

    jobs = [make_job(id=4), task(5, 0, JobState.RUNNING), task(6, 1), task(7, 2),
            make_job(id=8), task(9, 3)]  # fmt: skip
    rows = fmt.collapse_pending_arrays(jobs)
    assert [fmt.job_id_text(r) for r in rows] == ["4", "5_0", "5_[1-3%2]", "8"]
    assert rows[2] == Row(jobs[2], (1, 2, 3))
    lone = fmt.collapse_pending_arrays([task(5, 0, JobState.RUNNING), task(6, 1)])
    assert [fmt.job_id_text(r) for r in lone] == ["5_0", "5_1"]


@pytest.mark.parametrize(
    ("names", "text"),
    [
        (["n1"], "n1"),
        (["pre1", "pre2", "pre3", "pre5"], "pre[1-3,5]"),
        (["pre3", "pre1", "pre2"], "pre[1-3]"),
        (["node01", "node02"], "node[01-02]"),
        (["node9", "node10"], "node[9-10]"),
        (["b", "a", "a"], "a,b"),
        (["login", "n2", "n1"], "login,n[1-2]"),
        ([], ""),
    ],
)
def test_node_lists(names, text) -> None:
    assert fmt.nodelist(names) == text


# ---- cells ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("123", 18, True), " " * 15 + "123"),
        (("123", 6, False), "123   "),
        (("longname_x", 8, True), "longname"),
        (("longname_x", 8, False), "longname"),
        (("anything", 0, True), "anything"),
        (("NODELIST(REASON)", 10, True, False), "NODELIST(REASON)"),  # never cut
        (("NODELIST(REASON)", 10, False, False), "NODELIST(R"),  # left: printf's precision
    ],
)
def test_squeue_cells(args, text) -> None:
    assert fmt.squeue_cell(*args) == text


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        (("bash", 10), {}, "      bash "),
        (("5_1", -12), {}, "5_1          "),
        (("verylongjobname", 10), {}, "verylongj+ "),
        (("verylongjobname", -10), {}, "verylongj+ "),
        ((None, 8), {}, " " * 9),
        (("123456789012", 8), {"truncate": False}, "123456789012 "),
    ],
)
def test_sacct_cells(args, kwargs, text) -> None:
    assert fmt.sacct_cell(*args, **kwargs) == text


# ---- command lines --------------------------------------------------------------------------

OPTIONS = (
    Option("noheader", "n", ("noheader",)),
    Option("user", "u", ("user", "uid"), "required"),
    Option("jobs", "j", ("jobs",), "optional"),
    Option("format", "o", ("format",), "required"),
    Option("Format", "O", ("Format",), "required"),
    Option("parsable", "p", ("parsable",)),
    Option("parsable2", "P", ("parsable2",)),
)


@pytest.mark.parametrize(
    ("argv", "found", "positional"),
    [
        (
            ["-nu", "bob", "-oAccount"],
            [("noheader", None), ("user", "bob"), ("format", "Account")],
            [],
        ),
        (["-ubob"], [("user", "bob")], []),
        (["--user=bob", "--user", "-1"], [("user", "bob"), ("user", "-1")], []),
        (["--job", "1,2"], [("jobs", None)], ["1,2"]),  # an optional value must be attached
        (["-j5", "--jobs=6"], [("jobs", "5"), ("jobs", "6")], []),
        (["--form=%i", "--Form", "x"], [("format", "%i"), ("Format", "x")], []),
        (["--parsable"], [("parsable", None)], []),  # exact beats the longer parsable2
        (["--parsable2"], [("parsable2", None)], []),
        (["a", "-n", "--", "-u", "b"], [("noheader", None)], ["a", "-u", "b"]),
        (["-"], [], ["-"]),
    ],
)
def test_command_lines_read_like_getopt_long(argv, found, positional) -> None:
    assert fmt.parse_options(argv, OPTIONS) == (found, positional)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-x"], "invalid option -- 'x'"),
        (["--bogus"], "unrecognized option '--bogus'"),
        (["--pars"], "option '--pars' is ambiguous"),
        (["-u"], "option requires an argument -- 'u'"),
        (["--user"], "option '--user' requires an argument"),
        (["--noheader=yes"], "option '--noheader' doesn't allow an argument"),
    ],
)
def test_bad_command_lines_are_one_line(argv, message) -> None:
    with pytest.raises(InvalidInput) as caught:
        fmt.parse_options(argv, OPTIONS)
    assert str(caught.value) == message
