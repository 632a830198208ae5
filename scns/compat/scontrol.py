"""``scontrol``: Slurm's show/requeue/hold/release/update, backed by scns.

This module reads the command line, fetches what ``show`` asks for and runs the job
commands; the records ``show`` prints (``show job``'s Slurm 22.05 ``Key=Value`` layout) are
scontrol_records.py. Errors on a job are Slurm's ``<reason> for job <id>`` lines; a bad
command line is one ``scontrol: error:`` line.
"""

from __future__ import annotations

import os
import sys
import time

from scns.compat import slurm_format as fmt
from scns.compat.scontrol_records import (
    config_text,
    job_record,
    node_fields,
    partition_fields,
    record,
)
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


# ---- show partition / node ------------------------------------------------------------------


def _show_partition(name: str | None, one_liner: bool) -> int:
    if name is not None and name != fmt.DEFAULT_PARTITION:
        sys.stderr.write(f"Partition {name} not found\n")
        return 1
    from scns.compat.backend import nodes
    from scns.service.limits import SubmitLimits

    found = nodes()
    max_time = SubmitLimits.from_env().max_time_s
    sys.stdout.write(record(partition_fields(found, max_time), one_liner))
    return 0


def _show_nodes(name: str | None, one_liner: bool) -> int:
    from scns.compat.backend import nodes

    found = [n for n in nodes() if name is None or n.name == name]
    if name is not None and not found:
        sys.stderr.write(f"Node {name} not found\n")
        return 1
    sys.stdout.write("".join(record(node_fields(n), one_liner) for n in found))
    return 0


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
