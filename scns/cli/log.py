"""``scns log``: a job's output, whole, its last lines, or followed while the job runs
(``tail -f`` that stops when the job ends; ``pueue follow``).

The file is read as the caller, never through a link and only when it is a regular file
(as ``render.output_tail`` reads it for ``query``): scns itself opens nothing for the
caller. Following polls the file and, less and less often, the job's state: never a spin.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from typing import Annotated

import typer

from scns.domain.job import Job
from scns.errors import InvalidInput, PermissionDenied, ScnsError

INTERRUPTED = 130
CHUNK = 64 * 1024
FILE_POLL_S = (0.1, 1.0)  # first and longest pause between looks at the file
STATE_POLL_S = (0.25, 2.0)  # and between looks at the job's state


def register(app: typer.Typer) -> None:
    app.command("log")(log)


def log(
    job_id: Annotated[str, typer.Argument(help="Job id (123) or array task (123_4).")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing while the job runs.")
    ] = False,
    lines: Annotated[
        int | None,
        typer.Option("--lines", "-n", metavar="LINES", min=0, help="Only the last LINES lines."),
    ] = None,
    err: Annotated[bool, typer.Option("--err", help="The job's stderr file (-e).")] = False,
) -> None:
    """Print a job's output (stdout, or stderr with --err); with -f follow it until the
    job ends.

    Example: scns log 42 -f -n 20
    """
    raise typer.Exit(show_log(job_id, follow=follow, lines=lines, err=err))


def show_log(text: str, *, follow: bool, lines: int | None, err: bool) -> int:
    """The command's exit code; every message is one line."""
    try:
        job = _lookup(text)
        path = _path_of(text, job, err)
        reader = _Reader(path)
        if reader.open() is None and not follow:
            return _nothing_yet(text, job, path)
        reader.print_from(reader.start_of_last(lines))
        if follow:
            _follow(text, job, reader)
    except KeyboardInterrupt:
        sys.stderr.write(f"scns log: stopped following job {text}\n")
        return INTERRUPTED
    except ScnsError as exc:
        sys.stderr.write(f"scns log: error: {exc}\n")
        return 1
    return 0


def _lookup(text: str) -> Job:
    """The job through the system socket (which hides another user's paths) or the
    database; an array id names one task only when the array has one."""
    from scns.cli.remote import call, job_from_record, target
    from scns.service.jobs import parse_job_ref

    ref = parse_job_ref(text)
    sock = target()
    if sock:
        job = job_from_record(call(sock, "query", {"job_id": text}))
    else:
        from scns.cli.context import open_db
        from scns.service.jobs import get_job

        db, _ = open_db()
        job = get_job(db, text)
    if ref.task_id is None and job.array_job_id == ref.job_id:
        raise InvalidInput(f"job {text} is an array: name one task, like {job.display_id}")
    return job


def _path_of(text: str, job: Job, err: bool) -> str:
    path = job.stderr_path if err else job.stdout_path
    if not path:
        raise PermissionDenied(f"job {text} is not yours: its output is private")
    if err and path == job.stdout_path:
        sys.stderr.write(f"scns log: job {text} writes stderr into its output file (no -e)\n")
    return path


def _nothing_yet(text: str, job: Job, path: str) -> int:
    if not job.state.is_terminal:
        sys.stderr.write(f"scns log: job {text} is {job.state.value}: no output yet"
                         f" (scns log -f {text} waits for it)\n")  # fmt: skip
    else:
        sys.stderr.write(f"scns log: error: job {text} ({job.state.value}) left no output"
                         f" at {path}\n")  # fmt: skip
    return 1


def _follow(text: str, job: Job, reader: _Reader) -> None:
    """Print what the job appends until it has ended and its output is read to the end.

    The job's processes have exited before its end is recorded, so once the state is
    final one more read finds everything it wrote.
    """
    file_pause, state_pause = FILE_POLL_S[0], STATE_POLL_S[0]
    state_due = time.monotonic() + state_pause
    ended = job.state.is_terminal
    while True:
        if reader.fd is None:
            reader.open()
        reader.notice_replacement()
        wrote = reader.print_from(reader.offset) if reader.fd is not None else 0
        if ended:
            return
        if time.monotonic() >= state_due:
            ended = _lookup(text).state.is_terminal
            state_pause = min(STATE_POLL_S[1], state_pause * 1.5)
            state_due = time.monotonic() + state_pause
            if ended:
                continue  # one last read
        file_pause = FILE_POLL_S[0] if wrote else min(FILE_POLL_S[1], file_pause * 1.5)
        time.sleep(file_pause)


class _Reader:
    """One output file, opened as the caller: no links, regular files only."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.inode: tuple[int, int] | None = None
        self.offset = 0

    def open(self) -> int | None:
        """The file descriptor, or None while the file does not exist."""
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            why = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
            raise ScnsError(f"cannot read {self.path}: {why}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise ScnsError(f"cannot read {self.path}: not a regular file")
        self.fd, self.inode, self.offset = fd, (info.st_dev, info.st_ino), 0
        return fd

    def notice_replacement(self) -> None:
        """A requeued job's new run may truncate or replace the file: start it again."""
        if self.fd is None:
            return
        try:
            info = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return
        if (info.st_dev, info.st_ino) != self.inode:
            os.close(self.fd)
            self.fd = None
            self.open()
        elif info.st_size < self.offset:
            self.offset = 0

    def start_of_last(self, lines: int | None) -> int:
        """Where the last ``lines`` lines begin (0: the whole file)."""
        if lines is None or self.fd is None:
            return 0
        end = os.fstat(self.fd).st_size
        if lines == 0:
            return end
        position, newlines = end, 0
        if end and os.pread(self.fd, 1, end - 1) == b"\n":
            newlines = -1  # the file's final newline ends the last line, starts none
        while position > 0:
            size = min(CHUNK, position)
            block = os.pread(self.fd, size, position - size)
            for index in range(len(block) - 1, -1, -1):
                if block[index] == 0x0A:
                    newlines += 1
                    if newlines == lines:
                        return position - size + index + 1
            position -= size
        return 0

    def print_from(self, offset: int) -> int:
        """Copy the file from ``offset`` to its current end onto stdout; bytes copied."""
        if self.fd is None:
            return 0
        out = sys.stdout.buffer
        copied = 0
        while True:
            data = os.pread(self.fd, CHUNK, offset + copied)
            if not data:
                break
            out.write(data)
            copied += len(data)
        out.flush()
        self.offset = offset + copied
        return copied
