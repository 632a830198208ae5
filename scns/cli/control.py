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
    from scns.cli.remote import call, target
    from scns.service.control import ControlResult

    try:
        sock = target()
        if sock:
            answer = call(sock, command, {"job_ids": list(job_ids)})
            results = [ControlResult(r["job"], r["outcome"], r["changed"], r["state"])
                       for r in answer]  # type: ignore[union-attr]  # fmt: skip
        else:
            db, run_dir = open_db()
            results = action(db, job_ids)
            if any(r.changed for r in results):
                notify(run_dir)
    except ScnsError as exc:
        raise _fail(exc, command) from None
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
            count = int(answer["tasks"])  # type: ignore[index]
        else:
            db, run_dir = open_db()
            count = len(control.update(db, job_id, change))
            notify(run_dir)
    except ScnsError as exc:
        raise _fail(exc, "update") from None
    tasks = f" ({count} tasks)" if count > 1 else ""
    sys.stdout.write(f"scns update: job {job_id} updated{tasks}\n")
