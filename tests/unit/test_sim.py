"""SWF traces, the synthetic workload model and the event-driven replay."""

import pytest

from scns.sched.policy import POLICIES
from scns.sched.simulate import Figures, simulate
from scns.sched.swf import SwfJob, parse_swf, read_swf, write_swf
from scns.sched.workload import generate


def swf_line(**fields: int) -> str:
    values = [-1] * 18
    names = {"job": 0, "submit": 1, "run": 3, "alloc": 4, "req_procs": 7, "req_time": 8}
    for name, value in fields.items():
        values[names[name]] = value
    return " ".join(map(str, values))


def test_swf_round_trip(tmp_path):
    jobs = generate(50, seed=3)
    path = tmp_path / "trace.swf"
    write_swf(path, jobs, header=["a comment"])
    assert path.read_text().startswith("; a comment\n")
    assert read_swf(path) == jobs


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            swf_line(job=1, submit=5, run=60, alloc=2, req_procs=4, req_time=600),
            SwfJob(1, 5, 60, 4, 600),
        ),
        (swf_line(job=2, submit=5, run=60, alloc=2), SwfJob(2, 5, 60, 2, 60)),  # fallbacks
        (swf_line(job=3, submit=5, run=-1, alloc=2), None),  # unknown run time
        (swf_line(job=4, submit=5, run=60, alloc=0), None),  # no processors
        ("5 5.5 -1 60.0 2 -1.0 -1 2 120 -1 1 3 1 -1 1 1 -1 -1", SwfJob(5, 5, 60, 2, 120)),
    ],
)
def test_swf_fields_used(line, expected):
    assert parse_swf(["; header", "", line]) == ([] if expected is None else [expected])


@pytest.mark.parametrize(("line", "message"), [("1 2 3", "18 fields"), ("x " * 18, "numbers")])
def test_swf_malformed_line_is_named(line, message):
    with pytest.raises(ValueError, match=f"line 2: .*{message}"):
        parse_swf(["; header", line])


def test_generator_is_reproducible_and_follows_the_model():
    jobs = generate(2000, seed=7, cpus_per_node=32, nodes=4, load=0.9)
    assert jobs == generate(2000, seed=7, cpus_per_node=32, nodes=4, load=0.9)
    assert jobs != generate(2000, seed=8, cpus_per_node=32, nodes=4, load=0.9)
    assert all(1 <= job.cpus <= 32 and job.time_limit_s >= job.run_s >= 1 for job in jobs)
    wide_share = sum(job.cpus >= 16 for job in jobs) / len(jobs)
    assert 0.07 < wide_share < 0.13
    span_s = jobs[-1].submit_s - jobs[0].submit_s
    offered = sum(job.cpus * job.run_s for job in jobs) / (span_s * 128)
    assert 0.8 < offered < 1.0


def tiny_trace() -> list[SwfJob]:
    return [
        SwfJob(1, 0, 100, 2, 100),
        SwfJob(2, 1, 10, 4, 10),  # blocked behind job 1 until t=100
        SwfJob(3, 2, 50, 2, 50),  # fits beside job 1 and ends at 52, before t=100
        SwfJob(4, 3, 10, 5, 10),  # wider than any node: dropped
    ]


@pytest.mark.parametrize(
    ("policy", "mean_wait_s", "max_wait_s", "makespan_s"),
    [
        ("fifo", 69.0, 108.0, 160.0),
        ("firstfit", 33.0, 99.0, 110.0),
        ("backfill", 33.0, 99.0, 110.0),
    ],
)
def test_replay_of_a_tiny_trace(policy, mean_wait_s, max_wait_s, makespan_s):
    result = simulate(tiny_trace(), nodes=1, cpus_per_node=4, policy=policy)
    assert (result.jobs, result.dropped) == (3, 1)
    assert result.mean_wait_s == pytest.approx(mean_wait_s)
    assert result.max_wait_s == max_wait_s
    assert result.makespan_s == makespan_s
    assert result.utilization == pytest.approx(340 / (4 * makespan_s))
    assert (result.wide.jobs, result.wide.max_wait_s) == (1, 99.0)  # job 2, the widest


def test_a_job_is_killed_at_its_time_limit():
    result = simulate([SwfJob(1, 0, 500, 1, 100)], nodes=1, cpus_per_node=1, policy="fifo")
    assert result.makespan_s == 100
    assert result.mean_bounded_slowdown == 1.0


def test_to_dict_has_exactly_the_documented_keys():
    result = simulate(tiny_trace(), nodes=1, cpus_per_node=4, policy="backfill")
    figures = [
        "jobs",
        "dropped",
        "makespan_s",
        "utilization",
        "mean_wait_s",
        "p95_wait_s",
        "max_wait_s",
        "mean_bounded_slowdown",
    ]
    as_dict = result.to_dict()
    assert list(as_dict) == ["policy", *figures, "wide"]
    assert list(as_dict["wide"]) == figures
    assert [f for f in Figures.__dataclass_fields__] == figures


def test_backfill_beats_fifo_on_a_generated_workload():
    jobs = generate(2000, seed=1, load=0.9)
    results = {p: simulate(jobs, nodes=4, cpus_per_node=32, policy=p) for p in ("fifo", "backfill")}
    fifo, backfill = results["fifo"], results["backfill"]
    assert backfill.mean_bounded_slowdown < fifo.mean_bounded_slowdown
    assert backfill.utilization >= fifo.utilization


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError, match="unknown policy"):
        simulate(tiny_trace(), nodes=1, cpus_per_node=4, policy="lottery")


def test_every_policy_replays_an_empty_trace():
    for policy in POLICIES:
        assert simulate([], nodes=1, cpus_per_node=4, policy=policy).jobs == 0
