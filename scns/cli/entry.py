"""The ``scns`` console script: the hot commands skip the heavy imports.

``scns submit`` is most of what users and scripts run, and interpreter start-up plus
typer, pydantic and SQLAlchemy imports would cost several times the work itself; so submit
is parsed by the same sbatch option table used for ``#SBATCH`` lines and talks to SQLite
through the standard library. ``query`` and ``queue`` take the same kind of path
(``scns.cli.fast_jobs``) for their plain forms, ``hold``, ``release`` and ``cancel`` with
job ids alone theirs (``scns.cli.fast_control``). Everything else goes through the typer app.

Whatever path a command takes, Ctrl-C ends it with one line and exit 130, and a closed
pipe (``scns queue | head``) ends it quietly. The adapters turn their libraries' errors into
a ScnsError, which each command prints as one line; ``main`` is the last resort for anything
of those families that still gets here: one line and exit 1, never a traceback.
"""

from __future__ import annotations

import os
import sys

INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C ended
BROKEN_PIPE = 0  # `scns queue | head`: the reader has all it wanted (as fast_jobs says)
GROUPS = ("db", "node", "compat")  # commands whose second word names the subcommand


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    code: int | str | None
    fast = False
    try:
        try:
            code, fast = _dispatch(args)
        except SystemExit as stop:  # typer and the commands exit this way
            code = stop.code
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at shutdown
        if fast and argv is None and isinstance(code, int | None) and not _observed():
            _exit_now(code or 0)
    except KeyboardInterrupt:
        sys.stderr.write(f"{command_name(args)}: interrupted\n")
        code = INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        code = BROKEN_PIPE
    except Exception as exc:
        if not is_reportable(exc):
            raise  # a bug: its traceback is what a report needs
        code = fail(one_line(exc), command=command_name(args))
    sys.exit(code)


# Libraries whose errors are the user's situation (a database, a setting, a file, text),
# not a bug in scns: reported as one line wherever they escape from.
_REPORTED_LIBRARIES = frozenset({"sqlite3", "_sqlite3", "psycopg", "sqlalchemy", "alembic",
                                 "pydantic", "pydantic_core", "redis", "rq"})  # fmt: skip


def is_reportable(exc: BaseException) -> bool:
    """True for a ScnsError and for the database, settings, encoding and operating-system
    errors a command may meet."""
    from scns.errors import ScnsError

    if isinstance(exc, (ScnsError, OSError, UnicodeError, OverflowError)):
        return True
    return any(cls.__module__.split(".")[0] in _REPORTED_LIBRARIES for cls in type(exc).__mro__)


def one_line(exc: BaseException) -> str:
    """A ScnsError's own message; anything else as its type and its first line."""
    from scns.errors import ScnsError

    text = " ".join(str(exc).split("\n", 1)[0].split())
    if isinstance(exc, ScnsError):
        return text
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename is not None else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _exit_now(code: int) -> None:
    """Leave without the interpreter's teardown, after a fast-path command.

    Finalising the ~80 modules of a submit costs ~3 ms, a tenth of the command. What the
    teardown would do that matters is done here: the databases are closed (SQLite
    checkpoints its WAL, libpq ends its session), and stdout (flushed by ``main``) and
    stderr are flushed. The fast paths load neither threads nor atexit handlers (logging,
    typer): tests/unit/test_fast_path.py pins what they import.
    """
    from scns.cli.context import close_databases

    close_databases()
    sys.stderr.flush()
    os._exit(code)


def _observed() -> bool:
    """A profiler or tracer (cProfile, coverage) is running: it reports at a normal exit."""
    return sys.getprofile() is not None or sys.gettrace() is not None


def _dispatch(args: list[str]) -> tuple[int | None, bool]:
    """Run the command: (its exit code, whether it took a fast path)."""
    if args and args[0] == "submit":
        if _wants_help(args[1:]):
            sys.stdout.write(submit_usage())
            return 0, True
        from scns.cli.submit import main as submit

        return submit(args[1:]), True
    if args and args[0] in ("query", "queue"):
        from scns.cli.fast_jobs import run as fast

        code = fast(args[0], args[1:])
        if code is not None:
            return code, True
    if args and args[0] in ("hold", "release", "cancel"):
        from scns.cli.fast_control import run as fast_control

        code = fast_control(args[0], args[1:])
        if code is not None:
            return code, True
    if args == ["--version"]:  # what scripts ask first: no typer import for it
        from scns import __version__

        sys.stdout.write(f"scns {__version__}\n")
        return 0, True
    from scns.cli.app import run

    run(args)
    return 0, False


def command_name(args: list[str]) -> str:
    """``scns``, ``scns queue``, ``scns db upgrade``: how the one-line messages name it."""
    words = ["scns"]
    for arg in args[:2]:
        if arg.startswith("-"):
            break
        words.append(arg)
        if arg not in GROUPS:
            break
    return " ".join(words)


def _silence_stdout() -> None:
    """The reader went away: later writes and the interpreter's final flush go nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _wants_help(args: list[str]) -> bool:
    """``scns submit`` takes its options anywhere before ``--`` (after it: the script's)."""
    words = args[: args.index("--")] if "--" in args else args
    return any(a in ("-h", "--help", "--usage") for a in words)


def submit_usage() -> str:
    """``scns submit --help``: the option summary, and every sbatch option scns accepts
    without implementing it, listed from the option table itself."""
    from scns.domain.options import _SLURM_ONLY, SILENT, USAGE

    head, _, tail = USAGE.partition("\nAccepted and ignored")
    _, _, example = tail.partition("\nExample:")
    silent = [_spelled(n, s) for n, s, _kind in _SLURM_ONLY if n in SILENT]
    warned = [_spelled(n, s) for n, s, _kind in _SLURM_ONLY if n not in SILENT]
    text = (
        head + "\nAccepted and ignored without a warning (one scns cluster has no accounts,\n"
        "partitions or QOS):\n"
        + _wrapped(silent)
        + "\nAccepted and ignored with a warning that names them:\n"
        + _wrapped(warned)
        + "\nGPUs (--gpus, --gres=gpu) and several nodes are refused.\n"
    )
    return text + ("\nExample:" + example if example else "")


def _spelled(name: str, short: str) -> str:
    return f"-{short}/--{name}" if short else f"--{name}"


def _wrapped(names: list[str], width: int = 88) -> str:
    lines, line = [], " "
    for name in names:
        if len(line) + len(name) + 2 > width:
            lines.append(line.rstrip())
            line = " "
        line += f" {name},"
    lines.append(line.rstrip(","))
    return "\n".join(lines) + "\n"


def fail(message: str, *, command: str = "scns", code: int = 1) -> int:
    """One line on stderr, never a traceback."""
    sys.stderr.write(f"{command}: error: {message}\n")
    return code
