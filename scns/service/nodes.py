"""Node state as users see it: sinfo's idle / mixed / allocated / down."""

from __future__ import annotations

from dataclasses import dataclass

from scns.db import statements as sql
from scns.db.engine import Database

DEFAULT_HEARTBEAT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class NodeSummary:
    name: str
    state: str
    cpus: int
    allocated: int
    mem_mb: int
    allocated_mem_mb: int
    heartbeat_time: float | None
    heartbeat_age_s: float | None
    reason: str | None

    @property
    def idle(self) -> int:
        return max(0, self.cpus - self.allocated)

    def to_dict(self) -> dict:
        from scns.cli.render import iso

        return {
            "name": self.name,
            "state": self.state,
            "cpus": self.cpus,
            "allocated_cpus": self.allocated,
            "idle_cpus": self.idle,
            "mem_mb": self.mem_mb,
            "allocated_mem_mb": self.allocated_mem_mb,
            "heartbeat_time": iso(self.heartbeat_time),
            "heartbeat_age_s": self.heartbeat_age_s,
            "reason": self.reason,
        }

    def row(self) -> tuple[str, ...]:
        age = "never" if self.heartbeat_age_s is None else f"{self.heartbeat_age_s:.0f}s ago"
        mem = f"{self.allocated_mem_mb}/{self.mem_mb}M" if self.mem_mb else "-"
        return (self.name, self.state, str(self.cpus), str(self.allocated), str(self.idle),
                mem, age)  # fmt: skip


def node_state(is_down: bool, cpus: int, allocated: int) -> str:
    """sinfo's names: down wins, then by how many CPUs are allocated."""
    if is_down:
        return "down"
    if allocated == 0:
        return "idle"
    return "allocated" if allocated >= cpus else "mixed"


def node_summaries(
    db: Database, now: float, timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S
) -> list[NodeSummary]:
    with db.read() as tx:
        nodes = sql.list_nodes(tx)
        allocated = sql.node_allocated(tx)
    out = []
    for node in nodes:
        cpus = len([c for c in node["cpu_ids"].split(",") if c])
        used, used_mem = allocated.get(node["name"], (0, 0))
        beat = node["heartbeat_time"]
        age = None if beat is None else round(max(0.0, now - beat), 1)
        down = node["state"] != "UP" or age is None or age >= timeout_s
        reason = node["reason"] or ("heartbeat stale" if down and node["state"] == "UP" else None)
        out.append(NodeSummary(node["name"], node_state(down, cpus, used), cpus, used,
                               node["mem_mb"], used_mem, beat, age, reason))  # fmt: skip
    return out
