"""Which wake-ups make a daemon work: NOTIFY payloads, and late RQ start messages."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from scns.daemon.executor import Executor
from scns.daemon.loop import Daemon


def relevant(payloads: list[str], *, leader: bool, node: str = "n1") -> str | None:
    me = SimpleNamespace(node=node, leader=SimpleNamespace(is_leader=leader))
    return Daemon._relevant(me, payloads)


@pytest.mark.parametrize(
    ("payloads", "leader", "wanted"),
    [
        (["sched"], True, "schedule"),  # a submit
        (["sched"], False, None),  # only the leader schedules
        (["sched@n2"], True, "schedule"),  # a job ended on another node
        (["sched@n1"], True, None),  # our own job ended: scheduled in the same turn
        (["node:n2"], True, None),  # work for another node, sent by us
        (["node:n1"], False, "launch"),  # work for us
        (["sched@n2", "node:n1"], True, "launch"),
        (["cancel"], False, "look"),  # cancels concern every node
        (["node:n2", "something-new"], False, "look"),  # unknown payloads: look around
    ],
)
def test_notify_payloads(payloads: list[str], leader: bool, wanted: str | None) -> None:
    assert relevant(payloads, leader=leader) == wanted


def test_a_start_message_for_jobs_launched_lately_needs_no_look(tmp_path) -> None:
    executor = Executor(None, "n1", str(tmp_path), 1.0, None)
    now = time.time()
    executor._note_launched([7, 8], now)
    assert executor.launched_lately([7, 8])
    assert not executor.launched_lately([7, 9])  # 9 was never launched here
    executor._note_launched([10], now - 60)
    assert not executor.launched_lately([10])  # too long ago: a requeue may have come since
