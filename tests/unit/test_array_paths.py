"""The array shortcut (one expansion with stand-ins, filled per task) gives exactly the
paths a full expansion per task gives."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from scns.domain.job import JobRequest
from scns.service.store import _path_maker, _paths

PIECES = st.sampled_from(
    ["%j", "%A", "%a", "%x", "%u", "%%", "%4a", "%3j", "out", "/", "-", "_", ".txt", "~/",
     "x%", "%N", "%q", "\\", "987654321987654"]
)  # fmt: skip


def _request(out: str, err: str | None) -> JobRequest:
    return JobRequest(name="nm", script="#!/bin/sh\n", argv=(), workdir="/work/dir",
                      stdout_pattern=out, stderr_pattern=err)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(out=st.lists(PIECES, min_size=1, max_size=6).map("".join),
       err=st.one_of(st.none(), st.lists(PIECES, min_size=1, max_size=6).map("".join)),
       tasks=st.lists(st.integers(0, 10**6), min_size=1, max_size=5),
       first=st.integers(1, 10**9))  # fmt: skip
# digit stand-ins failed here: "807189" + the task's mark spelled the job's mark
@example(out="%A%a", err="%A%a", tasks=[0], first=807189)
def test_the_array_shortcut_equals_a_full_expansion(out, err, tasks, first) -> None:
    request = _request(out, err)
    env = {"HOME": "/home/u"}
    make = _path_maker(request, "alice", first, env)
    for offset, task in enumerate(tasks):
        job_id = first + offset
        assert make(job_id, task) == _paths(request, job_id, "alice", first, task, env)
