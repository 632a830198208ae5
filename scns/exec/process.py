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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# $1 status file, $2 stdout file, $3 stderr file, $4 script, $5... script arguments.
# The wrapper opens the job's output files itself, as the job's user and in parallel with
# the daemon recording the start (creating files was most of the daemon's launch cost);
# one it cannot open is reported in the status file and the job never runs. The trap keeps
# the wrapper alive through the SIGTERM sent to the whole process group, so it can still
# write the status; a caught signal is reset to default in the child at exec, so the job
# sees SIGTERM.
WRAPPER = r"""status=$1 out=$2 err=$3; shift 3
nofile() {
  why=$(command exec 2>&1 3>>"$1"); printf 'nofile\n%s\n%s\n' "$1" "${why##*: }" >"$status"
  exit 0
}
command exec >"$out" || nofile "$out"
if [ "$err" = "$out" ]; then exec 2>&1; else command exec 2>"$err" || nofile "$err"; fi
IFS= read -r go || { echo aborted > "$status"; exit 0; }
[ "$go" = go ] || { echo aborted > "$status"; exit 0; }
trap : TERM INT HUP
"$@" </dev/null
rc=$?
echo "exit $rc" > "$status"
exit $rc
"""


class StartFailure(str):
    """Why the wrapper could not start the job (an output file it could not open)."""


@dataclass(frozen=True)
class ExitStatus:
    """How a job ended: an exit code, or the signal that killed it."""

    exit_code: int | None
    signal: int | None

    @classmethod
    def from_shell_rc(cls, rc: int) -> ExitStatus:
        """Shells report death by signal N as 128+N; read it back that way."""
        if 128 < rc < 128 + 65:
            return cls(None, rc - 128)
        return cls(rc, None)

    @classmethod
    def from_wait_status(cls, status: int) -> ExitStatus:
        if os.WIFSIGNALED(status):
            return cls(None, os.WTERMSIG(status))
        return cls.from_shell_rc(os.WEXITSTATUS(status))


@dataclass
class Spawned:
    """A wrapper that is started and pinned but has not been told to run the job yet."""

    pid: int
    start_ticks: int | None
    popen: subprocess.Popen

    def go(self) -> None:
        """Let the wrapper run the job."""
        try:
            self.popen.stdin.write(b"go\n")
            self.popen.stdin.close()
        except BrokenPipeError:
            pass

    def abort(self) -> None:
        """Close the pipe without "go": the wrapper exits and the job never runs."""
        with contextlib.suppress(BrokenPipeError):
            self.popen.stdin.close()


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


class LaunchError(Exception):
    """The job could not be started; the message is the reason recorded on the job."""


def spawn(spec: LaunchSpec) -> Spawned:
    """Start the wrapper in a new session, pinned to the job's cores, held before "go"."""
    try:
        popen = subprocess.Popen(
            [
                "/bin/sh",
                "-c",
                WRAPPER,
                "scns-job",
                spec.status_path,
                spec.stdout_path,
                spec.stderr_path,
                spec.script_path,
                *spec.argv,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=spec.workdir,
            env=dict(spec.env),
            start_new_session=True,
            close_fds=True,
            **_identity(spec),
        )
    except FileNotFoundError as exc:
        raise LaunchError(f"cannot start: {exc.filename or spec.workdir}: no such file") from None
    except PermissionError as exc:
        raise LaunchError(f"cannot start: permission denied: {exc.filename or ''}") from None
    except OSError as exc:
        raise LaunchError(f"cannot start: {exc.strerror or exc}") from None
    try:
        if spec.cpu_ids:
            os.sched_setaffinity(popen.pid, spec.cpu_ids)
    except OSError as exc:
        popen.stdin.close()
        raise LaunchError(f"cannot pin the job to cpus {list(spec.cpu_ids)}: {exc}") from None
    return Spawned(popen.pid, process_start_ticks(popen.pid), popen)


def _identity(spec: LaunchSpec) -> dict:
    """Run as the submitting user when the daemon is root (never the other way round)."""
    if os.geteuid() == 0 and spec.uid not in (None, 0):
        return {"user": spec.uid, "group": spec.gid, "extra_groups": []}
    return {}


def read_status(path: str) -> ExitStatus | StartFailure | str | None:
    """The wrapper's record: an ExitStatus, a StartFailure or "aborted" (the job never ran),
    or None (not written yet)."""
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    if not text.endswith("\n"):
        return None
    text = text.strip()
    if text == "aborted":
        return "aborted"
    if text.startswith("nofile\n"):  # "nofile", the path, the shell's reason: 3 lines
        _, path, why = [*text.split("\n"), "", ""][:3]
        return StartFailure(f"cannot open output file {path}: {why or 'cannot open'}")
    if text.startswith("exit "):
        try:
            return ExitStatus.from_shell_rc(int(text[5:]))
        except ValueError:
            return None
    return None


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: with the pid, it names a process
    uniquely, so a reused pid is never mistaken for the job."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
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
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
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
