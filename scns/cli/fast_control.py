"""``scns hold``, ``release`` and ``cancel`` with job ids alone, without the typer app.

Bulk work on arrays is what these commands do (an array's 100,000 tasks in one call), and
the typer app costs ~0.2 s of imports before any of it (typer coerces its parameters
through pydantic): a fifth of the one-second budget. With anything else on the line (an
option, ``--help``) the typer app takes the command as before; both print through here.
"""

from __future__ import annotations

import sys

from scns.errors import ScnsError


def run(command: str, args: list[str]) -> int | None:
    """The exit code, or None when the line is not plain job ids (typer's to parse)."""
    if not args or any(not a or a.startswith("-") for a in args):
        return None
    if command == "cancel":
        return cancel(args, None, None)
    return control(args, command)


def control(job_ids: list[str], command: str) -> int:
    """hold or release: report each reference, wake the daemons; 1 on any refusal."""
    from scns.cli.context import notify, open_db
    from scns.cli.remote import call, target
    from scns.service import control as service
    from scns.service.control import ControlResult

    try:
        sock = target()
        if sock:
            answer = call(sock, command, {"job_ids": list(job_ids)})
            results = [ControlResult(r["job"], r["outcome"], r["changed"], r["state"])
                       for r in answer]  # fmt: skip
        else:
            db, run_dir = open_db()
            action = service.hold if command == "hold" else service.release
            results = action(db, job_ids)
            if any(r.changed for r in results):
                notify(run_dir)
    except ScnsError as exc:
        return failed(exc, command)
    for result in results:
        stream = sys.stderr if result.is_error else sys.stdout
        stream.write(f"scns {command}: {result.message}\n")
    return 1 if any(r.is_error for r in results) else 0


def cancel(refs: list[str], spec, sig: int | None) -> int:
    """Cancel (or signal) through the system socket or this user's database; one line per
    reference (an array is one line); 1 on any refusal."""
    from scns.cli.context import notify, open_db
    from scns.cli.remote import call, target
    from scns.service.jobs import CancelResult
    from scns.service.jobs import cancel as cancel_jobs

    try:
        sock = target()
        if sock:
            args: dict[str, object] = {"job_ids": refs, "signal": sig}
            if spec is not None:
                args["filter"] = {"names": list(spec.names), "users": list(spec.users),
                                  "states": list(spec.states)}  # fmt: skip
            answer = call(sock, "cancel", args)
            results = [CancelResult(r["job"], r["outcome"], r.get("tasks", 1), r.get("signal"))
                       for r in answer]  # fmt: skip
        else:
            db, run_dir = open_db()
            results = cancel_jobs(db, refs, spec=spec, signal=sig)
            if any(r.outcome in ("signalled", "sent") for r in results):
                notify(run_dir)
    except ScnsError as exc:
        return failed(exc, "cancel")
    if not results:
        sys.stderr.write("scns cancel: no job matches\n")
    for result in results:
        stream = sys.stderr if result.is_error else sys.stdout
        stream.write(f"scns cancel: {result.message}\n")
    return 1 if any(r.is_error for r in results) else 0


def failed(exc: BaseException, command: str) -> int:
    sys.stderr.write(f"scns {command}: error: {exc}\n")
    return 1
