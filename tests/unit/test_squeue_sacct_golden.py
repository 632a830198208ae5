"""squeue and sacct output, character for character, from in-memory jobs at a fixed time.

The expected lines follow Slurm 22.05's printing code (squeue/print.c, common/print_fields.c,
sacct/print.c): widths, justification, cutting, the ``+`` of a cut sacct value, headers.
"""

from __future__ import annotations

import pytest

from scns.compat import sacct, squeue
from scns.compat import slurm_format as fmt
from scns.domain.job import Job
from scns.domain.states import JobState
from scns.errors import InvalidInput
from tests.unit.test_slurm_format import T0, berlin, make_job

__all__ = ["berlin"]  # the fixture that puts every test in Europe/Berlin

S = JobState


def task(job_id: int, task_id: int, state: JobState = S.PENDING, **fields) -> Job:
    reason = "JobArrayTaskLimit" if state is S.PENDING else None
    return make_job(id=job_id, name="array", array_job_id=20, array_task_id=task_id,
                    array_max_running=2, state=state, reason=reason, **fields)  # fmt: skip


JOBS = [
    make_job(id=11, name="held", reason="JobHeldUser", held=1),
    make_job(id=12, name="train", state=S.RUNNING, reason=None, node="n1", cpus=4,
             cpus_per_task=4, start_time=T0 - 3723, time_limit_s=7200, mem_mb=4096),
    make_job(id=13, name="done", state=S.COMPLETED, reason="exit code 0", node="n1",
             start_time=T0 - 100, end_time=T0 - 40, exit_code=0, max_rss_bytes=209715200,
             cpu_user_s=1.0, cpu_system_s=0.234),
    make_job(id=14, name="bad", state=S.FAILED, reason="exit code 3", node="n1",
             start_time=T0 - 50, end_time=T0 - 45, exit_code=3, time_limit_s=300),
    task(20, 0, S.RUNNING, node="n1", start_time=T0 - 62),
    task(21, 1, S.RUNNING, node="n2", start_time=T0 - 62),
    task(22, 2),
    task(23, 3),
    make_job(id=30, name="longname_experiment", state=S.RUNNING, reason=None, node="n2",
             start_time=T0 - 86405, priority=5),
    make_job(id=31, name="stopped", state=S.CANCELLED, reason="cancelled by user", node="n1",
             start_time=T0 - 30, end_time=T0 - 20, signal=15),
    make_job(id=32, name="never", state=S.CANCELLED, reason="cancelled by user",
             end_time=T0 - 10),
    make_job(id=33, name="old", state=S.COMPLETED, node="n1", start_time=T0 - 2000,
             end_time=T0 - 1000, exit_code=0),  # ended before MinJobAge
    make_job(id=40, name="setup", state=S.CONFIGURING, reason=None, node="n2",
             start_time=T0 - 1, submit_time=T0 - 2),
]  # fmt: skip


def squeue_lines(*args: str, env: dict[str, str] | None = None) -> list[str]:
    found, extra = fmt.parse_options(list(args), squeue.OPTIONS)
    request = squeue.parse_request(found, extra, env or {})
    return squeue.render(request, squeue.select(request, JOBS, T0), T0)


def sacct_lines(*args: str) -> list[str]:
    found, extra = fmt.parse_options(list(args), sacct.OPTIONS)
    assert extra == []
    request = sacct.parse_request(found, T0, {}, "alice")
    return sacct.render(request, sacct.select(request, JOBS), T0)


# ---- squeue ---------------------------------------------------------------------------------


def test_squeue_default_layout() -> None:
    assert squeue_lines() == [
        "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)",
        "                40      scns    setup    alice CF       0:01      1 n2",
        "                11      scns     held    alice PD       0:00      1 (JobHeldUser)",
        "        20_[2-3%2]      scns    array    alice PD       0:00      1 (JobArrayTaskLimit)",
        "                30      scns longname    alice  R 1-00:00:05      1 n2",
        "                12      scns    train    alice  R    1:02:03      1 n1",
        "              20_0      scns    array    alice  R       1:02      1 n1",
        "              20_1      scns    array    alice  R       1:02      1 n2",
    ]


def test_squeue_all_states_shows_jobs_finished_within_min_job_age() -> None:
    assert squeue_lines("-t", "all")[1:6] == [
        "                31      scns  stopped    alice CA       0:10      1 n1",
        "                32      scns    never    alice CA       0:00      1 ",
        "                13      scns     done    alice CD       1:00      1 n1",
        "                40      scns    setup    alice CF       0:01      1 n2",
        "                14      scns      bad    alice  F       0:05      1 (NonZeroExitCode)",
    ]  # 33 ended 1000 s ago: gone, as from Slurm's controller
    assert len(squeue_lines("-t", "all")) == 1 + 11


def test_squeue_every_required_field() -> None:
    assert squeue_lines("-o", "%.18i %t %T %j %u %M %l %D %C %R %P %N", "-j", "12,14,20") == [
        "             JOBID ST STATE NAME USER TIME TIME_LIMIT NODES CPUS NODELIST(REASON)"
        " PARTITION NODELIST",
        "        20_[2-3%2] PD PENDING array alice 0:00 UNLIMITED 1 1 (JobArrayTaskLimit) scns ",
        "                12 R RUNNING train alice 1:02:03 2:00:00 1 4 n1 scns n1",
        "              20_0 R RUNNING array alice 1:02 UNLIMITED 1 1 n1 scns n1",
        "              20_1 R RUNNING array alice 1:02 UNLIMITED 1 1 n2 scns n2",
    ]


def test_squeue_widths_justify_and_cut() -> None:
    lines = squeue_lines("--format=%5i|%.5i|%-20j|%5t|%.3T|%.4M|%3R|%.3N|%l", "--jobs=30,14")
    assert lines == [
        "JOBID|JOBID|NAME                |ST   |STA|TIME|NOD|NODELIST|TIME_LIMIT",
        "30   |   30|longname_experiment |R    |RUN|1-00:00:05|n2 | n2|UNLIMITED",
    ]  # TIME and NODELIST are never cut; 14 finished: not shown by default
    # A left-justified field is cut by printf's precision even where Slurm asks not to cut.
    assert squeue_lines("-h", "-o", "%.4j|%3l", "-j", "14", "-t", "F") == [" bad|5:0"]


def test_squeue_prefix_suffix_and_other_fields() -> None:
    lines = squeue_lines("-o", "id=%A %F %K %L %S %e %V %r [%a] %m %Q %y", "-j", "12,22,23")
    assert lines == [
        "id=JOBID ARRAY_JOB_ID ARRAY_TASK_ID TIME_LEFT START_TIME END_TIME SUBMIT_TIME REASON"
        " [ACCOUNT] MIN_MEMORY PRIORITY NICE",
        "id=22 20 2-3%2 UNLIMITED N/A N/A 2023-11-14T23:03:20 JobArrayTaskLimit [(null)] 0 0 0",
        "id=12 12 N/A 57:57 2023-11-14T22:11:17 2023-11-15T00:11:17 2023-11-14T23:03:20 None"
        " [(null)] 4G 0 0",
    ]


def test_squeue_nextflow_and_parsl_status_queries() -> None:
    nextflow = squeue_lines("--noheader", "-o", "%i %t", "-t", "all", "-u", "1000")
    assert nextflow == ["31 CA", "32 CA", "13 CD", "40 CF", "14 F", "11 PD", "20_[2-3%2] PD",
                        "30 R", "12 R", "20_0 R", "20_1 R"]  # fmt: skip
    parsl = squeue_lines("--noheader", "--format=%i %t", "--job", "11,12,13")
    assert parsl == ["11 PD", "12 R"]  # finished ones are missing: Parsl reads them as done
    snakemake = squeue_lines("--format=%i|%T", "--states=all", "--noheader", "--name", "ARRAY")
    assert snakemake == ["20_[2-3%2]|PENDING", "20_0|RUNNING", "20_1|RUNNING"]


def test_squeue_filters() -> None:
    assert squeue_lines("-h", "-o", "%i", "-t", "pd,CF") == ["40", "11", "20_[2-3%2]"]
    assert squeue_lines("-h", "-o", "%i", "-t", "R") == ["30", "12", "20_0", "20_1"]
    assert squeue_lines("-h", "-o", "%i", "-j", "20_1,20_3") == ["20_3", "20_1"]
    assert squeue_lines("-h", "-o", "%i", "-r", "-t", "PD") == ["11", "20_2", "20_3"]
    assert squeue_lines("-h", "-o", "%i", "-u", "999") == []
    assert squeue_lines("-h", "-o", "%i", "-w", "n2") == ["40", "30", "20_1"]


def test_squeue_long_listing_starts_with_the_date() -> None:
    lines = squeue_lines("-l", "-j", "12")
    assert lines == [
        "Tue Nov 14 23:13:20 2023",
        "             JOBID PARTITION     NAME     USER    STATE       TIME TIME_LIMI  NODES"
        " NODELIST(REASON)",
        "                12      scns    train    alice  RUNNING    1:02:03   2:00:00      1 n1",
    ]


def test_squeue_format_from_the_environment() -> None:
    assert squeue_lines("-j", "12", env={"SQUEUE_FORMAT": "%i:%C"}) == ["JOBID:CPUS", "12:4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "bogus"], "Invalid job state specified: bogus"),
        (["-j", "abc"], "Invalid job id: abc"),
        (["extra"], "Unrecognized option: extra"),
        (["-l", "-o", "%i"], "Options -o(--format) and -l(--long) are mutually exclusive"),
        (["-O", "jobid"], "-O/--Format is not supported here; use -o/--format"),
    ],
)
def test_squeue_refuses_bad_requests(args, message) -> None:
    found, extra = fmt.parse_options(args, squeue.OPTIONS)
    with pytest.raises(InvalidInput) as caught:
        squeue.parse_request(found, extra, {})
    assert str(caught.value) == message


def _fake_fetch(spec) -> list[Job]:
    """What the database returns for a filter's ids and its finished-jobs bounds."""
    ids = {int(ref) for ref in spec.refs}
    return [
        j for j in JOBS
        if (not ids or j.id in ids or j.array_job_id in ids)
        and (not j.state.is_terminal or spec.include_finished)
        and (not j.state.is_terminal or j.end_time >= (spec.ended_since or 0))
    ]  # fmt: skip


@pytest.fixture
def fake_backend(monkeypatch) -> None:
    from scns.compat import backend

    monkeypatch.setattr(backend, "fetch_jobs", _fake_fetch)


@pytest.mark.usefixtures("fake_backend")
@pytest.mark.parametrize("job_id", ["99", "33"])  # unknown, and finished before MinJobAge
def test_squeue_one_unknown_id_is_slurms_error(capsys, job_id) -> None:
    assert squeue.main(["-j", job_id], now=T0) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", "slurm_load_jobs error: Invalid job id specified\n")
    assert squeue.main(["-j", f"{job_id},12", "-h", "-o", "%i"], now=T0) == 0  # several
    assert capsys.readouterr() == ("12\n", "")


@pytest.mark.usefixtures("fake_backend")
def test_squeue_finished_id_prints_the_header_only(capsys) -> None:
    assert squeue.main(["-j", "13"], now=T0) == 0
    assert capsys.readouterr() == (squeue_lines()[0] + "\n", "")
    assert squeue.main(["-j", "13", "-h"], now=T0) == 0
    assert capsys.readouterr() == ("", "")


@pytest.mark.usefixtures("fake_backend")
def test_sacct_prints_what_it_selects(capsys) -> None:
    assert sacct.main(["-j", "13,20", "-o", "JobID,State,NodeList", "-P"], now=T0) == 0
    assert capsys.readouterr() == (
        "JobID|State|NodeList\n13|COMPLETED|n1\n20_0|RUNNING|n1\n20_1|RUNNING|n2\n"
        "20_[2-3%2]|PENDING|None assigned\n",
        "",
    )


@pytest.mark.usefixtures("fake_backend")
@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        (squeue, ["--bogus"], "squeue: error: unrecognized option '--bogus'\n"),
        (squeue, ["-u"], "squeue: error: option requires an argument -- 'u'\n"),
        (sacct, ["-o", "nosuch"], 'sacct: error: Invalid field requested: "nosuch"\n'),
        (sacct, ["-S", "yesterdayish"], "sacct: error: Invalid time specification: yesterdayish\n"),
        (sacct, ["-j", "x1"], "sacct: error: Bad job/step specified: x1\n"),
        (sacct, ["stray"], "sacct: error: Unknown arguments: stray\n"),
    ],
)
def test_bad_options_are_one_line_and_exit_1(capsys, command, args, message) -> None:
    assert command.main(args) == 1
    assert capsys.readouterr() == ("", message)


# ---- sacct ----------------------------------------------------------------------------------

SACCT_HEADER = [
    "JobID           JobName  Partition    Account  AllocCPUS      State ExitCode ",
    "------------ ---------- ---------- ---------- ---------- ---------- -------- ",
]


def test_sacct_default_layout() -> None:
    assert sacct_lines("-j", "11,12,13", "-j", "14,20,30,31,32,40") == [
        *SACCT_HEADER,
        "11                 held       scns                     1    PENDING      0:0 ",
        "12                train       scns                     4    RUNNING      0:0 ",
        "13                 done       scns                     1  COMPLETED      0:0 ",
        "14                  bad       scns                     1     FAILED      3:0 ",
        "20_0              array       scns                     1    RUNNING      0:0 ",
        "20_1              array       scns                     1    RUNNING      0:0 ",
        "20_[2-3%2]        array       scns                     1    PENDING      0:0 ",
        "30           longname_+       scns                     1    RUNNING      0:0 ",
        "31              stopped       scns                     1  CANCELLED     0:15 ",
        "32                never       scns                     1  CANCELLED      0:0 ",
        "40                setup       scns                     1    RUNNING      0:0 ",
    ]


def test_sacct_submitit_status_query() -> None:
    assert sacct_lines("-o", "JobID,State,NodeList", "--parsable2", "-j", "20", "-j", "13") == [
        "JobID|State|NodeList",
        "13|COMPLETED|n1",
        "20_0|RUNNING|n1",
        "20_1|RUNNING|n2",
        "20_[2-3%2]|PENDING|None assigned",
    ]


def test_sacct_snakemake_status_query_and_account_probe() -> None:
    status = sacct_lines("-X", "--parsable2", "--clusters", "all", "--noheader",
                         "--format=JobIdRaw,State", "--starttime", "2023-11-14T22:00",
                         "--endtime", "now", "--name", "array")  # fmt: skip
    assert status == ["20|RUNNING", "21|RUNNING", "22|PENDING"]
    assert sacct_lines("-X", "-P", "-n", "--format=JobIdRaw,State", "-j", "14,31") == [
        "14|FAILED",
        "31|CANCELLED",
    ]
    assert sacct_lines("-nu", "alice", "-o", "Account%256") == []
    assert sacct_lines("-j", "999", "-n", "-X", "-o", "nodelist%-256") == []


def test_sacct_parsl_status_query() -> None:
    assert sacct_lines("-X", "--noheader", "--format=jobid,state%20", "--job", "14,31,12") == [
        "12                        RUNNING ",
        "14                         FAILED ",
        "31                      CANCELLED ",
    ]


def test_sacct_unknown_id_prints_the_header_only() -> None:
    assert sacct_lines("-j", "999") == SACCT_HEADER
    assert sacct_lines("-j", "999", "-P") == [
        "JobID|JobName|Partition|Account|AllocCPUS|State|ExitCode"
    ]


def test_sacct_every_required_field() -> None:
    fields = ("jobid%-20,jobidraw,start,end,elapsed,reqmem,maxrss,totalcpu,timelimit,reason,"
              "submit,alloccpus,user")  # fmt: skip
    assert sacct_lines("-j", "12,13,32,11", "-o", fields) == [
        "JobID                JobIDRaw                   Start                 End    Elapsed "
        "    ReqMem     MaxRSS   TotalCPU  Timelimit                 Reason              Submit "
        " AllocCPUS      User ",
        "-------------------- ------------ ------------------- ------------------- ---------- "
        "---------- ---------- ---------- ---------- ---------------------- ------------------- "
        "---------- --------- ",
        "11                   11                       Unknown             Unknown   00:00:00 "
        "         0              00:00:00  UNLIMITED            JobHeldUser 2023-11-14T23:03:20 "
        "         1     alice ",
        "12                   12           2023-11-14T22:11:17             Unknown   01:02:03 "
        "        4G              00:00:00   02:00:00                   None 2023-11-14T23:03:20 "
        "         4     alice ",
        "13                   13           2023-11-14T23:11:40 2023-11-14T23:12:40   00:01:00 "
        "         0       200M  00:01.234  UNLIMITED                   None 2023-11-14T23:03:20 "
        "         1     alice ",
        "32                   32           2023-11-14T23:13:10 2023-11-14T23:13:10   00:00:00 "
        "         0              00:00:00  UNLIMITED                   None 2023-11-14T23:03:20 "
        "         1     alice ",
    ]  # a job cancelled while pending starts when it ends, as Slurm records it
    more = "ExitCode,NodeList,Partition,ReqCPUS,NCPUS,Account,Comment"
    assert sacct_lines("-P", "-j", "11,14", "-o", more) == [
        "ExitCode|NodeList|Partition|ReqCPUS|NCPUS|Account|Comment",
        "0:0|None assigned|scns|1|1||",
        "3:0|n1|scns|1|1||",
    ]


def test_sacct_names_in_any_case_widths_and_cuts() -> None:
    assert sacct_lines("-j", "14", "-o", "JOBID,jobidRAW,STATE,exitCode", "-P") == [
        "JobID|JobIDRaw|State|ExitCode",
        "14|14|FAILED|3:0",
    ]
    assert sacct_lines("-j", "13", "-o", "jobname%3,submit%10,elapsed%3,cputime,part%4,tot") == [
        "Job     Submit Ela    CPUTime Part   TotalCPU ",
        "--- ---------- --- ---------- ---- ---------- ",
        "do+ 2023-11-14 00:01:00   00:01:00 scns  00:01.234 ",
    ]  # strings end in "+" when cut, dates are cut plain, durations never


def test_sacct_parsable_with_trailing_delimiter_and_others() -> None:
    assert sacct_lines("-j", "12,13", "--parsable", "-o", "jobname,state,exitcode") == [
        "JobName|State|ExitCode|",
        "train|RUNNING|0:0|",
        "done|COMPLETED|0:0|",
    ]
    assert sacct_lines("-j", "13", "-P", "--delimiter", ";", "-n", "-o", "jobid,state") == [
        "13;COMPLETED"
    ]
    assert sacct_lines("-j", "13", "-b", "-n") == ["13            COMPLETED      0:0 "]
    assert sacct_lines("-j", "13", "-P", "--noconvert", "-o", "maxrss,reqmem") == [
        "MaxRSS|ReqMem",
        "209715200|0",
    ]


def test_sacct_window_defaults() -> None:
    ids = ("-n", "-P", "-o", "jobid")
    everyone = ["11", "12", "13", "14", "20_0", "20_1", "20_[2-3%2]", "30", "31", "32", "33",
                "40"]  # fmt: skip
    assert sacct_lines(*ids, "-a") == everyone  # since midnight
    assert sacct_lines(*ids, "-a", "-S", "2023-11-14T23:00") == [j for j in everyone if j != "33"]
    assert sacct_lines(*ids, "-a", "-E", "2023-11-14T23:00") == []  # submitted later
    assert sacct_lines(*ids, "-a", "-s", "CD,CA", "-S", "today", "-E", "now") == [
        "13", "31", "32", "33",
    ]  # fmt: skip
    assert sacct_lines(*ids, "-a", "-s", "r") == ["12", "20_0", "20_1", "30", "40"]


@pytest.mark.parametrize(
    ("args", "caller", "users"),
    [
        ([], "alice", ("alice",)),  # without -j: only the caller's jobs
        ([], None, None),  # root sees everyone's
        (["-j", "12"], "alice", None),
        (["-a"], "alice", None),
        (["-u", "bob,carol", "-u", "dave"], "alice", ("bob", "carol", "dave")),
        (["-u", "bob", "-a"], "alice", None),
        (["-a", "-u", "bob"], "alice", ("bob",)),
        (["-u", "-1"], "alice", None),
    ],
)
def test_sacct_users(args, caller, users) -> None:
    found, _ = fmt.parse_options(args, sacct.OPTIONS)
    assert sacct.parse_request(found, T0, {}, caller).users == users
