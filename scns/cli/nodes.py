"""``scns node drain|resume|remove``: an operator's changes to nodes, as Slurm's
``scontrol update nodename=X state=drain`` (and ``resume``, ``delete``) make them.

Like ``scns cleanup`` these act on the state itself, never through the system socket: users
must not change nodes, so with a system daemon only root may (with the daemon's settings,
e.g. ``SCNS_SYSTEM=1``).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from scns.errors import ScnsError

node_app = typer.Typer(
    help="Drain, resume or remove nodes (operators; like scontrol update nodename=X).",
    no_args_is_help=True,
)

NodeName = Annotated[str, typer.Argument(help="The node's name, as `scns info` lists it.")]


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")


def _change(command: str, action) -> str:
    """Run ``action(db)`` on the state as this caller may, wake the daemons; its message."""
    from scns import paths
    from scns.cli.context import notify, open_db

    try:
        if paths.socket_path() and os.geteuid() != 0:
            raise ScnsError("only root may change the nodes of the system daemon")
        db, run_dir = open_db()
        message = action(db)
    except ScnsError as exc:
        sys.stderr.write(f"scns node {command}: error: {exc}\n")
        raise typer.Exit(1) from None
    notify(run_dir)
    sys.stdout.write(f"scns node {command}: {message}\n")
    return message


@node_app.command("drain")
def drain(
    name: NodeName,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (shown by `scns info`).")
    ] = None,
) -> None:
    """Place no new jobs on a node; the jobs running there finish. Survives daemon restarts.

    Example: scns node drain node3 --reason "disk swap"
    """
    from scns.service.nodes import drain_node

    def action(db) -> str:
        drain_node(db, name, reason)
        return f"node {name} drained" + (f" ({reason})" if reason else "")

    _change("drain", action)


@node_app.command("resume")
def resume(name: NodeName) -> None:
    """Let a drained node take new jobs again.

    Example: scns node resume node3
    """
    from scns.service.nodes import resume_node

    def action(db) -> str:
        return f"node {name} resumed" if resume_node(db, name) else f"node {name} was not drained"

    _change("resume", action)


@node_app.command("remove")
def remove(name: NodeName) -> None:
    """Forget a node that is gone: refused while a job is there or its daemon runs.

    Example: scns node remove node3
    """
    import time

    from scns.service.nodes import remove_node
    from scns.settings import Settings

    def action(db) -> str:
        remove_node(db, name, time.time(), Settings().heartbeat_timeout_s)
        return f"node {name} removed"

    _change("remove", action)
