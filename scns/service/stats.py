"""The numbers an operator asks first: jobs by state, why the queue waits, CPUs per node,
and over the last hour and day how busy the CPUs were and how long jobs waited.

One plain JSON-ready dict (epoch seconds for times), the same in personal mode and through
the system socket; the CLI renders it.
"""

from __future__ import annotations

from scns.db import statements as sql
from scns.db.engine import Database
from scns.domain.states import JobState
from scns.service.nodes import DEFAULT_HEARTBEAT_TIMEOUT_S, node_summaries

WINDOWS_S = (("hour", 3600.0), ("day", 86400.0))
HOURS = 24


def gather(db: Database, now: float,
           heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S) -> dict:  # fmt: skip
    """Every number of ``scns stats``.

    Utilization over a window is the CPU-seconds jobs held in it over the CPUs of the nodes
    a daemon serves now times the window's length (capped at 1: a node that left during the
    window still counts its jobs).
    """
    nodes = node_summaries(db, now, heartbeat_timeout_s)
    capacity = sum(n.cpus for n in nodes if n.is_live)
    with db.read() as tx:
        by_state = sql.jobs_by_state(tx)
        reasons = sql.pending_by_reason(tx)
        windows = {}
        for name, length_s in WINDOWS_S:
            started, mean, p95 = sql.waits_since(tx, now - length_s)
            used = sql.cpu_seconds_between(tx, now - length_s, now)
            busy = min(1.0, used / (capacity * length_s)) if capacity else None
            windows[name] = {
                "started": started,
                "mean_wait_s": _round(mean),
                "p95_wait_s": _round(p95),
                "cpu_seconds": round(used, 3),
                "utilization": busy,
            }
        hourly = sql.hourly_starts_and_ends(tx, now, HOURS)
    return {
        "time": now,
        "jobs": {state.value: by_state.get(state.value, 0) for state in JobState},
        "pending_reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "nodes": [_node(n) for n in nodes],
        "cpus": {"total": capacity, "allocated": sum(n.allocated for n in nodes if n.is_live)},
        "windows": windows,
        "hourly": [{"hour": start, "started": s, "ended": e} for start, s, e in hourly],
    }


def _node(summary) -> dict:
    return {"name": summary.name, "state": summary.state, "cpus": summary.cpus,
            "allocated_cpus": summary.allocated}  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
