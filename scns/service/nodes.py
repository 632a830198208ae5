"""Nodes as users and operators see them: sinfo's states, and drain / resume / remove."""

from __future__ import annotations

from dataclasses import dataclass

from scns.db import statements as sql
from scns.db.engine import Database
from scns.domain.liveness import is_served, offline_reason
from scns.domain.state_names import ALLOCATED_NAMES
from scns.errors import InvalidInput

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
    drained: bool = False
    containment: str | None = None  # cgroup2, cgroup1 or process-group

    @property
    def idle(self) -> int:
        return max(0, self.cpus - self.allocated)

    @property
    def is_live(self) -> bool:
        """A daemon serves it (a drained node's daemon too)."""
        return self.state != "down"

    @property
    def failing(self) -> str | None:
        """What the daemon of a live, undrained node reports failing (None: all is well)."""
        return self.reason if self.is_live and not self.drained else None

    def to_dict(self) -> dict:
        from scns.domain.timefmt import iso

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
            "drained": self.drained,
            "containment": self.containment,
        }

    def row(self) -> tuple[str, ...]:
        age = "never" if self.heartbeat_age_s is None else f"{self.heartbeat_age_s:.0f}s ago"
        mem = f"{self.allocated_mem_mb}/{self.mem_mb}M" if self.mem_mb else "-"
        return (self.name, self.state, str(self.cpus), str(self.allocated), str(self.idle),
                mem, age, self.containment or "-", self.reason or "")  # fmt: skip


def node_state(is_down: bool, cpus: int, allocated: int, drained: bool = False) -> str:
    """sinfo's names: down wins, then drained (draining while jobs still run), then by how
    many CPUs are allocated."""
    if is_down:
        return "down"
    if drained:
        return "draining" if allocated else "drained"
    if allocated == 0:
        return "idle"
    return "allocated" if allocated >= cpus else "mixed"


def _shown_reason(reason: str | None, offline: str | None, state: str) -> str | None:
    """A DOWN node's own reason; why another is offline (and still drained, if so)."""
    if offline is None or state == "DOWN":
        return reason
    if state != "DRAIN":
        return offline
    return f"{offline}; drained: {reason}" if reason else f"{offline}; drained"


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
        drained = node["state"] == "DRAIN"
        offline = offline_reason(node, age, timeout_s)
        reason = _shown_reason(node["reason"], offline, node["state"])
        state = node_state(offline is not None, cpus, used, drained)
        out.append(NodeSummary(node["name"], state, cpus, used, node["mem_mb"], used_mem, beat,
                               age, reason, drained, node.get("containment")))  # fmt: skip
    return out


# ---- operators' changes ----------------------------------------------------------------


def drain_node(db: Database, name: str, reason: str | None) -> None:
    """No new jobs for the node; the ones running there finish. Outlives daemon restarts."""
    with db.write() as tx:
        if not sql.drain_node(tx, name, reason):
            raise InvalidInput(f"no node named {name}")
        sql.notify(tx, "nodes")


def resume_node(db: Database, name: str) -> bool:
    """Let a drained node take jobs again; False if it was not drained (nothing to do)."""
    with db.write() as tx:
        node = sql.get_node(tx, name)
        if node is None:
            raise InvalidInput(f"no node named {name}")
        if node["state"] == "DOWN":
            raise InvalidInput(f"node {name} is down ({node['reason'] or 'no reason'}):"
                               " it comes back when its daemon starts")  # fmt: skip
        resumed = sql.resume_node(tx, name)
        sql.notify(tx, "nodes")
    return resumed


def remove_node(db: Database, name: str, now: float,
                timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S) -> None:  # fmt: skip
    """Forget a node that is gone: only when no job is allocated to it or runs there, and
    no daemon serves it (a running daemon would register it again)."""
    with db.write() as tx:
        node = sql.get_node(tx, name)
        if node is None:
            raise InvalidInput(f"no node named {name}")
        jobs = [j for j, _state, _rq in sql.jobs_on_nodes(tx, [name], ALLOCATED_NAMES)]
        if jobs:
            listed = ", ".join(map(str, sorted(jobs)[:5])) + (", ..." if len(jobs) > 5 else "")
            raise InvalidInput(f"node {name} still has {len(jobs)} job(s) ({listed}): drain it"
                               " and let them finish, or cancel them")  # fmt: skip
        if is_served(node, now, timeout_s):
            raise InvalidInput(f"node {name} is served by a running daemon (pid {node['pid']}"
                               f" on {node['hostname']}): stop it first")  # fmt: skip
        if not sql.delete_node(tx, name):
            raise InvalidInput(f"node {name} got a job meanwhile: not removed")
        sql.notify(tx, "nodes")
