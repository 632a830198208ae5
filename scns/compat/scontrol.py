"""``scontrol``: Slurm's show/requeue/hold/release/update, backed by scns.

``show job`` prints Slurm 22.05's ``Key=Value`` record (scontrol/info_job.c), the keys scns
knows filled in and Slurm's own placeholders (``(null)``, ``N/A``) for the rest, so scripts
that grep a key find it where Slurm puts it. Errors on a job are Slurm's
``<reason> for job <id>`` lines; a bad command line is one ``scontrol: error:`` line.
"""

from __future__ import annotations

import os
import sys
import time

from scns.compat import slurm_format as fmt
from scns.domain.job import Job
from scns.errors import ScnsError

_OPTIONS = (
    fmt.Option("oneliner", "o", ("oneliner",)),
    fmt.Option("details", "d", ("details",)),
    fmt.Option("all", "a", ("all",)),
    fmt.Option("quiet", "Q", ("quiet",)),
    fmt.Option("verbose", "v", ("verbose",)),
    fmt.Option("clusters", "M", ("clusters", "cluster"), "required"),
    fmt.Option("local", None, ("local", "federation", "sibling", "future", "hide")),
    fmt.Option("help", "h", ("help", "usage")),
    fmt.Option("version", "V", ("version",)),
)
USAGE = (
    "Usage: scontrol [-o] show job [ID] | show config | show partition [NAME] | show node [NAME]\n"
    "                | show hostnames LIST | requeue ID[,ID] | hold ID | release ID\n"
    "                | update JobId=ID [TimeLimit=T] [Priority=P] [Nice=N]\n"
)


class Usage(ScnsError):
    """A command line scontrol cannot run: one ``scontrol: error:`` line, exit 1."""


def main(args: list[str]) -> int:
    try:
        found, words = fmt.parse_options(args, _OPTIONS)
        flags = {key for key, _ in found}
        if "help" in flags:
            sys.stdout.write(USAGE)
            return 0
        if "version" in flags:
            sys.stdout.write(f"slurm {fmt.SLURM_VERSION}\n")
            return 0
        if not words:
            raise Usage("no command given (scontrol's interactive mode is not supported)")
        return _dispatch(words[0].lower(), words[1:], one_liner="oneliner" in flags)
    except ScnsError as exc:  # a bad command line, or no database or daemon to ask
        sys.stderr.write(f"scontrol: error: {exc}\n")
        return 1


def _dispatch(command: str, words: list[str], *, one_liner: bool) -> int:
    if command == "show":
        if not words:
            raise Usage("show what? (job, config, partition, node, hostnames)")
        return _show(words[0].lower(), words[1:], one_liner)
    if command in ("requeue", "hold", "release", "uhold"):
        return _control(command, words)
    if command == "update":
        return _update(words)
    if command == "version":
        sys.stdout.write(f"slurm {fmt.SLURM_VERSION}\n")
        return 0
    raise Usage(f"invalid command: {command}")


def _show(entity: str, words: list[str], one_liner: bool) -> int:
    if entity in ("job", "jobs", "jobid"):
        return _show_jobs(words[0] if words else None, one_liner)
    if entity in ("config", "conf", "configuration"):
        sys.stdout.write(config_text(time.time()))
        return 0
    if entity in ("partition", "partitions", "part"):
        return _show_partition(words[0] if words else None, one_liner)
    if entity in ("node", "nodes"):
        return _show_nodes(words[0] if words else None, one_liner)
    if entity in ("hostnames", "hostname"):
        from scns.compat.sinfo import expand_hostlist

        text = words[0] if words else os.environ.get("SLURM_JOB_NODELIST", "")
        sys.stdout.write("".join(f"{name}\n" for name in expand_hostlist(text)))
        return 0
    raise Usage(f"invalid entity: {entity} for keyword: show")


# ---- show job -------------------------------------------------------------------------------


def _show_jobs(text: str | None, one_liner: bool) -> int:
    from scns.compat.backend import fetch_jobs
    from scns.service.jobs import JobFilter

    now = time.time()
    if text is None:
        jobs = fetch_jobs(JobFilter(ended_since=now - fmt.MIN_JOB_AGE_S))
        if not jobs:
            sys.stdout.write("No jobs in the system\n")
            return 0
    else:
        ref = text.partition("=")[2] if "=" in text else text
        jobs = fetch_jobs(JobFilter(refs=(ref,))) if _is_job_ref(ref) else []
        if not jobs:
            sys.stderr.write("slurm_load_jobs error: Invalid job id specified\n")
            return 1
    sys.stdout.write("".join(job_record(job, now, one_liner=one_liner) for job in jobs))
    return 0


def _is_job_ref(text: str) -> bool:
    head, _, task = text.partition("_")
    return head.isdigit() and (task.isdigit() or not task) and len(head) <= 18


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


# ---- show config / partition / node ---------------------------------------------------------


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


def _show_partition(name: str | None, one_liner: bool) -> int:
    if name is not None and name != fmt.DEFAULT_PARTITION:
        sys.stderr.write(f"Partition {name} not found\n")
        return 1
    from scns.compat.backend import nodes
    from scns.service.limits import SubmitLimits

    found = nodes()
    max_time = SubmitLimits.from_env().max_time_s
    fields = [
        [f"PartitionName={fmt.DEFAULT_PARTITION}"],
        ["AllowGroups=ALL", "AllowAccounts=ALL", "AllowQos=ALL"],
        ["AllocNodes=ALL", "Default=YES", "QoS=N/A"],
        ["MaxNodes=1", f"MaxTime={fmt.clock_duration(max_time)}", "MinNodes=0"],
        [f"Nodes={fmt.nodelist(n.name for n in found) or '(null)'}"],
        ["State=UP", f"TotalCPUs={sum(n.cpus for n in found)}", f"TotalNodes={len(found)}"],
    ]
    sys.stdout.write(_record(fields, one_liner))
    return 0


def _show_nodes(name: str | None, one_liner: bool) -> int:
    from scns.compat.backend import nodes

    found = [n for n in nodes() if name is None or n.name == name]
    if name is not None and not found:
        sys.stderr.write(f"Node {name} not found\n")
        return 1
    sys.stdout.write("".join(_record(node_fields(n), one_liner) for n in found))
    return 0


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


def _record(fields: list[list[str]], one_liner: bool) -> str:
    lines = [" ".join(f) for f in fields]
    return " ".join(lines) + "\n" if one_liner else "\n   ".join(lines) + "\n\n"


# ---- requeue / hold / release / update ------------------------------------------------------


def _job_ids(words: list[str]) -> list[str]:
    """``5``, ``5,6``, ``jobid=5``, ``5_3``: the references named, each checked."""
    refs = []
    for word in words:
        if word.lower().startswith(("jobid=", "job=")):
            word = word.partition("=")[2]
        for ref in word.split(","):
            if not _is_job_ref(ref):
                raise Usage(f"Invalid job id specified for job {ref}")
            refs.append(ref)
    if not refs:
        raise Usage("no job id given")
    return refs


def _control(command: str, words: list[str]) -> int:
    from scns.compat import backend

    rc = 0
    for ref in _job_ids(words):
        try:
            if command == "requeue":
                outcome = backend.requeue([ref])[0][1]
                failed = "Job is pending execution" if outcome == "not_held" else None
            else:
                action = "release" if command == "release" else "hold"
                _, outcome, is_error = backend.control(action, [ref])[0]
                failed = "Job is no longer pending execution" if is_error else None
            if failed:
                sys.stderr.write(f"{failed} for job {ref}\n")
                rc = 1
        except ScnsError as exc:
            rc = _report(ref, exc)
    return rc


def _report(ref: str, exc: ScnsError) -> int:
    """Slurm's ``<reason> for job <id>`` for an unknown or forbidden job (slurm_strerror's
    words); scns's own line for the rest. Returns the exit status, 1."""
    kind = getattr(exc, "kind", type(exc).__name__)
    words = {"NotFound": "Invalid job id specified",
             "PermissionDenied": "Access/permission denied"}.get(kind)  # fmt: skip
    sys.stderr.write(f"{words} for job {ref}\n" if words else f"scontrol: error: {exc}\n")
    return 1


def _update(words: list[str]) -> int:
    from scns.compat import backend

    refs, change = _parse_update(words)
    rc = 0
    for ref in refs:
        values = dict(change)
        try:
            if "delta_s" in values:
                values["time_limit_s"] = _shifted_limit(ref, values.pop("delta_s"))
                values["time_set"] = True
            backend.update(ref, **values)
        except ScnsError as exc:
            rc = _report(ref, exc)
    return rc


def _parse_update(words: list[str]) -> tuple[list[str], dict]:
    """``JobId=5 TimeLimit=+10 Priority=100 Nice=5`` (keys in any case, Slurm's
    abbreviations) -> (refs, backend.update arguments)."""
    from scns.domain.timespec import parse_time_limit

    refs: list[str] = []
    change: dict = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            raise Usage(f"Invalid input: {word}")
        if _key_is(key, "JobId", 3):
            refs += _job_ids([value])
        elif _key_is(key, "TimeLimit", 5):
            sign = value[:1] if value[:1] in "+-" else ""
            try:
                seconds = parse_time_limit(value[len(sign) :])
            except ScnsError:
                raise Usage("Invalid TimeLimit value") from None
            if sign:
                change["delta_s"] = (seconds or 0) * (-1 if sign == "-" else 1)
            else:
                change.update(time_limit_s=seconds, time_set=True)
        elif _key_is(key, "Priority", 2) or _key_is(key, "Nice", 2):
            name = "priority" if key[:2].lower() == "pr" else "nice"
            try:
                change[name] = int(value)
            except ValueError:
                raise Usage(f"Invalid {name.title()} value: {value}") from None
        else:
            raise Usage(f"Update of this parameter is not supported: {word}")
    if not change:
        raise Usage("No changes specified")
    if not refs:
        raise Usage("No job ID specified")
    return refs, change


def _key_is(key: str, name: str, shortest: int) -> bool:
    """Slurm's strncasecmp(tag, name, MAX(len(tag), shortest)): a prefix long enough."""
    return len(key) >= shortest and name.lower().startswith(key.lower())


def _shifted_limit(ref: str, delta_s: int) -> int | None:
    """TimeLimit=+T / -T: the job's current limit moved by T (Slurm refuses it on
    unlimited jobs and below zero)."""
    from scns.compat.backend import fetch_jobs
    from scns.errors import InvalidInput, NotFound
    from scns.service.jobs import JobFilter

    jobs = fetch_jobs(JobFilter(refs=(ref,)))
    if not jobs:
        raise NotFound(ref)
    current = jobs[0].time_limit_s
    if current is None:
        raise InvalidInput("TimeLimit increment/decrement not possible on an unlimited job")
    if current + delta_s <= 0:
        raise InvalidInput(f"TimeLimit decrement larger than current time limit ({current}s)")
    return current + delta_s
