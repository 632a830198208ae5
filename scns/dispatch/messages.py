"""The start message a node's RQ worker receives, and what it does with it.

The message only says "look at the database now": the daemon starts whatever is allocated
to its node, under a guarded CONFIGURING -> RUNNING update. A duplicate or replayed message
therefore cannot start a job twice.
"""

from __future__ import annotations

from collections.abc import Callable

_wake_hooks: dict[str, Callable[[list[int]], None]] = {}


def queue_name(node: str) -> str:
    return f"scns-node-{node}"


def set_wake_hook(node: str, hook: Callable[[list[int]], None]) -> None:
    """The daemon of ``node`` in this process registers how its worker wakes its loop."""
    _wake_hooks[node] = hook


def start_allocated(node: str, job_ids: list[int]) -> int:
    """RQ job function run by the node's worker: wake the daemon loop, never block."""
    hook = _wake_hooks.get(node)
    if hook is not None:
        hook(list(job_ids))
    return len(job_ids)
