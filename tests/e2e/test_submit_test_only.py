"""``scns submit --test-only`` (issue 13): nothing is stored; when and where the scheduler's
own plan would start the job, or why it would not."""

from __future__ import annotations

import datetime as dt
import os
import re
import time

from tests.conftest import Scns

LINE = re.compile(r"scns submit: job would start at (\S+) on (\S+) using (\d+) CPUs?\n")


def _forecast(scns: Scns, *args: str) -> tuple[float, str, int]:
    proc = scns.run("submit", "--test-only", *args)
    match = LINE.fullmatch(proc.stdout)
    assert match, proc.stdout
    when = dt.datetime.fromisoformat(match.group(1)).timestamp()
    return when, match.group(2), int(match.group(3))


def _stored(scns: Scns) -> int:
    return scns.sql("SELECT COUNT(*) FROM jobs")[0][0]


def test_test_only_submits_nothing_and_says_when_and_where(cluster: Scns) -> None:
    now = time.time()
    when, node, cpus = _forecast(cluster, "--cpus", "2", "--wrap", "true")
    assert (node, cpus) == ("n1", 2) and abs(when - now) < 60
    assert _stored(cluster) == 0
    running = cluster.submit("-t", "5:00", "--wrap", "sleep 300")
    cluster.wait_state(running, "RUNNING")
    now = time.time()
    when, node, cpus = _forecast(cluster, "--cpus", "2", "--wrap", "true")
    assert node == "n1" and 290 < when - now <= 301  # once the running job's limit is up
    when, _node, cpus = _forecast(cluster, "--wrap", "true")  # a free CPU: now
    assert cpus == 1 and abs(when - time.time()) < 60
    script = os.path.join(cluster.workdir, "t.sh")
    with open(script, "w") as handle:
        handle.write("#!/bin/sh\n#SBATCH --test-only\n#SBATCH --cpus-per-task=2\ntrue\n")
    assert _forecast(cluster, script)[2] == 2  # asked for in the script, too
    assert _stored(cluster) == 1
    cluster.run("cancel", str(running))


def test_test_only_says_why_a_job_would_not_start(cluster: Scns) -> None:
    proc = cluster.run("submit", "--test-only", "--cpus", "3", "--wrap", "true", check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "Requested node configuration is not available" in proc.stderr
    proc = cluster.run("submit", "--test-only", "-H", "--wrap", "true")
    assert proc.stdout == "scns submit: job would be held (-H) until `scns release`\n"
    first = cluster.submit("-H", "--wrap", "true")
    proc = cluster.run("submit", "--test-only", "-d", f"afterok:{first}", "--wrap", "true")
    assert proc.stdout == f"scns submit: job would wait for its dependency (afterok:{first})\n"
    assert _stored(cluster) == 1
    cluster.run("cancel", str(first))


def test_test_only_without_a_daemon(scns: Scns) -> None:
    proc = scns.run("submit", "--test-only", "--wrap", "true", check=False)
    assert proc.returncode == 1 and "no node is up" in proc.stderr
    assert _stored(scns) == 0
