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
        from scns.cli.context import notify, open_db
        from scns.service.store import Submitter, store
        from scns.service.submission import SubmitContext, build_request

        ctx = SubmitContext(cwd=os.getcwd(), env=dict(os.environ), now=time.time())
        request = build_request(args, ctx)
        db, run_dir = open_db()
        submitted = store(db, request, ctx, Submitter.current())
    except ScnsError as exc:
        return fail(str(exc), command="scns submit")
    except FileNotFoundError as exc:  # the current directory was removed under us
        return fail(f"cannot submit: {exc}", command="scns submit")
    for warning in submitted.warnings:
        sys.stderr.write(f"scns submit: warning: {warning}\n")
    notify(run_dir)
    if request.parsable:
        sys.stdout.write(f"{submitted.job_id}\n")
    else:
        sys.stdout.write(f"Submitted batch job {submitted.job_id}\n")
    return 0


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
