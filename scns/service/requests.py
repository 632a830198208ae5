"""What the system socket serves: each request a user can make, with the caller's rights.

The caller comes from the kernel (``SO_PEERCRED``), never from the request. Every argument
is checked for type and shape here before the service functions see it. Results are plain
JSON values; the CLI renders them with the same code as in personal mode.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Mapping
from typing import Literal, overload

from scns.db.engine import Database
from scns.domain.job import JOB_COLUMNS, Job
from scns.domain.record import Record
from scns.domain.rights import Access, Caller, is_operator, may_list, may_see_details
from scns.errors import InvalidInput, NotFound
from scns.service.limits import SubmitLimits

SCRIPT_MAX_CHARS = 10 * 1024 * 1024  # the batch script limit (build_request checks bytes)

# shown only to a job's owner and operators
PRIVATE_FIELDS = ("script", "argv", "environment", "workdir", "stdout_path", "stderr_path")


class Site(Record):
    """The daemon's settings a request needs."""

    __slots__ = ("access", "limits", "heartbeat_timeout_s")
    access: Access
    limits: SubmitLimits
    heartbeat_timeout_s: float


def caller_from_peer(uid: int, gid: int, access: Access) -> Caller:
    """The identity behind a connection: the kernel's uid and gid, the account's groups."""
    import grp

    try:
        name = pwd.getpwuid(uid).pw_name
        groups = tuple(os.getgrouplist(name, gid))
    except (KeyError, OSError):
        name, groups = str(uid), (gid,)
    names = set()
    for group in groups:
        try:
            names.add(grp.getgrgid(group).gr_name)
        except KeyError:
            continue
    return Caller(uid, gid, groups, name, is_operator(uid, name, names, access))


def handle(db: Database, caller: Caller, site: Site, op: str, args: Mapping, now: float):
    """Run one request; ScnsError subclasses carry the one line the user reads."""
    return _HANDLERS[op](db, caller, site, _Args(args), now)


class _Args:
    """Typed access to a request's arguments: a wrong type is one clear refusal."""

    def __init__(self, raw: Mapping) -> None:
        self.raw = raw

    @overload
    def text(self, name: str, *, optional: Literal[False] = False, max_len: int = ...) -> str: ...
    @overload
    def text(self, name: str, *, optional: bool, max_len: int = ...) -> str | None: ...
    def text(self, name: str, *, optional: bool = False, max_len: int = 1 << 16) -> str | None:
        value = self.raw.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise InvalidInput(f"malformed request: {name} must be a string")
        if len(value) > max_len:
            raise InvalidInput(f"malformed request: {name} is longer than {max_len} characters")
        return value

    def texts(self, name: str) -> list[str]:
        value = self.raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"malformed request: {name} must be a list of strings")
        return value

    def number(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if type(value) is not int:
            raise InvalidInput(f"malformed request: {name} must be a whole number")
        return value

    def flag(self, name: str) -> bool:
        return self.raw.get(name) is True


def _submit(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    from scns.service.store import Submitter, store

    request, ctx = _submit_request(caller, args, now)
    who = Submitter(caller.user_name, caller.uid, caller.gid)
    done = store(db, request, ctx, who, limits=site.limits, caller=caller, check_paths=False)
    return {"job_id": done.job_id, "tasks": done.tasks, "warnings": list(done.warnings),
            "parsable": bool(request.parsable)}  # fmt: skip


def _test_only(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    """scns submit --test-only: where and when the job would start; nothing is stored."""
    from scns.domain.rights import priority_refusal
    from scns.errors import PermissionDenied
    from scns.service.planning import PassConfig, forecast
    from scns.settings import Settings

    request, _ctx = _submit_request(caller, args, now)
    why = priority_refusal(caller, request.priority or None, request.nice or None)
    if why:
        raise PermissionDenied(why)
    config = PassConfig.from_settings(Settings())  # this daemon's own scheduling settings
    found = forecast(db, request, now, config, user_name=caller.user_name, limits=site.limits)
    return {"cpus": found.cpus, "start_time": found.start_time, "node": found.node,
            "waits_for": found.waits_for}  # fmt: skip


def _submit_request(caller: Caller, args: _Args, now: float):
    """(request, context) of a submit's arguments, as the caller."""
    from scns.exec.accounts import account_variables
    from scns.service.submission import SubmitContext, build_request

    cwd = args.text("cwd")
    if not os.path.isabs(cwd):
        raise InvalidInput("malformed request: cwd must be an absolute path")
    env = args.raw.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise InvalidInput("malformed request: env must map strings to strings")
    umask = args.number("umask")
    if umask is not None and not 0 <= umask <= 0o777:
        raise InvalidInput("malformed request: umask out of range")
    env = {**env, **account_variables(caller.uid)}  # `~` is the caller's home, not root's
    ctx = SubmitContext(cwd=cwd, env=env, now=now, umask=umask)
    script = args.text("script", optional=True, max_len=SCRIPT_MAX_CHARS)
    prefix = args.text("output_prefix", optional=True) or "scns"
    request = build_request(args.texts("args"), ctx, script_text=script, check_paths=False,
                            output_prefix=prefix,
                            options_anywhere=args.flag("options_anywhere"))  # fmt: skip
    return request, ctx


def job_record(job: Job, caller: Caller) -> dict:
    """A job's fields for the client to render; private ones only for owner and operators."""
    record = {name: getattr(job, name) for name in JOB_COLUMNS}
    record["state"] = job.state.value
    if not may_see_details(caller, job.uid):
        for name in PRIVATE_FIELDS:
            record[name] = None
    return record


def _visible(job: Job, caller: Caller, site: Site) -> Job:
    if not may_list(caller, job.uid, site.access):
        raise NotFound(f"invalid job id {job.display_id}: no such job")
    return job


def _query(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    from scns.service.jobs import get_job

    return job_record(_visible(get_job(db, args.text("job_id")), caller, site), caller)


def _queue(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    """Listings: ``queue`` (filters as squeue's: states, users, names, refs; ``wide`` rows
    carry array_max_running) and, with ``ended_after``/``ended_before``, ``history``."""
    from scns.db.statements import job_from_row
    from scns.service.jobs import finished_between, listed_jobs, queue_table, selection

    hide = site.access.private_data and not caller.is_operator
    sel = selection(states=args.texts("states"), all_jobs=args.flag("all"),
                    users=args.texts("users"), names=args.texts("names"),
                    refs=args.texts("refs"), limit=args.number("limit"),
                    only_uid=caller.uid if hide else None)  # fmt: skip
    if "ended_after" in args.raw:
        start, end = _seconds(args, "ended_after"), _seconds(args, "ended_before")
        rows = finished_between(db, start, end, sel)
        return {"jobs": [job_record(job_from_row(r), caller) for r in rows]}
    if args.flag("json"):
        return {"jobs": [job_record(j, caller) for j in listed_jobs(db, sel)]}
    rows = queue_table(db, selection=sel, with_array_limit=args.flag("wide"))
    return {"rows": [list(r) for r in rows]}


def _seconds(args: _Args, name: str) -> float:
    value = args.raw.get(name)
    if type(value) is not int and type(value) is not float:  # exactly these: not bool
        raise InvalidInput(f"malformed request: {name} must be a number")
    return float(value)


def _hide_others(db: Database, caller: Caller, site: Site, texts: list[str]) -> None:
    """With private data, another user's job does not exist for the caller, also when the
    caller tries to change it ("no such job", not "not yours")."""
    if not site.access.private_data or caller.is_operator:
        return
    from scns.service.jobs import parse_job_ref, resolve

    for text in texts:
        for job in resolve(db, parse_job_ref(text)):
            _visible(job, caller, site)


def _jobs(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    """Jobs by filter, for the Slurm tools (squeue, sacct, scontrol, scancel)."""
    from scns.service.jobs import JobFilter, find_jobs

    def number(name: str) -> float | None:
        value = args.raw.get(name)
        if value is not None and not isinstance(value, (int, float)):
            raise InvalidInput(f"malformed request: {name} must be a number")
        return value

    spec = JobFilter(tuple(args.texts("refs")), tuple(args.texts("names")),
                     tuple(args.texts("users")), tuple(args.texts("states")),
                     number("ended_since"), number("submitted_before"),
                     args.raw.get("include_finished", True) is True)  # fmt: skip
    hide = site.access.private_data and not caller.is_operator
    jobs = find_jobs(db, spec, only_uid=caller.uid if hide else None)
    return [job_record(job, caller) for job in jobs]


def _cancel(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    """scns cancel: ids, filters (names, users, states; see cancel_targets), a signal."""
    from scns.service.jobs import JobFilter, cancel

    spec = None
    if isinstance(args.raw.get("filter"), dict):
        given = _Args(args.raw["filter"])
        spec = JobFilter(names=tuple(given.texts("names")), users=tuple(given.texts("users")),
                         states=tuple(given.texts("states")))  # fmt: skip
    sig = args.number("signal")
    if sig is not None and not 0 < sig < 65:
        raise InvalidInput("malformed request: signal must be a signal number")
    _hide_others(db, caller, site, args.texts("job_ids"))
    if spec is not None and spec.users and site.access.private_data and not caller.is_operator:
        # other users' jobs do not exist for this caller: a filter selects among their own
        users = tuple(u for u in spec.users if u in (caller.user_name, str(caller.uid)))
        if not users:
            return []
        spec = JobFilter(names=spec.names, users=users, states=spec.states)
    results = cancel(db, args.texts("job_ids"), now, caller=caller, spec=spec, signal=sig)
    return [{"job": r.job, "outcome": r.outcome, "tasks": r.tasks, "signal": r.signal}
            for r in results]  # fmt: skip


def _control(action: str) -> Callable:
    def run(db: Database, caller: Caller, site: Site, args: _Args, now: float):
        from scns.service import control

        _hide_others(db, caller, site, args.texts("job_ids"))
        results = getattr(control, action)(db, args.texts("job_ids"), caller=caller)
        return [{"job": r.job, "outcome": r.outcome, "changed": r.changed, "state": r.state}
                for r in results]  # fmt: skip

    return run


def _signal(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    from scns.service.control import signal_jobs

    texts = args.texts("job_ids")
    sig = args.number("signal")
    if sig is None or not 0 < sig < 65:
        raise InvalidInput("malformed request: signal must be a signal number")
    _hide_others(db, caller, site, texts)
    return signal_jobs(db, texts, sig, caller=caller)


def _requeue(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    from scns.service.control import requeue

    texts = args.texts("job_ids")
    _hide_others(db, caller, site, texts)
    return [{"job": r.job, "outcome": r.outcome, "changed": r.changed, "state": r.state}
            for r in requeue(db, texts, now, caller=caller)]  # fmt: skip


def _update(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    from scns.service import control

    _hide_others(db, caller, site, [args.text("job_id")])
    time_set = args.flag("time_set")
    change = control.JobUpdate(args.number("priority"), args.number("nice"),
                               args.number("time_limit_s"), time_set=time_set)  # fmt: skip
    jobs = control.update(db, args.text("job_id"), change, caller=caller)
    return {"tasks": len(jobs)}


def _info(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    import dataclasses

    from scns.service.nodes import node_summaries

    return [dataclasses.asdict(n) for n in node_summaries(db, now, site.heartbeat_timeout_s)]


def _stats(db: Database, caller: Caller, site: Site, args: _Args, now: float):
    """Counts and sums only (no job's details), so every user may ask."""
    from scns.service.stats import gather

    return gather(db, now, site.heartbeat_timeout_s)


_HANDLERS: dict[str, Callable] = {
    "submit": _submit,
    "query": _query,
    "queue": _queue,
    "cancel": _cancel,
    "hold": _control("hold"),
    "release": _control("release"),
    "update": _update,
    "info": _info,
    "health": _info,
    "jobs": _jobs,
    "signal": _signal,
    "requeue": _requeue,
    "test_only": _test_only,
    "stats": _stats,
}
