"""The system daemon's Unix socket: users' requests, served beside the scheduler loop.

Who asks is what the kernel says (``SO_PEERCRED``). Each connection carries one request of
at most ``MAX_REQUEST_BYTES`` that must arrive within ``REQUEST_TIMEOUT_S``; a small pool of
threads serves them, each with its own database connection, so a slow or stuck client only
ever holds one of those threads and never the scheduler's loop.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from scns import protocol
from scns.db.engine import Database
from scns.errors import InvalidInput, ScnsError
from scns.log import log
from scns.service.requests import Site, caller_from_peer, handle

REQUEST_TIMEOUT_S = 30.0
WORKERS = 8
_CHANGES = frozenset({"submit", "cancel", "hold", "release", "update", "signal", "requeue"})


class RequestServer:
    """Listens on ``path`` (0666: any local user may ask; what they may do is decided per
    request) and wakes the daemons through ``on_change`` after a request changed jobs."""

    def __init__(self, path: str, open_db: Callable[[], Database], site: Site,
                 on_change: Callable[[], None]) -> None:  # fmt: skip
        self.path = path
        self.open_db = open_db
        self.site = site
        self.on_change = on_change
        self.sock: socket.socket | None = None
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="scns-request")
        self._closing = False

    def start(self) -> None:
        _prepare_socket_dir(os.path.dirname(self.path))
        _remove_stale(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.path)
        os.chmod(self.path, 0o666)
        sock.listen(128)
        self.sock = sock
        threading.Thread(target=self._accept, name="scns-accept", daemon=True).start()
        log("socket_listening", path=self.path)

    def close(self) -> None:
        """Stop serving. The socket file stays: a client then hears "no scns daemon at
        PATH" instead of silently falling back to a personal database; the next start
        replaces it."""
        self._closing = True
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _accept(self) -> None:
        assert self.sock is not None
        while not self._closing:
            try:
                conn, _addr = self.sock.accept()
            except OSError as exc:
                if self._closing:
                    return
                log("accept_failed", error=repr(exc))
                time.sleep(0.1)  # e.g. out of file descriptors: back off, never spin
                continue
            try:
                self._pool.submit(self._serve, conn)
            except RuntimeError:  # shutting down
                conn.close()
                return

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(REQUEST_TIMEOUT_S)
                creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                        struct.calcsize("3i"))  # fmt: skip
                _pid, uid, gid = struct.unpack("3i", creds)
                deadline = time.monotonic() + REQUEST_TIMEOUT_S
                op, args = protocol.parse_request(_read_request(conn, deadline))
                reply = self._answer(op, args, uid, gid)
            except ScnsError as exc:
                reply = protocol.error_line(str(exc), type(exc).__name__)
            except OSError as exc:  # the client went away or was too slow
                log("request_dropped", error=repr(exc))
                return
            with contextlib.suppress(OSError):
                conn.sendall(reply)

    def _answer(self, op: str, args: dict, uid: int, gid: int) -> bytes:
        caller = caller_from_peer(uid, gid, self.site.access)
        db = self._db()
        try:
            result = handle(db, caller, self.site, op, args, time.time())
        except ScnsError:
            raise
        except Exception as exc:  # a database failure: one line, and the daemon goes on
            log("request_failed", op=op, uid=uid, error=repr(exc))
            db.close()
            self._local.db = None
            raise ScnsError(f"the scns daemon could not serve {op}: {exc}") from None
        if op in _CHANGES:
            self.on_change()
        return protocol.ok_line(result)

    def _db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self.open_db()
        return db


def _read_request(conn: socket.socket, deadline: float) -> bytes:
    """The whole request within the deadline (a client trickling bytes is cut off too)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise protocol.ProtocolError(f"request not received within {REQUEST_TIMEOUT_S:.0f} s")
        conn.settimeout(left)
        chunk = conn.recv(1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size > protocol.MAX_REQUEST_BYTES:
            raise protocol.ProtocolError(
                f"request larger than {protocol.MAX_REQUEST_BYTES // (1024 * 1024)} MiB"
            )
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            break
    return b"".join(chunks)


def _prepare_socket_dir(directory: str) -> None:
    """The socket's directory: root's, searchable by everyone, writable by no one else."""
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o755, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise InvalidInput(f"refusing to serve in {directory}: not a directory of ours")
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise InvalidInput(f"refusing to serve in {directory}: writable by other users")


def _remove_stale(path: str) -> None:
    """A socket left by a dead daemon goes; one a live daemon answers on is refused."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise InvalidInput(f"refusing to replace {path}: it is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError:
        os.unlink(path)
        return
    finally:
        probe.close()
    raise InvalidInput(f"another scns daemon is serving {path}")
