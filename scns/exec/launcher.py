"""The node's launcher: a small long-lived process that forks each job's supervisor.

Run by the daemon as ``python -I -S launcher.py scns-launcher STATUS_DIR FD`` (standard
library only, a clean environment, nothing the user sent can steer it: it may be root). It
reads launch requests from its end of a socket pair only the daemon holds and answers each
with the pid of a freshly forked supervisor. Forking a small process that is already running
replaces the two ``/bin/sh`` starts per job of the shell wrapper (and, for a job of another
user, a whole Python start to drop privileges): a job now costs one fork here, one fork in
its supervisor and the exec of its own script, as it does under ``xargs``.

A supervisor owes the launcher nothing once forked: it is its own session, outlives the
launcher and the daemon, and records the job's end in its status file, which a daemon reads
then or after a restart. The launcher exits when the daemon's end of the socket closes; the
kernel reaps the supervisors that end before it (SIGCHLD ignored), init those that end after.

The supervisor, as the daemon's user (root in system mode), holds its status record open
from its start (so a restarted daemon can tell which job it supervises from /proc) and the job's
"go" pipe's read end, which the daemon sent with the request and keeps the write end of. It
forks the job side, which joins the job's cgroups, drops to the job's user, opens the output
files as that user, waits for "go" (EOF: the daemon died or lost the start, the job never
runs), enters the working directory and execs the script. What stops the job side before
the script runs is reported on a close-on-exec pipe and becomes the status record.
"""

import contextlib
import errno
import gc
import json
import os
import signal
import socket
import struct
import sys

_HEADER = struct.Struct("!I")
# signals the job gets back at their defaults whatever the supervisor and Python set
_RESET = ("SIGTERM", "SIGINT", "SIGHUP", "SIGPIPE", "SIGXFSZ", "SIGCHLD", "SIGQUIT", "SIGUSR1",
          "SIGUSR2")  # fmt: skip


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[3]))
    # no collector runs here or in the forks: its passes would touch (and so copy) every
    # object page a fork shares with the launcher
    gc.disable()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # ended supervisors are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            request, fds = _receive(sock)
        except OSError:
            return 0
        if request is None:
            return 0  # the daemon closed its end: it stopped or died
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            _reply(sock, {"error": f"cannot fork the job's supervisor: {exc.strerror}"})
            continue
        if pid == 0:
            code = 1
            try:
                sock.close()
                _supervise(request, fds[0] if fds else -1)
            except BaseException:  # a supervisor never returns into the launcher's loop
                code = 1
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        _reply(sock, {"pid": pid})


def _receive(sock: socket.socket):
    """One request: a length-prefixed JSON object, the go pipe's read end alongside it."""
    data, ancdata, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(4 * 4))
    if not data:
        return None, []
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += list(struct.unpack(f"{len(payload) // 4}i", payload[: len(payload) // 4 * 4]))
    while len(data) < 4:  # a stream may cut even the length in two
        more = sock.recv(4 - len(data))
        if not more:
            return None, fds
        data += more
    (size,) = _HEADER.unpack(data[:4])
    chunks = [data[4:]]
    have = len(data) - 4
    while have < size:
        more = sock.recv(min(size - have, 1 << 20))
        if not more:
            return None, fds
        chunks.append(more)
        have += len(more)
    return json.loads(b"".join(chunks)), fds


def _reply(sock: socket.socket, answer: dict) -> None:
    data = json.dumps(answer).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def _note(fd: int, *lines: str) -> None:
    os.write(fd, "".join(line.replace("\n", " ") + "\n" for line in lines).encode(
        errors="surrogateescape"))  # fmt: skip


def _supervise(req: dict, go_fd: int) -> None:
    """The job's supervisor: fork the job side, wait for it, record how it ended."""
    os.setsid()  # its own session and process group: the job's, signalled as one
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):  # outlive the group's SIGTERM to record
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    if req.get("umask") is not None:
        os.umask(req["umask"])
    # written under a temporary name held open from the start (which is how /proc tells a
    # restarted daemon whose supervisor this is) and renamed when complete: a record that
    # exists is whole
    status_path = req["status"]
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    status = os.open(status_path + ".tmp", flags, 0o600)
    try:
        script = os.open(req["script"], os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        _note(status, "nofile", req["script"], "cannot open the job script")
        os.rename(status_path + ".tmp", status_path)
        return
    note_r, note_w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 127
        try:
            os.close(status)
            os.close(note_r)
            code = _job_side(req, go_fd, script, note_w)
        except BaseException as exc:  # the job side never returns into the supervisor
            with contextlib.suppress(BaseException):
                _note(note_w, "failed", f"cannot start the job: {exc}")
            code = 0
        finally:
            os._exit(code)
    os.close(note_w)
    if go_fd >= 0:
        os.close(go_fd)
    os.close(script)
    try:
        _pid, wait_status = os.waitpid(child, 0)
    except ChildProcessError:
        wait_status = 127 << 8
    rc = os.waitstatus_to_exitcode(wait_status)
    if rc < 0:
        rc = 128 - rc  # as a shell reports a signal's end: 128 + its number
    note = b""
    while True:
        chunk = os.read(note_r, 65536)
        if not chunk:
            break
        note += chunk
    os.write(status, note if note.endswith(b"\n") else f"exit {rc}\n".encode())
    os.rename(status_path + ".tmp", status_path)


def _job_side(req: dict, go_fd: int, script: int, note: int) -> int:
    """Becomes the job; returns only an exit code when it cannot (noted on ``note``)."""
    for path in req["cgroup_procs"]:  # "0" moves the writer: in before anything of it runs
        try:
            with open(path, "w") as handle:
                handle.write("0")
        except OSError:
            _note(note, "nocgroup", path, "cannot join the job's cgroup")
            return 0
    if req["cpu_ids"]:
        try:
            os.sched_setaffinity(0, req["cpu_ids"])
        except OSError as exc:
            _note(note, "failed", f"cannot pin the job to cpus {req['cpu_ids']}: {exc.strerror}")
            return 0
    uid = req["uid"]  # every job here is another user's (the daemon's own run under a shell)
    os.setgroups(req["groups"])
    os.setgid(req["gid"])
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        return 126
    env = {k.encode(errors="surrogateescape"): v.encode(errors="surrogateescape")
           for k, v in req["env"].items()}  # fmt: skip
    out_path, err_path = req["stdout"], req["stderr"]
    mode = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if req["append"] else os.O_TRUNC)
    try:
        out = os.open(out_path, mode | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        _note(note, "nofile", out_path, _why_not_created(exc))
        return 0
    if err_path == out_path:
        err = out
    else:
        try:
            err = os.open(err_path, mode | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            _note(note, "nofile", err_path, _why_not_created(exc))
            return 0
    got = b""
    while go_fd >= 0 and len(got) < 3:
        chunk = os.read(go_fd, 3 - len(got))
        if not chunk:
            break
        got += chunk
    if got != b"go\n":
        _note(note, "aborted")
        return 0
    os.close(go_fd)
    workdir = req["workdir"]
    try:
        os.chdir(workdir)
    except OSError:
        why = "permission denied" if os.path.isdir(workdir) else "no such directory"
        _note(note, "nochdir", workdir, why)
        return 0
    env[b"PWD"] = os.fsencode(workdir)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.dup2(script, 4)  # the job's user cannot reach the root-only copy: exec the open file
    path = "/dev/fd/4"
    for name in _RESET:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    args = [path, *req["argv"]]
    try:
        os.execve(path, args, env)
    except OSError as exc:
        if exc.errno == errno.ENOEXEC:  # no #! line: run by the shell, as sh would
            try:
                os.execve("/bin/sh", ["/bin/sh", *args], env)
            except OSError as again:
                exc = again
        os.write(2, f"scns-job: {path}: {exc.strerror}\n".encode(errors="replace"))
        return 127 if exc.errno == errno.ENOENT else 126


def _why_not_created(exc: OSError) -> str:
    """Why an output file could not be created, in the words scns has always reported
    (those of the shell that used to open it)."""
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "Directory nonexistent"
    return exc.strerror or "cannot open"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
