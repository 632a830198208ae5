"""Golden outputs of ``scontrol show job``/``show config`` and ``sinfo``, from in-memory
records, written from Slurm 22.05's scontrol/info_job.c and sinfo/print.c layouts."""

from __future__ import annotations

import os
import re
import time

import pytest

from scns.compat import scontrol_records, sinfo
from scns.domain.job import Job
from scns.domain.states import JobState
from scns.service.nodes import NodeSummary

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z, 2023-11-15T00:13:20 at UTC+2


@pytest.fixture(autouse=True)
def fixed_zone():
    """Local times at UTC+2 (a POSIX zone string: no tz database needed)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "XYZ-2"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


def make_job(**fields) -> Job:
    values = {
        "id": 1, "name": "job", "user_name": "alice", "uid": 1000, "gid": 1000,
        "state": JobState.PENDING, "reason": None, "script": "", "argv": "[]",
        "environment": "{}", "workdir": "/home/alice", "stdout_path": "/home/alice/o",
        "stderr_path": "/home/alice/o", "ntasks": 1, "cpus_per_task": 1, "cpus": 1,
        "mem_mb": 0, "time_limit_s": None, "priority": 0, "nice": 0, "held": 0,
        "begin_time": None, "dependency": None, "kill_on_invalid_dep": 0, "requeue": 0,
        "array_job_id": None, "array_task_id": None, "array_max_running": None,
        "submit_time": T0, "eligible_time": T0, "expected_start_time": None,
        "start_time": None, "end_time": None, "exit_code": None, "signal": None,
        "node": None, "cpu_ids": None, "pid": None, "pid_start_ticks": None,
        "cancel_requested": 0, "restarts": 0,
    }  # fmt: skip
    values.update(fields)
    return Job(**values)


RUNNING_ARRAY_TASK = """\
JobId=172 ArrayJobId=170 ArrayTaskId=2 JobName=train
   UserId=alice(1000) GroupId=staff(1000) MCS_label=N/A
   Priority=1 Nice=0 Account=(null) QOS=normal
   JobState=RUNNING Reason=None Dependency=(null)
   Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0
   RunTime=00:01:00 TimeLimit=01:00:00 TimeMin=N/A
   SubmitTime=2023-11-15T00:13:20 EligibleTime=2023-11-15T00:13:20
   StartTime=2023-11-15T00:13:30 EndTime=2023-11-15T01:13:30 Deadline=N/A
   Partition=scns
   ReqNodeList=(null) ExcNodeList=(null)
   NodeList=n1
   BatchHost=n1
   NumNodes=1 NumCPUs=2 NumTasks=1 CPUs/Task=2 ReqB:S:C:T=0:0:*:*
   TRES=cpu=2,mem=1G,node=1,billing=2
   Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=*
   MinCPUsNode=2 MinMemoryNode=1G MinTmpDiskNode=0
   Features=(null) DelayBoot=00:00:00
   OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null)
   Command=(null)
   WorkDir=/home/alice
   StdErr=/home/alice/slurm-170_2.out
   StdIn=/dev/null
   StdOut=/home/alice/slurm-170_2.out
   Power=

"""


def test_show_job_of_a_running_array_task() -> None:
    job = make_job(id=172, array_job_id=170, array_task_id=2, name="train",
                   state=JobState.RUNNING, cpus_per_task=2, cpus=2, mem_mb=1024,
                   time_limit_s=3600, start_time=T0 + 10, node="n1", cpu_ids="0,1",
                   stdout_path="/home/alice/slurm-170_2.out",
                   stderr_path="/home/alice/slurm-170_2.out")  # fmt: skip
    assert scontrol_records.job_record(job, T0 + 70, group="staff") == RUNNING_ARRAY_TASK


def test_show_job_of_a_failed_job_one_liner() -> None:
    job = make_job(id=9, name="wrap", state=JobState.FAILED, exit_code=3,
                   start_time=T0 + 5, end_time=T0 + 3725, node="n2", comment="rule_a",
                   requeue=1, restarts=2, stderr_path="/home/alice/e")  # fmt: skip
    line = scontrol_records.job_record(job, T0 + 9999, one_liner=True, group="staff")
    assert line.endswith("Power=\n") and line.count("\n") == 1
    assert " JobState=FAILED Reason=NonZeroExitCode Dependency=(null) " in line
    assert " Requeue=1 Restarts=2 BatchFlag=1 Reboot=0 ExitCode=3:0 " in line
    assert " RunTime=01:02:00 TimeLimit=UNLIMITED " in line
    assert " StartTime=2023-11-15T00:13:25 EndTime=2023-11-15T01:15:25 " in line
    assert " WorkDir=/home/alice Comment=rule_a StdErr=/home/alice/e StdIn=/dev/null " in line
    assert "ArrayJobId" not in line and " BatchHost=n2 " in line


def test_show_job_of_a_held_pending_job() -> None:
    job = make_job(id=5, held=1, reason="JobHeldUser", dependency="afterok:4",
                   priority=50, nice=10, time_limit_s=90061)  # fmt: skip
    text = scontrol_records.job_record(job, T0 + 60, group="staff")
    assert "   Priority=0 Nice=10 " in text  # Slurm shows a held job with priority 0
    assert "   JobState=PENDING Reason=JobHeldUser Dependency=afterok:4\n" in text
    assert "   RunTime=00:00:00 TimeLimit=1-01:01:01 TimeMin=N/A\n" in text
    assert "   StartTime=Unknown EndTime=Unknown Deadline=N/A\n" in text
    assert "   NodeList=(null)\n" in text and "BatchHost" not in text


def test_show_job_of_a_signalled_and_of_a_pending_expected_job() -> None:
    killed = make_job(state=JobState.CANCELLED, signal=9, start_time=T0, end_time=T0 + 1)
    assert " ExitCode=0:9\n" in scontrol_records.job_record(killed, T0, group="g")
    planned = make_job(expected_start_time=T0 + 600, time_limit_s=600, reason="Resources")
    text = scontrol_records.job_record(planned, T0, group="g")
    assert "StartTime=2023-11-15T00:23:20 EndTime=2023-11-15T00:33:20 " in text
    assert "Reason=Resources " in text


def test_show_config(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SCNS_HOME", str(tmp_path))
    monkeypatch.setenv("SCNS_MAX_ARRAY_SIZE", "1001")
    monkeypatch.delenv("SCNS_CONFIG", raising=False)
    text = scontrol_records.config_text(T0)
    assert text == (
        "Configuration data as of 2023-11-15T00:13:20\n"
        "ClusterName             = scns\n"
        "MaxArraySize            = 1001\n"
        "MinJobAge               = 300 sec\n"
        "SLURM_VERSION           = 22.05.0\n"
    )
    # What Snakemake's Slurm executor looks for.
    assert re.search(r"^MinJobAge\s+=\s+300 sec$", text, re.MULTILINE)
    assert re.search(r"^MaxArraySize\s+=\s+1001$", text, re.MULTILINE)


def node(name: str, state: str, cpus: int, allocated: int = 0, reason: str | None = None,
         mem_mb: int = 0) -> NodeSummary:  # fmt: skip
    return NodeSummary(name, state, cpus, allocated, mem_mb, 0, T0, 1.0, reason,
                       state in ("drained", "draining"))  # fmt: skip


NODES = [
    node("n1", "idle", 2),
    node("n2", "mixed", 4, 1),
    node("n3", "idle", 2),
    node("n10", "down", 8, reason="no heartbeat for 40s"),
]


def show(nodes, format_text: str, *, max_time_s=None, **kwargs) -> str:
    return sinfo.render(nodes, sinfo.parse_format(format_text), max_time_s=max_time_s, **kwargs)


def test_sinfo_partition_only_is_what_snakemake_reads() -> None:
    assert show(NODES, "%P") == "PARTITION\nscns*\n"
    assert show(NODES, "%P", header=False) == "scns*\n"
    assert show([], "%P") == "PARTITION\nscns*\n"  # no node yet: the partition still shows
    assert show(None, "%P") == "PARTITION\n"  # -p of another partition


def test_sinfo_default_layout() -> None:
    assert show(NODES, sinfo.DEFAULT_FORMAT) == (
        "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\n"
        "scns*        up   infinite      1    mix n2\n"
        "scns*        up   infinite      2   idle n[1,3]\n"
        "scns*        up   infinite      1   down n10\n"
    )
    assert show([], sinfo.DEFAULT_FORMAT, header=False) == (
        "scns*        up   infinite      0    n/a \n"
    )
    limited = show(NODES[:1], sinfo.DEFAULT_FORMAT, max_time_s=2 * 86400, header=False)
    assert limited == "scns*        up 2-00:00:00      1   idle n1\n"


def test_sinfo_node_oriented_and_summarized() -> None:
    assert show(NODES, sinfo.NODE_FORMAT, node_oriented=True) == (
        "NODELIST   NODES PARTITION STATE \n"
        "n1             1     scns* idle  \n"
        "n2             1     scns* mix   \n"
        "n3             1     scns* idle  \n"
        "n10            1     scns* down  \n"
    )
    assert show(NODES, sinfo.SUMMARIZE_FORMAT) == (
        "PARTITION AVAIL  TIMELIMIT   NODES(A/I/O/T) NODELIST\n"
        "scns*        up   infinite          1/2/1/4 n[1-3,10]\n"
    )


def test_sinfo_format_fields() -> None:
    assert show(NODES, "%P %a %l %D %t %N %c %C", header=False).splitlines() == [
        "scns* up infinite 1 mix n2 4 1/3/0/4",
        "scns* up infinite 2 idle n[1,3] 2 0/4/0/4",
        "scns* up infinite 1 down n10 8 0/0/8/8",
    ]
    assert show(NODES, "%F|%D|%a", header=False) == "1/2/1/4|4|up\n"
    assert show(NODES, "%C|%D", header=False).splitlines() == [  # %C groups by CPU count
        "1/3/0/4|1", "0/4/0/4|2", "0/0/8/8|1"]  # fmt: skip
    assert show(NODES, "[%.3D] %5P|%E").splitlines() == [
        "[NOD] PARTI|REASON",
        "[  3] scns*|none",
        "[  1] scns*|no heartbeat for 40s",
    ]
    drained = [node("a1", "drained", 2), node("a2", "draining", 2, 2)]
    assert show(drained, "%t %T %C", header=False).splitlines() == [
        "drng draining 2/0/0/2",
        "drain drained 0/0/2/2",
    ]


def test_sinfo_bad_format_is_one_error() -> None:
    with pytest.raises(Exception, match="Invalid node format specification: %q"):
        sinfo.parse_format("%P %q")


def test_hostlists_expand() -> None:
    assert sinfo.expand_hostlist("n[1-3,5],m1,node[08-10]") == [
        "n1", "n2", "n3", "n5", "m1", "node08", "node09", "node10"]  # fmt: skip


# ---- the command lines around them ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "values", "command"),
    [
        (["-n2", "--output=o-%t", "sh", "-c", "x"], {"ntasks": "2", "output": "o-%t"},
         ["sh", "-c", "x"]),
        (["--unbuffered", "--output", "d/%j_%t.out", "--error", "e", "python", "-u", "-m", "m"],
         {"ignored": None, "output": "d/%j_%t.out", "error": "e"}, ["python", "-u", "-m", "m"]),
        (["-n1", "--cpu-bind=q", "--cpus-per-task=4", "--nodes=1", "python", "-m", "snakemake"],
         {"ntasks": "1", "ignored": "q", "cpus_per_task": "4", "nodes": "1"},
         ["python", "-m", "snakemake"]),
        (["-lu", "-J", "name", "-K", "--", "-weird"], {"kill_on_bad_exit": None}, ["-weird"]),
    ],
)  # fmt: skip
def test_srun_options_stop_at_the_command(argv, values, command) -> None:
    """srun reads options up to the command; the command's own options are its own."""
    from scns.compat import srun

    assert srun.parse_command_line(argv) == (values, command)


def test_srun_output_patterns() -> None:
    from scns.compat.srun_tasks import expand_pattern

    fields = {"j": "12", "s": 1, "n": 0, "J": "12.1", "N": "n1", "A": "10", "a": 2,
              "u": "alice", "x": "train"}  # fmt: skip
    assert expand_pattern("%j_%t_log.out", fields, 3) == "12_3_log.out"
    assert expand_pattern("%J-%s-%N-%n-%u-%x-%A_%a", fields, 0) == "12.1-1-n1-0-alice-train-10_2"
    assert expand_pattern("%3t %% %q", fields, 7) == "007 % %q"


def test_scancel_job_id_lists() -> None:
    from scns.compat.scancel import expand_job_ids

    assert expand_job_ids("5,6_2,7_[1-3,9]") == ["5", "6_2", "7_1", "7_2", "7_3", "7_9"]
    with pytest.raises(Exception, match=r"Invalid job id 5\.0"):
        expand_job_ids("5.0")
