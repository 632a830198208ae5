"""The CLI's side of the system socket: find it, send one request, read one answer.

Standard library only (``_socket``, not ``socket``): ``scns submit`` through the socket must
cost no more than writing the database directly.
"""

from __future__ import annotations

import os

from scns import paths, protocol
from scns.errors import ScnsError

TYPE_CHECKING = False
if TYPE_CHECKING:  # a reply is JSON: its shape is the operation's
    from typing import Any

TIMEOUT_S = 600.0  # a 100,000-job queue takes a while to list; the daemon answers meanwhile


def target(env=os.environ) -> str | None:
    """The socket every command goes through, or None for personal mode."""
    return paths.socket_path(env)


def call(path: str, op: str, args: dict[str, object]) -> Any:
    """One request; ScnsError with one line when there is no daemon or it refuses."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(TIMEOUT_S)
        try:
            sock.connect(path)
        except OSError:
            raise ScnsError(f"no scns daemon at {path}") from None
        try:
            sock.sendall(protocol.request_line(op, args))
            chunks = []
            while True:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError as exc:
            raise ScnsError(f"lost the scns daemon at {path}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    if not chunks:
        raise ScnsError(f"the scns daemon at {path} closed the connection without answering")
    return protocol.parse_response(b"".join(chunks))


def job_from_record(record: dict):
    """A job as the daemon sent it, for the renderer (private fields may be None)."""
    from scns.domain.job import JOB_COLUMNS, Job
    from scns.domain.states import JobState

    job = Job(*[record.get(name) for name in JOB_COLUMNS])
    job.state = JobState(job.state)
    return job
