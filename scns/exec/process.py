"""Starting, watching and signalling job processes, independently of the daemon's lifetime.

A job runs under a tiny ``/bin/sh`` wrapper in its own session. The wrapper waits for one
"go" line on a pipe before running anything, so the daemon can record the pid in the
database first: a daemon that dies between spawn and go leaves a wrapper that reads EOF
and exits without running the job. After the job ends, the wrapper writes its exit status
to a file, which a daemon restarted later reads to finalise the job with its true status.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from scns.domain.exit_status import ExitStatus, StartFailure  # re-exported: the wrapper's records

# The job side, already running as the job's user: "$1" stdout, "$2" stderr, "$3" working
# directory, "$4" "append" (sbatch --open-mode=append) or "truncate", then the script and
# its arguments. It opens the output files itself, as the
# user and in parallel with the daemon recording the start (creating files was most of the
# daemon's launch cost), waits for "go", enters the directory as the user (a directory the
# user cannot enter fails the job with the reason) and becomes the job. What stops it
# before the job runs is noted on fd 3, which it closes before the job gets control.
JOB_SIDE = r"""out=$1 err=$2 dir=$3 mode=$4; shift 4
fail() { printf '%s\n%s\n%s\n' "$1" "$2" "$3" >&3; exit 0; }
nofile() { why=$(command exec 2>&1 5>>"$1"); fail nofile "$1" "${why##*: }"; }
if [ "$mode" = append ]; then command exec >>"$out" || nofile "$out"
else command exec >"$out" || nofile "$out"; fi
if [ "$err" = "$out" ]; then exec 2>&1
elif [ "$mode" = append ]; then command exec 2>>"$err" || nofile "$err"
else command exec 2>"$err" || nofile "$err"; fi
IFS= read -r go || fail aborted
[ "$go" = go ] || fail aborted
if ! cd "$dir" 2>/dev/null; then
  if [ -d "$dir" ]; then fail nochdir "$dir" "permission denied"; fi
  fail nochdir "$dir" "no such directory"
fi
exec 3>&-
exec "$@" </dev/null
"""

# The supervisor: "$1" status file, "$2" script, "$3" the job cgroup's cgroup.procs files
# (colon-separated, or empty: process-group tracking), then the command that becomes the
# job, or "-" and the job side's arguments when no change of user is needed (the subshell
# then runs the job side itself: a fork, not another exec of the shell). The subshell joins
# the job's cgroup (writing "0" moves the writer) before anything of the job runs; the
# supervisor stays outside, so it outlives a kill of the whole cgroup and records the end.
# It runs as the daemon's user (root in system mode), so the job's user can neither signal,
# ptrace nor write it, and it records the job's end in a directory only the daemon can
# write. It opens the script (fd 4, for a job that cannot reach the state directory) and the
# start-failure note (fd 3) for the job side, then waits for that side to end. The trap keeps
# it alive through the SIGTERM sent to the whole process group, so it can still write the
# status; a caught signal is reset to default in the child at exec, so the job sees SIGTERM.
SUPERVISOR = (
    "unset IFS\njob_side() {\n"
    + JOB_SIDE
    + "}\n"
    + r"""status=$1 script=$2 cgroup=$3
shift 3
join() {
  IFS=:
  for f in $cgroup; do
    echo 0 >"$f" 2>/dev/null || {
      printf 'nocgroup\n%s\n%s\n' "$f" "cannot join the job's cgroup" >&3; exit 0; }
  done
  unset IFS
}
command exec 4<"$script" 3>"$status.why" || {
  printf 'nofile\n%s\n%s\n' "$script" "cannot open the job script" >"$status"; exit 0; }
trap : TERM INT HUP
if [ "$1" = - ]; then shift; (join; job_side "$@"); else (join; exec "$@"); fi
rc=$?
exec 3>&- 4<&-
if [ -s "$status.why" ]; then
  { IFS= read -r a; IFS= read -r b; IFS= read -r c; } <"$status.why"
  printf '%s\n%s\n%s\n' "$a" "$b" "$c" >"$status"
else
  echo "exit $rc" >"$status"
fi
exit $rc
"""
)

# Between the root supervisor and the job side when the job's user is another one: a
# clean interpreter (-I -S, started with an almost empty environment, so nothing the user
# sent can steer a root process: no LD_PRELOAD, no PATH) reads the job's environment from
# the daemon's root-only file, drops to the user (groups, gid, uid) and becomes the job side
# with that environment.
DROP_PRIVILEGES = r"""import os, sys
uid, gid = int(sys.argv[1]), int(sys.argv[2])
groups = [int(g) for g in sys.argv[3].split(",") if g]
fd = os.open(sys.argv[4], os.O_RDONLY | os.O_NOFOLLOW)
chunks = []
while True:
    chunk = os.read(fd, 1 << 20)
    if not chunk:
        break
    chunks.append(chunk)
os.close(fd)
os.unlink(sys.argv[4])
env = dict(e.split(b"=", 1) for e in b"".join(chunks).split(b"\0") if b"=" in e)
os.setgroups(groups)
os.setgid(gid)
os.setuid(uid)
if os.getuid() != uid or os.geteuid() != uid:
    sys.exit(126)
os.execve("/bin/sh", ["/bin/sh", "-c", sys.argv[5], "scns-job-user", *sys.argv[6:]], env)
"""

# Only this reaches a root supervisor's environment; the job's own goes through a file.
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


@dataclass
class Spawned:
    """A wrapper that is started and pinned but has not been told to run the job yet."""

    pid: int
    start_ticks: int | None
    popen: subprocess.Popen

    def go(self) -> None:
        """Let the wrapper run the job."""
        try:
            self._pipe().write(b"go\n")
            self._pipe().close()
        except BrokenPipeError:
            pass

    def abort(self) -> None:
        """Close the pipe without "go": the wrapper exits and the job never runs."""
        with contextlib.suppress(BrokenPipeError):
            self._pipe().close()

    def _pipe(self) -> IO[bytes]:
        pipe = self.popen.stdin
        if pipe is None:  # spawn always opens it (stdin=PIPE)
            raise LaunchError("the job's wrapper has no start pipe")
        return pipe


@dataclass(frozen=True)
class LaunchSpec:
    job_id: int
    script_path: str
    argv: Sequence[str]
    workdir: str
    env: Mapping[str, str]
    stdout_path: str
    stderr_path: str
    cpu_ids: Sequence[int]
    status_path: str
    uid: int | None = None
    gid: int | None = None
    groups: Sequence[int] = ()
    umask: int | None = None
    cgroup_procs: Sequence[str] = ()  # the job cgroup's cgroup.procs files to join
    append: bool = False  # sbatch --open-mode=append


class LaunchError(Exception):
    """The job could not be started; the message is the reason recorded on the job."""


def spawn(spec: LaunchSpec) -> Spawned:
    """Start the supervisor in a new session, pinned to the job's cores, held before "go"."""
    switch = spec.uid is not None and spec.uid != os.geteuid()
    if switch and os.geteuid() != 0:
        raise LaunchError(f"cannot run a job of uid {spec.uid}: this daemon is not root")
    job_side = [spec.stdout_path, spec.stderr_path, spec.workdir,
                "append" if spec.append else "truncate"]  # fmt: skip
    if switch:  # the job cannot reach the root-only state directory: it execs fd 4
        env_path = spec.status_path + ".env"
        _write_environment(env_path, spec.env)
        groups = ",".join(str(g) for g in (spec.groups or (spec.gid,)))
        command = [sys.executable, "-I", "-S", "-c", DROP_PRIVILEGES, str(spec.uid),
                   str(spec.gid), groups, env_path, JOB_SIDE, *job_side, "/dev/fd/4",
                   *spec.argv]  # fmt: skip
        env = CLEAN_ENV
    else:
        command = ["-", *job_side, spec.script_path, *spec.argv]
        env = dict(spec.env)
    try:
        popen = subprocess.Popen(
            ["/bin/sh", "-c", SUPERVISOR, "scns-job", spec.status_path, spec.script_path,
             ":".join(spec.cgroup_procs), *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env=env,
            start_new_session=True,
            close_fds=True,
            umask=-1 if spec.umask is None else spec.umask,
        )  # fmt: skip
    except FileNotFoundError as exc:
        raise LaunchError(f"cannot start: {exc.filename or '/bin/sh'}: no such file") from None
    except PermissionError as exc:
        raise LaunchError(f"cannot start: permission denied: {exc.filename or ''}") from None
    except OSError as exc:
        raise LaunchError(f"cannot start: {exc.strerror or exc}") from None
    try:
        if spec.cpu_ids:
            os.sched_setaffinity(popen.pid, spec.cpu_ids)
    except OSError as exc:
        if popen.stdin is not None:
            popen.stdin.close()
        raise LaunchError(f"cannot pin the job to cpus {list(spec.cpu_ids)}: {exc}") from None
    return Spawned(popen.pid, process_start_ticks(popen.pid), popen)


def _write_environment(path: str, env: Mapping[str, str]) -> None:
    """NUL-separated NAME=value pairs, root-only, never through a planted link."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        data = b"".join(
            k.encode(errors="surrogateescape") + b"=" + v.encode(errors="surrogateescape") + b"\0"
            for k, v in env.items()
            if "\0" not in k and "\0" not in v and "=" not in k and k
        )
        os.write(fd, data)
    finally:
        os.close(fd)


def status_time(path: str) -> float | None:
    """When the supervisor recorded the end (the status file's mtime): the job's true end,
    also for a daemon that reads it much later."""
    try:
        return os.stat(path, follow_symlinks=False).st_mtime
    except OSError:
        return None


def read_status(path: str) -> ExitStatus | StartFailure | str | None:
    """The wrapper's record: an ExitStatus, a StartFailure or "aborted" (the job never ran),
    or None (not written yet)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:  # a link or something else planted in place of a status: no status
        return None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a directory planted in its place
            return None
        text = os.read(fd, 8192).decode(errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    if not text.endswith("\n"):
        return None
    text = text.strip()
    if text == "aborted":
        return "aborted"
    if text.startswith("nofile\n"):  # "nofile", the path, the shell's reason: 3 lines
        _, path, why = [*text.split("\n"), "", ""][:3]
        return StartFailure(f"cannot open output file {path[:4096]}: {why[:200] or 'cannot open'}")
    if text.startswith("nocgroup\n"):
        _, path, why = [*text.split("\n"), "", ""][:3]
        return StartFailure(f"cannot contain the job: {why[:200]} ({path[:4096]})")
    if text.startswith("nochdir\n"):
        _, path, why = [*text.split("\n"), "", ""][:3]
        return StartFailure(
            f"cannot enter working directory {path[:4096]}: {why[:200] or 'cannot enter'}"
        )
    if text.startswith("exit "):
        try:
            return ExitStatus.from_shell_rc(int(text[5:]))
        except ValueError:
            return None
    return None


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: with the pid, it names a process
    uniquely, so a reused pid is never mistaken for the job."""
    try:  # os.open, not open(): no buffered file object for one small read (a launch each)
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(fd, 4096)
        finally:
            os.close(fd)
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[19])


def is_alive(pid: int, start_ticks: int | None) -> bool:
    """True if that very process still exists and has not exited (zombies count as ended)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return False
    return start_ticks is None or int(fields[19]) == start_ticks


def _proc_stats():
    """(pid, fields after the command name) for every process we can see."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        yield int(entry), data[data.rindex(b")") + 2 :].split()


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_kb_by_group() -> dict[int, int]:
    """Resident memory per process group, in KiB (one pass over /proc)."""
    usage: dict[int, int] = {}
    for _pid, fields in _proc_stats():
        group = int(fields[2])
        usage[group] = usage.get(group, 0) + int(fields[21]) * _PAGE_KB
    return usage


def find_wrappers(status_dir: str) -> dict[int, int]:
    """{job id: wrapper pid} for live wrappers writing their status under ``status_dir``."""
    prefix = status_dir.rstrip("/").encode() + b"/"
    found = {}
    me = os.geteuid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != me:  # ours run as us; a look-alike does not
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 4 and argv[3] == b"scns-job" and argv[4].startswith(prefix):
            name = argv[4][len(prefix) :]
            if name.isdigit() and is_alive(int(entry), None):
                found[int(name)] = int(entry)
    return found


def signal_group(pgid: int, sig: int) -> bool:
    """Signal a job's whole process group; False when it is already gone."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


def open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError as exc:
        if exc.errno in (errno.ESRCH, errno.ENOSYS):
            return None
        raise


def is_job_supervisor(pid: int, start_ticks: int | None, status_path: str) -> bool:
    """Whether ``pid`` is, verifiably, the supervisor scns started for this job: the same
    process (start time), running as us, writing this job's status. A pid written into a
    row by anyone else, or reused since, is never signalled."""
    if start_ticks is None or not is_alive(pid, start_ticks):
        return False
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.geteuid():
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return len(argv) > 4 and argv[3] == b"scns-job" and argv[4] == os.fsencode(status_path)


def is_users_file(path: str, uid: int) -> bool:
    """A regular file (not a link) owned by ``uid``."""
    import stat

    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == uid


def remove_users_file(path: str, uid: int, gid: int) -> bool:
    """Delete a job's output file as its user: only a regular file owned by that user, and
    only where that user may delete it (a root cleanup never deletes what a user named)."""
    if os.geteuid() != 0 or uid == os.geteuid():
        if not is_users_file(path, uid):
            return False
        try:
            os.unlink(path)
            return True
        except OSError:
            return False
    pid = os.fork()
    if pid == 0:  # the child becomes the user, checks again and deletes
        code = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            if is_users_file(path, uid):
                os.unlink(path)
                code = 0
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def children_of(pid: int) -> list[int]:
    """The direct children of a process (its threads' children lists, Linux 3.5+)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(p) for p in handle.read().split()]
        except OSError:
            continue
    return found


def group_members(pgid: int) -> list[int]:
    """Every process in a process group (the fallback without cgroups)."""
    return [pid for pid, fields in _proc_stats() if int(fields[2]) == pgid]
