"""Starting, watching and signalling job processes, independently of the daemon's lifetime.

A job runs under a supervisor in its own session: a tiny ``/bin/sh`` wrapper for a job of
the daemon's own user, a process forked by the node's launcher (``launcher.py``) for a job
of another user. Either waits for one "go" line on a pipe before running anything, so the
daemon can record the pid in the database first: a daemon that dies between spawn and go
leaves a supervisor that reads EOF and exits without running the job. After the job ends,
the supervisor writes its exit status to a file, which a daemon restarted later reads to
finalise the job with its true status.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import struct
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

# Only this reaches the launcher's environment (it may be root); the job's own goes over the
# daemon's socket.
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
# the launcher's and its supervisors' /proc cmdline: [python, -I, -S, launcher.py, MARK, dir]
LAUNCHER_MARK = b"scns-launcher"
# a shell supervisor's: [/bin/sh, -c, SUPERVISOR, MARK, status file, ...]
_SHELL_MARK = b"scns-job"


@dataclass
class Spawned:
    """A supervisor that is started but has not been told to run the job yet: the daemon
    holds the write end of its "go" pipe."""

    pid: int
    start_ticks: int | None
    popen: subprocess.Popen | None  # a shell supervisor, our child; None: the launcher's
    go_fd: int = -1  # the launcher's kind: the go pipe's write end (the shell's: its stdin)

    def go(self) -> None:
        """Let the job run."""
        try:
            if self.popen is None:
                os.write(self.go_fd, b"go\n")
            else:
                self._stdin().write(b"go\n")
        except BrokenPipeError:  # its job side is gone: the supervisor records why
            pass
        finally:
            self.abort()

    def abort(self) -> None:
        """Close the pipe (without "go": the job side exits and the job never runs)."""
        if self.popen is not None:
            with contextlib.suppress(BrokenPipeError):
                self._stdin().close()
        elif self.go_fd >= 0:
            os.close(self.go_fd)
            self.go_fd = -1

    def reap(self) -> None:
        """Wait for an aborted shell supervisor (a forked one is the launcher's to reap)."""
        if self.popen is not None:
            with contextlib.suppress(Exception):
                self.popen.wait(timeout=5)

    def _stdin(self) -> IO[bytes]:
        pipe = self.popen.stdin if self.popen is not None else None
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


def spawn_shell(spec: LaunchSpec) -> Spawned:
    """Start a shell supervisor for a job of the daemon's own user, in a new session,
    pinned to the job's cores, held before "go"."""
    job_side = [spec.stdout_path, spec.stderr_path, spec.workdir,
                "append" if spec.append else "truncate"]  # fmt: skip
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


_HEADER = struct.Struct("!I")


class Launcher:
    """The daemon's handle on its node's launcher process (``scns/exec/launcher.py``).

    Started on first use and again if it died; the socket pair is its only door, and only
    this daemon holds the other end, so no one else can ask a (root) launcher for anything.
    """

    def __init__(self, status_dir: str) -> None:
        self.status_dir = status_dir
        self.popen: subprocess.Popen | None = None
        self.sock: socket.socket | None = None

    def spawn(self, spec: LaunchSpec) -> Spawned:
        """Start the job's supervisor, held before "go": forked here for a job of another
        user; for one of the daemon's own user, a shell is cheaper (starting ``/bin/sh``
        costs less than forking a Python process, ~0.7 ms per job here)."""
        switch = spec.uid is not None and spec.uid != os.geteuid()
        if not switch:
            return spawn_shell(spec)
        if os.geteuid() != 0:
            raise LaunchError(f"cannot run a job of uid {spec.uid}: this daemon is not root")
        request = {
            "status": spec.status_path, "script": spec.script_path, "argv": list(spec.argv),
            "workdir": spec.workdir, "env": dict(spec.env), "stdout": spec.stdout_path,
            "stderr": spec.stderr_path, "append": spec.append, "cpu_ids": list(spec.cpu_ids),
            "cgroup_procs": list(spec.cgroup_procs), "umask": spec.umask, "uid": spec.uid,
            "gid": spec.gid, "groups": list(spec.groups or (spec.gid,)),
        }  # fmt: skip
        data = json.dumps(request).encode()
        go_r, go_w = os.pipe()
        try:
            answer = self._ask(_HEADER.pack(len(data)) + data, go_r)
        except BaseException:
            os.close(go_w)
            raise
        finally:
            os.close(go_r)
        if "pid" not in answer:
            os.close(go_w)
            raise LaunchError(str(answer.get("error") or "the launcher refused the job"))
        pid = int(answer["pid"])
        return Spawned(pid, process_start_ticks(pid), None, go_w)

    def _ask(self, message: bytes, fd: int) -> dict:
        """Send one request; a launcher found gone before it took the request is started
        afresh once (never after: it may have forked a supervisor for it)."""
        for attempt in (0, 1):
            sock = self._connected()
            try:
                sent = sock.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                 struct.pack("i", fd))])  # fmt: skip
            except OSError as exc:
                self.close()
                if attempt:
                    raise LaunchError(f"the node's launcher failed: {exc}") from None
                continue
            try:
                if sent < len(message):  # a big environment may leave in several pieces
                    sock.sendall(message[sent:])
                return self._answer(sock)
            except (OSError, EOFError, ValueError) as exc:
                self.close()
                raise LaunchError(f"the node's launcher failed: {exc}") from None
        raise AssertionError("unreachable")

    @staticmethod
    def _answer(sock: socket.socket) -> dict:
        data = b""
        while len(data) < 4 or len(data) < 4 + _HEADER.unpack(data[:4])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("the launcher closed its end")
            data += chunk
        return json.loads(data[4:])

    def _connected(self) -> socket.socket:
        if self.sock is not None:
            return self.sock
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        program = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher.py")
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-I", "-S", program, LAUNCHER_MARK.decode(), self.status_dir,
                 str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", env=CLEAN_ENV,
                start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            ours.close()
            raise LaunchError(f"cannot start the node's launcher: {exc.strerror or exc}") from None
        finally:
            theirs.close()
        self.sock = ours
        return ours

    def close(self) -> None:
        """Let the launcher go (it exits on EOF); its supervisors run on."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.popen is not None:
            with contextlib.suppress(Exception):
                self.popen.wait(timeout=5)
            self.popen = None


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
    if text.startswith("failed\n"):  # the launcher's job side: the reason, whole
        return StartFailure(text[7:].split("\n", 1)[0][:4096] or "the job could not start")
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
    """Resident memory per process group, in KiB (one pass over /proc), without the
    group's leader: a job's process group is led by its supervisor, which is scns's, not
    the job's, and is not charged to it."""
    usage: dict[int, int] = {}
    for pid, fields in _proc_stats():
        group = int(fields[2])
        if pid == group:
            continue
        usage[group] = usage.get(group, 0) + int(fields[21]) * _PAGE_KB
    return usage


def _cmdline(pid: int) -> list[bytes] | None:
    """A process's argv, if it runs as us (ours do; a look-alike of another user does not)."""
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.geteuid():
            return None
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return None


def _supervised_status(pid: int, argv: list[bytes], status_dir: bytes) -> bytes | None:
    """The status file ``pid`` writes, if it is a job supervisor of ``status_dir``'s node:
    an old shell wrapper names it in its argv; a forked supervisor holds it open."""
    if len(argv) > 4 and argv[3] == _SHELL_MARK:
        return argv[4] if argv[4].startswith(status_dir + b"/") else None
    if len(argv) < 6 or argv[4] != LAUNCHER_MARK:
        return None
    status_dir = os.path.realpath(status_dir)  # what /proc's links name
    if os.path.realpath(argv[5]) != status_dir:
        return None
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}".encode())
        except OSError:
            continue
        if target.startswith(status_dir + b"/"):  # "ID.tmp" until the end is recorded
            return target[:-4] if target.endswith(b".tmp") else target
    return None


def find_wrappers(status_dir: str) -> dict[int, int]:
    """{job id: supervisor pid} for live supervisors writing their status under
    ``status_dir``."""
    prefix = os.fsencode(status_dir.rstrip("/"))
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = _cmdline(int(entry))
        if argv is None:
            continue
        path = _supervised_status(int(entry), argv, prefix)
        if path is None:
            continue
        name = os.path.basename(path)
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
    argv = _cmdline(pid)
    if argv is None:
        return False
    status = os.fsencode(status_path)
    found = _supervised_status(pid, argv, os.path.dirname(status))
    return found is not None and os.path.realpath(found) == os.path.realpath(status)


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
