"""Statements about nodes, the scheduler lease and wake-up notifications."""

from __future__ import annotations

from scns.db.engine import Tx


def upsert_node(tx: Tx, *, name, hostname, cpu_ids, mem_mb, pid, now, version) -> None:
    tx.run(
        "INSERT INTO nodes (name, hostname, cpu_ids, mem_mb, state, reason, pid, started_time,"
        " heartbeat_time, version) VALUES (:name, :hostname, :cpu_ids, :mem_mb, 'UP', NULL,"
        " :pid, :now, :now, :version) ON CONFLICT (name) DO UPDATE SET hostname = :hostname,"
        " cpu_ids = :cpu_ids, mem_mb = :mem_mb, state = 'UP', reason = NULL, pid = :pid,"
        " started_time = :now, heartbeat_time = :now, version = :version",
        {
            "name": name,
            "hostname": hostname,
            "cpu_ids": ",".join(map(str, cpu_ids)),
            "mem_mb": mem_mb,
            "pid": pid,
            "now": now,
            "version": version,
        },
    )


def heartbeat(tx: Tx, name: str, now: float) -> bool:
    """Refresh a node's heartbeat; False if the node row is gone or was marked down."""
    return (
        tx.run(
            "UPDATE nodes SET heartbeat_time = :now WHERE name = :name AND state = 'UP'",
            {"name": name, "now": now},
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


def list_nodes(tx: Tx) -> list[dict[str, object]]:
    cols = ("name", "hostname", "cpu_ids", "mem_mb", "state", "reason", "pid", "started_time",
            "heartbeat_time", "version")  # fmt: skip
    rows = tx.rows(f"SELECT {', '.join(cols)} FROM nodes ORDER BY name")
    return [dict(zip(cols, r, strict=True)) for r in rows]


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
    return bool(row) and row[0] == holder


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
