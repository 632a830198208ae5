"""Wake-ups without polling: every daemon listens on a datagram socket in the run directory,
and anything that changes the queue sends one byte to each of them after committing.

Sending is best effort: a lost wake-up only costs the daemon's fallback poll interval.
"""

from __future__ import annotations

import os

_SUFFIX = ".sock"


def wake_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "wake")


def notify(run_dir: str, only: str | None = None) -> None:
    """Poke every daemon (or only node ``only``) listening under ``run_dir``."""
    directory = wake_dir(run_dir)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    # _socket, not socket: the full module drags in selectors and costs a submit ~5 ms
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        for name in names:
            if not name.endswith(_SUFFIX) or (only and name != only + _SUFFIX):
                continue
            try:  # a full buffer means it is already woken; a stale socket has no listener
                sock.sendto(b"!", os.path.join(directory, name))
            except OSError:
                pass
    finally:
        sock.close()


class WakeSocket:
    """The daemon's end: a non-blocking datagram socket to put in a selector."""

    def __init__(self, run_dir: str, node: str) -> None:
        import socket

        directory = wake_dir(run_dir)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.path = os.path.join(directory, node + _SUFFIX)
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o600)  # only the daemon's user (other users go through the socket)
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> None:
        try:
            while self.sock.recv(64):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
