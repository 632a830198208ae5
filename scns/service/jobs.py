"""Looking jobs up and cancelling them: the service behind ``query``, ``queue`` and ``cancel``."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from scns.db import statements as sql
from scns.db.engine import Database
from scns.domain.dependency import JobRef
from scns.domain.job import Job
from scns.errors import InvalidInput, NotFound, PermissionDenied

TYPE_CHECKING = False
if TYPE_CHECKING:
    from scns.domain.rights import Caller

_REF = re.compile(r"([0-9]{1,18})(?:_([0-9]{1,9}))?")


def parse_job_ref(text: str) -> JobRef:
    """``123`` (a job, or a whole array) or ``123_4`` (one array task)."""
    match = _REF.fullmatch(text.strip())
    if not match:
        raise InvalidInput(f"invalid job id {text!r}: expected a number like 123 or 123_4")
    task = match.group(2)
    return JobRef(int(match.group(1)), int(task) if task is not None else None)


def resolve(db: Database, ref: JobRef) -> list[Job]:
    """The jobs a reference names: one job, one array task, or every task of an array."""
    with db.read() as tx:
        if ref.task_id is not None:
            job = sql.get_array_task(tx, ref.job_id, ref.task_id)
            found = [job] if job else []
        else:
            job = sql.get_job(tx, ref.job_id)
            if job is not None and job.array_job_id == job.id:
                found = sql.get_array_jobs(tx, job.id)
            else:
                found = [job] if job else []
    if not found:
        raise NotFound(f"invalid job id {ref}: no such job")
    return found


def get_job(db: Database, text: str) -> Job:
    """One job for ``query``; an array reference shows its first task."""
    return resolve(db, parse_job_ref(text))[0]


def check_may_change(caller: Caller | None, text: str, jobs: list[Job]) -> None:
    """Refuse, before anything changes, when the caller owns none of these jobs' rights."""
    if caller is None:  # personal mode: the one user is its own operator
        return
    from scns.domain.rights import may_change

    if not all(may_change(caller, job.uid) for job in jobs):
        raise PermissionDenied(f"job {text} is not yours")


@dataclass(frozen=True)
class JobFilter:
    """What the Slurm tools ask for (squeue/sacct/scancel -j, --name, -u, -t, -S, -E).

    ``refs`` are job ids (a job, or every task of an array) and array tasks ("12_3");
    ``users`` are user names; an empty field does not filter.
    """

    refs: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    ended_since: float | None = None
    submitted_before: float | None = None
    include_finished: bool = True

    def to_dict(self) -> dict:
        return {"refs": list(self.refs), "names": list(self.names), "users": list(self.users),
                "states": list(self.states), "ended_since": self.ended_since,
                "submitted_before": self.submitted_before,
                "include_finished": self.include_finished}  # fmt: skip


def find_jobs(db: Database, spec: JobFilter, *, only_uid: int | None = None) -> list[Job]:
    """The jobs a filter selects (unknown ids simply select nothing, as in Slurm)."""
    import pwd

    ids, tasks = [], []
    for text in spec.refs:
        ref = parse_job_ref(text)
        if ref.task_id is None:
            ids.append(ref.job_id)
        else:
            tasks.append((ref.job_id, ref.task_id))
    uids = []
    for user in spec.users:
        try:
            uids.append(pwd.getpwnam(user).pw_uid)
        except KeyError:
            if not user.isdigit():
                return []  # an unknown user has no jobs
            uids.append(int(user))
    if only_uid is not None:
        if uids and only_uid not in uids:
            return []
        uids = [only_uid]
    if spec.refs and not ids and not tasks:
        return []
    with db.read() as tx:
        return sql.find_jobs(tx, ids=ids, tasks=tasks, names=spec.names, uids=uids,
                             states=spec.states, ended_since=spec.ended_since,
                             submitted_before=spec.submitted_before,
                             include_finished=spec.include_finished)  # fmt: skip


def list_jobs(db: Database, *, all_jobs: bool = False, states: list[str] | None = None,
              limit: int | None = None, uid: int | None = None) -> list[Job]:  # fmt: skip
    with db.read() as tx:
        return sql.list_jobs(tx, states=states, include_finished=all_jobs, limit=limit, uid=uid)


def queue_lines(
    db: Database, now: float, *, all_jobs: bool = False, states: list[str] | None = None,
    limit: int | None = None,
) -> list[str]:  # fmt: skip
    """The ``queue`` table's lines, formatted inside SQLite (the embedded fast path)."""
    with db.read() as tx:
        rows = sql.queue_lines(tx, now, states=states, include_finished=all_jobs, limit=limit)
    return [r[0] for r in rows]


def queue_table(db: Database, *, all_jobs: bool = False, states: list[str] | None = None,
                limit: int | None = None, uid: int | None = None) -> list[tuple]:  # fmt: skip
    """Narrow rows for the ``queue`` table (see statements.queue_table)."""
    with db.read() as tx:
        return sql.queue_table(tx, states=states, include_finished=all_jobs, limit=limit,
                               uid=uid)  # fmt: skip


@dataclass(frozen=True)
class CancelResult:
    job: str
    outcome: str  # cancelled, signalled, already_finished

    @property
    def message(self) -> str:
        return {
            "cancelled": f"job {self.job} cancelled",
            "signalled": f"job {self.job} is being cancelled",
            "already_finished": f"job {self.job} has already finished",
        }[self.outcome]


def cancel(db: Database, texts: list[str], now: float | None = None, *,
           caller: Caller | None = None) -> list[CancelResult]:  # fmt: skip
    """Cancel jobs: pending ones at once, running ones by asking their node's daemon.

    Every id is checked before anything changes, so one unknown id, or one job that is not
    the caller's, cancels nothing.
    """
    now = time.time() if now is None else now
    targets = [(text, resolve(db, parse_job_ref(text))) for text in texts]
    for text, jobs in targets:
        check_may_change(caller, text, jobs)
    results = []
    with db.write() as tx:
        for _text, jobs in targets:
            ids = [j.id for j in jobs]
            pending = set(sql.cancel_pending(tx, ids, now, "cancelled by user"))
            for job_id in pending:
                sql.add_event(tx, job_id, now, "cancelled", "by user while pending")
            flagged = {
                i for i, _node in sql.request_cancel(tx, [i for i in ids if i not in pending])
            }
            for job in jobs:
                outcome = (
                    "cancelled" if job.id in pending
                    else "signalled" if job.id in flagged
                    else "already_finished"
                )  # fmt: skip
                results.append(CancelResult(job.display_id, outcome))
        sql.notify(tx, "cancel")
    return results
