"""``scns submit``: the sbatch of scns, on the fast path (standard library only on SQLite)."""

from __future__ import annotations

import os
import sys
import time

from scns.errors import ScnsError


def main(args: list[str]) -> int:
    from scns.cli.entry import fail
    from scns.domain.options import USAGE

    if any(a in ("-h", "--help", "--usage") for a in _option_words(args)):
        sys.stdout.write(USAGE)
        return 0
    try:
        request, job_id, warnings = submit_args(args)
    except ScnsError as exc:
        return fail(str(exc), command="scns submit")
    except FileNotFoundError as exc:  # the current directory was removed under us
        return fail(f"cannot submit: {exc}", command="scns submit")
    for warning in warnings:
        sys.stderr.write(f"scns submit: warning: {warning}\n")
    if request.parsable:
        sys.stdout.write(f"{job_id}\n")
    else:
        sys.stdout.write(f"Submitted batch job {job_id}\n")
    return 0


def submit_args(args: list[str], *, output_prefix: str = "scns",
                script_text: str | None = None):  # fmt: skip
    """Submit from command-line words: (the request, the job id, warnings).

    The script is read and checked here, as the caller (the caller's file permissions
    apply); then it goes to this user's database or through the system socket.
    ``output_prefix`` names the default output file (``slurm-%j.out`` for sbatch).
    """
    from scns.paths import socket_path
    from scns.service.submission import SubmitContext, build_request

    umask = os.umask(0o022)
    os.umask(umask)
    ctx = SubmitContext(cwd=os.getcwd(), env=dict(os.environ), now=time.time(), umask=umask)
    request = build_request(args, ctx, script_text=script_text, output_prefix=output_prefix)
    sock = socket_path()
    if sock:
        job_id, warnings = _through_socket(sock, args, request, ctx, output_prefix)
    else:
        job_id, warnings = _directly(request, ctx)
    return request, job_id, warnings


def _directly(request, ctx) -> tuple[int, tuple[str, ...]]:
    """Personal mode: this user's own database."""
    from scns.cli.context import notify, open_db
    from scns.service.limits import SubmitLimits
    from scns.service.store import Submitter, store

    db, run_dir = open_db()
    submitted = store(db, request, ctx, Submitter.current(), limits=SubmitLimits.from_env())
    notify(run_dir)
    return submitted.job_id, submitted.warnings


def _through_socket(sock: str, args: list[str], request, ctx,
                    output_prefix: str) -> tuple[int, list[str]]:  # fmt: skip
    """System mode: the daemon stores the job as the uid the kernel gives it."""
    from scns.cli.remote import call

    result = call(sock, "submit", {"args": list(args), "script": request.script, "cwd": ctx.cwd,
                                   "env": ctx.env, "umask": ctx.umask,
                                   "output_prefix": output_prefix})  # fmt: skip
    return int(result["job_id"]), list(result["warnings"])


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
