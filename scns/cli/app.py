"""The typer app: every command parses, calls the service layer, renders. No SQL here."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from scns.cli.filter_options import LIST as _LIST
from scns.cli.filter_options import Me, Names, Users
from scns.errors import ScnsError

app = typer.Typer(
    name="scns",
    help="A lightweight, reliable batch job scheduler: submit, queue, query, cancel.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _show_version(value: bool) -> None:
    if value:
        from scns import __version__

        sys.stdout.write(f"scns {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_show_version
        ),
    ] = False,
) -> None:
    """A lightweight, reliable batch job scheduler: submit, queue, query, cancel."""


def run(args: list[str]) -> None:
    """Run one command and exit with its code. Every error is one line on stderr naming the
    command (usage errors exit 2); Ctrl-C propagates as KeyboardInterrupt, for
    ``scns.cli.entry`` to print its one line."""
    sys.exit(_invoke(_readable(typer.main.get_command(app)), args))


def _click_errors():
    """(UsageError, ClickException, NoArgsIsHelpError): typer vendors click since 0.2x."""
    try:
        from typer._click import exceptions as errors
    except ImportError:  # an older typer on the real click
        from click import exceptions as errors  # type: ignore[no-redef]
    return errors.UsageError, errors.ClickException, getattr(errors, "NoArgsIsHelpError", ())


def _invoke(command, args: list[str]) -> int:
    """click's ``main`` without its handlers: they print boxes, "Aborted!", or swallow
    Ctrl-C into a silent exit."""
    usage_error, click_error, no_args = _click_errors()
    command._main_shell_completion({}, "scns", None)  # a completion request exits here
    try:
        with command.make_context("scns", list(args)) as ctx:
            command.invoke(ctx)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:  # a prompt's Ctrl-C or end of input
        raise KeyboardInterrupt from None
    except no_args as exc:  # `scns` or `scns db` alone: the help, as before
        sys.stdout.write(exc.format_message() + "\n")
        return 2
    except usage_error as exc:
        name = exc.ctx.command_path if exc.ctx is not None else "scns"
        hint = f" (see `{name} --help`)" if exc.ctx is not None else ""
        return _one_line(name, exc.format_message().rstrip(".") + hint, 2)
    except click_error as exc:
        return _one_line("scns", exc.format_message(), exc.exit_code)
    except ScnsError as exc:  # raised outside a command body (should not happen)
        return _one_line("scns", str(exc), 1)
    return 0


def _one_line(command: str, message: str, code: int) -> int:
    text = " ".join(message.split())
    sys.stderr.write(f"{command}: error: {text}\n")
    return code


# Help shows what a value is (ID, N, TIME), not its Python type (<str>, <int>, <bool>).
_METAVARS = {"job_id": "ID", "job_ids": "ID", "mem": "SIZE", "time": "TIME", "node": "NAME",
             "name": "NAME", "purge_after": "AGE", "metrics_port": "PORT",
             "metrics_address": "ADDRESS", "user": "USER", "state": "STATE"}  # fmt: skip


def _readable(command):
    """Give every parameter without a metavar a readable one; flags and arguments show no
    type column (an argument's name already says what it is)."""
    for param in getattr(command, "params", []):
        flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
        is_argument = param.param_type_name == "argument"
        if param.metavar is None and not flag:
            param.metavar = _METAVARS.get(param.name or "") or (
                "N" if _is_number(param) else (param.name or "value").upper())  # fmt: skip
        if flag or is_argument:
            param.__class__ = _untyped(type(param))
    command.__class__ = _untyped(type(command))  # and its --help flag
    for sub in getattr(command, "commands", {}).values():
        _readable(sub)
    return command


def _untyped_help(self, ctx):
    option = super(type(self), self).get_help_option(ctx)
    if option is not None:
        option.__class__ = _untyped(type(option))
    return option


def _is_number(param) -> bool:
    descriptor = getattr(param, "type_descriptor", None)  # typer's own parameters
    if descriptor is not None:
        return getattr(descriptor, "annotation", None) in (int, float)
    return getattr(getattr(param, "type", None), "name", "") in ("integer", "float")


_UNTYPED: dict[type, type] = {}


def _untyped(cls: type) -> type:
    """A subclass of typer's parameter (or command) class whose help shows no type column
    (for a command: on its --help flag)."""
    if cls in _UNTYPED.values():
        return cls
    if cls not in _UNTYPED:
        method = "get_help_option" if hasattr(cls, "get_help_option") else "display_type_rich"
        body = _untyped_help if method == "get_help_option" else lambda self, ctx: None
        _UNTYPED[cls] = type(f"Untyped{cls.__name__}", (cls,), {method: body})
    return _UNTYPED[cls]


def _fail(exc: BaseException | str, command: str) -> typer.Exit:
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
    """Everything about one job: state, reason, exit code, CPUs, times, the command and its
    arguments, array ids, restarts, paths, output tail (all that --json has).

    Example: scns query 42 --json
    """
    from scns.cli.fast_jobs import show_query

    raise typer.Exit(show_query(job_id, as_json))


@app.command(context_settings={"help_option_names": ["--help"]})  # -h is --noheader, as squeue
def queue(
    all_jobs: Annotated[bool, typer.Option("--all", "-a", help="Include finished jobs.")] = False,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            "-t",
            metavar="STATES",
            help=f"Only jobs in these states: names, codes (PD, R, CD) or all ({_LIST}).",
        ),
    ] = None,
    me: Me = False,
    user: Users = None,
    name: Names = None,
    jobs: Annotated[
        list[str] | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="ID,...",
            help="Only these jobs (12: a job or a whole array; 12_3: one task), in any state"
            f" unless --state says ({_LIST}).",
        ),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            "-S",
            metavar="KEYS",
            help="Order by squeue's sort keys, format letters with '-' for descending: -i"
            " (newest first), u,-V, P,t,-p (squeue's own order). Default: by job id.",
        ),
    ] = None,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-o",
            metavar="FORMAT",
            help="squeue's %-fields and widths (%.10i: right-justified, cut to 10), e.g."
            " '%.18i %.9P %.30j %.8u %.2t %.10M %.6D %R'. Fields: %i id, %j name, %u user,"
            " %t/%T state, %M time used, %l limit, %L left, %C CPUs, %m memory, %R nodes or"
            " reason, %r reason, %N nodes, %V submit, %S start, %e end, %Q priority, %y nice,"
            " %E dependency, %Z workdir, %A/%F/%K ids.",
        ),
    ] = None,
    array: Annotated[
        bool,
        typer.Option("--array", "-r", help="One line per pending array task, not 42_[5-99%4]."),
    ] = False,
    noheader: Annotated[bool, typer.Option("--noheader", "-h", help="No header line.")] = False,
    limit: Annotated[
        int | None, typer.Option(metavar="N", help="Only the newest N jobs (highest ids).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array, one job per line, streamed.")
    ] = False,
) -> None:
    """List jobs like squeue: pending and running by default, by job id.

    Pending tasks of an array show as one line, 42_[5-99%4], as squeue shows them. Filters
    combine (a job must pass each); a list passes any of its values.

    Example: scns queue --me -t PD,R --sort=-i -o '%.10i %.30j %.2t %.10M %R'
    """
    from scns.cli.fast_jobs import QueueOptions, show_queue

    options = QueueOptions(all_jobs=all_jobs, states=state or [], limit=limit, as_json=as_json,
                           me=me, users=user or [], names=name or [], jobs=jobs or [], sort=sort,
                           format=format_, expand=array, header=not noheader)  # fmt: skip
    raise typer.Exit(show_queue(options))


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
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve Prometheus metrics on this port (default: off; SCNS_METRICS_PORT)."
        ),
    ] = None,
    metrics_address: Annotated[
        str | None,
        typer.Option(
            help="Address the metrics endpoint binds (default 127.0.0.1; SCNS_METRICS_ADDRESS)."
        ),
    ] = None,
) -> None:
    """Run the scheduler and executor for this node in the foreground (as under systemd).

    Example: scns daemon --cpus 8 --node gpu1 --metrics-port 9464
    (or, as root: scns daemon --system)
    """
    import os

    from scns import paths
    from scns.daemon.main import start
    from scns.log import configure

    # the options reach the daemon's Settings as the settings they stand for
    if metrics_port is not None:
        os.environ["SCNS_METRICS_PORT"] = str(metrics_port)
    if metrics_address is not None:
        os.environ["SCNS_METRICS_ADDRESS"] = metrics_address
    try:
        configure(str(paths.setting("log_format") or "logfmt"))
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
    from scns.cli import admin, control, history, log, nodes, wait
    from scns.cli import stats as stats_commands
    from scns.cli.compat import compat_app
    from scns.cli.simulate import simulate_command

    app.add_typer(compat_app, name="compat")
    app.command("simulate")(simulate_command)
    control.register(app)
    history.register(app)
    admin.register(app)
    nodes.register(app)
    wait.register(app)
    log.register(app)
    stats_commands.register(app)


_register_more_commands()
