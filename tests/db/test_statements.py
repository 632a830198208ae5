"""The database layer's behaviour, identical on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from scns.db import statements as sql
from scns.db.engine import Database
from scns.domain.states import JobState


def claimed(tx) -> dict[str, set[int]]:
    """The core claims table: the uniqueness guard itself, read directly."""
    found: dict[str, set[int]] = {}
    for node, cpu in tx.rows("SELECT node, cpu_id FROM core_claims"):
        found.setdefault(node, set()).add(cpu)
    return found


def add_jobs(db: Database, count: int = 1, **overrides) -> list[int]:
    with db.write() as tx:
        ids = sql.reserve_job_ids(tx, count)
        rows = []
        for job_id in ids:
            row = {
                "id": job_id, "name": "j", "user_name": "u", "uid": 1000, "gid": 1000,
                "state": "PENDING", "reason": None, "script": "#!/bin/sh\ntrue\n", "argv": "[]",
                "environment": "{}", "workdir": "/tmp", "stdout_path": "/tmp/o",
                "stderr_path": "/tmp/o", "ntasks": 1, "cpus_per_task": 1, "cpus": 1,
                "mem_mb": 0, "time_limit_s": None, "priority": 0, "nice": 0, "held": 0,
                "begin_time": None, "dependency": None, "kill_on_invalid_dep": 0,
                "requeue": 0, "array_job_id": None, "array_task_id": None,
                "array_max_running": None, "submit_time": 1000.0 + job_id,
            }  # fmt: skip
            row.update(overrides)
            rows.append(row)
        sql.insert_jobs(tx, rows)
    return ids


def add_node(db: Database, name: str = "n1", cpus: int = 4, now: float = 1000.0) -> None:
    with db.write() as tx:
        sql.upsert_node(tx, name=name, hostname="h", cpu_ids=list(range(cpus)), mem_mb=0,
                        pid=1, now=now, version="t")  # fmt: skip


def test_reserved_ids_are_unique_and_rows_round_trip(db: Database) -> None:
    first = add_jobs(db, 3)
    second = add_jobs(db, 2)
    assert len(set(first + second)) == 5
    with db.read() as tx:
        job = sql.get_job(tx, second[-1])
    assert job is not None and job.state is JobState.PENDING and job.submit_time > 1000


def test_allocate_is_guarded_and_claims_cores(db: Database) -> None:
    add_node(db)
    (job_id,) = add_jobs(db)
    with db.write() as tx:
        assert sql.allocate(tx, job_id, "n1", [0, 1], 0, 1001.0)
    with db.write() as tx:
        assert not sql.allocate(tx, job_id, "n1", [2], 0, 1002.0)  # no longer PENDING
    with db.read() as tx:
        assert claimed(tx) == {"n1": {0, 1}}
        assert sql.node_allocated(tx) == {"n1": (2, 0)}
        assert [r[:5] for r in sql.live_allocations(tx)] == [
            (job_id, "n1", "0,1", 0, "CONFIGURING")
        ]
        assert sql.get_job(tx, job_id).state is JobState.CONFIGURING


def test_a_core_can_never_be_claimed_twice(db: Database) -> None:
    add_node(db)
    a, b = add_jobs(db, 2)
    with db.write() as tx:
        assert sql.allocate(tx, a, "n1", [0], 0, 1001.0)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), db.write() as tx:
        sql.allocate(tx, b, "n1", [0], 0, 1001.0)
    with db.read() as tx:  # the failed transaction left nothing behind
        assert sql.get_job(tx, b).state is JobState.PENDING


def test_jobs_to_launch_on_a_node_are_its_allocated_unstarted_jobs(db: Database) -> None:
    add_node(db)
    a, b, c = add_jobs(db, 3)
    with db.write() as tx:
        assert sql.allocate(tx, a, "n1", [0], 0, 1001.0)
        assert sql.allocate(tx, b, "n1", [1], 0, 1001.0)
        assert sql.mark_running(tx, b, 4321, 7, 1002.0)
    with db.read() as tx:
        found = sql.jobs_to_launch(tx, node="n1")
        by_id = sql.jobs_to_launch(tx, [a, c])
    assert [(job.id, payload[0][:9]) for job, payload in found] == [(a, "#!/bin/sh")]
    assert [job.id for job, _payload in by_id] == [a, c]


def test_cancel_and_start_race_has_one_winner(db: Database) -> None:
    add_node(db)
    (job_id,) = add_jobs(db)
    with db.write() as tx:
        assert sql.cancel_pending(tx, [job_id], 1001.0, "by test") == [job_id]
    with db.write() as tx:
        assert not sql.allocate(tx, job_id, "n1", [0], 0, 1001.0)
    (other,) = add_jobs(db)
    with db.write() as tx:
        assert sql.allocate(tx, other, "n1", [0], 0, 1001.0)
    with db.write() as tx:
        assert sql.cancel_pending(tx, [other], 1002.0, "by test") == []
        assert sql.request_cancel(tx, [other]) == [(other, "n1")]
    with db.write() as tx:  # the cancel flag blocks the start
        assert not sql.mark_running(tx, other, 1234, 5, 1003.0)


def test_finish_releases_everything_once(db: Database) -> None:
    add_node(db)
    (job_id,) = add_jobs(db)
    with db.write() as tx:
        sql.allocate(tx, job_id, "n1", [0, 1, 2], 0, 1001.0)
        assert sql.mark_running(tx, job_id, 4321, 99, 1002.0)
    with db.write() as tx:
        assert sql.finish(tx, job_id, expected=["RUNNING"], state="COMPLETED", now=1003.0,
                          exit_code=0)  # fmt: skip
    with db.write() as tx:
        assert not sql.finish(tx, job_id, expected=["RUNNING"], state="FAILED", now=1004.0)
    with db.read() as tx:
        job = sql.get_job(tx, job_id)
        assert (job.state, job.exit_code, job.end_time) == (JobState.COMPLETED, 0, 1003.0)
        assert claimed(tx) == {} and sql.node_allocated(tx) == {}
        assert sql.live_allocations(tx) == []
        kinds = [k for _t, k, _d in sql.job_events(tx, job_id)]
    assert kinds == ["started", "completed"]


def test_requeue_returns_a_job_to_pending_and_frees_it(db: Database) -> None:
    add_node(db)
    (job_id,) = add_jobs(db)
    with db.write() as tx:
        sql.allocate(tx, job_id, "n1", [3], 0, 1001.0)
        assert sql.requeue(tx, job_id, expected=["CONFIGURING"], now=1002.0, reason="r")
    with db.read() as tx:
        job = sql.get_job(tx, job_id)
        assert job.state is JobState.PENDING and job.node is None and job.restarts == 1
        assert claimed(tx) == {}


def test_pending_order_priority_nice_submit_time(db: Database) -> None:
    low = add_jobs(db, 1, priority=1)[0]
    high = add_jobs(db, 1, priority=10)[0]
    niced = add_jobs(db, 1, priority=10, nice=20)[0]
    held = add_jobs(db, 1, priority=99, held=1)[0]
    with db.read() as tx:
        order = [r[0] for r in sql.pending_jobs(tx, 10)]
    assert order == [high, low, niced]
    assert held not in order


def test_lease_has_one_holder_until_it_expires(db: Database) -> None:
    with db.write() as tx:
        assert sql.take_lease(tx, "scheduler", "a", 1000.0, 5.0)
    with db.write() as tx:
        assert not sql.take_lease(tx, "scheduler", "b", 1003.0, 5.0)
    with db.write() as tx:
        assert sql.take_lease(tx, "scheduler", "a", 1004.0, 5.0)  # renewal
    with db.write() as tx:
        assert sql.take_lease(tx, "scheduler", "b", 1010.0, 5.0)  # expired: taken over
    with db.write() as tx:
        assert not sql.take_lease(tx, "scheduler", "a", 1011.0, 5.0)


def test_node_heartbeat_and_down(db: Database) -> None:
    add_node(db, "n1", now=1000.0)
    with db.write() as tx:
        assert sql.heartbeat(tx, "n1", 1005.0)
        assert not sql.set_node_down(tx, "n1", "stale", only_if_stale_before=1001.0)
        assert sql.set_node_down(tx, "n1", "stale", only_if_stale_before=1010.0)
        assert not sql.heartbeat(tx, "n1", 1011.0)
    with db.read() as tx:
        (node,) = sql.list_nodes(tx)
    assert (node["state"], node["reason"], node["cpu_ids"]) == ("DOWN", "stale", "0,1,2,3")


def test_list_jobs_filters_and_reasons(db: Database) -> None:
    add_node(db)
    a, b = add_jobs(db, 2)
    with db.write() as tx:
        sql.cancel_pending(tx, [a], 1001.0, "x")
        sql.set_reasons(tx, [(b, "Resources", 2000.0)])
    with db.read() as tx:
        assert [j.id for j in sql.list_jobs(tx)] == [b]
        assert [j.id for j in sql.list_jobs(tx, include_finished=True)] == [a, b]
        assert [j.id for j in sql.list_jobs(tx, states=["CANCELLED"])] == [a]
        job = sql.get_job(tx, b)
    assert (job.reason, job.expected_start_time) == ("Resources", 2000.0)


def test_stale_configuring_and_jobs_on_nodes(db: Database) -> None:
    add_node(db)
    (job_id,) = add_jobs(db)
    with db.write() as tx:
        sql.allocate(tx, job_id, "n1", [0], 0, 1000.0)
        sql.notify(tx, "node:n1")  # a no-op on SQLite, a NOTIFY on PostgreSQL
    with db.read() as tx:
        assert sql.stale_configuring(tx, 999.0) == []
        assert sql.stale_configuring(tx, 1001.0) == [(job_id, "n1")]
        assert sql.jobs_on_nodes(tx, ["n1"], ["CONFIGURING"]) == [(job_id, "CONFIGURING", 0)]


def test_array_rows_share_the_first_tasks_script(db: Database) -> None:
    first = add_jobs(db, 1, array_task_id=0, argv='["x"]')[0]
    with db.write() as tx:
        tx.run("UPDATE jobs SET array_job_id = :a WHERE id = :a", {"a": first})
    add_jobs(db, 2, array_job_id=first, array_task_id=1, script="", environment="{}")
    with db.read() as tx:
        tasks = sql.get_array_jobs(tx, first)
        ((job, payload),) = sql.jobs_to_launch(tx, [tasks[-1].id])
        stats = sql.array_stats(tx, first)
    assert len(tasks) == 3 and job.id == tasks[-1].id
    assert payload[0].startswith("#!/bin/sh") and payload[1] == '["x"]'
    assert stats["count"] == 3
