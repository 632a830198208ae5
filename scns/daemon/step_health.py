"""Which daemon steps keep failing: their backoff, and throttled log lines about them."""

from __future__ import annotations

from dataclasses import dataclass

from scns.log import describe, log

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
