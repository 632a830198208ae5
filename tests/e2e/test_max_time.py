"""The site's max_time: a longer --time is refused at submit in one line, a job without
--time gets max_time as its limit (personal fast path and system socket alike)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.conftest import Scns
from tests.e2e.system import make_system, remove_system
from tests.e2e.users import Accounts, require_root


def test_max_time_from_the_environment(scns: Scns) -> None:
    env = {"SCNS_MAX_TIME": "2-00:00:00"}
    proc = scns.run("submit", "-t", "2-00:00:01", "--wrap", "true", check=False, env=env)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr == ("scns submit: error: time limit 2-00:00:01 is above max_time"
                           " 2-00:00:00 (Requested time limit is invalid)\n")  # fmt: skip
    assert scns.queue("--all") == []
    unlimited = int(scns.run("submit", "--parsable", "--wrap", "true", env=env).stdout)
    explicit = int(scns.run("submit", "--parsable", "-t", "2-00:00:00", "--wrap", "true",
                            env=env).stdout)  # fmt: skip
    short = int(scns.run("submit", "--parsable", "-t", "10", "--wrap", "true", env=env).stdout)
    assert scns.query(unlimited)["time_limit"] == 48 * 3600
    assert scns.query(explicit)["time_limit"] == 48 * 3600
    assert scns.query(short)["time_limit"] == 600


def test_max_time_from_the_config_file_and_its_absence(scns: Scns) -> None:
    no_site_limit = scns.submit("--wrap", "true")
    assert scns.query(no_site_limit)["time_limit"] is None  # unlimited, as before
    config = os.path.join(scns.home, "scns.toml")
    with open(config, "w") as handle:
        handle.write("max_time = 60\n")  # minutes, as --time
    proc = scns.run("submit", "-t", "61", "--wrap", "true", check=False)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    assert "above max_time 1:00:00" in proc.stderr
    assert scns.query(scns.submit("--wrap", "true"))["time_limit"] == 3600
    proc = scns.run("submit", "--wrap", "true", check=False, env={"SCNS_MAX_TIME": "soon"})
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    assert "invalid setting SCNS_MAX_TIME='soon'" in proc.stderr


def test_max_time_through_the_system_socket() -> None:
    require_root()
    base = tempfile.mkdtemp(prefix="scns-u-", dir="/tmp")
    os.chmod(base, 0o755)
    accounts = Accounts(base)
    system = None
    try:
        accounts.let_users_run_python()
        alice = accounts.user("a")
        system = make_system({"SCNS_MAX_TIME": "1:00:00"}, ["n1"], operators="")
        system.start()
        proc = system.cli(alice, "submit", "-H", "-t", "2:00:00", "--wrap", "true")
        assert proc.returncode != 0 and proc.stderr.count("\n") == 1
        assert "above max_time 1:00:00" in proc.stderr
        job = system.submit(alice, "-H", "--wrap", "true")
        assert system.query(alice, job)["time_limit"] == 3600
    finally:
        if system is not None:
            remove_system(system)
        accounts.remove()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("value", ["0", "UNLIMITED"])
def test_a_zero_or_unlimited_max_time_means_no_site_limit(scns: Scns, value: str) -> None:
    env = {"SCNS_MAX_TIME": value}
    job_id = int(scns.run("submit", "--parsable", "-t", "100-00:00:00", "--wrap", "true",
                          env=env).stdout)  # fmt: skip
    assert scns.query(job_id)["time_limit"] == 100 * 86400
