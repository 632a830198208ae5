"""One structured line per event on stderr, readable by people and by journald; and the
throttled reports of daemon steps that keep failing.

Lines go through the standard ``logging`` module, so scns's events and the lines of the
libraries it uses (RQ, ...) share one handler and one format: logfmt by default
(``time=... event=... key=value``), JSON lines with ``SCNS_LOG_FORMAT=json``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass

FORMATS = ("logfmt", "json")
LOGGER = logging.getLogger("scns")
_configured = False


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def log(event: str, **fields: object) -> None:
    """Write ``time=... event=... key=value...`` (or its JSON line); never raises."""
    if not _configured:
        configure(os.environ.get("SCNS_LOG_FORMAT") or "logfmt", strict=False)
    LOGGER.info(event, extra={"scns_event": event, "scns_fields": fields})


class EventFormatter(logging.Formatter):
    """scns's events as they always looked; another library's record as an event ``log``
    with its logger, level and message."""

    def __init__(self, style: str = "logfmt") -> None:
        super().__init__()
        self.style = style

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z"
        event = getattr(record, "scns_event", None)
        if event is not None:
            fields = getattr(record, "scns_fields", {})
        else:
            event = "log"
            fields = {"logger": record.name, "level": record.levelname.lower(),
                      "message": record.getMessage()}  # fmt: skip
            if record.exc_info:
                fields["error"] = describe(record.exc_info[1])  # type: ignore[arg-type]
        if self.style == "json":
            line = {"time": stamp, "event": event}
            line.update((k, _json_value(v)) for k, v in fields.items() if v is not None)
            return json.dumps(line, separators=(",", ":"))
        parts = [f"time={stamp}", f"event={event}"]
        parts += [f"{k}={_quote(v)}" for k, v in fields.items() if v is not None]
        return " ".join(parts)


def _json_value(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool)) else str(value)


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time; a closed or full stream loses the
    line, never raises."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def configure(style: str = "logfmt", *, strict: bool = True) -> None:
    """One handler on the root logger for scns and every library, in ``style``; scns's
    events at INFO, the libraries' from WARNING. A second call replaces the first."""
    global _configured
    if style not in FORMATS:
        if strict:
            from scns.paths import invalid_setting

            raise invalid_setting("log_format", style, "expected logfmt or json")
        style = "logfmt"
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(EventFormatter(style))
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    LOGGER.setLevel(logging.INFO)
    _configured = True


# A failing step is retried after FIRST_RETRY_S, doubling up to MAX_RETRY_S.
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 5.0
REPORT_EVERY_S = 10.0  # a step that keeps failing logs one line per this, with a count
REPORT_AFTER = 2  # failures in a row before the step shows in the node's reason
SETTLE_S = 30.0  # a step failing again this soon after recovering is flapping: one episode
# All failure reports together: a burst of LINES_BURST, then LINES_PER_S on average.
LINES_PER_S = 2.0
LINES_BURST = 10.0


@dataclass
class _Episode:
    """A step's failures, from the first until it has worked for SETTLE_S."""

    error: str
    since: float
    retry_at: float
    logged_at: float
    failures: int = 1
    streak: int = 1  # failures since it last worked
    recovered_at: float | None = None  # working again since then (still settling)
    said_failing: bool = True  # the last line logged about it says it fails


class StepHealth:
    """Which daemon steps are failing: when each may run again, and their log lines.

    A failing step backs off exponentially (capped). It logs its first failure, then one
    line per REPORT_EVERY_S with a count, and one line when it works again; a step that
    flaps (fails again within SETTLE_S of recovering) stays one episode, its backoff still
    growing. A token bucket caps all of these lines together, so a daemon logs a few lines
    a second whatever keeps failing. Time is passed in.
    """

    def __init__(self) -> None:
        self._episodes: dict[str, _Episode] = {}
        self._tokens = LINES_BURST
        self._tokens_at = 0.0
        self._suppressed = 0

    def may_run(self, step: str, now: float) -> bool:
        episode = self._episodes.get(step)
        return episode is None or now >= episode.retry_at

    def retry_at(self, step: str) -> float:
        """When a failing step may run again (0.0 for a healthy one)."""
        episode = self._episodes.get(step)
        return episode.retry_at if episode is not None else 0.0

    def next_retry(self, now: float) -> float | None:
        """The next retry still ahead (one already due waits for its step's own trigger)."""
        return min((e.retry_at for e in self._episodes.values() if e.retry_at > now),
                   default=None)  # fmt: skip

    def failed(self, step: str, exc: BaseException, now: float) -> None:
        error = describe(exc)
        episode = self._episodes.get(step)
        settled = episode is not None and episode.recovered_at is not None and (
            now - episode.recovered_at >= SETTLE_S)  # fmt: skip
        if episode is None or settled:
            self._episodes[step] = _Episode(error, now, now + FIRST_RETRY_S, now)
            self._emit(now, "step_failed", step=step, error=error, at=_origin(exc))
            return
        episode.failures += 1
        episode.streak = 1 if episode.recovered_at is not None else episode.streak + 1
        episode.error = error
        episode.recovered_at = None
        episode.retry_at = now + min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (episode.failures - 1))
        if now - episode.logged_at >= REPORT_EVERY_S:
            episode.logged_at = now
            episode.said_failing = True
            self._emit(now, "step_failing", step=step, failures=episode.failures,
                       for_s=round(now - episode.since, 1), error=error)  # fmt: skip

    def succeeded(self, step: str, now: float) -> None:
        episode = self._episodes.get(step)
        if episode is None:
            return
        if episode.recovered_at is None:
            episode.recovered_at = now
        elif now - episode.recovered_at >= SETTLE_S:
            del self._episodes[step]
        if episode.said_failing:
            episode.said_failing = False
            self._emit(now, "step_recovered", step=step, failures=episode.failures,
                       after_s=round(now - episode.since, 1))  # fmt: skip

    def report(self, skip: str | None = None) -> str | None:
        """One line for the node's reason: the steps failing now, and why."""
        failing = sorted((step, e) for step, e in self._episodes.items()
                         if e.recovered_at is None and e.streak >= REPORT_AFTER)  # fmt: skip
        return "; ".join(f"step {step} failing: {e.error}" for step, e in failing
                         if step != skip) or None  # fmt: skip

    def _emit(self, now: float, event: str, **fields: object) -> None:
        self._tokens = min(LINES_BURST, self._tokens + (now - self._tokens_at) * LINES_PER_S)
        self._tokens_at = now
        if self._tokens < 1:
            self._suppressed += 1
            return
        self._tokens -= 1
        suppressed, self._suppressed = self._suppressed, 0
        log(event, **fields, suppressed=suppressed or None)


def _origin(exc: BaseException) -> str | None:
    """Where an error was raised (file:line of the innermost frame), for the first line."""
    import os
    import traceback

    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    return f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else None


def describe(exc: BaseException) -> str:
    """An error in one short line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
