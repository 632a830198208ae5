"""One structured line per event on stderr, readable by people and by journald.

scns's events and the lines of the libraries it uses (RQ, ...) share one handler and one
format: logfmt by default (``time=... event=... key=value``), JSON lines with
``SCNS_LOG_FORMAT=json``. Library records arrive through the standard ``logging`` module;
scns's own events go straight to that handler's formatter and stream (a LogRecord per line
was 5% of the daemon's time in a drain of trivial jobs, which logs two lines per job).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

FORMATS = ("logfmt", "json")
LOGGER = logging.getLogger("scns")
_configured = False
_handler: _StderrHandler | None = None


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def log(event: str, **fields: object) -> None:
    """Write ``time=... event=... key=value...`` (or its JSON line); never raises."""
    if not _configured:
        configure(os.environ.get("SCNS_LOG_FORMAT") or "logfmt", strict=False)
    handler = _handler
    if handler is None:
        return
    handler.acquire()  # whole lines, also from the request threads
    try:
        handler.write(event_line(time.time(), event, fields, handler.style))
    finally:
        handler.release()


def event_line(created: float, event: str, fields: dict, style: str) -> str:
    """One event as its logfmt (or JSON) line, without the newline."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + "Z"
    if style == "json":
        line: dict[str, object] = {"time": stamp, "event": event}
        line.update((k, _json_value(v)) for k, v in fields.items() if v is not None)
        return json.dumps(line, separators=(",", ":"))
    parts = [f"time={stamp}", f"event={event}"]
    parts += [f"{k}={_quote(v)}" for k, v in fields.items() if v is not None]
    return " ".join(parts)


class EventFormatter(logging.Formatter):
    """scns's events as they always looked; another library's record as an event ``log``
    with its logger, level and message."""

    def __init__(self, style: str = "logfmt") -> None:
        super().__init__()
        self.style = style

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {"logger": record.name, "level": record.levelname.lower(),
                                     "message": record.getMessage()}  # fmt: skip
        if record.exc_info:
            fields["error"] = describe(record.exc_info[1])  # type: ignore[arg-type]
        return event_line(record.created, "log", fields, self.style)


def _json_value(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool)) else str(value)


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time; a closed or full stream loses the
    line, never raises."""

    def __init__(self, style: str) -> None:
        super().__init__()
        self.style = style
        self.setFormatter(EventFormatter(style))

    def emit(self, record: logging.LogRecord) -> None:
        self.write(self.format(record))

    def write(self, line: str) -> None:
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def configure(style: str = "logfmt", *, strict: bool = True) -> None:
    """One handler on the root logger for scns and every library, in ``style``; scns's
    events at INFO, the libraries' from WARNING. A second call replaces the first."""
    global _configured, _handler
    if style not in FORMATS:
        if strict:
            from scns.paths import invalid_setting

            raise invalid_setting("log_format", style, "expected logfmt or json")
        style = "logfmt"
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler(style)
    root.addHandler(handler)
    _handler = handler
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    LOGGER.setLevel(logging.INFO)
    _configured = True


def describe(exc: BaseException) -> str:
    """An error in one short line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
