"""Statements about nodes, the scheduler lease and wake-up notifications.

A node's ``state`` is UP (its daemon runs and takes work), DRAIN (an operator stopped new
work; running jobs finish) or DOWN (stopped cleanly, or its heartbeat went stale). ``pid`` is
NULL once its daemon stopped cleanly. On an UP node ``reason`` is what its daemon reports
failing (NULL when all is well); on a DRAIN or DOWN node it says why.
"""

from __future__ import annotations

from scns.db.engine import Tx
from scns.db.statements.common import ALLOCATED

TYPE_CHECKING = False
if TYPE_CHECKING:  # a node row's values are the columns' own types
    from typing import Any

NODE_COLUMNS = ("name", "hostname", "cpu_ids", "mem_mb", "state", "reason", "pid",
                "started_time", "heartbeat_time", "version", "containment")  # fmt: skip


def upsert_node(tx: Tx, *, name, hostname, cpu_ids, mem_mb, pid, now, version,
                containment: str | None = None) -> None:  # fmt: skip
    """Register a starting daemon's node: UP, or still DRAIN (a drain outlives restarts).
    ``containment``: how its jobs are held (cgroup2, cgroup1, process-group)."""
    tx.run(
        "INSERT INTO nodes (name, hostname, cpu_ids, mem_mb, state, reason, pid, started_time,"
        " heartbeat_time, version, containment) VALUES (:name, :hostname, :cpu_ids, :mem_mb,"
        " 'UP', NULL, :pid, :now, :now, :version, :containment)"
        " ON CONFLICT (name) DO UPDATE SET hostname = :hostname, containment = :containment,"
        " cpu_ids = :cpu_ids, mem_mb = :mem_mb,"
        " state = CASE WHEN nodes.state = 'DRAIN' THEN 'DRAIN' ELSE 'UP' END,"
        " reason = CASE WHEN nodes.state = 'DRAIN' THEN nodes.reason ELSE NULL END, pid = :pid,"
        " started_time = :now, heartbeat_time = :now, version = :version",
        {
            "name": name,
            "hostname": hostname,
            "cpu_ids": ",".join(map(str, cpu_ids)),
            "mem_mb": mem_mb,
            "pid": pid,
            "now": now,
            "version": version,
            "containment": containment,
        },
    )


def heartbeat(tx: Tx, name: str, now: float, *, pid: int | None = None,
              hostname: str | None = None, reason: str | None = None) -> bool:  # fmt: skip
    """Refresh a node's heartbeat, and on an UP node the failing steps its daemon reports
    (``reason``, None when all is well). False if the row is gone, marked down, or (with
    ``pid`` and ``hostname``) held by another daemon now."""
    params: dict[str, object] = {"name": name, "now": now, "reason": reason}
    guard = ""
    if pid is not None:
        guard = " AND pid = :pid AND hostname = :hostname"
        params.update(pid=pid, hostname=hostname)
    return (
        tx.run(
            "UPDATE nodes SET heartbeat_time = :now,"
            " reason = CASE WHEN state = 'UP' THEN :reason ELSE reason END"
            " WHERE name = :name AND state IN ('UP', 'DRAIN')" + guard,
            params,
        )
        == 1
    )


def set_node_down(tx: Tx, name: str, reason: str, *, only_if_stale_before=None) -> bool:
    sql = "UPDATE nodes SET state = 'DOWN', reason = :reason WHERE name = :name AND state = 'UP'"
    params: dict[str, object] = {"name": name, "reason": reason}
    if only_if_stale_before is not None:
        sql += " AND heartbeat_time < :before"
        params["before"] = only_if_stale_before
    return tx.run(sql, params) == 1


def set_node_stopped(tx: Tx, name: str, pid: int, hostname: str) -> bool:
    """A daemon stops cleanly: its node goes DOWN ('stopped') at once, or stays DRAIN, and
    loses its pid either way. Only the daemon that holds the row may do this."""
    return (
        tx.run(
            "UPDATE nodes SET state = CASE WHEN state = 'DRAIN' THEN 'DRAIN' ELSE 'DOWN' END,"
            " reason = CASE WHEN state = 'DRAIN' THEN reason ELSE 'stopped' END, pid = NULL"
            " WHERE name = :name AND pid = :pid AND hostname = :hostname",
            {"name": name, "pid": pid, "hostname": hostname},
        )
        == 1
    )


def drain_node(tx: Tx, name: str, reason: str | None) -> bool:
    """No new work for the node (its running jobs go on); False if there is no such node."""
    sql = "UPDATE nodes SET state = 'DRAIN', reason = :reason WHERE name = :name"
    return tx.run(sql, {"name": name, "reason": reason}) == 1


def resume_node(tx: Tx, name: str) -> bool:
    """DRAIN -> UP, or -> DOWN ('stopped') when no daemon serves the node; False unless it
    was drained."""
    return (
        tx.run(
            "UPDATE nodes SET state = CASE WHEN pid IS NULL THEN 'DOWN' ELSE 'UP' END,"
            " reason = CASE WHEN pid IS NULL THEN 'stopped' ELSE NULL END"
            " WHERE name = :name AND state = 'DRAIN'",
            {"name": name},
        )
        == 1
    )


def delete_node(tx: Tx, name: str) -> bool:
    """Forget a node, unless a job is allocated to it or runs there (guarded in one
    statement: a job placed meanwhile keeps it)."""
    return (
        tx.run(
            "DELETE FROM nodes WHERE name = :name AND NOT EXISTS (SELECT 1 FROM jobs"
            f" WHERE jobs.node = :name AND jobs.state IN {ALLOCATED})",
            {"name": name},
        )
        == 1
    )


def list_nodes(tx: Tx) -> list[dict[str, Any]]:
    rows = tx.rows(f"SELECT {', '.join(NODE_COLUMNS)} FROM nodes ORDER BY name")
    return [dict(zip(NODE_COLUMNS, r, strict=True)) for r in rows]


def get_node(tx: Tx, name: str) -> dict[str, Any] | None:
    row = tx.one(f"SELECT {', '.join(NODE_COLUMNS)} FROM nodes WHERE name = :name",
                 {"name": name})  # fmt: skip
    return dict(zip(NODE_COLUMNS, row, strict=True)) if row else None


def node_allocated(tx: Tx) -> dict[str, tuple[int, int]]:
    """Allocated (cpus, mem_mb) per node, from unreleased allocations."""
    rows = tx.rows(
        "SELECT a.node, c.n, a.mem FROM (SELECT node, SUM(mem_mb) AS mem FROM allocations"
        " WHERE released_time IS NULL GROUP BY node) a LEFT JOIN (SELECT node, COUNT(*) AS n"
        " FROM core_claims GROUP BY node) c ON c.node = a.node"
    )
    return {r[0]: (r[1] or 0, r[2] or 0) for r in rows}


def max_node_cpus(tx: Tx) -> int | None:
    rows = tx.rows("SELECT cpu_ids FROM nodes")
    return max((len(r[0].split(",")) for r in rows if r[0]), default=None)


def take_lease(tx: Tx, name: str, holder: str, now: float, ttl_s: float) -> bool:
    """Acquire or renew a lease; True while ``holder`` owns it."""
    tx.run(
        "INSERT INTO leases (name, holder, expires_time) VALUES (:name, :holder, :exp)"
        " ON CONFLICT (name) DO UPDATE SET holder = :holder, expires_time = :exp"
        " WHERE leases.holder = :holder OR leases.expires_time < :now",
        {"name": name, "holder": holder, "exp": now + ttl_s, "now": now},
    )
    row = tx.one("SELECT holder FROM leases WHERE name = :name", {"name": name})
    return row is not None and row[0] == holder


def lease_holder(tx: Tx, name: str) -> str | None:
    row = tx.one("SELECT holder FROM leases WHERE name = :name", {"name": name})
    return row[0] if row else None


def take_lease_from(tx: Tx, name: str, previous: str, holder: str, now: float,
                    ttl_s: float) -> bool:  # fmt: skip
    """Take a lease before it expires from ``previous``, known dead (guarded: False if the
    lease changed hands meanwhile)."""
    return (
        tx.run(
            "UPDATE leases SET holder = :holder, expires_time = :exp"
            " WHERE name = :name AND holder = :previous",
            {"name": name, "previous": previous, "holder": holder, "exp": now + ttl_s},
        )
        == 1
    )


def drop_lease(tx: Tx, name: str, holder: str) -> None:
    tx.run("DELETE FROM leases WHERE name = :name AND holder = :holder",
           {"name": name, "holder": holder})  # fmt: skip


def notify(tx: Tx, payload: str = "sched") -> None:
    """Wake listening daemons when this transaction commits (PostgreSQL LISTEN/NOTIFY).

    On SQLite all daemons share the machine and are woken through their sockets instead.
    """
    if tx.dialect == "postgresql":
        tx.rows("SELECT pg_notify('scns_wake', :payload)", {"payload": payload})


def max_node_memory_mb(tx: Tx) -> int | None:
    """The largest schedulable memory of any registered node (0 = a node does not track it)."""
    row = tx.one("SELECT MAX(mem_mb) FROM nodes")
    return row[0] if row else None
