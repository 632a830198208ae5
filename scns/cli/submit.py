"""``scns submit``: the sbatch of scns, on the fast path (standard library only on SQLite)."""

from __future__ import annotations

import os
import sys
import time

from scns.errors import ScnsError


def main(args: list[str]) -> int:
    from scns.cli.entry import fail
    from scns.domain.options import USAGE

    words = args[: args.index("--")] if "--" in args else args
    if any(a in ("-h", "--help", "--usage") for a in words):
        sys.stdout.write(USAGE)
        return 0
    try:
        request, ctx = prepare(args, options_anywhere=True)
        if asks_test_only(args, request, options_anywhere=True):
            return test_only(args, request, ctx)
        job_id, warnings = _send(args, request, ctx, "scns", True)
    except ScnsError as exc:
        # a malformed command line exits 2 (usage), as every scns command does
        return fail(str(exc), command="scns submit", code=2 if _is_usage(exc, args) else 1)
    except FileNotFoundError as exc:  # the current directory was removed under us
        return fail(f"cannot submit: {exc}", command="scns submit")
    for warning in warnings:
        sys.stderr.write(f"scns submit: warning: {warning}\n")
    if request.parsable:
        sys.stdout.write(f"{job_id}\n")
    else:
        sys.stdout.write(f"Submitted batch job {job_id}\n")
    if not request.wait:
        return 0
    sys.stdout.flush()
    return wait_and_report(job_id, "scns submit")


def _is_usage(exc: Exception, args: list[str]) -> bool:
    """A command-line mistake (unknown option, missing value), not one in a #SBATCH line."""
    from scns.errors import UsageError

    return isinstance(exc, UsageError) and "#SBATCH" not in str(exc)


def wait_and_report(job_id: int, command: str) -> int:
    """--wait: block until the job (every task) ends; exit as ``sbatch --wait`` does.
    Ctrl-C stops waiting, not the job."""
    from scns.compat.waiting import exit_code_of, wait_for

    try:
        return exit_code_of(wait_for(job_id))
    except KeyboardInterrupt:
        sys.stderr.write(f"{command}: stopped waiting; job {job_id} keeps running"
                         f" (scns cancel {job_id} ends it)\n")  # fmt: skip
        return 130
    except ScnsError as exc:
        sys.stderr.write(f"{command}: error: {exc}\n")
        return 1


def submit_args(args: list[str], *, output_prefix: str = "scns",
                script_text: str | None = None, options_anywhere: bool = False):  # fmt: skip
    """Submit from command-line words: (the request, the job id, warnings).

    The script is read and checked here, as the caller (the caller's file permissions
    apply); then it goes to this user's database or through the system socket.
    ``output_prefix`` names the default output file (``slurm-%j.out`` for sbatch).
    """
    request, ctx = prepare(args, output_prefix=output_prefix, script_text=script_text,
                           options_anywhere=options_anywhere)  # fmt: skip
    if asks_test_only(args, request, options_anywhere=options_anywhere):
        from scns.errors import InvalidInput

        raise InvalidInput("--test-only is implemented by `scns submit` only; nothing was"
                           " submitted")  # fmt: skip
    job_id, warnings = _send(args, request, ctx, output_prefix, options_anywhere)
    return request, job_id, warnings


def prepare(args: list[str], *, output_prefix: str = "scns", script_text: str | None = None,
            options_anywhere: bool = False):  # fmt: skip
    """(the checked request, its submit context), read here as the caller."""
    from scns.service.submission import SubmitContext, build_request

    umask = os.umask(0o022)
    os.umask(umask)
    ctx = SubmitContext(cwd=os.getcwd(), env=dict(os.environ), now=time.time(), umask=umask)
    request = build_request(args, ctx, script_text=script_text, output_prefix=output_prefix,
                            options_anywhere=options_anywhere)  # fmt: skip
    return request, ctx


def _send(args: list[str], request, ctx, output_prefix: str, options_anywhere: bool):
    """Store the job: (its id, warnings)."""
    from scns.paths import socket_path

    sock = socket_path()
    if sock:
        return _through_socket(sock, args, request, ctx, output_prefix, options_anywhere)
    return _directly(request, ctx)


def asks_test_only(args: list[str], request, *, options_anywhere: bool) -> bool:
    """--test-only on the command line or in an ``#SBATCH`` line."""
    from scns.domain.options import parse_args

    named = any("--test-only" in a for a in args)  # the exact parse only when it may be
    if named and parse_args(args, anywhere=options_anywhere).values.get("test-only"):
        return True
    if "--test-only" not in request.script:
        return False
    from scns.domain.directives import read_directives

    return bool(parse_args(read_directives(request.script)).values.get("test-only"))


def test_only(args: list[str], request, ctx) -> int:
    """sbatch --test-only: when and where the scheduler would start the job; nothing is
    submitted."""
    from scns.cli.entry import fail
    from scns.paths import socket_path
    from scns.service.planning import Forecast

    sock = socket_path()
    if sock:
        from scns.cli.remote import call

        answer = call(sock, "test_only", _socket_args(args, request, ctx, "scns", True))
        found = Forecast(**answer)
    else:
        found = _forecast_here(request, ctx)
    if found.start_time is None:
        why = found.waits_for or ""
        mem = f" and {request.mem_mb} MB" if request.mem_mb else ""
        text = _WHY_NOT.get(why, "job would not start ({why})").format(
            cpus=found.cpus, mem=mem, dependency=request.dependency, why=why)  # fmt: skip
        if why in _WAITS:  # a job that would wait, not a request that cannot run
            sys.stdout.write(f"scns submit: {text}\n")
            return 0
        return fail(text, command="scns submit")
    from scns.cli.render import iso

    sys.stdout.write(f"scns submit: job would start at {iso(found.start_time)} on {found.node}"
                     f" using {found.cpus} CPU{'s' if found.cpus != 1 else ''}\n")  # fmt: skip
    return 0


_WHY_NOT = {
    "JobHeldUser": "job would be held (-H) until `scns release`",
    "Dependency": "job would wait for its dependency ({dependency})",
    "DependencyNeverSatisfied": "job would never start: its dependency ({dependency}) can"
    " never be met",
    "NoNodeUp": "job would not start: no node is up (start one with `scns daemon`)",
    "Resources": "job would never start: no node has {cpus} CPUs{mem}"
    " (Requested node configuration is not available)",
}
_WAITS = ("JobHeldUser", "Dependency")


def _forecast_here(request, ctx):
    """Personal mode: the forecast from this user's own database and settings."""
    from scns.cli.context import open_db
    from scns.service.planning import PassConfig, forecast
    from scns.service.store import Submitter
    from scns.settings import Settings

    settings = Settings()
    db, _run_dir = open_db()
    return forecast(db, request, ctx.now, PassConfig.from_settings(settings),
                    user_name=Submitter.current().user_name, limits=settings.limits)  # fmt: skip


def _directly(request, ctx) -> tuple[int, tuple[str, ...]]:
    """Personal mode: this user's own database."""
    from scns.cli.context import notify, open_db
    from scns.service.limits import SubmitLimits
    from scns.service.store import Submitter, store

    db, run_dir = open_db()
    submitted = store(db, request, ctx, Submitter.current(), limits=SubmitLimits.from_env())
    notify(run_dir)
    warnings = submitted.warnings
    if not _daemon_alive(db, ctx.now):  # stored all the same: durability first
        warnings += (f"no scns daemon is running: job {submitted.job_id} waits until one"
                     " starts (scns daemon)",)  # fmt: skip
    return submitted.job_id, warnings


def _daemon_alive(db, now: float) -> bool:
    """Whether any node has a daemon with a fresh heartbeat (one small read)."""
    from scns import paths
    from scns.db import statements as sql
    from scns.domain.liveness import is_served

    timeout = paths.setting("heartbeat_timeout_s")
    timeout_s = float(str(timeout)) if timeout is not None else 30.0
    with db.reads() as tx:
        return any(is_served(node, now, timeout_s) for node in sql.list_nodes(tx))


def _through_socket(sock: str, args: list[str], request, ctx, output_prefix: str,
                    options_anywhere: bool) -> tuple[int, list[str]]:  # fmt: skip
    """System mode: the daemon stores the job as the uid the kernel gives it."""
    from scns.cli.remote import call

    result = call(sock, "submit", _socket_args(args, request, ctx, output_prefix,
                                               options_anywhere))  # fmt: skip
    return int(result["job_id"]), list(result["warnings"])


def _socket_args(args: list[str], request, ctx, output_prefix: str,
                 options_anywhere: bool) -> dict[str, object]:  # fmt: skip
    return {"args": list(args), "script": request.script, "cwd": ctx.cwd, "env": ctx.env,
            "umask": ctx.umask, "output_prefix": output_prefix,
            "options_anywhere": options_anywhere}  # fmt: skip


def _option_words(args: list[str]) -> list[str]:
    """Words before the script name: only those can be scns options."""
    words = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if not arg.startswith("-") or arg == "--":
            break
        words.append(arg)
        if arg.startswith("--") and "=" not in arg:
            from scns.domain.options import BY_LONG

            opt = BY_LONG.get(arg[2:])
            skip = opt is not None and opt.kind == "value"
        elif len(arg) == 2:
            from scns.domain.options import BY_SHORT

            opt = BY_SHORT.get(arg[1])
            skip = opt is not None and opt.kind == "value"
    return words
