"""`scns simulate`: replay or generate a workload, so policies can be compared before deploying.

Replay: `scns simulate TRACE.swf --nodes 4 --cpus-per-node 32 [--policy all] [--json]` prints one
table row per policy. With --json it prints one object: the figures of the policy when a single
policy is asked for, else {"fifo": {...}, "firstfit": {...}, "backfill": {...}}. Each figures
object holds policy, jobs, dropped, makespan_s, utilization, mean_wait_s, p95_wait_s, max_wait_s,
mean_bounded_slowdown and wide (the same figures for the widest 10% of jobs).
Generate: `scns simulate --generate 10000 --seed 1 -o trace.swf [--nodes 4 --cpus-per-node 32
--load 0.9]` writes a synthetic SWF trace (model in scns.sched.workload).
"""

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from scns.errors import InvalidInput
from scns.sched.policy import POLICIES
from scns.sched.simulate import SimResult, simulate
from scns.sched.swf import SwfJob, read_swf, write_swf
from scns.sched.workload import generate

ALL = "all"
COLUMNS = ("jobs", "util", "wait", "p95", "max", "bsld", "wide max", "wide bsld", "replay")


def simulate_command(
    trace: Annotated[Path | None, typer.Argument(help="SWF trace to replay.")] = None,
    nodes: Annotated[int, typer.Option(help="Nodes of the simulated cluster.")] = 4,
    cpus_per_node: Annotated[int, typer.Option(help="CPUs of each simulated node.")] = 32,
    policy: Annotated[str, typer.Option(help="backfill, fifo, firstfit or all.")] = ALL,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    default_time: Annotated[
        int, typer.Option(help="Time limit in seconds of jobs whose trace gives none.")
    ] = 3600,
    generate_n: Annotated[
        int | None, typer.Option("--generate", help="Write a synthetic trace of N jobs.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of --generate.")] = 1,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where --generate writes.")
    ] = None,
    load: Annotated[float, typer.Option(help="Offered load of --generate (0.9 = 90%).")] = 0.9,
) -> None:
    """Compare scheduling policies on a workload trace, or generate a synthetic one.

    Example: scns simulate --generate 10000 --seed 1 -o /tmp/trace.swf &&
    scns simulate /tmp/trace.swf --nodes 4 --cpus-per-node 32
    """
    if nodes < 1 or cpus_per_node < 1:
        raise InvalidInput("--nodes and --cpus-per-node must be at least 1")
    if generate_n is not None:
        if trace is not None:
            raise InvalidInput("give either a TRACE to replay or --generate, not both")
        _write_generated(generate_n, seed, output, nodes, cpus_per_node, load)
        return
    if trace is None:
        raise InvalidInput("give a TRACE.swf to replay, or --generate N -o FILE")
    policies = _policies(policy)
    jobs = _read_trace(trace)
    timed = [_replay(jobs, nodes, cpus_per_node, name, default_time) for name in policies]
    if as_json:
        figures = {result.policy: result.to_dict() for result, _ in timed}
        typer.echo(json.dumps(figures[policies[0]] if len(policies) == 1 else figures, indent=2))
    else:
        _print_table(trace, nodes, cpus_per_node, timed)


def _policies(policy: str) -> tuple[str, ...]:
    if policy == ALL:
        return POLICIES
    if policy not in POLICIES:
        raise InvalidInput(f"unknown policy {policy!r}: choose backfill, fifo, firstfit or all")
    return (policy,)


def _read_trace(trace: Path) -> list[SwfJob]:
    if not trace.is_file():
        raise InvalidInput(f"trace file not found: {trace}")
    try:
        return read_swf(trace)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{trace}: not a valid SWF trace: {err}") from None


def _replay(
    jobs: list[SwfJob], nodes: int, cpus_per_node: int, policy: str, default_time_s: int
) -> tuple[SimResult, float]:
    started = time.perf_counter()
    result = simulate(
        jobs,
        nodes=nodes,
        cpus_per_node=cpus_per_node,
        policy=policy,
        default_time_limit_s=default_time_s,
    )
    return result, time.perf_counter() - started


def _write_generated(
    n: int, seed: int, output: Path | None, nodes: int, cpus_per_node: int, load: float
) -> None:
    if output is None:
        raise InvalidInput("--generate needs -o FILE to write the trace to")
    if n < 1 or load <= 0:
        raise InvalidInput("--generate needs N >= 1 and --load > 0")
    jobs = generate(n, seed, cpus_per_node=cpus_per_node, nodes=nodes, load=load)
    header = [f"scns synthetic workload: {n} jobs, seed {seed}, {nodes}x{cpus_per_node} cpus"]
    header.append(f"offered load {load}; model: scns.sched.workload")
    try:
        write_swf(output, jobs, header)
    except OSError as err:
        raise InvalidInput(f"cannot write {output}: {err.strerror}") from None
    typer.echo(f"wrote {len(jobs)} jobs to {output}")


def _print_table(
    trace: Path, nodes: int, cpus_per_node: int, timed: list[tuple[SimResult, float]]
) -> None:
    dropped = timed[0][0].dropped  # the same for every policy: jobs wider than a node
    table = Table(
        title=f"{trace.name} on {nodes} x {cpus_per_node} cpus",
        caption=f"{dropped} jobs wider than a node dropped",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    table.add_column("policy", no_wrap=True)
    for column in COLUMNS:
        table.add_column(column, justify="right", no_wrap=True)
    for result, replay_s in timed:
        table.add_row(
            result.policy,
            str(result.jobs),
            f"{result.utilization:.1%}",
            _duration(result.mean_wait_s),
            _duration(result.p95_wait_s),
            _duration(result.max_wait_s),
            _slowdown(result.mean_bounded_slowdown),
            _duration(result.wide.max_wait_s),
            _slowdown(result.wide.mean_bounded_slowdown),
            f"{replay_s:.2f}s",
        )
    Console().print(table)


def _duration(seconds: float) -> str:
    """Waits span seconds to weeks; a unit per range keeps every cell at most six characters."""
    for unit, size_s, limit_s in (("s", 1, 60), ("m", 60, 3600), ("h", 3600, 172_800)):
        if seconds < limit_s:
            return f"{seconds / size_s:.0f}s" if unit == "s" else f"{seconds / size_s:.1f}{unit}"
    return f"{seconds / 86_400:.1f}d"


def _slowdown(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"
