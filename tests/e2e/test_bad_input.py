"""Bad input: one clear line on stderr, a non-zero exit, no traceback, and nothing written."""

from __future__ import annotations

import os

import pytest

from tests.conftest import Scns


def assert_refused(scns: Scns, *args: str, mentions: str, env: dict | None = None) -> None:
    proc = scns.run(*args, check=False, env=env)
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert mentions.lower() in lines[0].lower(), lines[0]
    assert proc.stdout == ""


def assert_nothing_written(scns: Scns) -> None:
    assert scns.queue("--all") == []


def script(scns: Scns, name: str, data: bytes) -> str:
    path = os.path.join(scns.workdir, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--cpus-per-task", "0", "--wrap", "true"], "--cpus-per-task"),
        (["-c", "-1", "--wrap", "true"], "-1"),
        (["-c", "abc", "--wrap", "true"], "--cpus-per-task"),
        (["-n", "0", "--wrap", "true"], "--ntasks"),
        (["--cpus", "4096", "--wrap", "true"], "CPUs"),
        (["-c", "64", "-n", "64", "--wrap", "true"], "CPUs"),
        (["-t", "1:2:3:4", "--wrap", "true"], "--time"),
        (["-t", "abc", "--wrap", "true"], "--time"),
        (["-t", "-5", "--wrap", "true"], "--time"),
        (["--cpus", "2", "-c", "1", "--wrap", "true"], "--cpus"),
        (["--frobnicate", "--wrap", "true"], "--frobnicate"),
        (["-Z", "--wrap", "true"], "-Z"),
        (["-o", "no/such/dir/out.txt", "--wrap", "true"], "does not exist"),
        (["-e", "/nonexistent-dir/err", "--wrap", "true"], "does not exist"),
        (["-D", "/nonexistent-dir", "--wrap", "true"], "does not exist"),
        (["--wrap", "true", "extra-arg"], "--wrap"),
        (["-J"], "requires a value"),
        ([], "no batch script"),
        (["missing.sh"], "does not exist"),
    ],
)
def test_bad_submit_options(scns: Scns, args: list[str], mentions: str) -> None:
    assert_refused(scns, "submit", *args, mentions=mentions)
    assert_nothing_written(scns)


@pytest.mark.parametrize(
    ("name", "data", "mentions"),
    [
        ("empty.sh", b"", "empty"),
        ("blank.sh", b"   \n\n", "empty"),
        ("noshebang.sh", b"echo hi\n", "#!"),
        ("binary.sh", b"#!/bin/sh\n\x00\x01\x02", "binary"),
        ("badutf.sh", b"#!/bin/sh\necho \xff\xfe\n", "binary"),
        ("baddirective.sh", b"#!/bin/sh\n#SBATCH --no-such-option\necho hi\n", "no-such-option"),
        ("badtime.sh", b"#!/bin/sh\n#SBATCH --time=forever\necho hi\n", "--time"),
    ],
)
def test_bad_scripts(scns: Scns, name: str, data: bytes, mentions: str) -> None:
    assert_refused(scns, "submit", script(scns, name, data), mentions=mentions)
    assert_nothing_written(scns)


def test_script_that_is_a_directory(scns: Scns) -> None:
    os.makedirs(os.path.join(scns.workdir, "adir"))
    assert_refused(scns, "submit", "adir", mentions="directory")
    assert_nothing_written(scns)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_script(scns: Scns) -> None:
    path = script(scns, "secret.sh", b"#!/bin/sh\necho hi\n")
    os.chmod(path, 0)
    assert_refused(scns, "submit", path, mentions="not readable")
    assert_nothing_written(scns)


def test_unreadable_script_as_another_user(scns: Scns) -> None:
    """As root, check the unreadable case by submitting as 'nobody' with setpriv."""
    import shutil
    import subprocess
    import sys

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to act as another user")
    path = script(scns, "secret.sh", b"#!/bin/sh\necho hi\n")
    os.chmod(path, 0o600)
    os.chmod(scns.home, 0o755)
    os.chmod(scns.workdir, 0o755)
    proc = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            sys.executable,
            "-m",
            "scns",
            "submit",
            path,
        ],
        capture_output=True,
        text=True,
        cwd=scns.workdir,
        env={**scns.env, "SCNS_DATABASE_URL": "sqlite:////nonexistent/never-opened.db"},
    )
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "not readable" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["query", "cancel"])
@pytest.mark.parametrize(("job_id", "mentions"), [("999", "no such job"), ("abc", "invalid job")])
def test_unknown_or_malformed_job_ids(scns: Scns, command: str, job_id: str, mentions: str) -> None:
    assert_refused(scns, command, job_id, mentions=mentions)


def test_cancel_with_one_unknown_id_cancels_nothing(scns: Scns) -> None:
    job_id = scns.submit("--wrap", "true")
    assert_refused(scns, "cancel", str(job_id), "999", mentions="999")
    assert scns.state(job_id) == "PENDING"


def test_database_path_not_writable(scns: Scns) -> None:
    env = {"SCNS_DATABASE_URL": "sqlite:////proc/scns/scns.db"}
    assert_refused(scns, "submit", "--wrap", "true", mentions="/proc/scns", env=env)
    assert_refused(scns, "queue", mentions="/proc/scns", env=env)


def test_bad_queue_state(scns: Scns) -> None:
    assert_refused(scns, "queue", "--state", "SLEEPY", mentions="SLEEPY")


def test_daemon_with_too_many_cpus(scns: Scns) -> None:
    assert_refused(scns, "daemon", "--cpus", "100000", mentions="--cpus")
