"""Commands for administrators and monitoring: ``cleanup`` (cron) and ``health`` (watchdogs)."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from scns.errors import ScnsError


def register(app: typer.Typer) -> None:
    app.command()(cleanup)
    app.command()(health)


def cleanup(
    purge_after: Annotated[
        str | None, typer.Option(help="Delete finished jobs older than this (30d, 12h).")
    ] = None,
    purge_logs: Annotated[
        bool, typer.Option(help="With --purge-after, delete their output files too.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Report what would change; change nothing.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every change.")] = False,
) -> None:
    """Repair what no daemon repairs: stuck jobs, leaked CPUs, dead nodes; purge old jobs.

    Idempotent and safe while daemons run. Prints one summary line.

    Example (crontab): */10 * * * * scns cleanup --purge-after 30d
    """
    from scns.cli.context import open_db
    from scns.domain.timespec import parse_age
    from scns.service.cleanup import CleanupPolicy
    from scns.service.cleanup import cleanup as run_cleanup
    from scns.settings import Settings

    try:
        if purge_logs and purge_after is None:
            raise ScnsError("--purge-logs needs --purge-after")
        settings = Settings()
        policy = CleanupPolicy(
            kill_wait_s=settings.kill_wait_s,
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
            run_dir=settings.run_dir,
            purge_after_s=parse_age(purge_after) if purge_after is not None else None,
            purge_logs=purge_logs,
        )
        db, _ = open_db()
        report = run_cleanup(db, time.time(), policy, dry=dry_run)
    except ScnsError as exc:
        sys.stderr.write(f"scns cleanup: error: {exc}\n")
        raise typer.Exit(1) from None
    sys.stdout.write(report.summary(dry_run) + "\n")
    if verbose:
        for line in report.details():
            sys.stdout.write(f"  {line}\n")


def health() -> None:
    """Exit 0 when the database answers, at least one daemon runs with a fresh heartbeat,
    and no running daemon reports a failing step; else one line saying why.

    Example: scns health || systemctl restart scns
    """
    from scns.cli.context import nodes_now
    from scns.cli.remote import target
    from scns.settings import Settings

    try:
        # through the socket, the daemon applies its own heartbeat timeout
        nodes = nodes_now(None if target() else Settings().heartbeat_timeout_s)
    except ScnsError as exc:
        sys.stderr.write(f"scns health: unhealthy: {exc}\n")
        raise typer.Exit(1) from None
    fresh = [n for n in nodes if n.is_live]  # stopped daemons do not count
    if not fresh:
        why = "no daemon has ever registered" if not nodes else "no daemon heartbeat is fresh"
        sys.stderr.write(f"scns health: unhealthy: {why} ({len(nodes)} node(s) known)\n")
        raise typer.Exit(1)
    failing = [n for n in fresh if n.failing]
    if failing:
        more = f" (and {len(failing) - 1} more node(s))" if len(failing) > 1 else ""
        sys.stderr.write(f"scns health: unhealthy: node {failing[0].name}:"
                         f" {failing[0].failing}{more}\n")  # fmt: skip
        raise typer.Exit(1)
    newest = min(n.heartbeat_age_s for n in fresh)
    sys.stdout.write(
        f"scns health: ok: {len(fresh)} of {len(nodes)} daemon(s) alive,"
        f" newest heartbeat {newest:.0f}s ago\n"
    )
