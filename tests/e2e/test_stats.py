"""``scns stats``: the numbers after a known run, on both backends, and through the system
socket (issue 13)."""

from __future__ import annotations

import json
import math
import os
import subprocess

import pytest

from tests.conftest import SCNS, Scns, wait_until
from tests.e2e.system import make_system, remove_system
from tests.e2e.users import require_root


def stats(scns: Scns) -> dict:
    return json.loads(scns.run("stats", "--json").stdout)


def test_stats_after_a_known_run(cluster: Scns) -> None:
    done = [cluster.submit("--wrap", "true") for _ in range(3)]
    failed = cluster.submit("--wrap", "exit 3")
    for job_id in done:
        cluster.wait_state(job_id, "COMPLETED")
    cluster.wait_state(failed, "FAILED")
    running = cluster.submit("--wrap", "sleep 300")
    cluster.wait_state(running, "RUNNING")
    cluster.submit("-H", "--wrap", "true")
    cluster.submit("-d", f"afterok:{running}", "--wrap", "true")

    def reasons_known():
        numbers = stats(cluster)
        wanted = {"JobHeldUser": 1, "Dependency": 1}
        return numbers if numbers["pending_reasons"] == wanted else None

    numbers = wait_until(reasons_known, 30, 0.2, "pending reasons from a full pass")
    jobs = numbers["jobs"]
    assert (jobs["COMPLETED"], jobs["FAILED"], jobs["RUNNING"], jobs["PENDING"]) == (3, 1, 1, 2)
    assert jobs["CANCELLED"] == jobs["TIMEOUT"] == 0
    assert numbers["nodes"] == [{"name": "n1", "state": "mixed", "cpus": 2, "allocated_cpus": 1}]
    assert numbers["cpus"] == {"total": 2, "allocated": 1}

    waits = sorted(row[0] for row in cluster.sql(
        "SELECT start_time - submit_time FROM jobs WHERE start_time IS NOT NULL"))  # fmt: skip
    assert len(waits) == 5
    for window in ("hour", "day"):
        w = numbers["windows"][window]
        assert w["started"] == 5
        assert w["mean_wait_s"] == pytest.approx(sum(waits) / 5, abs=0.002)
        assert w["p95_wait_s"] == pytest.approx(waits[math.ceil(0.95 * 5) - 1], abs=0.002)
        assert w["cpu_seconds"] > 0
        length_s = 3600 if window == "hour" else 86400
        assert w["utilization"] == pytest.approx(w["cpu_seconds"] / (2 * length_s), abs=1e-6)
    assert len(numbers["hourly"]) == 24
    assert sum(h["started"] for h in numbers["hourly"]) == 5
    assert sum(h["ended"] for h in numbers["hourly"]) == 4
    assert numbers["hourly"][-1]["started"] + numbers["hourly"][-2]["started"] == 5

    text = cluster.run("stats").stdout
    assert "COMPLETED 3" in text and "FAILED 1" in text and "PENDING 2" in text
    assert "JobHeldUser 1" in text and "Dependency 1" in text
    assert any(line.split()[:4] == ["n1", "mixed", "2", "1"] for line in text.splitlines())
    assert any(line.startswith("last hour") and line.split()[2] == "5"
               for line in text.splitlines())  # fmt: skip
    cluster.run("cancel", str(running))


def test_stats_of_an_empty_home(scns: Scns) -> None:
    numbers = stats(scns)
    assert set(numbers["jobs"].values()) == {0}
    assert numbers["pending_reasons"] == {} and numbers["nodes"] == []
    assert numbers["windows"]["day"] == {"started": 0, "mean_wait_s": None, "p95_wait_s": None,
                                         "cpu_seconds": 0.0, "utilization": None}  # fmt: skip
    assert "Queue:  empty" in scns.run("stats").stdout


def test_stats_through_the_system_socket(scns: Scns) -> None:
    require_root()
    system = make_system({}, ["n1"], operators="")
    try:
        system.start()
        client = {**scns.env, "SCNS_SOCKET": system.sockets[0]}  # its own home stays empty

        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*SCNS, *args], capture_output=True, text=True, env=client,
                                  cwd=scns.workdir, timeout=60, check=True)  # fmt: skip

        ids = [int(cli("submit", "--parsable", "--wrap", "true").stdout) for _ in range(2)]

        def ended():
            numbers = json.loads(cli("stats", "--json").stdout)
            return numbers if numbers["jobs"]["COMPLETED"] == len(ids) else None

        numbers = wait_until(ended, 30, 0.1, "both jobs to complete, seen through the socket")
        assert numbers["cpus"] == {"total": 2, "allocated": 0}
        assert numbers["windows"]["hour"]["started"] == 2
        assert not os.path.exists(os.path.join(scns.home, "scns.db"))  # never fell back
    finally:
        remove_system(system)
