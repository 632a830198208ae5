"""What ``scontrol show`` prints: the job, node, partition and config records.

``show job`` prints Slurm 22.05's ``Key=Value`` record (scontrol/info_job.c), the keys scns
knows filled in and Slurm's own placeholders (``(null)``, ``N/A``) for the rest, so scripts
that grep a key find it where Slurm puts it. A record is a list of lines, each a list of
``Key=Value`` fields, printed indented under its first line or (``-o``) on one line.
scontrol.py fetches what to show and prints these.
"""

from __future__ import annotations

from scns.compat import slurm_format as fmt
from scns.domain.job import Job

# ---- job ------------------------------------------------------------------------------------


def job_record(job: Job, now: float, *, one_liner: bool = False,
               group: str | None = None) -> str:  # fmt: skip
    """One job as ``scontrol show job`` prints it (``-o``: on one line)."""
    lines = [" ".join(fields) for fields in _job_fields(job, now, group)]
    if one_liner:
        return " ".join(lines) + "\n"
    return "\n   ".join(lines) + "\n\n"


def _job_fields(job: Job, now: float, group: str | None) -> list[list[str]]:
    first = [f"JobId={job.id}"]
    if job.array_job_id is not None:
        first += [f"ArrayJobId={job.array_job_id}", f"ArrayTaskId={job.array_task_id}"]
        if job.array_max_running:
            first.append(f"ArrayTaskThrottle={job.array_max_running}")
    first.append(f"JobName={job.name}")
    start, end = _start_end(job, now)
    mem = fmt.with_unit(job.mem_mb, fmt.UNIT_MEGA) if job.mem_mb else "0"
    tres = f"cpu={job.cpus}" + (f",mem={mem}" if job.mem_mb else "") + f",node=1,billing={job.cpus}"
    lines = [
        first,
        [f"UserId={job.user_name}({job.uid})", f"GroupId={group or _group(job.gid)}({job.gid})",
         "MCS_label=N/A"],
        [f"Priority={_priority(job)}", f"Nice={job.nice}", "Account=(null)", "QOS=normal"],
        [f"JobState={job.state.value}", f"Reason={fmt.state_reason(job).replace(' ', '_')}",
         f"Dependency={job.dependency or '(null)'}"],
        [f"Requeue={int(bool(job.requeue))}", f"Restarts={job.restarts}", "BatchFlag=1",
         "Reboot=0", f"ExitCode={fmt.exit_code_text(job)}"],
        [f"RunTime={fmt.clock_duration(fmt.elapsed_s(job, now))}",
         f"TimeLimit={fmt.clock_duration(job.time_limit_s)}", "TimeMin=N/A"],
        [f"SubmitTime={fmt.slurm_time(job.submit_time)}",
         f"EligibleTime={fmt.slurm_time(job.eligible_time)}"],
        [f"StartTime={start}", f"EndTime={end}", "Deadline=N/A"],
        [f"Partition={fmt.DEFAULT_PARTITION}"],
        ["ReqNodeList=(null)", "ExcNodeList=(null)"],
        [f"NodeList={job.node or '(null)'}"],
        *([[f"BatchHost={job.node}"]] if job.node else []),
        ["NumNodes=1", f"NumCPUs={job.cpus}", f"NumTasks={job.ntasks}",
         f"CPUs/Task={job.cpus_per_task}", "ReqB:S:C:T=0:0:*:*"],
        [f"TRES={tres}"],
        ["Socks/Node=*", "NtasksPerN:B:S:C=0:0:*:*", "CoreSpec=*"],
        [f"MinCPUsNode={job.cpus_per_task}", f"MinMemoryNode={mem}", "MinTmpDiskNode=0"],
        ["Features=(null)", "DelayBoot=00:00:00"],
        ["OverSubscribe=OK", "Contiguous=0", "Licenses=(null)", "Network=(null)"],
        ["Command=(null)"],  # scns keeps the script's text, not the path it was read from
        [f"WorkDir={job.workdir or '(null)'}"],
        *([[f"Comment={job.comment}"]] if job.comment else []),
        [f"StdErr={job.stderr_path or job.stdout_path or '(null)'}"],
        ["StdIn=/dev/null"],
        [f"StdOut={job.stdout_path or '(null)'}"],
        ["Power="],
    ]  # fmt: skip
    return lines


def _start_end(job: Job, now: float) -> tuple[str, str]:
    """StartTime and EndTime: the expected ones while pending, the limit's end while running
    (``Unknown`` without a limit), the real ones once ended."""
    if job.state.is_terminal:
        return fmt.slurm_time(job.start_time), fmt.slurm_time(job.end_time)
    start = job.start_time if job.start_time is not None else job.expected_start_time
    if start is None or job.time_limit_s is None:
        return fmt.slurm_time(start), "Unknown"
    return fmt.slurm_time(start), fmt.slurm_time(start + job.time_limit_s)


def _priority(job: Job) -> int:
    """Slurm shows a held job with Priority=0, so an unheld one shows at least 1."""
    return 0 if job.held else max(1, job.priority)


def _group(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError):
        return str(gid)


# ---- config / partition / node --------------------------------------------------------------


def config_text(now: float) -> str:
    """``show config``: the keys clients read (Snakemake: MinJobAge, MaxArraySize)."""
    from scns.service.limits import SubmitLimits

    limits = SubmitLimits.from_env()
    pairs = {
        "ClusterName": "scns",
        "MaxArraySize": str(limits.max_array_size),
        "MinJobAge": f"{fmt.MIN_JOB_AGE_S} sec",
        "SLURM_VERSION": fmt.SLURM_VERSION,
    }
    lines = [f"Configuration data as of {fmt.slurm_time(now)}\n"]
    lines += [f"{key:<23} = {value}\n" for key, value in sorted(pairs.items(), key=_lower)]
    return "".join(lines)


def _lower(item: tuple[str, str]) -> str:
    return item[0].lower()


def partition_fields(found: list, max_time_s: int | None) -> list[list[str]]:
    """The one partition, ``scns``, over the nodes found, as ``show partition`` lines."""
    return [
        [f"PartitionName={fmt.DEFAULT_PARTITION}"],
        ["AllowGroups=ALL", "AllowAccounts=ALL", "AllowQos=ALL"],
        ["AllocNodes=ALL", "Default=YES", "QoS=N/A"],
        ["MaxNodes=1", f"MaxTime={fmt.clock_duration(max_time_s)}", "MinNodes=0"],
        [f"Nodes={fmt.nodelist(n.name for n in found) or '(null)'}"],
        ["State=UP", f"TotalCPUs={sum(n.cpus for n in found)}", f"TotalNodes={len(found)}"],
    ]


def node_fields(node) -> list[list[str]]:
    """A NodeSummary as ``show node`` lines (the keys scns knows)."""
    fields = [
        [f"NodeName={node.name}", f"CPUAlloc={node.allocated}", f"CPUTot={node.cpus}"],
        [f"RealMemory={node.mem_mb}", f"AllocMem={node.allocated_mem_mb}"],
        [f"State={_node_state(node)}", f"Partitions={fmt.DEFAULT_PARTITION}"],
    ]
    if node.reason:
        fields.append([f"Reason={node.reason}"])
    return fields


def _node_state(node) -> str:
    """scontrol's node state: a drained node keeps its base state with ``+DRAIN``."""
    if node.state == "drained":
        return "IDLE+DRAIN"
    if node.state == "draining":
        return ("ALLOCATED" if node.allocated >= node.cpus else "MIXED") + "+DRAIN"
    return node.state.upper()


def record(fields: list[list[str]], one_liner: bool) -> str:
    """Lines of fields as ``show`` prints them: indented under the first (``-o``: one line)."""
    lines = [" ".join(f) for f in fields]
    return " ".join(lines) + "\n" if one_liner else "\n   ".join(lines) + "\n\n"
