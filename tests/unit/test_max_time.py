"""The site's max_time: a longer --time is refused, a job without one gets max_time; read the
same way by Settings (the daemon's socket path) and by the personal fast path."""

from __future__ import annotations

import pytest

from scns.db.engine import Database, open_database
from scns.db.migrate import ensure_schema
from scns.domain.job import JobRequest
from scns.errors import InvalidInput, PermissionDenied
from scns.service.limits import SubmitLimits, apply_max_time
from scns.service.store import Submitter, store
from scns.service.submission import SubmitContext
from scns.settings import Settings

HOUR = 3600


@pytest.mark.parametrize(
    ("requested", "max_time_s", "given"),
    [
        (None, None, None),  # no site limit: unlimited stays unlimited
        (7 * 24 * HOUR, None, 7 * 24 * HOUR),
        (None, 48 * HOUR, 48 * HOUR),  # no --time (or UNLIMITED): the site's maximum
        (HOUR, 48 * HOUR, HOUR),
        (48 * HOUR, 48 * HOUR, 48 * HOUR),
    ],
)
def test_a_limit_within_max_time_is_kept_and_none_becomes_max_time(requested, max_time_s,
                                                                   given) -> None:  # fmt: skip
    assert apply_max_time(requested, SubmitLimits(max_time_s=max_time_s)) == given


def test_a_limit_above_max_time_is_one_line_naming_both() -> None:
    with pytest.raises(PermissionDenied) as caught:
        apply_max_time(48 * HOUR + 1, SubmitLimits(max_time_s=48 * HOUR))
    assert str(caught.value) == ("time limit 2-00:00:01 is above max_time 2-00:00:00"
                                 " (Requested time limit is invalid)")  # fmt: skip


@pytest.mark.parametrize(
    ("env", "config", "seconds"),
    [
        ({}, "", None),
        ({"SCNS_MAX_TIME": "2-00:00:00"}, "", 48 * HOUR),
        ({"SCNS_MAX_TIME": "UNLIMITED"}, "", None),
        ({}, "max_time = 90\n", 90 * 60),  # a bare number is minutes, as in --time
        ({}, "max_time = '1:00:00'\n", HOUR),
        ({"SCNS_MAX_TIME": "30"}, "max_time = '1:00:00'\n", 30 * 60),  # environment wins
    ],
)
def test_fast_path_and_settings_read_max_time_alike(tmp_path, monkeypatch, env, config,
                                                    seconds) -> None:  # fmt: skip
    for name in ("SCNS_MAX_TIME", "SCNS_CONFIG", "SCNS_SYSTEM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SCNS_HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if config:
        (tmp_path / "scns.toml").write_text(config)
    full = {"SCNS_HOME": str(tmp_path), **env}
    assert SubmitLimits.from_env(full).max_time_s == seconds
    assert Settings().limits.max_time_s == seconds


def test_a_bad_max_time_on_the_fast_path_names_the_setting(tmp_path) -> None:
    env = {"SCNS_HOME": str(tmp_path), "SCNS_MAX_TIME": "two days"}
    with pytest.raises(InvalidInput) as caught:
        SubmitLimits.from_env(env)
    assert str(caught.value).startswith("invalid setting SCNS_MAX_TIME='two days': expected M")
    (tmp_path / "scns.toml").write_text("max_time = '-1'\n")
    with pytest.raises(InvalidInput, match=rf"max_time='-1' in {tmp_path}/scns.toml: must not"):
        SubmitLimits.from_env({"SCNS_HOME": str(tmp_path)})


@pytest.fixture
def db(tmp_path) -> Database:
    database = open_database(f"sqlite:///{tmp_path}/scns.db")
    ensure_schema(database)
    yield database
    database.close()


def _store(db: Database, workdir: str, time_limit_s: int | None, limits: SubmitLimits):
    request = JobRequest(
        name="t", script="#!/bin/sh\ntrue\n", argv=(), workdir=workdir,
        stdout_pattern="scns-%j.out", stderr_pattern=None, time_limit_s=time_limit_s,
    )  # fmt: skip
    ctx = SubmitContext(cwd=workdir, env={}, now=1000.0)
    return store(db, request, ctx, Submitter("alice", 1000, 1000), limits=limits)


def test_store_applies_max_time_and_writes_nothing_when_refused(db, tmp_path) -> None:
    from scns.service.jobs import get_job, list_jobs

    limits = SubmitLimits(max_time_s=2 * HOUR)
    unlimited = _store(db, str(tmp_path), None, limits).job_id
    short = _store(db, str(tmp_path), HOUR, limits).job_id
    assert get_job(db, str(unlimited)).time_limit_s == 2 * HOUR
    assert get_job(db, str(short)).time_limit_s == HOUR
    with pytest.raises(PermissionDenied, match="above max_time 2:00:00"):
        _store(db, str(tmp_path), 3 * HOUR, limits)
    assert len(list_jobs(db, all_jobs=True)) == 2
