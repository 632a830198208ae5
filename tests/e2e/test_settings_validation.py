"""Bad settings stop every command with one line naming the setting, the daemon before it
starts: a policy typo, a non-positive interval, an unknown key in scns.toml."""

from __future__ import annotations

import os

import pytest

from tests.conftest import Scns


def assert_one_line(scns: Scns, *args: str, mentions: str, env: dict | None = None) -> str:
    proc = scns.run(*args, check=False, env=env)
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert mentions in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("SCNS_SCHEDULER_POLICY", "bogus", "expected one of backfill, fifo, firstfit"),
        ("SCNS_POLL_INTERVAL_S", "0", "must be above 0"),
        ("SCNS_HEARTBEAT_INTERVAL_S", "-1", "must be above 0"),
        ("SCNS_KILL_WAIT_S", "abc", "expected a number"),
    ],
)
def test_the_daemon_refuses_a_bad_setting_before_it_starts(scns: Scns, variable, value,
                                                           why) -> None:  # fmt: skip
    line = assert_one_line(scns, "daemon", "--cpus", "1", mentions=f"{variable}={value!r}",
                           env={variable: value})  # fmt: skip
    assert line.startswith("scns daemon: error: invalid setting") and why in line
    assert not os.path.exists(os.path.join(scns.home, "run", "wake")), "the daemon started"


def test_cleanup_and_health_refuse_a_bad_setting(scns: Scns) -> None:
    line = assert_one_line(scns, "cleanup", mentions="SCNS_KILL_WAIT_S='abc'",
                           env={"SCNS_KILL_WAIT_S": "abc"})  # fmt: skip
    assert line == "scns cleanup: error: invalid setting SCNS_KILL_WAIT_S='abc': expected a number"
    assert_one_line(scns, "health", mentions="SCNS_SCHEDULER_POLICY='bogus'",
                    env={"SCNS_SCHEDULER_POLICY": "bogus"})  # fmt: skip


def test_an_unknown_config_key_stops_every_command(scns: Scns) -> None:
    config = os.path.join(scns.home, "scns.toml")
    with open(config, "w") as handle:
        handle.write("kill_wait_s = 1\nschedular_policy = 'fifo'\n")
    os.chmod(config, 0o600)
    expected = f"unknown key 'schedular_policy' in {config}"
    for args in (("queue",), ("queue", "--json"), ("query", "1"), ("submit", "--wrap", "true"),
                 ("cleanup",), ("info",), ("daemon", "--cpus", "1")):  # fmt: skip
        assert_one_line(scns, *args, mentions=expected)
    assert not os.path.exists(os.path.join(scns.home, "run", "wake")), "the daemon started"
    os.remove(config)
    assert scns.queue("--all") == [], "the refused submit wrote a job"


def test_a_bad_config_value_names_the_key_and_the_file(scns: Scns) -> None:
    config = os.path.join(scns.home, "scns.toml")
    with open(config, "w") as handle:
        handle.write("scheduler_policy = 'fifo '\n")
    os.chmod(config, 0o600)
    line = assert_one_line(scns, "daemon", "--cpus", "1", mentions="scheduler_policy='fifo '")
    assert line.endswith(f"in {config}: expected one of backfill, fifo, firstfit")
