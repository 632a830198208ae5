"""Whether a daemon serves a node, from its row alone (pure: the submit fast path and the
daemons ask the same question without importing the service layer)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc loads collections (~2 ms a command)
    from collections.abc import Mapping


def is_served(node: Mapping, now: float, timeout_s: float) -> bool:
    """A node row that a running daemon serves: not DOWN, a pid, a fresh heartbeat."""
    age = None if node["heartbeat_time"] is None else now - node["heartbeat_time"]
    return offline_reason(node, age, timeout_s) is None


def offline_reason(node: Mapping, age: float | None, timeout_s: float) -> str | None:
    """Why no daemon serves the node (None while one does)."""
    if node["state"] == "DOWN":
        return node["reason"] or "down"
    if node["pid"] is None:
        return "stopped"
    if age is None or age >= timeout_s:
        return "heartbeat stale"
    return None
