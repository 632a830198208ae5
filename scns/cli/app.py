"""The typer app: every command parses, calls the service layer, renders. No SQL here."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from scns.errors import ScnsError

app = typer.Typer(
    name="scns",
    help="A lightweight, reliable batch job scheduler: submit, queue, query, cancel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def run(args: list[str]) -> None:
    try:
        app(args=args, prog_name="scns")
    except ScnsError as exc:  # raised outside a command body (should not happen)
        sys.stderr.write(f"scns: error: {exc}\n")
        sys.exit(1)


def _fail(exc: BaseException, command: str) -> typer.Exit:
    sys.stderr.write(f"scns {command}: error: {exc}\n")
    return typer.Exit(1)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def submit(ctx: typer.Context) -> None:
    """Submit a batch script (sbatch options; see `scns submit --help`).

    Example: scns submit --cpus 4 -t 30 job.sh
    """
    from scns.cli.submit import main

    raise typer.Exit(main(list(ctx.args)))


@app.command()
def query(
    job_id: Annotated[str, typer.Argument(help="Job id (123) or array task (123_4).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Everything about one job: state, reason, exit code, CPUs, times, paths, output tail.

    Example: scns query 42 --json
    """
    from scns.cli.fast_jobs import show_query

    raise typer.Exit(show_query(job_id, as_json))


@app.command()
def queue(
    all_jobs: Annotated[bool, typer.Option("--all", "-a", help="Include finished jobs.")] = False,
    state: Annotated[
        list[str] | None,
        typer.Option("--state", "-t", help="Only jobs in this state (repeat or comma-separate)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Show at most this many jobs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List jobs like squeue: pending and running by default.

    Example: scns queue --all --state COMPLETED --json
    """
    from scns.cli.fast_jobs import show_queue

    raise typer.Exit(show_queue(all_jobs, state or [], limit, as_json))


@app.command()
def cancel(
    job_ids: Annotated[list[str], typer.Argument(help="Job ids, array ids or array tasks.")],
) -> None:
    """Cancel jobs: pending ones at once; running ones get SIGTERM, then SIGKILL.

    Example: scns cancel 42 43_7
    """
    from scns.cli.context import notify, open_db
    from scns.cli.remote import call, target
    from scns.service.jobs import CancelResult
    from scns.service.jobs import cancel as cancel_jobs

    try:
        sock = target()
        if sock:
            answer = call(sock, "cancel", {"job_ids": list(job_ids)})
            results = [CancelResult(r["job"], r["outcome"]) for r in answer]  # type: ignore[union-attr]
        else:
            db, run_dir = open_db()
            results = cancel_jobs(db, job_ids)
            if any(r.outcome == "signalled" for r in results):
                notify(run_dir)
    except ScnsError as exc:
        raise _fail(exc, "cancel") from None
    for result in results:
        sys.stdout.write(f"scns cancel: {result.message}\n")


@app.command()
def daemon(
    cpus: Annotated[
        int | None, typer.Option(help="CPUs to schedule (default: all usable).")
    ] = None,
    node: Annotated[str | None, typer.Option(help="Node name (default: the host name).")] = None,
    mem: Annotated[str | None, typer.Option(help="Memory to schedule, e.g. 16G.")] = None,
    system: Annotated[
        bool,
        typer.Option(
            "--system",
            help="Serve every user of this machine through a Unix socket (as root;"
            " state in /var/lib/scns, socket /run/scns/scns.sock).",
        ),
    ] = False,
) -> None:
    """Run the scheduler and executor for this node in the foreground (as under systemd).

    Example: scns daemon --cpus 8 --node gpu1    (or, as root: scns daemon --system)
    """
    from scns.daemon.main import start

    try:
        start(cpus=cpus, node=node, mem=mem, system=system)
    except ScnsError as exc:
        raise _fail(exc, "daemon") from None


@app.command()
def info(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Nodes with total, allocated and idle CPUs, state, last heartbeat and reason (like sinfo).

    States: idle, mixed, allocated; drained or draining (`scns node drain`); down (stopped,
    or its heartbeat is stale). REASON says why a node is down or drained, or what its
    daemon reports failing.

    Example: scns info --json
    """
    from scns.cli import render
    from scns.cli.context import nodes_now

    try:
        nodes = nodes_now(None)
    except ScnsError as exc:
        raise _fail(exc, "info") from None
    if as_json:
        render.print_json([n.to_dict() for n in nodes])
        return
    header = ("NODE", "STATE", "CPUS", "ALLOC", "IDLE", "MEMORY", "HEARTBEAT", "CONTAIN",
              "REASON")  # fmt: skip
    render.print_table(header, [n.row() for n in nodes])


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or bring an older database to the current one.

    Example: SCNS_DATABASE_URL=postgresql://db/scns scns db upgrade
    """
    from scns import paths
    from scns.db.migrate import HEAD_REVISION, upgrade

    url = paths.database_url()
    try:
        upgrade(url)
    except ScnsError as exc:
        raise _fail(exc, "db upgrade") from None
    except Exception as exc:
        raise _fail(str(exc).splitlines()[0], "db upgrade") from None
    sys.stdout.write(f"database is at revision {HEAD_REVISION}\n")


def _register_more_commands() -> None:
    """Command groups that live in their own modules."""
    from scns.cli import admin, control, nodes
    from scns.cli.compat import compat_app
    from scns.cli.simulate import simulate_command

    app.add_typer(compat_app, name="compat")
    app.command("simulate")(simulate_command)
    control.register(app)
    admin.register(app)
    nodes.register(app)


_register_more_commands()
