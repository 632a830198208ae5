"""The system socket's protocol: one JSON line each way, versioned, with a size limit.

Request:  ``{"v": 1, "op": "<name>", "args": {...}}`` then a newline (or the end of input).
Response: ``{"v": 1, "ok": true, "result": ...}`` or
          ``{"v": 1, "ok": false, "error": "<one line>", "kind": "<error class>"}``.
Nothing in a request says who the caller is: the daemon asks the kernel (SO_PEERCRED).
Standard library only: the client side runs on the submit fast path.
"""

from __future__ import annotations

from scns.domain.compact_json import dumps, loads
from scns.errors import ScnsError

VERSION = 1
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # a 10 MiB script plus its environment
OPS = frozenset({"submit", "query", "queue", "cancel", "hold", "release", "update", "info",
                 "health", "jobs", "signal", "requeue", "stats", "test_only"})  # fmt: skip


class ProtocolError(ScnsError):
    """A request or response that does not follow the protocol."""


def request_line(op: str, args: dict[str, object]) -> bytes:
    """One request, encoded field by field (no ``json`` import on the submit path)."""
    fields = ",".join(dumps(k) + ":" + dumps(v) for k, v in args.items())
    return ('{"v":%d,"op":%s,"args":{%s}}\n' % (VERSION, dumps(op), fields)).encode(  # noqa: UP031
        errors="surrogateescape"
    )


def parse_request(data: bytes) -> tuple[str, dict]:
    """(op, args) of a request line; ProtocolError for anything else."""
    try:
        message = loads(data.decode(errors="surrogateescape").strip())
    except (ValueError, UnicodeError):
        raise ProtocolError("malformed request: not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("malformed request: not an object")
    if message.get("v") != VERSION:
        raise ProtocolError(
            f"unsupported protocol version {message.get('v')!r} (this daemon speaks"
            f" {VERSION}): use the scns of the daemon's version"
        )
    op, args = message.get("op"), message.get("args", {})
    if op not in OPS:
        raise ProtocolError(f"unknown request {op!r}")
    if not isinstance(args, dict):
        raise ProtocolError("malformed request: args is not an object")
    return str(op), args


def ok_line(result: object) -> bytes:
    return ('{"v":%d,"ok":true,"result":%s}\n' % (VERSION, dumps(result))).encode(  # noqa: UP031
        errors="surrogateescape"
    )


def error_line(message: str, kind: str) -> bytes:
    body = {"v": VERSION, "ok": False, "error": message.replace("\n", " "), "kind": kind}
    return (dumps(body) + "\n").encode(errors="surrogateescape")


class RemoteError(ScnsError):
    """An error the daemon reported; ``kind`` names its class on the daemon's side."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def parse_response(data: bytes) -> object:
    """The result of a response, or RemoteError with the daemon's one line."""
    try:
        message = loads(data.decode(errors="surrogateescape").strip())
    except (ValueError, UnicodeError):
        raise ProtocolError("malformed response from the scns daemon") from None
    if not isinstance(message, dict) or message.get("v") != VERSION:
        raise ProtocolError("the scns daemon speaks another protocol version")
    if message.get("ok"):
        return message.get("result")
    raise RemoteError(str(message.get("error") or "request failed"), str(message.get("kind")))
