"""Writing a validated submission: ids, output paths and rows, in one transaction."""

from __future__ import annotations

import os
import pwd

from scns.db import statements as sql
from scns.db.engine import Database, Tx
from scns.domain.job import JobRequest
from scns.domain.record import Record
from scns.errors import InvalidInput, PermissionDenied
from scns.service.submission import SubmitContext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from scns.domain.rights import Caller
    from scns.service.limits import SubmitLimits


class Submitted(Record):
    """What a submission produced: the (first) job id, the task count, and warnings."""

    __slots__ = ("job_id", "tasks", "warnings")
    job_id: int
    tasks: int
    warnings: tuple[str, ...]


class Submitter(Record):
    """The identity a job runs as."""

    __slots__ = ("user_name", "uid", "gid")
    user_name: str
    uid: int
    gid: int

    @classmethod
    def current(cls) -> Submitter:
        uid = os.getuid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        return cls(name, uid, os.getgid())


def local_cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def local_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)


def store(db: Database, request: JobRequest, ctx: SubmitContext, who: Submitter, *,
          limits: SubmitLimits | None = None, caller: Caller | None = None,
          check_paths: bool = True) -> Submitted:  # fmt: skip
    """Insert the job (or every array task) and return its id.

    ``caller`` is the identity the kernel gave a system-mode request (None in personal mode,
    where the one user is its own operator); ``check_paths`` is off when the request came
    through the socket: the root daemon does not look at users' directories for them (the
    client did, as the user; the job opens its files as the user).
    """
    tasks = request.array_task_ids or (None,)
    if caller is not None:
        _check_rights(caller, request)
    time_limit_s = request.time_limit_s
    if limits is not None:
        from scns.service.limits import apply_max_time, check_array

        check_array(request.array_task_ids, limits)
        time_limit_s = apply_max_time(time_limit_s, limits)
    with db.write() as tx:
        if limits is not None and limits.max_jobs_per_user is not None:
            from scns.service.limits import check_user_jobs

            held = sql.count_live_jobs(tx, who.uid, lock=True)
            check_user_jobs(held, len(tasks), who.user_name, limits)
        largest = _check_fits(tx, request)
        _check_dependency(tx, request)
        ids = sql.reserve_job_ids(tx, len(tasks))
        array_id = ids[0] if request.array_task_ids else None
        env = dict(ctx.env)
        if request.export is not None:
            from scns.domain.export import apply_export

            env = apply_export(env, request.export)
        env.setdefault("SLURM_SUBMIT_DIR", ctx.cwd)
        env.setdefault("SLURM_SUBMIT_HOST", os.uname().nodename)
        shared = _shared_columns(request, ctx, who, time_limit_s)
        if request.exclusive:  # sbatch --exclusive: the whole (largest) node is the job's
            shared["cpus"] = max(request.cpus, largest)
        paths = _path_maker(request, who.user_name, array_id, ctx.env)
        checked_dirs: set[str] = set()
        placed = []
        for job_id, task in zip(ids, tasks, strict=True):
            out, err = paths(job_id, task)
            if check_paths:
                for path in {out, err}:
                    _check_output_dir(path, checked_dirs)
            placed.append((job_id, out, err, task))
        first = dict(shared, id=ids[0], stdout_path=placed[0][1], stderr_path=placed[0][2],
                     script=request.script, argv=sql.dumps(list(request.argv)),
                     environment=sql.dumps(env))  # fmt: skip
        if array_id is not None:  # its tasks share the first task's script and environment
            first.update(array_job_id=array_id, array_task_id=placed[0][3])
        sql.insert_jobs(tx, [first])
        if array_id is not None and len(placed) > 1:  # an array's tasks: each has its index
            sql.insert_array_tasks(tx, shared, array_id, placed[1:])  # type: ignore[arg-type]
        sql.notify(tx)
    warnings = tuple(
        f"option --{name} is not implemented by scns and was ignored"
        for name in request.ignored_options
    )
    return Submitted(ids[0], len(ids), warnings)


def _shared_columns(request: JobRequest, ctx: SubmitContext, who: Submitter,
                    time_limit_s: int | None) -> dict:  # fmt: skip
    return {
        "name": request.name,
        "user_name": who.user_name,
        "uid": who.uid,
        "gid": who.gid,
        "state": "PENDING",
        "reason": "JobHeldUser" if request.held else None,
        "script": "",
        "argv": "[]",
        "environment": "{}",
        "workdir": request.workdir,
        "ntasks": request.ntasks,
        "cpus_per_task": request.cpus_per_task,
        "cpus": request.cpus,
        "mem_mb": request.mem_mb,
        "time_limit_s": time_limit_s,  # the request's, under the site's max_time
        "priority": request.priority,
        "nice": request.nice,
        "held": int(request.held),
        "begin_time": request.begin_time,
        "dependency": request.dependency,
        "kill_on_invalid_dep": int(request.kill_on_invalid_dep),
        "requeue": int(request.requeue),
        "array_job_id": None,
        "array_task_id": None,
        "array_max_running": request.array_max_running,
        "submit_time": ctx.now,
        "umask": ctx.umask,
        "open_mode": request.open_mode,
        "signal_spec": request.signal_spec,
        "comment": request.comment,
    }


def _check_rights(caller: Caller, request: JobRequest) -> None:
    from scns.domain.rights import priority_refusal

    why = priority_refusal(caller, request.priority or None, request.nice or None)
    if why:
        raise PermissionDenied(why)


# Stand-ins for %j and %a while an array's patterns are expanded once: NUL never occurs in
# a path (the kernel refuses it), so a stand-in can neither be in the pattern nor be formed
# by the digits around it (digit marks could: %A next to a digit mark spelled the other one).
_JOB_MARK, _TASK_MARK = "\0j\0", "\0a\0"


def _path_maker(request: JobRequest, user: str, array_id, env):
    """(job id, task) -> (stdout, stderr) paths. An array's patterns are expanded once, with
    stand-ins for %j and %a replaced per task (a 100,000-task array pays one expansion);
    padded placeholders (%4a) or a NUL already in the text take the exact path."""
    from scns.domain.patterns import placeholders

    patterns = [request.stdout_pattern, request.stderr_pattern or ""]
    simple = array_id is not None and all(
        "\\" not in p and "\0" not in p
        and not any(width and letter in "ja" for _s, _e, width, letter in placeholders(p))
        for p in patterns
    )  # fmt: skip
    if not simple:
        return lambda job_id, task: _paths(request, job_id, user, array_id, task, env)
    out_t, err_t = _paths(request, _JOB_MARK, user, array_id, _TASK_MARK, env)

    def fill(template: str, job_id: int, task) -> str:
        return template.replace(_JOB_MARK, str(job_id)).replace(_TASK_MARK, str(task))

    return lambda job_id, task: (fill(out_t, job_id, task), fill(err_t, job_id, task))


def _paths(request: JobRequest, job_id: int | str, user: str, array_id, task,
           env) -> tuple[str, str]:  # fmt: skip
    from scns.domain.patterns import expand_path_pattern
    from scns.service.submission import expand_home

    def expand(pattern: str) -> str:
        path = expand_path_pattern(
            pattern,
            job_id=job_id,
            name=request.name,
            user=user,
            array_job_id=array_id,
            array_task_id=task,
        )
        return os.path.normpath(os.path.join(request.workdir, expand_home(path, env)))

    out = expand(request.stdout_pattern)
    err = expand(request.stderr_pattern) if request.stderr_pattern else out
    return out, err


def _check_output_dir(path: str, checked: set[str]) -> None:
    directory = os.path.dirname(path) or "/"
    if directory in checked:
        return
    if not os.path.isdir(directory):
        raise InvalidInput(f"output directory {directory} does not exist (for {path});"
                           f" create it first: mkdir -p {directory}")  # fmt: skip
    if os.path.isdir(path):
        raise InvalidInput(f"output path {path} is a directory")
    checked.add(directory)


def _check_fits(tx: Tx, request: JobRequest) -> int:
    """Refuse at submit what no node could ever run; returns the largest node's CPUs."""
    largest = sql.max_node_cpus(tx) or local_cpu_count()
    if request.cpus > largest:
        raise InvalidInput(
            f"requested {request.cpus} CPUs but the largest node has {largest}"
            " (Requested node configuration is not available)"
        )
    if request.mem_mb:
        memory = sql.max_node_memory_mb(tx) or local_memory_mb()
        if request.mem_mb > memory:
            raise InvalidInput(
                f"requested {request.mem_mb} MB of memory but the largest node has {memory} MB"
                " (Requested node configuration is not available)"
            )
    return largest


def _check_dependency(tx: Tx, request: JobRequest) -> None:
    if not request.dependency:
        return
    from scns.domain.dependency import parse_dependency

    dep = parse_dependency(request.dependency)
    wanted = {ref.job_id for cond in dep.conditions for ref in cond.job_refs}
    missing = wanted - sql.known_job_ids(tx, wanted) if wanted else set()
    if missing:
        raise InvalidInput(f"dependency on unknown job id {min(missing)} (Job dependency problem)")
