"""Job control like scontrol and scancel: ``hold``, ``release``, ``update``, ``requeue`` and
``cancel`` (with scancel's signal and filters)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from scns.errors import ScnsError

_IDS = typer.Argument(help="Job ids (123), array ids (all tasks) or array tasks (123_4).")


def register(app: typer.Typer) -> None:
    """Add the commands to the main app (called at the end of scns.cli.app)."""
    app.command("hold")(hold)
    app.command("release")(release)
    app.command("update")(update)
    app.command("requeue")(requeue)
    app.command("cancel")(cancel)


def _fail(exc: BaseException, command: str) -> typer.Exit:
    sys.stderr.write(f"scns {command}: error: {exc}\n")
    return typer.Exit(1)


def hold(job_ids: Annotated[list[str], _IDS]) -> None:
    """Keep pending jobs from starting (reason JobHeldUser) until `scns release`.

    Example: scns hold 42 43_7
    """
    from scns.service import control

    _control(job_ids, control.hold, "hold")


def release(job_ids: Annotated[list[str], _IDS]) -> None:
    """Let held jobs start again (submitted with -H or held with `scns hold`).

    Example: scns release 42
    """
    from scns.service import control

    _control(job_ids, control.release, "release")


def _control(job_ids: list[str], action, command: str) -> None:
    """Run hold or release, report each reference, wake the daemons, exit 1 on any refusal
    (scns.cli.fast_control, which also serves the plain form without typer)."""
    from scns.cli.fast_control import control

    code = control(job_ids, command)
    if code:
        raise typer.Exit(code)


def update(
    job_id: Annotated[str, typer.Argument(help="Job id, array id (all tasks) or array task.")],
    priority: Annotated[int | None, typer.Option(help="New priority (higher first).")] = None,
    nice: Annotated[int | None, typer.Option(help="New nice value (subtracted).")] = None,
    time: Annotated[
        str | None, typer.Option("--time", "-t", help="New time limit, e.g. 30, 2:00:00.")
    ] = None,
) -> None:
    """Change a pending job's priority, nice value or time limit, or a running job's time
    limit (like scontrol update).

    A running job's owner may shorten its limit; extending it is for operators (in system
    mode). Its node enforces the new limit within a second.

    Example: scns update 42 --priority 100 --time 1:00:00
    """
    from scns.cli.context import notify, open_db
    from scns.cli.remote import call, target
    from scns.domain.timespec import parse_time_limit
    from scns.service import control

    try:
        limit_s = parse_time_limit(time) if time is not None else None
        change = control.JobUpdate(priority, nice, limit_s, time_set=time is not None)
        change.fields()  # refuse an empty update here, before asking anyone
        sock = target()
        if sock:
            answer = call(
                sock,
                "update",
                {
                    "job_id": job_id,
                    "priority": priority,
                    "nice": nice,
                    "time_limit_s": limit_s,
                    "time_set": time is not None,
                },
            )
            count = int(answer["tasks"])
        else:
            db, run_dir = open_db()
            count = len(control.update(db, job_id, change))
            notify(run_dir)
    except ScnsError as exc:
        raise _fail(exc, "update") from None
    tasks = f" ({count} tasks)" if count > 1 else ""
    sys.stdout.write(f"scns update: job {job_id} updated{tasks}\n")


def requeue(job_ids: Annotated[list[str], _IDS]) -> None:
    """Put jobs back in the queue under the same id (like scontrol requeue): a running job
    is ended first, a finished one runs again; SLURM_RESTART_COUNT counts the restarts.

    Example: scns requeue 42 43_7
    """
    import time

    from scns.cli.context import notify, open_db
    from scns.cli.remote import call, target
    from scns.service.control import ControlResult
    from scns.service.control import requeue as requeue_jobs

    try:
        sock = target()
        if sock:
            answer = call(sock, "requeue", {"job_ids": list(job_ids)})
            results = [ControlResult(r["job"], r["outcome"], r["changed"], r["state"])
                       for r in answer]  # fmt: skip
        else:
            db, run_dir = open_db()
            results = requeue_jobs(db, job_ids, time.time())
            notify(run_dir)
    except ScnsError as exc:
        raise _fail(exc, "requeue") from None
    for result in results:
        if result.outcome == "requeued":
            sys.stdout.write(f"scns requeue: {result.message}\n")
        else:
            sys.stderr.write(f"scns requeue: job {result.job} is {result.state}:"
                             " nothing to requeue\n")  # fmt: skip
    if any(r.outcome != "requeued" for r in results):
        raise typer.Exit(1)


def cancel(
    ctx: typer.Context,
    job_ids: Annotated[
        list[str] | None, typer.Argument(help="Job ids, array ids (all tasks) or array tasks.")
    ] = None,
    signal: Annotated[
        str | None,
        typer.Option(
            "--signal",
            "-s",
            metavar="SIGNAL",
            help="Send this signal (USR1, TERM, 10) to running jobs instead;"
            " they are not cancelled.",
        ),
    ] = None,
    me: Annotated[bool, typer.Option("--me", help="Only my jobs.")] = False,
    user: Annotated[
        list[str] | None, typer.Option("--user", "-u", help="Only jobs of this user.")
    ] = None,
    name: Annotated[
        list[str] | None, typer.Option("--name", "-n", help="Only jobs with this name.")
    ] = None,
    state: Annotated[
        list[str] | None,
        typer.Option("--state", "-t", help="Only jobs in this state (PENDING, RUNNING)."),
    ] = None,
) -> None:
    """Cancel jobs: pending ones at once; running ones get SIGTERM, then SIGKILL.

    Filters combine, as in scancel: with no ids they choose among live jobs (your own,
    unless -u names users); with ids they narrow them. An array is one line.

    Example: scns cancel 42 43_7; scns cancel --me -t PENDING -n sweep; scns cancel -s USR1 42
    """
    try:
        spec = _cancel_filter(me, user, name, state)
    except ScnsError as exc:
        raise _fail(exc, "cancel") from None
    if not job_ids and spec is None:
        ctx.fail("Missing argument 'ID...' (or choose jobs with --me, -u, -n or -t)")
    from scns.cli.fast_control import cancel as cancel_jobs

    try:
        sig = None
        if signal is not None:
            from scns.domain.signals import parse_signal_name

            sig = parse_signal_name(signal)
    except ScnsError as exc:
        raise _fail(exc, "cancel") from None
    code = cancel_jobs(list(job_ids or ()), spec, sig)
    if code:
        raise typer.Exit(code)


def _words(values: list[str] | None) -> tuple[str, ...]:
    """Repeated and comma-separated option values, in order, once each."""
    return tuple(dict.fromkeys(w.strip() for v in values or () for w in v.split(",") if w.strip()))


def _cancel_filter(me: bool, user: list[str] | None, name: list[str] | None,
                   state: list[str] | None):  # fmt: skip
    """The JobFilter of cancel's options, or None when none is given."""
    from scns.domain.states import JobState, parse_state
    from scns.service.jobs import JobFilter

    users = _words(user)
    if me:
        import pwd

        try:
            users += (pwd.getpwuid(os.getuid()).pw_name,)
        except KeyError:
            users += (str(os.getuid()),)
    states = [parse_state(s) for s in _words(state)]
    if JobState.RUNNING in states:  # a job still starting is running, to scancel
        states.append(JobState.CONFIGURING)
    names = _words(name)
    if not (users or names or states):
        return None
    return JobFilter(names=names, users=users, states=tuple(dict.fromkeys(s.value for s in states)))
