"""What only the elected scheduler does: hold the lease, run passes, dispatch, repair.

Leadership is a lease row renewed well before it expires; a daemon that cannot renew stops
scheduling at once. Fail-over takes at most one lease period after the leader dies, and
none when the dead leader was this node's previous daemon on this machine: the holder names
its node, host, pid and the process's start time, so a restarted daemon can prove it dead.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict

from scns import wake
from scns.daemon.scheduling import PassConfig, run_pass
from scns.db import statements as sql
from scns.db.engine import Database
from scns.exec.process import is_alive, process_start_ticks
from scns.log import log
from scns.service.recovery import fail_stale_nodes, requeue_unstarted

LEADER_LEASE = "scheduler"
RESEND_AFTER_S = 2.0
REPAIR_EVERY_S = 2.0
FULL_PASS_EVERY_S = 1.0
NODES_TTL_S = 1.0


def lease_holder(node: str, host: str, pid: int | None = None) -> str:
    """``node:host:pid:start-ticks:nonce``: names this very process (node names and host
    names hold no colon)."""
    pid = os.getpid() if pid is None else pid
    ticks = process_start_ticks(pid)
    return f"{node}:{host}:{pid}:{'-' if ticks is None else ticks}:{uuid.uuid4().hex[:8]}"


def is_dead_predecessor(holder: str, node: str, host: str) -> bool:
    """Whether ``holder`` is an earlier daemon of ``node`` on this host that is provably
    gone: its pid no longer exists, or names a process that started at another time."""
    parts = holder.split(":")
    if len(parts) != 5 or parts[0] != node or parts[1] != host or not parts[2].isdigit():
        return False  # another node, another machine, or an older holder format: wait
    pid, ticks = int(parts[2]), parts[3]
    if not ticks.isdigit():
        return not is_alive(pid, None)
    return not is_alive(pid, int(ticks))


class Leader:
    def __init__(self, db: Database, node: str, holder: str, run_dir: str, config: PassConfig,
                 lease_s: float, sender=None, host: str = "") -> None:  # fmt: skip
        self.db = db
        self.node = node
        self.host = host
        self.holder = holder
        self.run_dir = run_dir
        self.config = config
        self.lease_s = lease_s
        self.sender = sender  # StartSender on PostgreSQL + Redis, else None
        self.is_leader = False
        self.lease_due = 0.0
        self.repair_due = 0.0
        self.full_pass_due = 0.0
        self.reasons_stale = False
        self.room_left = False  # the last pass may not have started all it could
        # the nodes table, re-read at most every NODES_TTL_S (and after marking nodes down)
        self._node_rows: list[dict] | None = None
        self._nodes_read_at = 0.0

    def keep_lease(self, now: float) -> bool:
        """Take or renew the lease when due; an error stops scheduling at once (and is
        raised, for the loop to report and back off)."""
        if now < self.lease_due:
            return self.is_leader
        self.lease_due = now + self.lease_s / 3
        try:
            with self.db.write() as tx:
                leader = sql.take_lease(tx, LEADER_LEASE, self.holder, now, self.lease_s)
                if not leader:
                    leader = self._take_over(tx, now)
        except Exception:
            self._set_leader(False)
            raise
        self._set_leader(leader)
        return leader

    def _take_over(self, tx, now: float) -> bool:
        """The lease of this node's previous daemon, proven dead, without waiting it out."""
        previous = sql.lease_holder(tx, LEADER_LEASE)
        if previous is None or not is_dead_predecessor(previous, self.node, self.host):
            return False
        if not sql.take_lease_from(tx, LEADER_LEASE, previous, self.holder, now, self.lease_s):
            return False
        log("lease_taken_over", previous=previous)
        return True

    def step_down(self) -> None:
        """The lease could not be checked (its step failed, or backs off): stop scheduling
        at once, and renew it at the next chance."""
        self._set_leader(False)
        self.lease_due = 0.0

    def _set_leader(self, leader: bool) -> None:
        if leader != self.is_leader:
            log("leadership", node=self.node, leader=leader)
        self.is_leader = leader

    def forget_nodes(self) -> None:
        """Re-read the nodes table at the next pass (an operator may have drained one)."""
        self._node_rows = None

    def next_timer(self) -> float | None:
        """When the loop must wake for a full pass (only while pending reasons are stale)."""
        return self.full_pass_due if self.is_leader and self.reasons_stale else None

    def release(self) -> None:
        if self.is_leader:
            with self.db.write() as tx:
                sql.drop_lease(tx, LEADER_LEASE, self.holder)
            self.is_leader = False

    def schedule(self, now: float) -> list[int]:
        """One pass; wake the nodes that got work. Returns the jobs allocated to this node."""
        full = now >= self.full_pass_due
        if full:
            self.full_pass_due = now + FULL_PASS_EVERY_S
        if self._node_rows is None or now - self._nodes_read_at >= NODES_TTL_S:
            with self.db.reads() as tx:
                self._node_rows = sql.list_nodes(tx)
            self._nodes_read_at = now
        result = run_pass(self.db, self.config, now, full=full, local_node=self.node,
                          node_rows=self._node_rows)  # fmt: skip
        # jobs left waiting need a full pass soon, to record why they wait
        self.reasons_stale = result.examined > len(result.started) and not full
        self.room_left = result.room_left
        by_node: dict[str, list[int]] = defaultdict(list)
        for start in result.started:
            by_node[start.node].append(start.job_id)
        self._dispatch({n: ids for n, ids in by_node.items() if n != self.node})
        if result.started:
            log("scheduled", started=len(result.started), examined=result.examined,
                pass_ms=round(result.duration_s * 1000, 2), full=full)  # fmt: skip
        return [s.job_id for s in result.started if s.node == self.node]

    def repair(self, now: float) -> None:
        """Down stale nodes; resend start messages that may have been lost, or requeue the
        jobs when their node went down meanwhile (a pass placed them on a moment-old view
        of a node that was stopping: they never ran, and nobody there will start them)."""
        if now < self.repair_due:
            return
        self.repair_due = now + REPAIR_EVERY_S
        failures = fail_stale_nodes(self.db, now, self.config.heartbeat_timeout_s, alive=self.node)
        if failures.nodes:
            self._node_rows = None
            log("nodes_down", nodes=",".join(failures.nodes), requeued=len(failures.requeued),
                node_fail=len(failures.node_failed))  # fmt: skip
        with self.db.read() as tx:
            stale = sql.stale_configuring(tx, now - RESEND_AFTER_S)
            down = {n["name"] for n in sql.list_nodes(tx) if n["state"] == "DOWN"} if stale else ()
        orphans = [job_id for job_id, node in stale if node in down]
        if orphans:
            requeued = requeue_unstarted(self.db, orphans, now, "node down")
            log("requeued_from_down_nodes", jobs=len(requeued))
        by_node: dict[str, list[int]] = defaultdict(list)
        for job_id, node in stale:
            if node != self.node and node not in down:
                by_node[node].append(job_id)
        if by_node:
            log("dispatch_resent", jobs=sum(map(len, by_node.values())))
            self._dispatch(by_node)

    def _dispatch(self, by_node: dict[str, list[int]]) -> None:
        """Start messages through RQ; without Redis, the wake socket of a node on this
        machine (nodes elsewhere were woken by the allocation's own NOTIFY)."""
        for node, ids in by_node.items():
            if self.sender is None or not self.sender.send(node, ids):
                wake.notify(self.run_dir, only=node)
