"""Holding, releasing and updating pending jobs: the service behind ``hold``, ``release``
and ``update``.

Every id is resolved before anything changes, so one unknown id changes nothing. The writes
are guarded on PENDING, so a job the scheduler starts meanwhile is reported, never altered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scns.db import statements as sql
from scns.db.engine import Database, Tx
from scns.db.statements.jobs import update_running_time
from scns.domain.job import Job
from scns.domain.states import JobState
from scns.errors import Conflict, InvalidInput, PermissionDenied
from scns.service.jobs import bulk_target, check_may_change, parse_job_ref, resolve
from scns.service.jobs import target_pieces as _pieces

TYPE_CHECKING = False
if TYPE_CHECKING:
    from scns.domain.rights import Caller

# The largest |priority| or |nice| accepted (the columns are 32-bit integers).
_MAX_PRIORITY = 2_000_000_000


@dataclass(frozen=True)
class ControlResult:
    """What happened to one job reference (a job, an array task, or every task of an array)."""

    job: str
    outcome: str  # held, released, not_held, not_pending
    changed: int
    state: str

    @property
    def is_error(self) -> bool:
        return self.outcome == "not_pending"

    @property
    def message(self) -> str:
        tasks = f" ({self.changed} tasks)" if self.changed > 1 else ""
        return {
            "held": f"job {self.job} held{tasks}",
            "released": f"job {self.job} released{tasks}",
            "not_held": f"job {self.job} is not held",
            "not_pending": f"job {self.job} is not pending ({self.state})",
            "requeued": f"job {self.job} requeued{tasks}",
        }[self.outcome]


@dataclass(frozen=True)
class JobUpdate:
    """The fields ``update`` changes; ``time_set`` tells 'no limit' (None) from 'not given'."""

    priority: int | None = None
    nice: int | None = None
    time_limit_s: int | None = None
    time_set: bool = False

    def fields(self) -> dict[str, int | None]:
        found: dict[str, int | None] = {}
        for name in ("priority", "nice"):
            value = getattr(self, name)
            if value is not None:
                if abs(value) > _MAX_PRIORITY:
                    raise InvalidInput(f"invalid --{name} {value}: out of range")
                found[name] = value
        if self.time_set:
            found["time_limit_s"] = self.time_limit_s
        if not found:
            raise InvalidInput("nothing to update: give --priority, --nice or --time")
        return found


def hold(db: Database, texts: list[str], *, caller: Caller | None = None) -> list[ControlResult]:
    """Keep pending jobs from starting until released (reason JobHeldUser)."""
    return _apply(db, texts, sql.hold_pending, "held", "not_pending", caller, "PENDING")


def release(db: Database, texts: list[str], *,
            caller: Caller | None = None) -> list[ControlResult]:  # fmt: skip
    """Let held jobs be scheduled again; the next pass gives them their real reason."""
    return _apply(db, texts, sql.release_held, "released", "not_held", caller, "PENDING")


def update(db: Database, text: str, change: JobUpdate, *,
           caller: Caller | None = None) -> list[Job]:  # fmt: skip
    """Change pending jobs' priority, nice or time limit, or running jobs' time limit; all
    of them or none.

    A running job's limit may be shortened by its owner and extended only by operators
    (in personal mode the one user is both); its node moves the deadline it enforces.
    Refuses (Conflict) when any addressed job is finished, or no longer in the state it was
    read in (the scheduler started it, or it ended, between the lookup and the write): the
    guarded updates then match fewer rows and the transaction is rolled back.
    """
    fields = change.fields()
    jobs = resolve(db, parse_job_ref(text))
    check_may_change(caller, text, jobs)
    if caller is not None:
        from scns.domain.rights import priority_refusal

        for job in jobs:
            why = priority_refusal(caller, change.priority, change.nice, job.priority)
            if why:
                raise PermissionDenied(why)
    pending = [j.id for j in jobs if j.state == JobState.PENDING]
    running = [j for j in jobs if j.state in _ALLOCATED]
    _check_running_change(running, fields, change, caller)
    finished = [j for j in jobs if j.state != JobState.PENDING and j.state not in _ALLOCATED]
    if finished:
        raise _not_pending(finished[0])
    with db.write() as tx:
        columns: dict[str, object] = dict(fields)
        matched = sum(sql.update_pending(tx, chunk, columns) for chunk in _pieces(pending))
        matched += sum(update_running_time(tx, chunk, change.time_limit_s)
                       for chunk in _pieces([j.id for j in running]))  # fmt: skip
        if matched != len(jobs):
            raise Conflict(f"job {text} changed state meanwhile: nothing was changed")
        if running:
            sql.notify(tx, "cancel")  # "look around": the nodes pick the new limit up
    return jobs


_ALLOCATED = (JobState.CONFIGURING, JobState.RUNNING)


def _check_running_change(running: list[Job], fields: dict, change: JobUpdate,
                          caller: Caller | None) -> None:  # fmt: skip
    """Only the time limit of a running job changes; extending it is an operator's right."""
    if not running:
        return
    if set(fields) != {"time_limit_s"}:
        job = running[0]
        raise Conflict(f"job {job.display_id} is {job.state.value}: only --time can change"
                       " once a job runs")  # fmt: skip
    if caller is None or caller.is_operator:
        return
    new = change.time_limit_s
    for job in running:
        if job.time_limit_s is not None and (new is None or new > job.time_limit_s):
            raise PermissionDenied(f"only operators may extend the time limit of running job"
                                   f" {job.display_id}; its owner may shorten it")  # fmt: skip


def _apply(db: Database, texts: list[str], statement: Callable[[Tx, sql.Target], int],
           done: str, missed: str, caller: Caller | None,
           leaves: str | None = None) -> list[ControlResult]:  # fmt: skip
    """Resolve (and check the rights on) every reference first, then run ``statement`` over
    each one's jobs. ``leaves``: the state every job it changed is in afterwards (when it
    changed them all, their states need no second read)."""
    targets = [(text, *bulk_target(db, text, caller)) for text in texts]
    results = []
    with db.write() as tx:
        for text, target, count in targets:
            changed = sum(statement(tx, piece) for piece in _pieces(target))
            if leaves is not None and count and changed == count:
                states = {leaves}
            else:
                states = {s for piece in _pieces(target) for s in sql.distinct_states(tx, piece)}
            state = "PENDING" if "PENDING" in states else min(states, default="PURGED")
            outcome = done if changed else missed if state == "PENDING" else "not_pending"
            results.append(ControlResult(text, outcome, changed, state))
    return results


def _not_pending(job: Job) -> Conflict:
    return Conflict(f"job {job.display_id} is {job.state.value}: only pending and running jobs"
                    " can be updated")  # fmt: skip


def signal_jobs(db: Database, texts: list[str], sig: int, *,
                caller: Caller | None = None) -> list[int]:  # fmt: skip
    """Ask the nodes of these running jobs to deliver ``sig`` (scancel --signal); every
    reference is resolved and checked first. Returns the jobs that will get it."""
    targets = []
    for text in texts:
        jobs = resolve(db, parse_job_ref(text), brief=True)
        check_may_change(caller, text, jobs)
        targets += [j.id for j in jobs]
    with db.write() as tx:
        asked = [i for chunk in _pieces(targets) for i in sql.request_signal(tx, chunk, sig)]
        if asked:
            sql.notify(tx, "cancel")  # "look around": the nodes pick the signal up
    return asked


def requeue(db: Database, texts: list[str], now: float, *,
            caller: Caller | None = None) -> list[ControlResult]:  # fmt: skip
    """scontrol requeue: a running job is ended by its node and goes back to PENDING; a
    finished one goes back to PENDING at once; a pending one stays as it is."""
    targets = []
    for text in texts:
        jobs = resolve(db, parse_job_ref(text), brief=True)
        check_may_change(caller, text, jobs)
        targets.append((text, jobs))
    results = []
    with db.write() as tx:
        for text, jobs in targets:
            running = [j.id for j in jobs if j.state == JobState.RUNNING]
            changed = len(sql.request_requeue(tx, running)) if running else 0
            for job in jobs:
                if job.state.is_terminal or job.state == JobState.CONFIGURING:
                    expected = [job.state.value]
                    changed += sql.requeue(tx, job.id, expected=expected, now=now,
                                           reason="requeued by user")  # fmt: skip
            state = "PENDING" if changed else jobs[0].state.value
            results.append(ControlResult(text, "requeued" if changed else "not_held", changed,
                                         state))  # fmt: skip
        sql.notify(tx, "cancel")
    return results
