"""The start message a node's RQ worker receives, and what it does with it.

The message only says "look at the database now": the daemon starts whatever is allocated
to its node, under a guarded CONFIGURING -> RUNNING update. A duplicate or replayed message
therefore cannot start a job twice. Anyone who can write to Redis can put a message on a
node's queue, so the worker runs nothing but ``start_allocated``, and only with arguments
that ``parse_start`` accepts.
"""

from __future__ import annotations

from collections.abc import Callable

QUEUE_PREFIX = "scns-node-"
MAX_JOB_IDS = 100_000  # far above one pass's allocations, far below a memory problem
MAX_JOB_ID = 2**63 - 1  # a BIGINT primary key

_wake_hooks: dict[str, Callable[[list[int]], None]] = {}


class RefusedMessage(ValueError):
    """A queue message that is not one scns sent: the worker drops it, never runs it."""


def queue_name(node: str) -> str:
    return f"{QUEUE_PREFIX}{node}"


def set_wake_hook(node: str, hook: Callable[[list[int]], None]) -> None:
    """The daemon of ``node`` in this process registers how its worker wakes its loop."""
    _wake_hooks[node] = hook


def start_allocated(node: str, job_ids: list[int]) -> int:
    """RQ job function run by the node's worker: wake the daemon loop, never block."""
    hook = _wake_hooks.get(node)
    if hook is not None:
        hook(list(job_ids))
    return len(job_ids)


START_HANDLER = f"{start_allocated.__module__}.{start_allocated.__qualname__}"


def parse_start(func_name: object, instance: object, args: object, kwargs: object,
                node: str) -> list[int]:  # fmt: skip
    """The job ids of a start message for ``node``; ``RefusedMessage`` for anything else.

    The only accepted shape is what ``StartSender`` sends: ``START_HANDLER`` called as a
    plain function with ``(node, job_ids)``, ``node`` this node's name, ``job_ids`` a list of
    at most ``MAX_JOB_IDS`` positive ints, and no keyword arguments.
    """
    if func_name != START_HANDLER:
        raise RefusedMessage("function is not the start handler")
    if instance is not None:
        raise RefusedMessage("a method call, not a function call")
    if kwargs not in (None, {}):
        raise RefusedMessage("keyword arguments")
    if not isinstance(args, (list, tuple)) or len(args) != 2:
        raise RefusedMessage("arguments are not (node, job_ids)")
    target, job_ids = args
    if type(target) is not str or target != node:
        raise RefusedMessage("message is for another node")
    if type(job_ids) is not list or len(job_ids) > MAX_JOB_IDS:
        raise RefusedMessage(f"job ids are not a list of at most {MAX_JOB_IDS}")
    if not all(type(i) is int and 0 < i <= MAX_JOB_ID for i in job_ids):
        raise RefusedMessage("job ids are not all positive integers")
    return job_ids
