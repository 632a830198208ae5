"""Who may do what: the caller's identity (from the kernel) against a job's owner.

Pure: the socket server builds a ``Caller`` from ``SO_PEERCRED`` and the account database,
personal mode from the process itself; the rules below never look anything up.
"""

from __future__ import annotations

from scns.domain.record import Record


class Caller(Record):
    """The identity behind a request; ``is_operator`` is decided once, when it is built."""

    __slots__ = ("uid", "gid", "groups", "user_name", "is_operator")
    uid: int
    gid: int
    groups: tuple[int, ...]
    user_name: str
    is_operator: bool


class Access(Record):
    """The site's rules: who operates, whether other users' jobs are hidden."""

    __slots__ = ("operator_users", "operator_groups", "private_data")
    _defaults = {"operator_users": (), "operator_groups": (), "private_data": False}  # noqa: RUF012
    operator_users: tuple[str, ...]
    operator_groups: tuple[str, ...]
    private_data: bool


def parse_operators(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"alice,@wheel, bob"`` -> (("alice", "bob"), ("wheel",))."""
    users: list[str] = []
    groups: list[str] = []
    for item in text.replace(" ", ",").split(","):
        if item.startswith("@") and len(item) > 1:
            groups.append(item[1:])
        elif item and not item.startswith("@"):
            users.append(item)
    return tuple(users), tuple(groups)


def is_operator(uid: int, user_name: str, group_names: set[str], access: Access) -> bool:
    """Root, a listed user, or a member of a listed group."""
    if uid == 0 or user_name in access.operator_users:
        return True
    return any(g in group_names for g in access.operator_groups)


def owns(caller: Caller, job_uid: int) -> bool:
    return caller.uid == job_uid


def may_change(caller: Caller, job_uid: int) -> bool:
    """Cancel, hold, release, update: the owner and operators."""
    return caller.is_operator or caller.uid == job_uid


def may_see_details(caller: Caller, job_uid: int) -> bool:
    """Script, environment, paths and output: the owner and operators."""
    return caller.is_operator or caller.uid == job_uid


def may_list(caller: Caller, job_uid: int, access: Access) -> bool:
    """Everyone sees the queue, unless the site hides other users' jobs (PrivateData=jobs)."""
    return not access.private_data or caller.is_operator or caller.uid == job_uid


def priority_refusal(caller: Caller, priority: int | None, nice: int | None,
                     current_priority: int | None = None) -> str | None:  # fmt: skip
    """Why this caller may not ask for this priority, or None.

    Only operators set a priority at submit, raise one with ``update``, or give a negative
    nice value (Slurm's rule: users may only lower their own jobs' standing).
    """
    if caller.is_operator:
        return None
    if priority is not None and (current_priority is None or priority > current_priority):
        return "only operators may set or raise a job's priority"
    if nice is not None and nice < 0:
        return "only operators may give a negative --nice"
    return None
