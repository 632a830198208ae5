"""Node states and the lease takeover at the statement level, on every backend: a drain
outlives re-registration, a clean stop, resume and remove are guarded, the heartbeat carries
an UP node's failing steps, and the leader requeues what a pass placed on a node that went
down meanwhile."""

from __future__ import annotations

import tempfile

from scns.daemon.leader import Leader
from scns.daemon.scheduling import PassConfig
from scns.db import statements as sql
from scns.db.engine import Database
from tests.db.test_statements import add_jobs


def register(db: Database, name: str = "n1", pid: int = 10, now: float = 1000.0) -> None:
    with db.write() as tx:
        sql.upsert_node(tx, name=name, hostname="h", cpu_ids=[0, 1], mem_mb=0, pid=pid, now=now,
                        version="t")  # fmt: skip


def node(db: Database, name: str = "n1") -> dict | None:
    with db.read() as tx:
        return sql.get_node(tx, name)


def test_a_drain_outlives_re_registration_and_a_clean_stop(db: Database) -> None:
    register(db)
    with db.write() as tx:
        assert sql.drain_node(tx, "n1", "disk swap")
        assert not sql.drain_node(tx, "nosuch", None)
    register(db, pid=11)  # the daemon restarts
    row = node(db)
    assert (row["state"], row["reason"], row["pid"]) == ("DRAIN", "disk swap", 11)
    with db.write() as tx:
        assert not sql.set_node_stopped(tx, "n1", 10, "h")  # not the daemon holding it
        assert sql.set_node_stopped(tx, "n1", 11, "h")
    row = node(db)
    assert (row["state"], row["reason"], row["pid"]) == ("DRAIN", "disk swap", None)
    with db.write() as tx:
        assert sql.resume_node(tx, "n1")  # no daemon serves it: down, not up
    assert (node(db)["state"], node(db)["reason"]) == ("DOWN", "stopped")
    register(db, pid=12)
    assert (node(db)["state"], node(db)["reason"]) == ("UP", None)
    with db.write() as tx:
        assert not sql.resume_node(tx, "n1")  # not drained


def test_a_clean_stop_marks_an_up_node_down_at_once(db: Database) -> None:
    register(db)
    with db.write() as tx:
        assert sql.set_node_stopped(tx, "n1", 10, "h")
        assert not sql.heartbeat(tx, "n1", 1001.0, pid=10, hostname="h")
    row = node(db)
    assert (row["state"], row["reason"], row["pid"]) == ("DOWN", "stopped", None)


def test_the_heartbeat_carries_an_up_nodes_failing_steps_and_is_guarded_by_pid(db) -> None:
    register(db)
    with db.write() as tx:
        assert sql.heartbeat(tx, "n1", 1001.0, pid=10, hostname="h", reason="step reap failing")
    assert node(db)["reason"] == "step reap failing"
    with db.write() as tx:
        assert sql.heartbeat(tx, "n1", 1002.0, pid=10, hostname="h")
        assert not sql.heartbeat(tx, "n1", 1003.0, pid=99, hostname="h")  # another daemon's
        assert not sql.heartbeat(tx, "n1", 1003.0, pid=10, hostname="elsewhere")
    assert (node(db)["reason"], node(db)["heartbeat_time"]) == (None, 1002.0)
    with db.write() as tx:
        assert sql.drain_node(tx, "n1", "maintenance")
        assert sql.heartbeat(tx, "n1", 1004.0, pid=10, hostname="h", reason="step x failing")
    assert node(db)["reason"] == "maintenance"  # a drain's reason is the operator's


def test_remove_is_refused_while_a_job_is_allocated_there(db: Database) -> None:
    register(db)
    (job,) = add_jobs(db)
    with db.write() as tx:
        assert sql.allocate(tx, job, "n1", [0], 0, 1001.0)
    with db.write() as tx:
        assert not sql.delete_node(tx, "n1")
        assert sql.finish(tx, job, expected=["CONFIGURING"], state="CANCELLED", now=1002.0)
    with db.write() as tx:
        assert sql.delete_node(tx, "n1")
    assert node(db) is None


def test_a_lease_is_taken_from_a_dead_holder_only_if_it_still_holds_it(db: Database) -> None:
    with db.write() as tx:
        assert sql.take_lease(tx, "scheduler", "old", 1000.0, 30.0)
    with db.write() as tx:
        assert not sql.take_lease(tx, "scheduler", "new", 1001.0, 30.0)
        assert sql.lease_holder(tx, "scheduler") == "old"
        assert not sql.take_lease_from(tx, "scheduler", "other", "new", 1001.0, 30.0)
        assert sql.take_lease_from(tx, "scheduler", "old", "new", 1001.0, 30.0)
    with db.write() as tx:
        assert sql.take_lease(tx, "scheduler", "new", 1002.0, 30.0)  # renewal as usual


def test_the_leader_requeues_jobs_placed_on_a_node_that_went_down(db: Database) -> None:
    register(db, "a")
    register(db, "b", pid=20)
    placed, kept = add_jobs(db, 2)
    with db.write() as tx:
        assert sql.allocate(tx, placed, "b", [0], 0, 1001.0)
        assert sql.allocate(tx, kept, "a", [0], 0, 1001.0)
        assert sql.set_node_stopped(tx, "b", 20, "h")
    leader = Leader(db, "a", "a:h:1:-:x", tempfile.mkdtemp(prefix="scns-run-"), PassConfig(),
                    6.0, host="h")  # fmt: skip
    leader.repair(1010.0)
    with db.read() as tx:
        jobs = {j.id: j for j in sql.get_jobs(tx, [placed, kept])}
    assert (jobs[placed].state.value, jobs[placed].node, jobs[placed].reason) == (
        "PENDING", None, "node down")  # fmt: skip
    assert (jobs[kept].state.value, jobs[kept].node) == ("CONFIGURING", "a")
