"""``scns cleanup`` on a database seeded with stuck jobs, leaked allocations, a dead node and
old jobs: each is fixed exactly once, a second run changes nothing, --dry-run changes nothing;
a running job within its own limit, or without one, is never ended however long it runs."""

from __future__ import annotations

import os
import socket
import subprocess
import time

from scns.db import statements as sql
from scns.db.engine import open_database
from scns.exec.process import process_start_ticks
from tests.conftest import Scns

DAY = 86400.0


def _db(scns: Scns):
    url = scns.env.get("SCNS_DATABASE_URL") or f"sqlite:///{scns.home}/scns.db"
    return open_database(url, short_lived=True)


def _job(db, now: float, **fields) -> int:
    base = {
        "name": "seed", "user_name": "u", "uid": os.getuid(), "gid": os.getgid(),
        "state": "PENDING", "reason": None, "script": "#!/bin/sh\ntrue\n", "argv": "[]",
        "environment": "{}", "workdir": "/tmp", "stdout_path": "/tmp/none",
        "stderr_path": "/tmp/none", "ntasks": 1, "cpus_per_task": 1, "cpus": 1, "mem_mb": 0,
        "time_limit_s": None, "priority": 0, "nice": 0, "held": 0, "begin_time": None,
        "dependency": None, "kill_on_invalid_dep": 0, "requeue": 0, "array_job_id": None,
        "array_task_id": None, "array_max_running": None, "submit_time": now - DAY,
    }  # fmt: skip
    base.update(fields)
    with db.write() as tx:
        (job_id,) = sql.reserve_job_ids(tx, 1)
        sql.insert_jobs(tx, [{**base, "id": job_id}])
    return job_id


def _running(db, now: float, node: str, core: int, pid: int | None, **fields) -> int:
    job_id = _job(db, now, **fields)
    with db.write() as tx:
        assert sql.allocate(tx, job_id, node, [core], 0, now - 100)
        ticks = process_start_ticks(pid) if pid else None
        assert sql.mark_running(tx, job_id, pid or 1, ticks, fields.get("start", now - 100))
    return job_id


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def seed(scns: Scns) -> dict[str, int]:
    """One of every kind of damage; returns job ids by kind."""
    scns.run("queue")  # creates the schema on SQLite
    db = _db(scns)
    now = time.time()
    host = socket.gethostname()
    with db.write() as tx:
        for name, hostname, beat in (("here", host, now), ("far", "elsewhere", now),
                                     ("gone", "elsewhere", now - 1000)):  # fmt: skip
            sql.upsert_node(tx, name=name, hostname=hostname, cpu_ids=[0, 1, 2, 3, 4, 5],
                            mem_mb=0, pid=1, now=beat, version="t")  # fmt: skip
    ids = {}
    ids["vanished"] = _running(db, now, "here", 0, _dead_pid())
    ids["exit3"] = _running(db, now, "here", 1, _dead_pid())
    status_dir = os.path.join(scns.home, "run", "status", "here")
    os.makedirs(status_dir, exist_ok=True)
    with open(os.path.join(status_dir, str(ids["exit3"])), "w") as handle:
        handle.write("exit 3\n")
    ids["past_limit"] = _running(db, now, "here", 2, None, time_limit_s=60)
    # what a job's supervisor looks like: the scns-job shell writing this job's status
    runaway = subprocess.Popen(["/bin/sh", "-c", "sleep 300; :", "scns-job",
                                os.path.join(status_dir, str(ids["past_limit"]))],
                               start_new_session=True)  # fmt: skip
    # a process that is not the job's, its pid written into a RUNNING row: never killed
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    ids["impostor"] = _running(db, now, "here", 3, bystander.pid, time_limit_s=60)
    with db.write() as tx:
        for kind, proc in (("past_limit", runaway), ("impostor", bystander)):
            tx.run("UPDATE jobs SET start_time = :t, pid = :pid, pid_start_ticks = :ticks"
                   " WHERE id = :id", {"t": now - 10_000, "id": ids[kind], "pid": proc.pid,
                                       "ticks": process_start_ticks(proc.pid)})  # fmt: skip
    # long-running jobs within their own limit or without one: never cleanup's to end
    ids["too_long"] = _running(db, now, "far", 0, 4242)
    ids["within_limit"] = _running(db, now, "far", 2, 4646, time_limit_s=7 * 86400)
    ids["unlimited_here"] = _running(db, now, "here", 4, None)
    ids["limited_here"] = _running(db, now, "here", 5, None, time_limit_s=7 * 86400)
    alive = {kind: subprocess.Popen(["/bin/sh", "-c", "sleep 300; :", "scns-job",
                                     os.path.join(status_dir, str(ids[kind]))],
                                    start_new_session=True)
             for kind in ("unlimited_here", "limited_here")}  # fmt: skip
    with db.write() as tx:
        for kind in ("too_long", "within_limit", "unlimited_here", "limited_here"):
            proc = alive.get(kind)
            tx.run("UPDATE jobs SET start_time = :t, pid = COALESCE(:pid, pid),"
                   " pid_start_ticks = COALESCE(:ticks, pid_start_ticks) WHERE id = :id",
                   {"t": now - 49 * 3600, "id": ids[kind], "pid": proc and proc.pid,
                    "ticks": proc and process_start_ticks(proc.pid)})  # fmt: skip
    ids["node_fail"] = _running(db, now, "gone", 0, 4343)
    ids["requeue"] = _running(db, now, "gone", 1, 4444, requeue=1)
    ids["leaked"] = _running(db, now, "far", 1, 4545)
    with db.write() as tx:  # finished, but its allocation and core claim were never released
        tx.run("UPDATE jobs SET state = 'COMPLETED', end_time = :t, exit_code = 0"
               " WHERE id = :id", {"t": now, "id": ids["leaked"]})  # fmt: skip
    log = os.path.join(scns.workdir, "old.out")
    with open(log, "w") as handle:
        handle.write("old\n")
    ids["old"] = _job(db, now, state="COMPLETED", end_time=now - 40 * DAY, exit_code=0,
                      stdout_path=log, stderr_path=log)  # fmt: skip
    ids["recent"] = _job(db, now, state="COMPLETED", end_time=now - DAY, exit_code=0)
    db.close()
    scns.runaway = runaway  # type: ignore[attr-defined]
    scns.bystander = bystander  # type: ignore[attr-defined]
    scns.alive = alive  # type: ignore[attr-defined]
    return ids


def snapshot(scns: Scns) -> list:
    return [
        scns.sql("SELECT * FROM jobs ORDER BY id"),
        scns.sql("SELECT * FROM allocations ORDER BY id"),
        scns.sql("SELECT * FROM core_claims ORDER BY node, cpu_id"),
        scns.sql("SELECT name, state FROM nodes ORDER BY name"),
    ]


def test_cleanup_fixes_each_thing_once(any_backend: Scns) -> None:
    scns = any_backend
    ids = seed(scns)
    before = snapshot(scns)
    args = ("cleanup", "--purge-after", "30d", "--purge-logs")
    dry = scns.run(*args, "--dry-run", "--verbose")
    assert dry.stdout.startswith("cleanup (dry run): would fix 4 stuck job(s)")
    assert snapshot(scns) == before, "--dry-run changed the database"
    assert os.path.exists(os.path.join(scns.workdir, "old.out"))
    assert scns.runaway.poll() is None

    real = scns.run(*args)
    assert real.stdout.count("\n") == 1 and real.stderr == ""
    assert real.stdout.startswith("cleanup: fixed 4 stuck job(s), released 1 leaked allocation")
    assert "marked 1 node(s) down (1 NODE_FAIL, 1 requeued), purged 1 old job(s)" in real.stdout
    state = {i: scns.sql("SELECT state, exit_code, reason FROM jobs WHERE id = ?", (i,))
             for i in ids.values()}  # fmt: skip
    assert state[ids["vanished"]][0][0] == "FAILED"
    assert "gone" in state[ids["vanished"]][0][2]
    assert state[ids["exit3"]][0][:2] == ("FAILED", 3)  # its true exit status
    assert state[ids["past_limit"]][0][0] == "FAILED"
    assert scns.runaway.wait(timeout=10) is not None  # and its process was killed
    assert state[ids["impostor"]][0][0] == "FAILED"
    assert scns.bystander.poll() is None  # a pid that is not the job's supervisor lives on
    scns.bystander.kill()
    scns.bystander.wait()
    for kind in ("too_long", "within_limit", "unlimited_here", "limited_here"):
        assert state[ids[kind]][0] == ("RUNNING", None, None), kind  # 49 h, within its limit
    for kind, proc in scns.alive.items():
        assert proc.poll() is None, f"cleanup killed {kind}"
    assert state[ids["node_fail"]][0][0] == "NODE_FAIL"
    assert state[ids["requeue"]][0][0] == "PENDING"
    assert state[ids["leaked"]][0][0] == "COMPLETED"
    assert state[ids["old"]] == []
    assert not os.path.exists(os.path.join(scns.workdir, "old.out"))
    assert state[ids["recent"]][0][0] == "COMPLETED"
    assert scns.sql("SELECT COUNT(*) FROM allocations WHERE released_time IS NULL") == [(4,)]
    assert scns.sql("SELECT COUNT(*) FROM core_claims") == [(4,)]  # the four still running

    after = snapshot(scns)
    again = scns.run(*args)
    assert again.stdout.startswith("cleanup: fixed 0 stuck job(s), released 0 leaked")
    assert "marked 0 node(s) down" in again.stdout and "purged 0 old job(s)" in again.stdout
    assert snapshot(scns) == after
    for proc in scns.alive.values():
        assert proc.poll() is None
        proc.kill()
        proc.wait()


def test_cleanup_rejects_bad_ages(scns: Scns) -> None:
    proc = scns.run("cleanup", "--purge-after", "soon", check=False)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1 and "--purge-after" in proc.stderr
    proc = scns.run("cleanup", "--purge-logs", check=False)
    assert proc.returncode != 0 and "--purge-after" in proc.stderr
