"""Where the Slurm commands get and change jobs: the system socket when one is configured,
else this user's own database; the same service functions behind both."""

from __future__ import annotations

from scns.domain.job import Job
from scns.paths import socket_path
from scns.service.jobs import JobFilter


def fetch_jobs(spec: JobFilter) -> list[Job]:
    """Jobs a filter selects (private fields are None for other users' jobs in system mode)."""
    sock = socket_path()
    if sock:
        from scns.cli.remote import call, job_from_record

        return [job_from_record(r) for r in call(sock, "jobs", spec.to_dict())]
    from scns.cli.context import open_db
    from scns.service.jobs import find_jobs

    db, _ = open_db()
    return find_jobs(db, spec)


def cancel(refs: list[str]) -> list[tuple[str, str]]:
    """(job, outcome) per reference: cancelled, signalled or already_finished."""
    sock = socket_path()
    if sock:
        from scns.cli.remote import call

        return [(r["job"], r["outcome"]) for r in call(sock, "cancel", {"job_ids": refs})]
    from scns.cli.context import notify, open_db
    from scns.service.jobs import cancel as cancel_jobs

    db, run_dir = open_db()
    results = cancel_jobs(db, refs)
    notify(run_dir)
    return [(r.job, r.outcome) for r in results]


def control(action: str, refs: list[str]) -> list[tuple[str, str, bool]]:
    """hold or release: (job, outcome, is_error) per reference."""
    sock = socket_path()
    if sock:
        from scns.cli.remote import call

        answer = call(sock, action, {"job_ids": refs})
        return [(r["job"], r["outcome"], r["outcome"] == "not_pending") for r in answer]
    from scns.cli.context import notify, open_db
    from scns.service import control as service

    db, run_dir = open_db()
    results = getattr(service, action)(db, refs)
    notify(run_dir)
    return [(r.job, r.outcome, r.is_error) for r in results]


def update(ref: str, *, priority: int | None = None, nice: int | None = None,
           time_limit_s: int | None = None, time_set: bool = False) -> int:  # fmt: skip
    """Change a pending job (scontrol update); returns how many tasks changed."""
    sock = socket_path()
    if sock:
        from scns.cli.remote import call

        answer = call(
            sock,
            "update",
            {
                "job_id": ref,
                "priority": priority,
                "nice": nice,
                "time_limit_s": time_limit_s,
                "time_set": time_set,
            },
        )
        return int(answer["tasks"])
    from scns.cli.context import notify, open_db
    from scns.service import control as service

    db, run_dir = open_db()
    jobs = service.update(db, ref, service.JobUpdate(priority, nice, time_limit_s, time_set))
    notify(run_dir)
    return len(jobs)


def nodes():
    """Node summaries (sinfo)."""
    from scns.cli.context import nodes_now

    return nodes_now(None)


def signal(refs: list[str], sig: int) -> list[int]:
    """scancel --signal: the running jobs that will get ``sig``."""
    sock = socket_path()
    if sock:
        from scns.cli.remote import call

        return list(call(sock, "signal", {"job_ids": refs, "signal": sig}))
    from scns.cli.context import notify, open_db
    from scns.service.control import signal_jobs

    db, run_dir = open_db()
    asked = signal_jobs(db, refs, sig)
    notify(run_dir)
    return asked


def requeue(refs: list[str]) -> list[tuple[str, str]]:
    """scontrol requeue: (job, outcome) per reference."""
    import time

    sock = socket_path()
    if sock:
        from scns.cli.remote import call

        return [(r["job"], r["outcome"]) for r in call(sock, "requeue", {"job_ids": refs})]
    from scns.cli.context import notify, open_db
    from scns.service.control import requeue as requeue_jobs

    db, run_dir = open_db()
    results = requeue_jobs(db, refs, time.time())
    notify(run_dir)
    return [(r.job, r.outcome) for r in results]
