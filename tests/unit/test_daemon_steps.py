"""The daemon's failing-step bookkeeping (backoff, throttled lines, the health report) and
the proof that a lease holder is this node's dead predecessor. Time is passed in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from scns.daemon import step_health as daemon_log
from scns.daemon.leader import is_dead_predecessor, lease_holder
from scns.daemon.step_health import FIRST_RETRY_S, MAX_RETRY_S, SETTLE_S, StepHealth


@pytest.fixture
def lines(monkeypatch) -> list[tuple[str, dict]]:
    logged: list[tuple[str, dict]] = []
    monkeypatch.setattr(daemon_log, "log", lambda event, **fields: logged.append((event, fields)))
    return logged


def test_a_failing_step_backs_off_exponentially_up_to_a_cap(lines) -> None:
    steps, now = StepHealth(), 1000.0
    waits = []
    for _ in range(8):
        assert steps.may_run("launch", now)
        steps.failed("launch", OSError(28, "No space left on device"), now)
        waits.append(steps.retry_at("launch") - now)
        assert not steps.may_run("launch", now + waits[-1] / 2)
        now = steps.retry_at("launch")
    assert waits[:4] == [FIRST_RETRY_S, 2 * FIRST_RETRY_S, 4 * FIRST_RETRY_S, 8 * FIRST_RETRY_S]
    assert max(waits) == MAX_RETRY_S and waits[-1] == MAX_RETRY_S
    assert steps.may_run("heartbeat", now) and steps.retry_at("heartbeat") == 0.0


def test_logs_the_first_failure_then_a_count_now_and_then_and_the_recovery(lines) -> None:
    steps, now = StepHealth(), 1000.0
    for _ in range(200):  # 100 s of failing, retried every 0.5 s at most
        steps.failed("reap", ValueError("boom"), now)
        now += 0.5
    events = [event for event, _fields in lines]
    assert events[0] == "step_failed" and set(events[1:]) == {"step_failing"}
    assert len(events) <= 1 + 100 / daemon_log.REPORT_EVERY_S + 1
    assert lines[0][1] == {"step": "reap", "error": "ValueError: boom", "at": None,
                           "suppressed": None}  # fmt: skip
    steps.succeeded("reap", now)
    assert lines[-1][0] == "step_recovered" and lines[-1][1]["failures"] == 200


def test_the_health_report_names_steps_failing_in_a_row(lines) -> None:
    steps, now = StepHealth(), 1000.0
    steps.failed("launch", NotADirectoryError(20, "Not a directory"), now)
    assert steps.report() is None  # once may be a blip
    steps.failed("launch", NotADirectoryError(20, "Not a directory"), now + 1)
    steps.failed("heartbeat", RuntimeError("disk"), now + 1)
    steps.failed("heartbeat", RuntimeError("disk"), now + 2)
    assert steps.report() == ("step heartbeat failing: RuntimeError: disk; step launch failing:"
                              " NotADirectoryError: [Errno 20] Not a directory")  # fmt: skip
    assert steps.report("heartbeat") == (
        "step launch failing: NotADirectoryError: [Errno 20] Not a directory"
    )
    steps.succeeded("launch", now + 3)
    assert steps.report("heartbeat") is None


def test_a_flapping_step_is_one_episode_whose_backoff_keeps_growing(lines) -> None:
    steps, start = StepHealth(), 1000.0
    now = start
    for _ in range(20):  # fails, works once, fails again...
        steps.failed("lease", OSError("full"), now)
        now = steps.retry_at("lease")
        steps.succeeded("lease", now)
    events = [e for e, _f in lines]
    assert events.count("step_failed") == 1  # a count every REPORT_EVERY_S, and "works again"
    assert len(events) <= 2 + 2 * (now - start) / daemon_log.REPORT_EVERY_S
    steps.failed("lease", OSError("full"), now)
    assert steps.retry_at("lease") - now == MAX_RETRY_S
    assert steps.report() is None  # it works between failures: not "failing in a row"
    now += SETTLE_S + 1
    steps.succeeded("lease", now)
    steps.succeeded("lease", now + SETTLE_S + 1)  # settled: forgotten
    steps.failed("lease", OSError("full"), now + 2 * SETTLE_S)
    assert steps.retry_at("lease") - (now + 2 * SETTLE_S) == FIRST_RETRY_S


def test_all_failure_lines_together_stay_under_a_few_a_second(lines) -> None:
    steps, now = StepHealth(), 1000.0
    for second in range(10):
        for i in range(50):  # 50 different steps starting to fail every second
            steps.failed(f"s{second}-{i}", OSError("x"), now + second + i / 100)
    assert len(lines) <= daemon_log.LINES_BURST + 10 * daemon_log.LINES_PER_S
    assert any((fields.get("suppressed") or 0) > 0 for _e, fields in lines)


def test_next_retry_is_the_earliest_still_ahead(lines) -> None:
    steps, now = StepHealth(), 1000.0
    assert steps.next_retry(now) is None
    steps.failed("a", OSError(), now)
    steps.failed("b", OSError(), now - 10)  # its retry is long due: its own trigger runs it
    assert steps.next_retry(now) == now + FIRST_RETRY_S


def test_a_dead_predecessor_is_proven_by_pid_and_start_time() -> None:
    host = socket.gethostname()
    mine = lease_holder("n1", host)
    assert not is_dead_predecessor(mine, "n1", host)  # alive: this very process
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    holder = lease_holder("n1", host, child.pid)
    child.wait()
    assert is_dead_predecessor(holder, "n1", host)  # its pid is gone
    node, host_, pid, ticks, nonce = mine.split(":")
    reused = ":".join([node, host_, pid, str(int(ticks) + 1), nonce])
    assert is_dead_predecessor(reused, "n1", host)  # the pid now names another process
    assert not is_dead_predecessor(holder, "n2", host)  # another node's lease: wait it out
    assert not is_dead_predecessor(holder, "n1", "elsewhere")  # another machine's: wait
    assert not is_dead_predecessor(f"n1:{os.getpid()}:abcd1234", "n1", host)  # old format
