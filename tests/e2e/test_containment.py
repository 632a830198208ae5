"""Every process of a job held and accounted for: cgroups (v2, or v1 as on the CI machine).

Real daemons and real jobs; needs root to write cgroups (skipped with the reason otherwise).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from scns.exec import cgroups
from scns.exec.process import is_alive, process_start_ticks
from tests.conftest import Scns, wait_until


@pytest.fixture
def contained(scns: Scns) -> Scns:
    if os.geteuid() != 0:
        pytest.skip("cgroups need root (or a delegated subtree)")
    if cgroups.detect("probe") is None:
        pytest.skip("this host has no writable cgroup v1 or v2 hierarchy")
    scns.start_daemon("--cpus", "2", "--node", "n1")
    return scns


ESCAPE = (
    "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {pids}\n"
    "( ( sleep 1001 </dev/null >/dev/null 2>&1 & echo $! >> {pids} ) & ) \n"
    "{tail}\n"
)


def _escaped(scns: Scns, pids_file: str) -> list[tuple[int, int | None]]:
    def written():
        try:
            with open(pids_file) as handle:
                found = [int(p) for p in handle.read().split()]
        except OSError:
            return None
        return found if len(found) == 2 else None

    pids = wait_until(written, 20, 0.05, "the escaped processes' pids")
    return [(p, process_start_ticks(p)) for p in pids]


@pytest.mark.parametrize("ending", ["exit", "cancel", "timeout"])
def test_escaped_processes_end_with_the_job(contained: Scns, ending: str) -> None:
    """A setsid child and a double-forked one are gone when the job ends, however it ends."""
    scns = contained
    pids_file = os.path.join(scns.workdir, f"pids-{ending}")
    tail = "sleep 1" if ending == "exit" else "sleep 300"
    args = ["-t", "0:02"] if ending == "timeout" else []
    job = scns.submit(*args, "--wrap", ESCAPE.format(pids=pids_file, tail=tail))
    escaped = _escaped(scns, pids_file)
    assert all(is_alive(p, t) for p, t in escaped)
    if ending == "cancel":
        scns.run("cancel", str(job))
    final = {"exit": "COMPLETED", "cancel": "CANCELLED", "timeout": "TIMEOUT"}[ending]
    info = scns.wait_state(job, final, timeout=30)
    assert info["state"] == final
    assert not any(is_alive(p, t) for p, t in escaped), "an escaped process outlived its job"


def test_an_escaped_process_over_mem_ends_the_job_out_of_memory(contained: Scns) -> None:
    hog = "setsid python3 -c 'x = bytearray(400 * 1024 * 1024)'; sleep 0.2"
    job = contained.submit("--mem", "60M", "--wrap", hog)
    info = contained.wait_state(job, "OUT_OF_MEMORY", "COMPLETED", "FAILED", timeout=30)
    assert info["state"] == "OUT_OF_MEMORY", info


def test_a_job_cannot_widen_its_cpus(contained: Scns) -> None:
    out = os.path.join(contained.workdir, "cpus.out")
    job = contained.submit("-c", "1", "-o", out, "--wrap",
                           "taskset -p -c 0,1 $$ >/dev/null 2>&1; taskset -c -p $$")  # fmt: skip
    info = contained.wait_state(job, "COMPLETED", "FAILED")
    with open(out) as handle:
        allowed = handle.read().strip().rsplit(":", 1)[-1].strip()
    assert allowed == str(info["cpu_ids"][0]), allowed


def test_killing_its_supervisor_neither_frees_the_cores_nor_hides_the_end(
    contained: Scns,
) -> None:
    """``kill -9 $PPID`` (possible when the job runs as the daemon's own user): the job is
    ended with the supervisor, its cores stay held until its cgroup is empty, and the
    record says the exit status was lost, not that it succeeded."""
    scns = contained
    marker = os.path.join(scns.workdir, "after")
    job = scns.submit("-c", "2", "--wrap", f"kill -9 $PPID; sleep 2; touch {marker}")
    info = scns.wait_state(job, "FAILED", "COMPLETED", timeout=30)
    assert info["state"] == "FAILED" and "exit status lost" in info["reason"]
    assert not os.path.exists(marker)
    rows = scns.sql("SELECT COUNT(*) FROM core_claims")
    assert rows == [(0,)]


def test_peak_memory_and_cpu_time_are_recorded(contained: Scns) -> None:
    out = os.path.join(contained.workdir, "use.out")
    program = (
        "import os, time\n"
        "x = bytearray(200 * 1024 * 1024)\n"
        "for i in range(0, len(x), 4096): x[i] = 1\n"
        "t = time.process_time()\n"
        "while time.process_time() - t < 1.0: pass\n"
        "u = os.times(); print(u.user + u.system)\n"
    )
    path = os.path.join(contained.workdir, "use.py")
    with open(path, "w") as handle:
        handle.write(program)
    job = contained.submit("-o", out, "--wrap", f"python3 {path}")
    info = contained.wait_state(job, "COMPLETED", "FAILED", timeout=60)
    assert info["state"] == "COMPLETED", info
    with open(out) as handle:
        used_cpu = float(handle.read().strip())
    assert 200 * 2**20 <= info["max_rss_bytes"] <= 1.1 * 200 * 2**20 + 30 * 2**20
    total = info["cpu_user_s"] + info["cpu_system_s"]
    assert used_cpu * 0.9 <= total <= used_cpu * 1.1 + 0.1, (total, used_cpu)
    text = contained.run("query", str(job)).stdout
    assert "MaxRSS=" in text and "TotalCPU=" in text


def test_a_job_that_ends_while_no_daemon_runs_gets_its_true_end_time(contained: Scns) -> None:
    scns = contained
    job = scns.submit("--wrap", "sleep 1")
    scns.wait_state(job, "RUNNING")
    daemon = scns.daemons[0]
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    status = os.path.join(scns.home, "run", "status", "n1", str(job))
    wait_until(lambda: os.path.exists(status), 20, 0.05, "the job's status record")
    ended = os.stat(status).st_mtime
    wait_until(lambda: time.time() > ended + 3, 10, 0.1, "time to pass")
    scns.start_daemon("--cpus", "2", "--node", "n1")
    info = scns.wait_state(job, "COMPLETED", "FAILED")
    (end,) = scns.sql("SELECT end_time FROM jobs WHERE id = ?", (job,))[0]
    assert info["state"] == "COMPLETED"
    assert abs(end - ended) < 0.5, (end, ended)


def test_no_cgroup_is_left_behind(contained: Scns) -> None:
    from scns.daemon.tracked import short_hash

    job = contained.submit("--wrap", "sleep 300")
    contained.wait_state(job, "RUNNING")
    base = f"scns-n1-{short_hash(os.path.join(contained.home, 'run'))}"
    where = ["/sys/fs/cgroup", "-maxdepth", "7", "-type", "d", "-path", f"*/{base}/job{job}"]
    found = subprocess.run(["find", *where], capture_output=True, text=True)
    mine = found.stdout.split()
    assert mine, "the running job has no cgroup"
    contained.run("cancel", str(job))
    contained.wait_state(job, "CANCELLED")
    wait_until(lambda: not [p for p in mine if os.path.isdir(p)], 10, 0.05,
               "the job's cgroup to be removed")  # fmt: skip


def test_info_shows_how_the_node_contains_its_jobs(contained: Scns) -> None:
    import json

    nodes = json.loads(contained.run("info", "--json").stdout)
    assert [n["containment"] for n in nodes] == [cgroups.detect("probe").kind]
    assert nodes[0]["containment"] in ("cgroup1", "cgroup2")
    assert "CONTAIN" in contained.run("info").stdout


def test_max_pids_per_job_stops_a_fork_bomb(scns: Scns) -> None:
    if os.geteuid() != 0 or cgroups.detect("probe") is None:
        pytest.skip("cgroups need root (or a delegated subtree)")
    scns.start_daemon("--node", "n1", env={"SCNS_MAX_PIDS_PER_JOB": "20"})
    out = os.path.join(scns.workdir, "bomb.out")
    job = scns.submit("-o", out, "--wrap",
                      "for i in $(seq 60); do sleep 30 & done; echo forked all")  # fmt: skip
    info = scns.wait_state(job, "FAILED", "COMPLETED", timeout=60)
    with open(out) as handle:
        text = handle.read()
    assert "Cannot fork" in text and "forked all" not in text, text
    assert info["state"] == "FAILED"


def test_process_group_containment_when_asked(scns: Scns) -> None:
    import json

    scns.start_daemon("--node", "n1", env={"SCNS_CONTAINMENT": "process-group"})
    nodes = json.loads(scns.run("info", "--json").stdout)
    assert nodes[0]["containment"] == "process-group"
    job = scns.submit("--wrap", "true")
    assert scns.wait_state(job, "COMPLETED")["state"] == "COMPLETED"
