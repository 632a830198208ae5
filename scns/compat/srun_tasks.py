"""Running one srun step's tasks: forked here, their signals passed on, waited for.

srun.py reads the command line into a ``Step``; this is what runs it inside the job's own
allocation: each task's environment and stdio (``--output`` patterns, files shared between
tasks), the fork and exec, signals forwarded to the tasks (but for those scns's daemon has
already sent them), and the step's exit status with Slurm's ``srun: error:`` lines. The
step's number comes from a counter file per job and session, as nothing asks the scheduler.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from scns.compat import slurm_format as fmt

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: srun imports this module to run the step it parsed
    from scns.compat.srun import Step

# Signals srun passes on to its tasks (submitit relies on USR2 and TERM reaching python).
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP,
             signal.SIGQUIT)  # fmt: skip
NO_VAL = 4294967294  # %a outside an array


def run_step(step: Step, job_id: str, task_env: dict[str, str], env) -> int:
    """Fork every task, pass signals on, wait for all; the highest exit status."""
    node = env.get("SLURMD_NODENAME") or env.get("SLURM_JOB_NODELIST") or os.uname().nodename
    step_id = next_step_id(job_id, env)
    task_env.update({
        "SLURM_JOB_ID": job_id, "SLURM_JOBID": job_id, "SLURM_STEP_ID": str(step_id),
        "SLURM_STEPID": str(step_id), "SLURM_NTASKS": str(step.ntasks),
        "SLURM_NPROCS": str(step.ntasks), "SLURM_STEP_NUM_TASKS": str(step.ntasks),
        "SLURM_STEP_NUM_NODES": "1", "SLURM_STEP_NODELIST": node, "SLURM_NODEID": "0",
        "SLURM_STEP_TASKS_PER_NODE": str(step.ntasks),
    })  # fmt: skip
    if step.cpus_per_task is not None:
        task_env["SLURM_CPUS_PER_TASK"] = str(step.cpus_per_task)
    workdir = os.path.abspath(step.chdir) if step.chdir else None
    fields = {"j": job_id, "s": step_id, "n": 0, "J": f"{job_id}.{step_id}", "N": node,
              "A": env.get("SLURM_ARRAY_JOB_ID") or job_id,
              "a": env.get("SLURM_ARRAY_TASK_ID") or NO_VAL,
              "u": env.get("SLURM_JOB_USER") or env.get("USER", ""),
              "x": env.get("SLURM_JOB_NAME", "")}  # fmt: skip
    program = _find_program(step.command[0], env.get("PATH", os.defpath))
    # Signals are taken with sigwaitinfo, which tells who sent each one; the mask is never
    # restored: srun only exits after this, and a late signal must not kill it unreported.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # an inherited SIG_IGN would auto-reap
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, *FORWARDED})
    opened: dict[tuple[str, int], int] = {}
    try:
        plans = [_stdio(step, task, fields, workdir, opened) for task in range(step.ntasks)]
    except OSError as exc:
        sys.stderr.write(f"srun: error: Could not open file {exc.filename}: {exc.strerror}\n")
        return 1
    running = {}
    for task, fds in enumerate(plans):
        env_of_task = {**task_env, "SLURM_PROCID": str(task), "SLURM_LOCALID": str(task)}
        running[_spawn(program, step.command, env_of_task, fds, workdir, mask)] = task
    for fd in opened.values():
        os.close(fd)
    statuses = _wait(running, kill_on_bad_exit=step.kill_on_bad_exit)
    return _exit_status(statuses, node, quiet=step.quiet)


_NUMERIC_LETTERS = frozenset("jsntAa")


def expand_pattern(pattern: str, fields: dict[str, object], task: int) -> str:
    """srun's file name pattern for one task: %j %J %s %t %n %N %u %x %A %a and %%; a width
    zero-pads numbers (``%3t``), unknown letters stay as written."""
    from scns.domain.patterns import MAX_PAD_WIDTH, placeholders

    values = {**fields, "t": task, "%": "%"}
    out, done = [], 0
    for start, end, width, letter in placeholders(pattern):
        out.append(pattern[done:start])
        done = end
        if letter not in values:
            out.append(pattern[start:end])
        elif letter in _NUMERIC_LETTERS:
            out.append(str(values[letter]).zfill(min(int(width[:3] or 0), MAX_PAD_WIDTH)))
        else:
            out.append(str(values[letter]))
    return "".join(out) + pattern[done:]


def _stdio(step: Step, task: int, fields: dict[str, object], workdir: str | None,
           opened: dict) -> tuple[int | None, int | None, int | None]:  # fmt: skip
    """The (stdin, stdout, stderr) fds of one task, None to inherit srun's. A file named by
    several tasks is opened once and shared; stderr follows --output without --error."""

    def target(pattern: str | None, flags: int) -> int | None:
        if pattern is None:
            return None
        if pattern.isdigit():  # only that task's stream is kept
            return None if int(pattern) == task else _open("/dev/null", flags, opened)
        if pattern.lower() == "none":
            return _open("/dev/null", flags, opened)
        path = os.path.join(workdir or os.getcwd(), expand_pattern(pattern, fields, task))
        return _open(path, flags, opened)

    write = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if step.append else os.O_TRUNC)
    out = target(step.output, write)
    err = target(step.error, write) if step.error is not None else out
    return target(step.input, os.O_RDONLY), out, err


def _open(path: str, flags: int, opened: dict) -> int:
    key = (path, flags)
    if key not in opened:
        opened[key] = os.open(path, flags | os.O_CLOEXEC, 0o666)
    return opened[key]


def _find_program(name: str, search_path: str) -> str:
    if "/" in name:
        return name
    for directory in search_path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return name  # execve fails with "No such file or directory", reported by the task


def _spawn(program: str, argv: list[str], env: dict[str, str],
           fds: tuple[int | None, ...], workdir: str | None, mask) -> int:  # fmt: skip
    """Fork one task; in the child: srun's original signal mask and default SIGPIPE, the
    task's stdio, its directory, then exec. A failed exec is the task's error (exit errno)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; tasks must not
            signal.signal(sig, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            if fd is None:
                continue
            if fd == target:
                os.set_inheritable(fd, True)
            else:
                os.dup2(fd, target)
        if workdir:
            os.chdir(workdir)
        env["SLURM_TASK_PID"] = str(os.getpid())
        os.execve(program, argv, env)
    except OSError as exc:
        where = f"chdir({workdir})" if exc.filename == workdir and workdir else "execve()"
        os.write(2, f"srun: error: {where}: {argv[0]}: {exc.strerror}\n".encode())
        os._exit(exc.errno or 1)
    finally:
        os._exit(1)


def _wait(running: dict[int, int], *, kill_on_bad_exit: bool) -> dict[int, int]:
    """Wait statuses by task, passing signals on (see _is_from_scns for the exception)."""
    statuses: dict[int, int] = {}
    session = os.getsid(0)
    watched = {signal.SIGCHLD, *FORWARDED}
    while running:
        info = signal.sigtimedwait(watched, 5.0)  # the timeout only re-checks the children
        if info is not None and info.si_signo != signal.SIGCHLD:
            if not _is_from_scns(info.si_pid, session):
                _signal_all(running, info.si_signo)
            continue
        for pid, status in _reaped():
            task = running.pop(pid, None)
            if task is None:
                continue
            statuses[task] = status
            if kill_on_bad_exit and status != 0:
                _signal_all(running, signal.SIGKILL)
    return statuses


def _is_from_scns(pid: int, session: int) -> bool:
    """Whether scns's daemon sent the signal (scancel --signal, a cancel, sbatch --signal):
    it signals every process of the job itself, so passing it on would deliver it twice.
    The daemon runs outside the job's session and its command line names scns; a signal
    from the job (its batch shell, ``kill`` in the script), from a terminal or from anyone
    else is passed on, as Slurm's srun does."""
    if pid <= 0:
        return False
    try:
        if os.getsid(pid) == session:
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"scns" in handle.read()
    except OSError:  # already gone: a short-lived kill(1)
        return False


def _signal_all(running: dict[int, int], sig: int) -> None:
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _reaped() -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        found.append((pid, status))


def _exit_status(statuses: dict[int, int], node: str, *, quiet: bool) -> int:
    """The highest task status as a shell reports it, with Slurm's ``srun: error: NODE:
    task N: Exited with exit code C`` (or the signal's name) for each failure."""
    worst = 0
    failures: dict[str, list[int]] = {}
    for task, status in sorted(statuses.items()):
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            code, text = 128 + sig, signal.strsignal(sig) or f"Signal {sig}"
        else:
            code = os.WEXITSTATUS(status)
            text = f"Exited with exit code {code}"
        if code:
            failures.setdefault(text, []).append(task)
        worst = max(worst, code)
    if not quiet:
        for text, tasks in failures.items():
            many = len(tasks) > 1
            label = f"tasks {fmt.array_task_text(tasks, None)}" if many else f"task {tasks[0]}"
            sys.stderr.write(f"srun: error: {node}: {label}: {text}\n")
    return worst


def next_step_id(job_id: str, env) -> int:
    """0, 1, 2, ... for the sruns of one run of a job: a counter file per job and session
    (a requeued job has a new session) in a private directory under TMPDIR; 0 when that
    directory cannot be trusted."""
    import fcntl
    import stat

    uid = os.geteuid()
    directory = os.path.join(env.get("TMPDIR") or "/tmp", f"scns-steps-{uid}")
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
        info = os.lstat(directory)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
            return 0
        path = os.path.join(directory, f"{job_id}-{os.getsid(0)}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = os.read(fd, 32).strip()
            step = int(text) if text.isdigit() else 0
            os.pwrite(fd, str(step + 1).encode().ljust(len(text)), 0)
        finally:
            os.close(fd)
        if step == 0:
            _prune(directory)
        return step
    except OSError:
        return 0


def _prune(directory: str) -> None:
    """Forget the counters of sessions that are gone (jobs that have ended)."""
    for name in os.listdir(directory):
        session = name.rpartition("-")[2]
        if not session.isdigit():
            continue
        try:
            os.kill(int(session), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))
        except PermissionError:  # alive, someone else's (a system-mode supervisor)
            pass
