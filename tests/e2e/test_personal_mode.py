"""Personal mode, hardened: a private home, a daemon that runs only its own user's jobs and
refuses a state directory others could tamper with, and a CLI that never falls back."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from tests.conftest import Scns, wait_until


def test_home_is_created_private(scns: Scns) -> None:
    home = os.path.join(scns.home, "fresh", "scns")
    scns.run("submit", "-H", "--wrap", "true", env={"SCNS_HOME": home})
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(home, "scns.db")).st_mode) == 0o600


def _daemon_refuses(scns: Scns, expected: str) -> None:
    proc = subprocess.run([*_SCNS, "daemon", "--node", "n1"], capture_output=True, text=True,
                          env=scns.env, timeout=60)  # fmt: skip
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr


_SCNS = [os.sys.executable, "-m", "scns"]


def test_daemon_refuses_a_home_others_may_write(scns: Scns) -> None:
    os.chmod(scns.home, 0o777)
    try:
        _daemon_refuses(scns, "writable by other users")
    finally:
        os.chmod(scns.home, 0o700)


def test_daemon_refuses_links_where_it_expects_directories(scns: Scns) -> None:
    elsewhere = tempfile.mkdtemp(prefix="scns-else-", dir="/tmp")
    os.symlink(elsewhere, os.path.join(scns.home, "run"))
    try:
        _daemon_refuses(scns, "not a directory")
    finally:
        shutil.rmtree(elsewhere)


def test_daemon_refuses_a_home_another_user_owns(scns: Scns) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the home to another user")
    os.chown(scns.home, 65534, 65534)  # nobody
    try:
        _daemon_refuses(scns, "owned by uid 65534")
    finally:
        os.chown(scns.home, 0, 0)


def test_daemon_runs_only_its_own_users_jobs(scns: Scns) -> None:
    """A row naming another uid (anyone who can write the database could add one) fails
    with the reason instead of running as that user."""
    job = scns.submit("-H", "--wrap", "touch ran")
    other = os.geteuid() + 4242
    scns.sql_write("UPDATE jobs SET uid = ? WHERE id = ?", (other, job))
    scns.start_daemon("--node", "n1")
    scns.run("release", str(job))
    info = scns.wait_state(job, "FAILED", "COMPLETED")
    assert info["state"] == "FAILED" and "personal-mode daemon" in info["reason"]
    assert not os.path.exists(os.path.join(scns.workdir, "ran"))


def test_planted_links_in_the_state_directory_are_not_followed(scns: Scns) -> None:
    scns.start_daemon("--node", "n1")
    victim = os.path.join(scns.home, "victim")
    with open(victim, "w") as handle:
        handle.write("precious\n")
    first = scns.submit("-H", "--wrap", "true")
    status = os.path.join(scns.home, "run", "status", "n1")
    scripts = os.path.join(scns.home, "run", "scripts", "n1")
    for name in (str(first + 1), f"{first + 1}.why"):
        os.symlink(victim, os.path.join(status, name))
    os.symlink(victim, os.path.join(scripts, str(first + 1)))
    os.makedirs(os.path.join(status, str(first + 2)))
    jobs = [scns.submit("--wrap", "echo ran"), scns.submit("--wrap", "true")]
    assert jobs == [first + 1, first + 2]
    for job in jobs:
        assert scns.wait_state(job, "COMPLETED", "FAILED")["state"] == "COMPLETED"
    with open(victim) as handle:
        assert handle.read() == "precious\n"


def test_a_set_socket_never_falls_back_to_the_personal_database(scns: Scns) -> None:
    missing = os.path.join(scns.home, "no.sock")
    for args in (("submit", "--wrap", "true"), ("queue",), ("cancel", "1"), ("health",)):
        proc = scns.run(*args, check=False, env={"SCNS_SOCKET": missing})
        assert proc.returncode != 0
        assert proc.stderr.strip().endswith(f"no scns daemon at {missing}"), proc.stderr
    assert not os.path.exists(os.path.join(scns.home, "scns.db"))


def test_status_directory_is_private_after_an_upgrade(scns: Scns) -> None:
    """Older versions made the status directory world-writable (1733): now it is 0700."""
    status = os.path.join(scns.home, "run", "status", "n1")
    os.makedirs(status)
    os.chmod(status, 0o1733)
    scns.start_daemon("--node", "n1")
    wait_until(lambda: stat.S_IMODE(os.stat(status).st_mode) == 0o700, 10, 0.05, "0700")
