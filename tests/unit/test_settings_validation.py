"""Bad settings are one ``InvalidInput`` line naming the setting as the user wrote it, from the
environment or the config file; pydantic's ValidationError never escapes."""

from __future__ import annotations

import os

import pytest

from scns.errors import InvalidInput
from scns.sched.policy import POLICIES
from scns.settings import Settings


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("SCNS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SCNS_HOME", str(tmp_path))
    return tmp_path


def refusal() -> str:
    with pytest.raises(InvalidInput) as caught:
        Settings()
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("SCNS_SCHEDULER_POLICY", "bogus", f"expected one of {', '.join(sorted(POLICIES))}"),
        ("SCNS_KILL_WAIT_S", "abc", "expected a number"),
        ("SCNS_KILL_WAIT_S", "-1", "must be at least 0"),
        ("SCNS_KILL_WAIT_S", "nan", "expected a finite number"),
        ("SCNS_POLL_INTERVAL_S", "0", "must be above 0"),
        ("SCNS_POLL_INTERVAL_S", "inf", "expected a finite number"),
        ("SCNS_HEARTBEAT_INTERVAL_S", "-5", "must be above 0"),
        ("SCNS_HEARTBEAT_TIMEOUT_S", "0", "must be above 0"),
        ("SCNS_LEADER_LEASE_S", "0", "must be above 0"),
        ("SCNS_DEFAULT_TIME_LIMIT_S", "0", "must be above 0"),
        ("SCNS_MAX_JOBS_EXAMINED", "0", "must be above 0"),
        ("SCNS_MAX_JOBS_EXAMINED", "1.5", "expected a whole number"),
        ("SCNS_CPUS", "0", "must be above 0"),
        ("SCNS_MAX_ARRAY_SIZE", "0", "must be at least 1"),
        ("SCNS_MAX_JOBS_PER_USER", "-1", "must be at least 0"),
        ("SCNS_POOL_SIZE", "0", "must be above 0"),
        ("SCNS_PRIVATE_DATA", "maybe", "expected true or false"),
        ("SCNS_MAX_TIME", "soon", "expected M, M:S"),
        ("SCNS_MAX_TIME", "400-00:00:00", "longer than 365 days"),
    ],
)
def test_a_bad_environment_value_is_one_line_naming_the_variable(monkeypatch, variable, value,
                                                                 why) -> None:  # fmt: skip
    monkeypatch.setenv(variable, value)
    message = refusal()
    assert message.startswith(f"invalid setting {variable}={value!r}: "), message
    assert why in message


@pytest.mark.parametrize(
    ("line", "shown", "why"),
    [
        ("scheduler_policy = 'bogus'", "scheduler_policy='bogus'", "expected one of"),
        ("heartbeat_interval_s = 0", "heartbeat_interval_s=0", "must be above 0"),
        ("kill_wait_s = 'soon'", "kill_wait_s='soon'", "expected a number"),
        ("max_time = '2 days'", "max_time='2 days'", "expected M, M:S"),
    ],
)
def test_a_bad_config_value_names_the_key_and_the_file(home, line, shown, why) -> None:
    (home / "scns.toml").write_text(line + "\n")
    message = refusal()
    assert message.startswith(f"invalid setting {shown} in {home}/scns.toml: "), message
    assert why in message


def test_the_environment_is_named_when_it_overrides_the_file(home, monkeypatch) -> None:
    (home / "scns.toml").write_text("poll_interval_s = 2\n")
    monkeypatch.setenv("SCNS_POLL_INTERVAL_S", "-2")
    assert refusal().startswith("invalid setting SCNS_POLL_INTERVAL_S='-2'")


def test_several_bad_settings_are_all_named_on_one_line(monkeypatch) -> None:
    monkeypatch.setenv("SCNS_SCHEDULER_POLICY", "bogus")
    monkeypatch.setenv("SCNS_KILL_WAIT_S", "abc")
    message = refusal()
    assert "SCNS_SCHEDULER_POLICY='bogus'" in message and "SCNS_KILL_WAIT_S='abc'" in message


def test_an_unknown_config_key_is_refused_by_settings_too(home) -> None:
    (home / "scns.toml").write_text("colour = 'blue'\n")
    assert refusal() == f"unknown key 'colour' in {home}/scns.toml"


@pytest.mark.parametrize("policy", POLICIES)
def test_every_known_policy_and_good_values_are_accepted(monkeypatch, policy) -> None:
    monkeypatch.setenv("SCNS_SCHEDULER_POLICY", policy)
    monkeypatch.setenv("SCNS_KILL_WAIT_S", "0")
    monkeypatch.setenv("SCNS_POLL_INTERVAL_S", "0.25")
    settings = Settings()
    assert (settings.scheduler_policy, settings.kill_wait_s, settings.poll_interval_s) == (
        policy, 0, 0.25)  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCNS_MAX_ARRAY_SIZE", "many"),
        ("SCNS_MAX_ARRAY_SIZE", "0"),
        ("SCNS_MAX_JOBS_PER_USER", "-1"),
        ("SCNS_MAX_TIME", "soon"),
    ],
)
def test_the_fast_path_refuses_a_bad_limit_as_settings_does(monkeypatch, home, variable,
                                                            value) -> None:  # fmt: skip
    from scns.service.limits import SubmitLimits

    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidInput) as caught:
        SubmitLimits.from_env({"SCNS_HOME": str(home), variable: value})
    fast = str(caught.value)
    assert fast.startswith(f"invalid setting {variable}={value!r}: "), fast
    assert fast == refusal()
