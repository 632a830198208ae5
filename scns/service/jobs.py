"""Looking jobs up and cancelling them: the service behind ``query``, ``queue`` and ``cancel``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from scns.db import statements as sql
from scns.db.engine import Database
from scns.db.statements import listings as listing_sql
from scns.db.statements.listings import Selection
from scns.domain.dependency import JobRef
from scns.domain.job import JOB_COLUMNS, Job
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


def resolve(db: Database, ref: JobRef, *, brief: bool = False) -> list:
    """The jobs a reference names: one job, one array task, or every task of an array.

    ``brief``: a whole array's tasks as JobBrief tuples (id, uid, user_name, name, state,
    array ids), which is all that rights, filters and bulk changes look at.
    """
    with db.read() as tx:
        if ref.task_id is not None:
            job = sql.get_array_task(tx, ref.job_id, ref.task_id)
            found = [job] if job else []
        else:
            job = sql.get_job(tx, ref.job_id)
            if job is not None and job.array_job_id == job.id:
                found = (sql.get_array_briefs if brief else sql.get_array_jobs)(tx, job.id)
            else:
                found = [job] if job else []
    if not found:
        raise NotFound(f"invalid job id {ref}: no such job")
    return found


def get_job(db: Database, text: str) -> Job:
    """One job for ``query``; an array reference shows its first task. An array task carries
    the script and arguments its array's first task holds for every task."""
    job = resolve(db, parse_job_ref(text))[0]
    if job.array_job_id not in (None, job.id) and not job.script:
        with db.read() as tx:
            head = listing_sql.array_heads(tx, [job.array_job_id]).get(job.array_job_id)
        if head is not None:
            job.script, job.argv = head
    return job


def bulk_target(db: Database, text: str, caller: Caller | None) -> tuple[sql.Target, int]:
    """What a reference names for a bulk change, after the caller's rights are checked, and
    how many jobs that is. A whole array is ``WholeArray`` (the statements then select by
    its id): its tasks' rows are not read, only who owns them."""
    ref = parse_job_ref(text)
    if ref.task_id is None:
        with db.read() as tx:
            head = sql.get_job(tx, ref.job_id)
            is_array = head is not None and head.array_job_id == head.id
            owners = sql.array_owners(tx, ref.job_id) if is_array else {}
        if head is not None and not is_array:  # one job: already read
            check_may_change(caller, text, [head])
            return [head.id], 1
        if owners:
            _check_uids(caller, text, owners)
            return sql.WholeArray(ref.job_id), sum(owners.values())
    jobs = resolve(db, ref, brief=True)  # one task, or nothing (NotFound)
    check_may_change(caller, text, jobs)
    return [j.id for j in jobs], len(jobs)


def check_may_change(caller: Caller | None, text: str, jobs: list[Job]) -> None:
    """Refuse, before anything changes, when the caller owns none of these jobs' rights."""
    _check_uids(caller, text, (job.uid for job in jobs))


def _check_uids(caller: Caller | None, text: str, uids: Iterable[int]) -> None:
    if caller is None:  # personal mode: the one user is its own operator
        return
    from scns.domain.rights import may_change

    if not all(may_change(caller, uid) for uid in uids):
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
    sel = Selection(states=tuple(states or ()), include_finished=all_jobs, limit=limit)
    return [r[0] for r in queue_line_rows(db, now, sel)]


def queue_line_rows(db: Database, now: float, sel: Selection, *,
                    tagged: bool = False) -> list[tuple]:  # fmt: skip
    """(line, pending array task tag) rows of the ``queue`` table (statements.queue_lines)."""
    with db.read() as tx:
        return sql.queue_lines(tx, now, selection=sel, tagged=tagged)


def queue_table(db: Database, *, all_jobs: bool = False, states: list[str] | None = None,
                limit: int | None = None, uid: int | None = None,
                selection: Selection | None = None,
                with_array_limit: bool = False) -> list[tuple]:  # fmt: skip
    """Narrow rows for the ``queue`` table (see statements.queue_table)."""
    sel = selection or Selection(states=tuple(states or ()), include_finished=all_jobs,
                                 uid=uid, limit=limit)  # fmt: skip
    with db.read() as tx:
        return sql.queue_table(tx, selection=sel, with_array_limit=with_array_limit)


def selection(*, states: Sequence[str] = (), all_jobs: bool = False,
              users: Sequence[str] = (), names: Sequence[str] = (), refs: Sequence[str] = (),
              limit: int | None = None, only_uid: int | None = None) -> Selection:  # fmt: skip
    """A listing's selection from what users type (squeue's -t, -u, -n, -j): states by name
    or short code (``all``: every state), users by name or uid, ids as ``12`` or ``12_3``.
    Asking for job ids lists them in every state unless states are given too."""
    from scns.domain.states import parse_state

    words = [w for text in states for w in text.split(",") if w.strip()]
    every = any(w.strip().lower() == "all" for w in words)
    wanted = () if every else tuple(dict.fromkeys(parse_state(w).value for w in words))
    ids, tasks = [], []
    for text in refs:
        ref = parse_job_ref(text)
        if ref.task_id is None:
            ids.append(ref.job_id)
        else:
            tasks.append((ref.job_id, ref.task_id))
    return Selection(states=wanted, include_finished=all_jobs or every or bool(refs),
                     uid=only_uid, uids=tuple(user_ids(users)), names=tuple(names),
                     ids=tuple(ids), tasks=tuple(tasks), limit=limit or None)  # fmt: skip


def user_ids(users: Sequence[str]) -> list[int]:
    """Uids of user names (or uids as digits); an unknown name is refused."""
    import pwd

    uids = []
    for user in users:
        if user.isdigit():
            uids.append(int(user))
            continue
        try:
            uids.append(pwd.getpwnam(user).pw_uid)
        except KeyError:
            raise InvalidInput(f"unknown user {user!r}") from None
    return uids


LISTING_SPAN = 10_000
"""Ids per read of a streamed listing: memory stays bounded and output starts at once."""


def listing_pages(db: Database, sel: Selection, *,
                  json_now: float | None = None) -> Iterator[list[tuple]]:  # fmt: skip
    """The selected jobs as pages of rows by id: statements.LISTING_COLUMNS, or with
    ``json_now`` (SQLite only) JSON_LISTING_COLUMNS as of that time. Each page is read in
    its own short transaction (a slow reader of ``queue --json`` holds none open); array
    tasks carry the script and arguments of their array's first task."""
    with db.read() as tx:
        bounds = listing_sql.listing_bounds(tx, sel)
    if bounds is None:
        return
    shape = _ROW_SHAPE if json_now is None else _JSON_SHAPE
    heads: dict[int, tuple[str, str]] = {}
    first, last = bounds
    while first <= last:
        upto = min(last, first + LISTING_SPAN - 1)
        with db.read() as tx:
            if json_now is None:
                rows = listing_sql.listing_rows(tx, sel, first, upto)
            else:
                rows = listing_sql.json_listing_rows(tx, sel, first, upto, json_now)
            rows = _with_array_heads(tx, rows, heads, shape)
        if rows:
            yield rows
        first = upto + 1


def listed_jobs(db: Database, sel: Selection) -> list[Job]:
    """The selected jobs, by id (what ``queue --format`` and ``--sort`` order and print)."""
    return [sql.job_from_row(r) for rows in listing_pages(db, sel) for r in rows]


def finished_between(db: Database, start: float, end: float, sel: Selection) -> list[tuple]:
    """``history``: LISTING_COLUMNS rows of the jobs that ended in [start, end], by end time,
    through the end-time index (as fast on a million finished jobs as on none)."""
    if start > end:
        raise InvalidInput("the start of the window is after its end")
    with db.read() as tx:
        return _with_array_heads(tx, listing_sql.finished_between(tx, start, end, sel), {})


# where (script, argv, array_job_id) sit in each row shape (script and argv adjacent)
_ROW_SHAPE = tuple(JOB_COLUMNS.index(c) for c in ("script", "argv", "array_job_id"))
_JSON_SHAPE = tuple(listing_sql.JSON_LISTING_COLUMNS.index(c)
                    for c in ("script", "argv", "array_job_id"))  # fmt: skip


def _with_array_heads(tx, rows: list[tuple], heads: dict[int, tuple[str, str]],
                      shape: tuple[int, ...] = _ROW_SHAPE) -> list[tuple]:  # fmt: skip
    """Rows whose array tasks show the script and arguments their first task holds (a task
    without a script of its own; the first task has the array's)."""
    at_script, at_argv, at_array = shape
    wanted = {r[at_array] for r in rows if r[at_array] is not None and not r[at_script]}
    if not wanted:
        return rows
    missing = wanted - heads.keys()
    if missing:
        heads.update(listing_sql.array_heads(tx, missing))
    out = []
    for r in rows:
        head = heads.get(r[at_array]) if r[at_array] is not None and not r[at_script] else None
        out.append(r if head is None else (*r[:at_script], *head, *r[at_argv + 1 :]))
    return out


@dataclass(frozen=True)
class CancelResult:
    """What happened to one reference: a job, an array task, or every task of an array."""

    job: str
    outcome: str  # cancelled, signalled, already_finished; with a signal: sent, not_running
    tasks: int = 1  # how many of the reference's jobs it changed
    signal: int | None = None

    @property
    def is_error(self) -> bool:
        return self.outcome == "not_running"

    @property
    def message(self) -> str:
        tasks = f" ({self.tasks} tasks)" if self.tasks > 1 else ""
        if self.outcome == "sent":
            import signal

            assert self.signal is not None  # a "sent" result always carries the signal it sent
            return f"job {self.job} sent {signal.Signals(self.signal).name}{tasks}"
        return {
            "cancelled": f"job {self.job} cancelled{tasks}",
            "signalled": f"job {self.job} is being cancelled{tasks}",
            "already_finished": f"job {self.job} has already finished",
            "not_running": f"job {self.job} is not running: no signal sent",
        }[self.outcome]


def cancel(db: Database, texts: list[str], now: float | None = None, *,
           caller: Caller | None = None, spec: JobFilter | None = None,
           signal: int | None = None) -> list[CancelResult]:  # fmt: skip
    """Cancel jobs: pending ones at once, running ones by asking their node's daemon. With
    ``signal`` (scancel -s), running jobs get that signal instead and go on (SIGKILL is a
    cancel, as in Slurm). One result per reference; an array id counts its tasks in one.

    ``spec`` (names, users, states) narrows the jobs the ids name, or with no ids selects
    among live jobs (see cancel_targets). Every id is checked before anything changes, so
    one unknown id, or one job that is not the caller's, changes nothing.
    """
    import signal as signals

    now = time.time() if now is None else now
    if signal == signals.SIGKILL:
        signal = None
    targets: list[tuple[str, sql.Target]] = []
    if texts and spec is None:  # a whole array is acted on as one set
        targets = [(text, bulk_target(db, text, caller)[0]) for text in texts]
    else:
        for text, jobs in cancel_targets(db, texts, spec, caller,
                                         running_only=signal is not None):  # fmt: skip
            check_may_change(caller, text, jobs)
            targets.append((text, [j.id for j in jobs]))
    results = []
    with db.write() as tx:
        for text, target in targets:
            if signal is None:
                results.append(_cancel_one(tx, text, target, now))
            else:
                asked = [i for piece in target_pieces(target)
                         for i in sql.request_signal(tx, piece, signal)]  # fmt: skip
                outcome = "sent" if asked else "not_running"
                results.append(CancelResult(text, outcome, len(asked), signal))
        sql.notify(tx, "cancel")
    return results


def cancel_targets(db: Database, texts: list[str], spec: JobFilter | None,
                   caller: Caller | None, *, running_only: bool = False,
                   ) -> list[tuple[str, list[Job]]]:  # fmt: skip
    """(reference, its jobs) for cancel, as scancel chooses them.

    With ids: each one's jobs, narrowed by ``spec``'s names, users and states (a reference
    left with none drops out). With no ids: the live jobs ``spec`` selects, one reference
    per job or per array; a caller who is not an operator selects among their own jobs
    unless the filter names users. ``running_only`` (a signal) keeps to running jobs when
    no state is asked for.
    """
    if spec is not None and running_only and not spec.states and not texts:
        spec = replace(spec, states=("RUNNING",))
    if texts:
        targets = [(text, resolve(db, parse_job_ref(text), brief=True)) for text in texts]
        if spec is None:
            return targets
        narrowed = [(text, [j for j in jobs if _selected(j, spec)]) for text, jobs in targets]
        return [(text, jobs) for text, jobs in narrowed if jobs]
    if spec is None:
        raise InvalidInput("no job ids given: name jobs, or filter them")
    mine = caller is not None and not caller.is_operator and not spec.users
    jobs = find_jobs(db, replace(spec, refs=(), include_finished=False),
                     only_uid=caller.uid if mine and caller is not None else None)  # fmt: skip
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        key = job.id if job.array_job_id is None else job.array_job_id
        groups.setdefault(str(key), []).append(job)
    return list(groups.items())


def _selected(job: Job, spec: JobFilter) -> bool:
    """Whether a job passes a filter's names, users and states (find_jobs' rules)."""
    if spec.names and job.name not in spec.names:
        return False
    if spec.users and job.user_name not in spec.users and str(job.uid) not in spec.users:
        return False
    return not spec.states or job.state.value in spec.states


def _cancel_one(tx, text: str, target: sql.Target, now: float) -> CancelResult:
    pending: set[int] = set()
    flagged: set[int] = set()
    for piece in target_pieces(target):
        done = sql.cancel_pending(tx, piece, now, "cancelled by user")
        pending.update(done)
        if isinstance(piece, sql.WholeArray):  # its pending tasks are CANCELLED by now
            flagged.update(i for i, _node in sql.request_cancel(tx, piece))
            continue
        live = [i for i in piece if i not in pending]
        if live:
            flagged.update(i for i, _node in sql.request_cancel(tx, live))
    sql.add_events(tx, sorted(pending), now, "cancelled", "by user while pending")
    outcome = "signalled" if flagged else "cancelled" if pending else "already_finished"
    return CancelResult(text, outcome, len(pending) + len(flagged))


def target_pieces(target: sql.Target) -> list:
    """A whole array is one piece; an id list goes in chunks."""
    return [target] if isinstance(target, sql.WholeArray) else _chunks(list(target))


def _chunks(ids: list[int], size: int = 1_000_000) -> list[list[int]]:
    """Id lists are one bound parameter (any_of): a chunk only bounds its text's size."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]
