"""``scns hold``, ``scns release`` and ``scns update``: changing pending jobs, like scontrol."""

from __future__ import annotations

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
    """Run hold or release, report each reference, wake the daemons, exit 1 on any refusal."""
    from scns.cli.context import notify, open_db

    try:
        db, run_dir = open_db()
        results = action(db, job_ids)
    except ScnsError as exc:
        raise _fail(exc, command) from None
    if any(r.changed for r in results):
        notify(run_dir)
    for result in results:
        stream = sys.stderr if result.is_error else sys.stdout
        stream.write(f"scns {command}: {result.message}\n")
    if any(r.is_error for r in results):
        raise typer.Exit(1)


def update(
    job_id: Annotated[str, typer.Argument(help="Job id, array id (all tasks) or array task.")],
    priority: Annotated[int | None, typer.Option(help="New priority (higher first).")] = None,
    nice: Annotated[int | None, typer.Option(help="New nice value (subtracted).")] = None,
    time: Annotated[
        str | None, typer.Option("--time", "-t", help="New time limit, e.g. 30, 2:00:00.")
    ] = None,
) -> None:
    """Change a pending job's priority, nice value or time limit (like scontrol update).

    Example: scns update 42 --priority 100 --time 1:00:00
    """
    from scns.cli.context import notify, open_db
    from scns.domain.timespec import parse_time_limit
    from scns.service import control

    try:
        limit_s = parse_time_limit(time) if time is not None else None
        change = control.JobUpdate(priority, nice, limit_s, time_set=time is not None)
        db, run_dir = open_db()
        jobs = control.update(db, job_id, change)
    except ScnsError as exc:
        raise _fail(exc, "update") from None
    notify(run_dir)
    tasks = f" ({len(jobs)} tasks)" if len(jobs) > 1 else ""
    sys.stdout.write(f"scns update: job {job_id} updated{tasks}\n")
